"""Users and departments: the organisation that approvals and row scopes refer to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.audit import audit
from opsloom.platform.auth import end_credentials
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import Conflict, FieldError, NotFound, ValidationFailed
from opsloom.platform.locales import LOCALES
from opsloom.platform.passwords import hash_password
from opsloom.platform.site_settings import SiteSettings, password_problem

USER_FIELDS = ("email", "name", "phone", "employee_no", "locale", "active", "is_admin", "department_id", "manager_id")
MAX_ID = 2**63 - 1  # a BIGINT id


def user_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "phone": row.phone,
        "employee_no": row.employee_no,
        "locale": row.locale,
        "active": row.active,
        "is_admin": row.is_admin,
        "department_id": row.department_id,
        "manager_id": row.manager_id,
    }


def department_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "parent_id": row.parent_id, "head_id": row.head_id}


async def create_user(session: AsyncSession, ctx: RequestContext, data: Mapping[str, Any]) -> dict[str, Any]:
    missing = [key for key in ("email", "name") if data.get(key) is None]
    given = {k: v for k, v in data.items() if k not in missing and not (k == "password" and v is None)}
    errors = [FieldError(key, "is required") for key in missing] + _user_problems(given, ctx.site)
    if errors:
        raise ValidationFailed.of(errors)
    email = _email(data["email"])
    password = data.get("password")
    password_hash = await hash_password(password) if password else None  # before any write lock is taken
    u = tables.users
    if (await session.execute(select(u.c.id).where(u.c.email == email))).first():
        raise Conflict(f"A user with e-mail {email} exists already", [FieldError("email", "is taken")])
    await _check_references(session, data)
    await _check_employee_no(session, data.get("employee_no"), None)
    values = {k: data[k] for k in USER_FIELDS if k in data}
    values.update(
        email=email,
        name=data["name"].strip(),
        password_hash=password_hash,
        created_at=ctx.now,
        updated_at=ctx.now,
        active=data.get("active", True),
        is_admin=bool(data.get("is_admin", False)),
        locale=data.get("locale"),  # None: the browser decides until the user chooses
    )
    row = (await session.execute(insert(u).values(**values).returning(*u.c))).one()
    await audit(session, ctx, "user.created", f"user:{row.id}", {"email": email, "is_admin": row.is_admin})
    return user_view(row)


async def update_user(
    session: AsyncSession, ctx: RequestContext, user_id: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    u = tables.users
    current = (await session.execute(select(u).where(u.c.id == user_id))).first()
    if current is None:
        raise NotFound(f"There is no user {user_id}")
    errors = _user_problems(data, ctx.site)
    if data.get("manager_id") == user_id:
        errors.append(FieldError("manager_id", "a user cannot be their own manager"))
    if errors:
        raise ValidationFailed.of(errors)
    await _check_references(session, data)
    values: dict[str, Any] = {k: data[k] for k in USER_FIELDS if k in data}
    if "email" in values:
        values["email"] = _email(values["email"])
        taken = select(u.c.id).where(u.c.email == values["email"], u.c.id != user_id)
        if (await session.execute(taken)).first():
            raise Conflict(f"A user with e-mail {values['email']} exists already", [FieldError("email", "is taken")])
    if "name" in values:
        values["name"] = values["name"].strip()
    if "employee_no" in values:
        await _check_employee_no(session, values["employee_no"], user_id)
    if "password" in data:
        values["password_hash"] = await hash_password(data["password"])
    row = (
        await session.execute(update(u).where(u.c.id == user_id).values(**values, updated_at=ctx.now).returning(*u.c))
    ).first()
    changed = sorted(k for k in values if k != "password_hash") + (["password"] if "password" in data else [])
    await audit(session, ctx, "user.updated", f"user:{user_id}", {"fields": changed})
    if "password" in data or ("active" in values and not values["active"]):
        await end_credentials(session, ctx, user_id)  # a reset password or a deactivated user: every way in ends
    if "is_admin" in values and values["is_admin"] != current.is_admin:
        await audit(session, ctx, "permission.admin_changed", f"user:{user_id}", {"is_admin": values["is_admin"]})
    return user_view(row)


async def _check_employee_no(session: AsyncSession, number: str | None, own_id: int | None) -> None:
    if number is None:
        return
    u = tables.users
    taken = select(u.c.id).where(u.c.employee_no == number)
    if own_id is not None:
        taken = taken.where(u.c.id != own_id)
    if (await session.execute(taken)).first():
        raise Conflict(f"Employee number {number} belongs to someone else", [FieldError("employee_no", "is taken")])


def _email(value: str) -> str:
    return value.strip().lower()


def _text_rule(limit: int, *, required: bool) -> Any:
    def check(value: Any) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            return f"expected a text of 1 to {limit} characters" if required else "expected a text or null"
        return f"use at most {limit} characters" if len(value.strip()) > limit else None

    return check


def _email_rule(value: Any) -> str | None:
    if not isinstance(value, str) or "@" not in value or len(value.strip()) > 254:
        return "expected an e-mail address like name@example.com"
    return None


def _flag_rule(value: Any) -> str | None:
    return None if isinstance(value, bool) else "expected true or false"


# What each user field accepts (the columns' own limits, so no database refuses what passed here).
USER_RULES: dict[str, Any] = {
    "email": _email_rule,
    "name": _text_rule(120, required=True),
    "phone": _text_rule(32, required=False),
    "employee_no": _text_rule(32, required=False),
    "locale": lambda value: (
        None if value is None or value in LOCALES else f"use one of {', '.join(LOCALES)}, or null to follow the browser"
    ),
    "active": _flag_rule,
    "is_admin": _flag_rule,
    "department_id": lambda value: None,  # checked against the table by _check_references
    "manager_id": lambda value: None,
    "password": lambda value: None,  # the policy in force is checked by _user_problems
}


def _user_problems(data: Mapping[str, Any], site: SiteSettings) -> list[FieldError]:
    errors = [FieldError(key, "is not a user field") for key in sorted(set(data) - set(USER_RULES))]
    for key, value in data.items():
        rule = USER_RULES.get(key) if key != "password" else lambda value: password_problem(value, site)
        if rule is not None and (problem := rule(value)):
            errors.append(FieldError(key, problem))
    return errors


async def _check_references(session: AsyncSession, data: Mapping[str, Any]) -> None:
    errors = []
    if data.get("department_id") is not None and not await _exists(session, tables.departments, data["department_id"]):
        errors.append(FieldError("department_id", f"there is no department {data['department_id']}"))
    if data.get("manager_id") is not None and not await _exists(session, tables.users, data["manager_id"]):
        errors.append(FieldError("manager_id", f"there is no user {data['manager_id']}"))
    if errors:
        raise ValidationFailed.of(errors)


async def _exists(session: AsyncSession, table: Any, row_id: Any) -> bool:
    if isinstance(row_id, bool) or not isinstance(row_id, int) or not 0 < row_id <= MAX_ID:
        return False
    return (await session.execute(select(table.c.id).where(table.c.id == row_id))).first() is not None


async def create_department(session: AsyncSession, ctx: RequestContext, data: Mapping[str, Any]) -> dict[str, Any]:
    name = _department_name(data.get("name"))
    await _check_department_refs(session, data, None)
    d = tables.departments
    row = (
        await session.execute(
            insert(d)
            .values(name=name, parent_id=data.get("parent_id"), head_id=data.get("head_id"), created_at=ctx.now)
            .returning(*d.c)
        )
    ).one()
    await audit(session, ctx, "department.created", f"department:{row.id}", {"name": name})
    return department_view(row)


def _department_name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 120:
        raise ValidationFailed.of([FieldError("name", "is required: a text of at most 120 characters")])
    return name


async def update_department(
    session: AsyncSession, ctx: RequestContext, department_id: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    d = tables.departments
    if not await _exists(session, d, department_id):
        raise NotFound(f"There is no department {department_id}")
    unknown = set(data) - {"name", "parent_id", "head_id"}
    if unknown:
        raise ValidationFailed.of([FieldError(k, "is not a department field") for k in sorted(unknown)])
    values = dict(data)
    if "name" in values:
        values["name"] = _department_name(values["name"])
    await _check_department_refs(session, values, department_id)
    if not values:  # nothing to change: an UPDATE without SET is no statement at all
        return department_view((await session.execute(select(d).where(d.c.id == department_id))).one())
    row = (await session.execute(update(d).where(d.c.id == department_id).values(**values).returning(*d.c))).first()
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


async def manager_chain(session: AsyncSession, user_id: int, limit: int = 50) -> list[int]:
    """The managers a chain-of-managers approval walks for this person: their manager, that manager's
    manager... up to the top (as the flow's approver resolver climbs it; a loop ends the chain)."""
    chain: list[int] = []
    person = user_id
    while len(chain) < limit:
        manager = await manager_of(session, person)
        if manager is None or manager in chain or manager == user_id:
            break
        chain.append(manager)
        person = manager
    return chain


async def count_users(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(tables.users))).scalar_one()
