"""Users and departments: the organisation that approvals and row scopes refer to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.audit import audit
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import Conflict, FieldError, NotFound, ValidationFailed
from opsloom.platform.passwords import hash_password, password_problem

USER_FIELDS = ("email", "name", "phone", "locale", "active", "is_admin", "department_id", "manager_id")
LOCALES = ("zh-CN", "en")


def user_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "phone": row.phone,
        "locale": row.locale,
        "active": row.active,
        "is_admin": row.is_admin,
        "department_id": row.department_id,
        "manager_id": row.manager_id,
    }


def department_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "parent_id": row.parent_id, "head_id": row.head_id}


async def create_user(session: AsyncSession, ctx: RequestContext, data: Mapping[str, Any]) -> dict[str, Any]:
    errors = []
    email = str(data.get("email") or "").strip().lower()
    if "@" not in email or len(email) > 254:
        errors.append(FieldError("email", "expected an e-mail address like name@example.com"))
    if not str(data.get("name") or "").strip():
        errors.append(FieldError("name", "is required"))
    password = data.get("password")
    if password is not None and (problem := password_problem(password)):
        errors.append(FieldError("password", problem))
    errors += _check_locale(data)
    if errors:
        raise ValidationFailed.of(errors)
    password_hash = await hash_password(password) if password else None  # before any write lock is taken
    u = tables.users
    if (await session.execute(select(u.c.id).where(u.c.email == email))).first():
        raise Conflict(f"A user with e-mail {email} exists already", [FieldError("email", "is taken")])
    await _check_references(session, data)
    values = {k: data[k] for k in USER_FIELDS if k in data}
    values.update(
        email=email,
        name=str(data["name"]).strip(),
        password_hash=password_hash,
        created_at=ctx.now,
        updated_at=ctx.now,
        active=data.get("active", True),
        is_admin=bool(data.get("is_admin", False)),
        locale=data.get("locale", "zh-CN"),
    )
    row = (await session.execute(insert(u).values(**values).returning(*u.c))).first()
    await audit(session, ctx, "user.created", f"user:{row.id}", {"email": email, "is_admin": row.is_admin})
    return user_view(row)


async def update_user(
    session: AsyncSession, ctx: RequestContext, user_id: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    u = tables.users
    current = (await session.execute(select(u).where(u.c.id == user_id))).first()
    if current is None:
        raise NotFound(f"There is no user {user_id}")
    unknown = set(data) - set(USER_FIELDS) - {"password"}
    errors = [FieldError(k, "is not a user field") for k in sorted(unknown)] + _check_locale(data)
    if "password" in data and (problem := password_problem(data["password"])):
        errors.append(FieldError("password", problem))
    if data.get("manager_id") == user_id:
        errors.append(FieldError("manager_id", "a user cannot be their own manager"))
    if errors:
        raise ValidationFailed.of(errors)
    await _check_references(session, data)
    values: dict[str, Any] = {k: data[k] for k in USER_FIELDS if k in data}
    if "email" in values:
        values["email"] = str(values["email"]).strip().lower()
    if "password" in data:
        values["password_hash"] = await hash_password(data["password"])
    row = (
        await session.execute(update(u).where(u.c.id == user_id).values(**values, updated_at=ctx.now).returning(*u.c))
    ).first()
    changed = sorted(k for k in values if k != "password_hash") + (["password"] if "password" in data else [])
    await audit(session, ctx, "user.updated", f"user:{user_id}", {"fields": changed})
    if "is_admin" in values and values["is_admin"] != current.is_admin:
        await audit(session, ctx, "permission.admin_changed", f"user:{user_id}", {"is_admin": values["is_admin"]})
    return user_view(row)


def _check_locale(data: Mapping[str, Any]) -> list[FieldError]:
    if "locale" in data and data["locale"] not in LOCALES:
        return [FieldError("locale", f"use one of {', '.join(LOCALES)}")]
    return []


async def _check_references(session: AsyncSession, data: Mapping[str, Any]) -> None:
    errors = []
    if data.get("department_id") is not None and not await _exists(session, tables.departments, data["department_id"]):
        errors.append(FieldError("department_id", f"there is no department {data['department_id']}"))
    if data.get("manager_id") is not None and not await _exists(session, tables.users, data["manager_id"]):
        errors.append(FieldError("manager_id", f"there is no user {data['manager_id']}"))
    if errors:
        raise ValidationFailed.of(errors)


async def _exists(session: AsyncSession, table: Any, row_id: Any) -> bool:
    if isinstance(row_id, bool) or not isinstance(row_id, int):
        return False
    return (await session.execute(select(table.c.id).where(table.c.id == row_id))).first() is not None


async def create_department(session: AsyncSession, ctx: RequestContext, data: Mapping[str, Any]) -> dict[str, Any]:
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed.of([FieldError("name", "is required (at most 120 characters)")])
    await _check_department_refs(session, data, None)
    d = tables.departments
    row = (
        await session.execute(
            insert(d)
            .values(name=name, parent_id=data.get("parent_id"), head_id=data.get("head_id"), created_at=ctx.now)
            .returning(*d.c)
        )
    ).first()
    await audit(session, ctx, "department.created", f"department:{row.id}", {"name": name})
    return department_view(row)


async def update_department(
    session: AsyncSession, ctx: RequestContext, department_id: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    d = tables.departments
    if not await _exists(session, d, department_id):
        raise NotFound(f"There is no department {department_id}")
    unknown = set(data) - {"name", "parent_id", "head_id"}
    if unknown:
        raise ValidationFailed.of([FieldError(k, "is not a department field") for k in sorted(unknown)])
    await _check_department_refs(session, data, department_id)
    row = (await session.execute(update(d).where(d.c.id == department_id).values(**data).returning(*d.c))).first()
    await audit(session, ctx, "department.updated", f"department:{department_id}", {"fields": sorted(data)})
    return department_view(row)


async def _check_department_refs(session: AsyncSession, data: Mapping[str, Any], own_id: int | None) -> None:
    d = tables.departments
    parent = data.get("parent_id")
    if parent is not None:
        if not await _exists(session, d, parent):
            raise ValidationFailed.of([FieldError("parent_id", f"there is no department {parent}")])
        if own_id is not None:
            # Walk up from the new parent: meeting ourselves would make a cycle.
            node: Any = parent
            while node is not None:
                if node == own_id:
                    raise ValidationFailed.of([FieldError("parent_id", "would put the department under itself")])
                node = (await session.execute(select(d.c.parent_id).where(d.c.id == node))).scalar()
    head = data.get("head_id")
    if head is not None and not await _exists(session, tables.users, head):
        raise ValidationFailed.of([FieldError("head_id", f"there is no user {head}")])


async def manager_of(session: AsyncSession, user_id: int) -> int | None:
    """A user's manager: set explicitly, or else the head of their department (or above)."""
    u, d = tables.users, tables.departments
    row = (await session.execute(select(u.c.manager_id, u.c.department_id).where(u.c.id == user_id))).first()
    if row is None:
        return None
    if row.manager_id is not None:
        return row.manager_id
    department = row.department_id
    while department is not None:
        dep = (await session.execute(select(d.c.head_id, d.c.parent_id).where(d.c.id == department))).first()
        if dep is None:
            return None
        if dep.head_id is not None and dep.head_id != user_id:
            return dep.head_id
        department = dep.parent_id
    return None


async def count_users(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(tables.users))).scalar_one()
