"""The policy service: one place decides what a principal may do with a form's records.

Per app, a role grants per form (or `*` for every form) the actions create,
read, update, delete, export, import and manage, each with a row scope:
`all`, `own`, `department`, `department_tree`, or `{"condition": {...}}`
(the condition language, with `current_user` variables). A role may also hide
fields or make them read-only. A user's rights are the union of their roles.
A user is in a role when they are named in it, when the role takes everyone in
their department or a department above it (a pilot group), or when it takes
everyone; the app is visible to exactly the users in one of its roles.
Platform admins (and, within its apps, a platform admin's app-limited API
token), and members of a role with `"app_admin": true`, may do everything in
the app. An API token limited to some apps reaches no other app at all.

`form_access` returns the rights as data (`FormAccess`); the runtime turns a
row scope into a filter of every query it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import Principal
from opsloom.platform.errors import PermissionDenied

ACTIONS = ("create", "read", "update", "delete", "export", "import", "manage")
WRITE_ACTIONS = frozenset({"create", "update", "delete", "import", "manage"})
FIELD_WRITE_ACTIONS = frozenset({"create", "update", "import"})
SCOPES = ("all", "own", "department", "department_tree")


@dataclass(frozen=True)
class RowScope:
    """Which rows an action may touch: the union of its parts."""

    all: bool = False
    owner_ids: frozenset[int] = frozenset()
    department_ids: frozenset[int] = frozenset()
    conditions: tuple[Any, ...] = ()

    @property
    def none(self) -> bool:
        return not (self.all or self.owner_ids or self.department_ids or self.conditions)

    def union(self, other: RowScope) -> RowScope:
        if self.all or other.all:
            return EVERY_ROW
        return RowScope(
            owner_ids=self.owner_ids | other.owner_ids,
            department_ids=self.department_ids | other.department_ids,
            conditions=self.conditions + tuple(c for c in other.conditions if c not in self.conditions),
        )


EVERY_ROW = RowScope(all=True)
NO_ROW = RowScope()


@dataclass(frozen=True)
class FormAccess:
    app: str
    form: str
    scopes: Mapping[str, RowScope]
    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()
    roles: tuple[str, ...] = ()

    def scope(self, action: str) -> RowScope:
        return self.scopes.get(action, NO_ROW)

    def can(self, action: str) -> bool:
        return not self.scope(action).none

    def require(self, action: str) -> None:
        if not self.can(action):
            raise PermissionDenied(
                f"You may not {action} records of {self.form}; ask an app admin for a role that allows it"
            )

    def writable(self, key: str) -> bool:
        return key not in self.hidden and key not in self.read_only


FULL = {action: EVERY_ROW for action in ACTIONS}


def full_access(app: str, form: str) -> FormAccess:
    """Everything, for the system itself (package installs, the CLI)."""
    return FormAccess(app, form, FULL, roles=("system",))


async def role_documents(session: AsyncSession, principal: Principal, app: str) -> list[Mapping[str, Any]]:
    if principal.user_id is None:
        return []
    r = tables.roles
    rows = await session.execute(select(r.c.document).where(r.c.app_key == app, in_role(principal)))
    return [row.document for row in rows]


def in_role(principal: Principal) -> ColumnElement[bool]:
    """True for a role (a row of `tables.roles`) the principal is in: named in it, in a department it
    takes (or one below it), or everyone. One clause, so a role check stays one statement."""
    r, m, rd, d = tables.roles, tables.role_members, tables.role_departments, tables.departments
    ways: list[ColumnElement[bool]] = [
        r.c.everyone.is_(True),
        exists().where(m.c.role_id == r.c.id, m.c.user_id == principal.user_id),
    ]
    if principal.department_id is not None:
        above = select(d.c.id, d.c.parent_id).where(d.c.id == principal.department_id).cte("above", recursive=True)
        above = above.union(select(d.c.id, d.c.parent_id).join(above, d.c.id == above.c.parent_id))
        ways.append(exists().where(rd.c.role_id == r.c.id, rd.c.department_id.in_(select(above.c.id))))
    return or_(*ways)


async def is_app_admin(session: AsyncSession, principal: Principal, app: str) -> bool:
    if not principal.may_use_app(app):
        return False
    if principal.administers(app):
        return True
    return any(doc.get("app_admin") for doc in await role_documents(session, principal, app))


async def require_app_admin(session: AsyncSession, principal: Principal, app: str) -> None:
    if not principal.can_write or not await is_app_admin(session, principal, app):
        raise PermissionDenied(f"Only admins of app '{app}' may change its design and roles")


async def visible_apps(session: AsyncSession, principal: Principal) -> set[str] | None:
    """Apps the principal is in a role of; None means every app (platform admin)."""
    if principal.is_admin:
        return None if principal.token_apps is None else set(principal.token_apps)
    r = tables.roles
    apps = set(principal.admin_apps)
    if principal.user_id is not None:
        rows = await session.execute(select(r.c.app_key).where(in_role(principal)).distinct())
        apps |= {row.app_key for row in rows}
    return {app for app in apps if principal.may_use_app(app)}


async def form_access(
    session: AsyncSession, principal: Principal, app: str, form: str, field_keys: Iterable[str] = ()
) -> FormAccess:
    if not principal.may_use_app(app):
        raise PermissionDenied(f"This API token is not allowed to use app '{app}'")
    admin = principal.administers(app)
    documents = [] if admin else await role_documents(session, principal, app)
    if admin or any(doc.get("app_admin") for doc in documents):
        return _limit_token(principal, FormAccess(app, form, FULL, roles=("admin",)))
    scopes: dict[str, RowScope] = {}
    hidden_sets: list[tuple[set[str], bool]] = []
    read_only_sets: list[set[str]] = []
    tree: frozenset[int] | None = None
    names: list[str] = []
    for doc in documents:
        grant = (doc.get("permissions") or {}).get(form) or (doc.get("permissions") or {}).get("*")
        if not grant:
            continue
        names.append(doc.get("key", "?"))
        for action in ACTIONS:
            spec = grant.get(action)
            if spec in (None, False):
                continue
            if spec == "department_tree" and tree is None:
                tree = await department_tree(session, principal.department_id)
            scopes[action] = scopes.get(action, NO_ROW).union(_scope(spec, principal, tree or frozenset()))
        fields = grant.get("fields") or {}
        granted = {action for action in ACTIONS if grant.get(action) not in (None, False)}
        # A role lifts only the limits of what it grants: showing a field takes a read
        # grant (when any role grants read), making it writable a grant to write fields.
        hidden_sets.append(({k for k, v in fields.items() if v == "hidden"}, "read" in granted))
        if granted & FIELD_WRITE_ACTIONS:
            read_only_sets.append({k for k, v in fields.items() if v in ("hidden", "read_only")})
    readers = [h for h, reads in hidden_sets if reads] or [h for h, _ in hidden_sets]
    # Union of rights: a field is hidden only if every granting role hides it.
    hidden = frozenset(set.intersection(*readers)) if readers else frozenset()
    read_only = frozenset(set.intersection(*read_only_sets)) - hidden if read_only_sets else frozenset()
    return _limit_token(principal, FormAccess(app, form, scopes, hidden, read_only, tuple(names)))


def _limit_token(principal: Principal, access: FormAccess) -> FormAccess:
    if principal.can_write:
        return access
    scopes = {a: s for a, s in access.scopes.items() if a not in WRITE_ACTIONS}
    return FormAccess(access.app, access.form, scopes, access.hidden, access.read_only, access.roles)


def _scope(spec: Any, principal: Principal, tree: frozenset[int]) -> RowScope:
    if spec is True or spec == "all":
        return EVERY_ROW
    if spec == "own":
        return RowScope(owner_ids=frozenset({principal.user_id})) if principal.user_id else NO_ROW
    if spec == "department":
        return RowScope(department_ids=frozenset({principal.department_id})) if principal.department_id else NO_ROW
    if spec == "department_tree":
        return RowScope(department_ids=tree) if tree else NO_ROW
    if isinstance(spec, Mapping) and "condition" in spec:
        return RowScope(conditions=(spec["condition"],))
    return NO_ROW  # unknown scopes grant nothing; role documents are validated on save


async def department_tree(session: AsyncSession, root: int | None) -> frozenset[int]:
    """A department and every department below it."""
    if root is None:
        return frozenset()
    d = tables.departments
    children: dict[int | None, list[int]] = {}
    for row in await session.execute(select(d.c.id, d.c.parent_id)):
        children.setdefault(row.parent_id, []).append(row.id)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return frozenset(found)
