"""Roles of an app: validated against the app's published forms, members managed by app admins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer.documents import schema_errors
from opsloom.platform import tables
from opsloom.platform.audit import audit
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, FieldError, NotFound, ValidationFailed
from opsloom.runtime.conditions import parse_condition
from opsloom.runtime.forms import FormRegistry


async def role_problems(session: AsyncSession, registry: FormRegistry, app: str, document: Any) -> list[FieldError]:
    errors = schema_errors("role", document)
    if errors:
        return errors
    for form_key, grant in (document.get("permissions") or {}).items():
        if form_key == "*":
            continue
        path = f"permissions.{form_key}"
        try:
            form = await registry.get(session, app, form_key)
        except NotFound:
            errors.append(FieldError(path, f"'{form_key}' is not a published form of {app}"))
            continue
        for key in grant.get("fields") or {}:
            if key not in form.by_key:
                errors.append(FieldError(f"{path}.fields.{key}", f"'{key}' is not a field of {form_key}"))
        for action, scope in grant.items():
            if isinstance(scope, dict) and "condition" in scope:
                try:
                    parse_condition(scope["condition"], form, f"{path}.{action}.condition")
                except BadRequest as error:
                    errors.extend(error.errors)
    return errors


async def save_role(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, document: Any
) -> dict[str, Any]:
    problems = await role_problems(session, registry, app, document)
    if problems:
        raise ValidationFailed("The role is not valid", problems)
    r = tables.roles
    current = (await session.execute(select(r.c.id).where(r.c.app_key == app, r.c.key == document["key"]))).first()
    if current is None:
        role_id = (
            await session.execute(
                insert(r)
                .values(app_key=app, key=document["key"], document=document, updated_at=ctx.now)
                .returning(r.c.id)
            )
        ).scalar_one()
    else:
        role_id = current.id
        await session.execute(update(r).where(r.c.id == role_id).values(document=document, updated_at=ctx.now))
    await audit(session, ctx, "role.saved", f"{app}/role/{document['key']}", {"document": document})
    return await role_view(session, role_id)


async def role_view(session: AsyncSession, role_id: int) -> dict[str, Any]:
    r, m = tables.roles, tables.role_members
    row = (await session.execute(select(r).where(r.c.id == role_id))).one()
    members = (await session.execute(select(m.c.user_id).where(m.c.role_id == role_id).order_by(m.c.user_id))).scalars()
    return {"id": row.id, "app": row.app_key, **row.document, "members": list(members)}


async def find_role(session: AsyncSession, app: str, key: str) -> int:
    r = tables.roles
    row = (await session.execute(select(r.c.id).where(r.c.app_key == app, r.c.key == key))).first()
    if row is None:
        raise NotFound(f"App '{app}' has no role '{key}'")
    return row.id


async def set_members(
    session: AsyncSession, ctx: RequestContext, app: str, key: str, add: list[int], remove: list[int]
) -> dict[str, Any]:
    role_id = await find_role(session, app, key)
    u, m = tables.users, tables.role_members
    known = set((await session.execute(select(u.c.id).where(u.c.id.in_(add)))).scalars()) if add else set()
    missing = [uid for uid in add if uid not in known]
    if missing:
        raise ValidationFailed.of([FieldError("add", f"there is no user {uid}") for uid in missing])
    present = set((await session.execute(select(m.c.user_id).where(m.c.role_id == role_id))).scalars())
    fresh = [uid for uid in dict.fromkeys(add) if uid not in present]
    if fresh:
        await session.execute(insert(m), [{"role_id": role_id, "user_id": uid} for uid in fresh])
    if remove:
        await session.execute(delete(m).where(m.c.role_id == role_id, m.c.user_id.in_(remove)))
    await audit(session, ctx, "role.members", f"{app}/role/{key}", {"added": fresh, "removed": remove})
    return await role_view(session, role_id)


async def list_roles(session: AsyncSession, app: str) -> list[dict[str, Any]]:
    r = tables.roles
    ids = (await session.execute(select(r.c.id).where(r.c.app_key == app).order_by(r.c.key))).scalars()
    return [await role_view(session, role_id) for role_id in list(ids)]


async def delete_role(session: AsyncSession, ctx: RequestContext, app: str, key: str) -> None:
    role_id = await find_role(session, app, key)
    await session.execute(delete(tables.role_members).where(tables.role_members.c.role_id == role_id))
    await session.execute(delete(tables.roles).where(tables.roles.c.id == role_id))
    await audit(session, ctx, "role.deleted", f"{app}/role/{key}")
