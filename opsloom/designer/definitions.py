"""The definition store: drafts, immutable published versions, for every metadata kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer.documents import schema_errors
from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import FieldError, NotFound, PreconditionFailed, ValidationFailed
from opsloom.runtime.fields import dump_datetime


@dataclass(frozen=True)
class Definition:
    id: int
    app: str
    kind: str
    key: str
    draft: Mapping[str, Any] | None
    draft_revision: int
    published_version: int | None
    storage: Mapping[str, Any] | None


async def save_app(session: AsyncSession, ctx: RequestContext, document: Any) -> dict[str, Any]:
    errors = schema_errors("app", document)
    if errors:
        raise ValidationFailed.of(errors)
    a = tables.apps
    exists = (await session.execute(select(a.c.key).where(a.c.key == document["key"]))).first()
    if exists:
        await session.execute(update(a).where(a.c.key == document["key"]).values(document=document, updated_at=ctx.now))
    else:
        await session.execute(
            insert(a).values(key=document["key"], document=document, created_at=ctx.now, updated_at=ctx.now)
        )
    return dict(document)


async def app_exists(session: AsyncSession, app: str) -> bool:
    a = tables.apps
    return (await session.execute(select(a.c.key).where(a.c.key == app))).first() is not None


async def load_app(session: AsyncSession, app: str) -> dict[str, Any]:
    a = tables.apps
    row = (await session.execute(select(a.c.document).where(a.c.key == app))).first()
    if row is None:
        raise NotFound(f"There is no app '{app}'; create it with PUT /api/design/apps/{app}")
    return dict(row.document)


async def save_draft(
    session: AsyncSession,
    ctx: RequestContext,
    app: str,
    kind: str,
    key: str,
    document: Any,
    *,
    expected_revision: int | None = None,
) -> Definition:
    """Store the draft; with `expected_revision`, only if nobody saved another revision since (else 412)."""
    await load_app(session, app)
    if not isinstance(document, dict):
        raise ValidationFailed.of([FieldError("$", f"expected a {kind} document (a JSON object)")])
    if document.get("key", key) != key:
        raise ValidationFailed.of(
            [
                FieldError(
                    "key",
                    f"is '{document['key']}' but the address says '{key}'; make them the same",
                )
            ]
        )
    document = {**document, "key": key}
    d = tables.definitions
    current = await find_definition(session, app, kind, key, lock=True)
    if expected_revision is not None and (current.draft_revision if current else 0) != expected_revision:
        latest = current.draft_revision if current else 0
        raise PreconditionFailed(
            f"Someone else saved this {kind} since you read it (revision {latest}, you had "
            f"{expected_revision}); reload it and make your change again"
        )
    values = {
        "draft": document,
        "draft_updated_at": ctx.now,
        "draft_updated_by": ctx.principal.user_id,
    }
    if current is None:
        await session.execute(insert(d).values(app_key=app, kind=kind, key=key, draft_revision=1, **values))
    else:
        await session.execute(
            update(d).where(d.c.id == current.id).values(draft_revision=current.draft_revision + 1, **values)
        )
    saved = await find_definition(session, app, kind, key)
    assert saved is not None
    return saved


async def find_definition(
    session: AsyncSession, app: str, kind: str, key: str, *, lock: bool = False
) -> Definition | None:
    d = tables.definitions
    statement = select(d).where(d.c.app_key == app, d.c.kind == kind, d.c.key == key)
    if lock:
        statement = statement.with_for_update()
    row = (await session.execute(statement)).first()
    if row is None:
        return None
    return Definition(
        id=row.id,
        app=row.app_key,
        kind=row.kind,
        key=row.key,
        draft=row.draft,
        draft_revision=row.draft_revision,
        published_version=row.published_version,
        storage=row.storage,
    )


async def load_definition(session: AsyncSession, app: str, kind: str, key: str, *, lock: bool = False) -> Definition:
    found = await find_definition(session, app, kind, key, lock=lock)
    if found is None:
        await load_app(session, app)
        raise NotFound(f"App '{app}' has no {kind} '{key}'")
    return found


async def published_document(session: AsyncSession, definition: Definition, version: int) -> dict[str, Any]:
    v = tables.definition_versions
    row = (
        await session.execute(select(v.c.document).where(v.c.definition_id == definition.id, v.c.version == version))
    ).first()
    if row is None:
        raise NotFound(f"{definition.kind} '{definition.key}' has no version {version}")
    return dict(row.document)


async def store_version(
    session: AsyncSession,
    ctx: RequestContext,
    definition: Definition,
    document: Mapping[str, Any],
    plan: Mapping[str, Any],
    storage: Mapping[str, Any] | None,
) -> int:
    version = (definition.published_version or 0) + 1
    await session.execute(
        insert(tables.definition_versions).values(
            definition_id=definition.id,
            version=version,
            document=dict(document),
            plan=dict(plan),
            published_at=ctx.now,
            published_by=ctx.principal.user_id,
        )
    )
    d = tables.definitions
    await session.execute(
        update(d)
        .where(d.c.id == definition.id)
        .values(published_version=version, storage=dict(storage) if storage is not None else None)
    )
    return version


async def list_versions(session: AsyncSession, definition: Definition) -> list[dict[str, Any]]:
    v = tables.definition_versions
    rows = await session.execute(
        select(v.c.version, v.c.published_at, v.c.published_by, v.c.plan)
        .where(v.c.definition_id == definition.id)
        .order_by(v.c.version.desc())
    )
    return [
        {
            "version": r.version,
            "published_at": dump_datetime(r.published_at),
            "published_by": r.published_by,
            "summary": (r.plan or {}).get("summary", []),
        }
        for r in rows
    ]
