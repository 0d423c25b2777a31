"""Publishing a form: validate the draft, plan, apply in one transaction, store the version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.checks import check_form
from opsloom.designer.documents import schema_errors
from opsloom.designer.migration_plan import Plan, plan_migration
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import Conflict, FieldError, ValidationFailed
from opsloom.runtime.forms import compile_form, initial_storage


@dataclass(frozen=True)
class PublishResult:
    plan: Plan
    version: int | None
    applied: bool

    def as_json(self) -> dict[str, Any]:
        return {"plan": self.plan.as_json(), "version": self.version, "applied": self.applied}


def form_problems(document: Any) -> list[FieldError]:
    errors = schema_errors("form", document)
    return errors or check_form(document)


async def publish_form(
    session: AsyncSession, ctx: RequestContext, app: str, key: str, *, dry_run: bool = False
) -> PublishResult:
    definition = await definitions.load_definition(session, app, "form", key, lock=True)
    document = definition.draft
    problems = form_problems(document)
    if problems:
        raise ValidationFailed("The draft cannot be published until these are fixed", problems)
    assert document is not None
    old = None
    if definition.published_version is not None:
        old = await definitions.published_document(session, definition, definition.published_version)
    storage = definition.storage or initial_storage(app, document)
    plan = plan_migration(old, document, storage)
    if dry_run or not plan.changes_anything:
        return PublishResult(plan, definition.published_version, applied=False)
    if old is None:
        await _create_table(session, app, document, definition.id, storage)
    version = await definitions.store_version(session, ctx, definition, document, plan.as_json(), storage)
    return PublishResult(plan, version, applied=True)


async def _create_table(
    session: AsyncSession, app: str, document: Any, form_id: int, storage: Any
) -> None:
    compiled = compile_form(app, document, form_id=form_id, version=0, storage=storage)
    connection = await session.connection()

    def create(sync_connection: Any) -> None:
        if inspect(sync_connection).has_table(compiled.table.name):
            raise Conflict(
                f"A table named {compiled.table.name} already exists in the database; "
                "rename the form or remove the old table"
            )
        compiled.table.create(sync_connection)

    await connection.run_sync(create)
