"""Roles of an app: validated against the app's published forms, members managed by app admins."""

from __future__ import annotations

from dataclasses import dataclass
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
    r, m, rd = tables.roles, tables.role_members, tables.role_departments
    row = (await session.execute(select(r).where(r.c.id == role_id))).one()
    members = (await session.execute(select(m.c.user_id).where(m.c.role_id == role_id).order_by(m.c.user_id))).scalars()
    departments = await session.execute(
        select(rd.c.department_id).where(rd.c.role_id == role_id).order_by(rd.c.department_id)
    )
    return {
        "id": row.id,
        "app": row.app_key,
        **row.document,
        "members": list(members),
        "departments": list(departments.scalars()),
        "everyone": bool(row.everyone),
    }


async def find_role(session: AsyncSession, app: str, key: str) -> int:
    r = tables.roles
    row = (await session.execute(select(r.c.id).where(r.c.app_key == app, r.c.key == key))).first()
    if row is None:
        raise NotFound(f"App '{app}' has no role '{key}'")
    return row.id


@dataclass(frozen=True)
class MemberChange:
    """Who joins and leaves a role: people by id, departments by id (everyone in them and below, as
    they are at each request), and `everyone` switched on or off (None: left as it is)."""

    add: tuple[int, ...] = ()
    remove: tuple[int, ...] = ()
    add_departments: tuple[int, ...] = ()
    remove_departments: tuple[int, ...] = ()
    everyone: bool | None = None


async def set_members(
    session: AsyncSession, ctx: RequestContext, app: str, key: str, change: MemberChange
) -> dict[str, Any]:
    role_id = await find_role(session, app, key)
    r, m, rd = tables.roles, tables.role_members, tables.role_departments
    problems = [
        *await _unknown(session, tables.users, change.add, "add", "user"),
        *await _unknown(session, tables.departments, change.add_departments, "add_departments", "department"),
    ]
    document = (await session.execute(select(r.c.document).where(r.c.id == role_id))).scalar_one()
    if change.everyone and document.get("app_admin"):
        problems.append(
            FieldError("everyone", "this role manages the app: name its members instead of giving it to everyone")
        )
    if problems:
        raise ValidationFailed.of(problems)
    fresh = await _link(session, m, m.c.user_id, role_id, change.add, change.remove)
    fresh_departments = await _link(
        session, rd, rd.c.department_id, role_id, change.add_departments, change.remove_departments
    )
    details: dict[str, Any] = {"added": fresh, "removed": list(change.remove)}
    if change.add_departments or change.remove_departments:
        details |= {"added_departments": fresh_departments, "removed_departments": list(change.remove_departments)}
    if change.everyone is not None:
        await session.execute(update(r).where(r.c.id == role_id).values(everyone=change.everyone))
        details["everyone"] = change.everyone
    await audit(session, ctx, "role.members", f"{app}/role/{key}", details)
    return await role_view(session, role_id)


async def _unknown(session: AsyncSession, table: Any, ids: tuple[int, ...], path: str, noun: str) -> list[FieldError]:
    if not ids:
        return []
    known = set((await session.execute(select(table.c.id).where(table.c.id.in_(ids)))).scalars())
    return [FieldError(path, f"there is no {noun} {i}") for i in ids if i not in known]


async def _link(
    session: AsyncSession, table: Any, column: Any, role_id: int, add: tuple[int, ...], remove: tuple[int, ...]
) -> list[int]:
    """Add and remove rows of a role's link table; answers the ids that were new."""
    present = set((await session.execute(select(column).where(table.c.role_id == role_id))).scalars())
    fresh = [i for i in dict.fromkeys(add) if i not in present]
    if fresh:
        await session.execute(insert(table), [{"role_id": role_id, column.key: i} for i in fresh])
    if remove:
        await session.execute(delete(table).where(table.c.role_id == role_id, column.in_(remove)))
    return fresh


async def list_roles(session: AsyncSession, app: str) -> list[dict[str, Any]]:
    r = tables.roles
    ids = (await session.execute(select(r.c.id).where(r.c.app_key == app).order_by(r.c.key))).scalars()
    return [await role_view(session, role_id) for role_id in list(ids)]


async def delete_role(session: AsyncSession, ctx: RequestContext, app: str, key: str) -> None:
    role_id = await find_role(session, app, key)
    for link in (tables.role_members, tables.role_departments):
        await session.execute(delete(link).where(link.c.role_id == role_id))
    await session.execute(delete(tables.roles).where(tables.roles.c.id == role_id))
    await audit(session, ctx, "role.deleted", f"{app}/role/{key}")
