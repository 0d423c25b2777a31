"""Publishing a form: validate the draft, gather facts, plan, apply in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.checks import check_form
from opsloom.designer.documents import schema_errors
from opsloom.designer.migration_apply import FormState, apply_plan, gather_facts
from opsloom.designer.migration_plan import Plan, Resolution, facts_needed, plan_migration
from opsloom.platform import tables
from opsloom.platform.audit import audit
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, Conflict, FieldError, OpsloomError, ValidationFailed
from opsloom.runtime.flow.definition import check_flow
from opsloom.runtime.flow.instances import flow_for_form
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


def parse_resolutions(body: Any) -> dict[str, Resolution]:
    """`{"resolutions": {"amount": {"on_invalid": "set_empty"}, "title": {"fill_empty": "n/a"}}}`."""
    if body is None:
        return {}
    if not isinstance(body, dict) or set(body) - {"resolutions"}:
        raise BadRequest(
            'Send {"resolutions": {field key: {...}}} or no body',
            [FieldError("$", "unexpected keys")],
        )
    raw = body.get("resolutions") or {}
    if not isinstance(raw, dict):
        raise BadRequest("resolutions must be an object", [FieldError("resolutions", "expected an object")])
    out: dict[str, Resolution] = {}
    for key, item in raw.items():
        path = f"resolutions.{key}"
        if not isinstance(item, dict) or set(item) - {"on_invalid", "value", "fill_empty"}:
            raise BadRequest(
                "A resolution takes on_invalid, value and fill_empty",
                [FieldError(path, "unexpected shape")],
            )
        on_invalid = item.get("on_invalid", "refuse")
        if on_invalid not in ("refuse", "set_empty", "set_value"):
            raise BadRequest(
                "Unknown on_invalid",
                [FieldError(f"{path}.on_invalid", "use set_empty or set_value")],
            )
        if on_invalid == "set_value" and item.get("value") is None:
            raise BadRequest(
                "set_value needs a value",
                [FieldError(f"{path}.value", "is required with set_value")],
            )
        out[key] = Resolution(on_invalid, item.get("value"), item.get("fill_empty"))
    return out


async def publish_form(
    session: AsyncSession,
    ctx: RequestContext,
    app: str,
    key: str,
    *,
    dry_run: bool = False,
    resolutions: Mapping[str, Resolution] | None = None,
    document: Mapping[str, Any] | None = None,
) -> PublishResult:
    """Publish the draft (or `document`, for a dry run of a rollback)."""
    definition = await definitions.load_definition(session, app, "form", key, lock=True)
    document = document if document is not None else definition.draft
    problems = form_problems(document)
    if problems:
        raise ValidationFailed("The draft cannot be published until these are fixed", problems)
    assert document is not None
    _check_resolutions(document, resolutions or {})
    await _check_link_targets(session, app, document)
    old = None
    if definition.published_version is not None:
        old = await definitions.published_document(session, definition, definition.published_version)
    storage = definition.storage or initial_storage(app, document)
    facts = None
    state = None
    if old is not None:
        state = FormState(old, document, storage)
        facts = await gather_facts(session, state, facts_needed(old, document, storage), ctx.zone)
    plan = plan_migration(old, document, storage, facts, resolutions)
    if not dry_run:
        await _check_attached_flow(session, app, document, definition.id, plan.storage)
    if plan.blockers and not dry_run:
        raise Conflict(
            "The change would lose or break existing data; see the plan for what to do",
            [b.as_error() for b in plan.blockers],
            extra={"plan": plan.as_json()},
        )
    if dry_run or not plan.changes_anything:
        return PublishResult(plan, definition.published_version, applied=False)
    try:
        if state is None:
            await _create_table(session, app, document, definition.id, storage)
        else:
            state.target_storage = plan.storage
            await apply_plan(session, plan, state, ctx.zone)
    except DBAPIError as error:
        # The transaction is rolled back by the caller: nothing of the change remains.
        raise Conflict(
            "The database refused the change, so nothing was changed: " + str(error.orig).splitlines()[0],
            [FieldError("$", "publish again; if it keeps failing, the database needs a look")],
        ) from None
    await audit(session, ctx, "definition.published", f"{app}/form/{key}", {"summary": plan.as_json()["summary"]})
    version = await definitions.store_version(session, ctx, definition, document, plan.as_json(), plan.storage)
    return PublishResult(plan, version, applied=True)


async def _check_attached_flow(
    session: AsyncSession, app: str, document: Mapping[str, Any], form_id: int, storage: Mapping[str, Any]
) -> None:
    """The form's flow must still make sense with the new form (its branches, field approvers,
    step permissions): otherwise change the flow first, or every submission would fail."""
    found = await flow_for_form(session, app, document["key"])
    if found is None:
        return
    flow_id, flow_key, version = found
    v = tables.definition_versions
    flow = (
        await session.execute(select(v.c.document).where(v.c.definition_id == flow_id, v.c.version == version))
    ).scalar_one()
    try:
        compiled = compile_form(app, document, form_id=form_id, version=0, storage=storage)
    except OpsloomError:
        return  # the form's own checks report it
    problems = check_flow(flow, compiled)
    if problems:
        raise Conflict(
            f"The flow '{flow_key}' of this form would no longer work with it; change the flow first",
            [FieldError(f"flow.{p.path}", p.message) for p in problems],
        )


async def _check_link_targets(session: AsyncSession, app: str, document: Mapping[str, Any]) -> None:
    """Relation fields link to published forms of the same app (or to the form itself)."""
    errors = []
    links = [(f"fields[{i}]", f) for i, f in enumerate(document["fields"])]
    for i, f in enumerate(document["fields"]):
        if f["type"] == "subform":
            links += [(f"fields[{i}].fields[{j}]", c) for j, c in enumerate(f["fields"])]
    for path, f in links:
        if f["type"] != "relation" or f["form"] == document["key"]:
            continue
        target = await definitions.find_definition(session, app, "form", f["form"])
        if target is None or target.published_version is None:
            errors.append(FieldError(f"{path}.form", f"'{f['form']}' is not a published form of {app}"))
    if errors:
        raise ValidationFailed("Relation fields must link to published forms of this app", errors)


def _check_resolutions(document: Mapping[str, Any], resolutions: Mapping[str, Resolution]) -> None:
    keys = {f["key"] for f in document["fields"]}
    keys |= {f"{f['key']}.{c['key']}" for f in document["fields"] if f["type"] == "subform" for c in f["fields"]}
    unknown = [k for k in resolutions if k not in keys]
    if unknown:
        raise BadRequest(
            "Resolutions name fields the form does not have",
            [FieldError(f"resolutions.{k}", "is not a field of the draft") for k in unknown],
        )


async def _create_table(session: AsyncSession, app: str, document: Any, form_id: int, storage: Any) -> None:
    compiled = compile_form(app, document, form_id=form_id, version=0, storage=storage)
    connection = await session.connection()

    def create(sync_connection: Any) -> None:
        tables = [compiled.table, *(child.table for child in compiled.children.values())]
        for table in tables:
            if inspect(sync_connection).has_table(table.name):
                raise Conflict(
                    f"A table named {table.name} already exists in the database; "
                    "rename the form or remove the old table"
                )
        for table in tables:
            table.create(sync_connection)

    await connection.run_sync(create)
