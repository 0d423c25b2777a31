"""The organisation as the engine sees it: departments, heads, managers, roles, delegations.

The engine asks synchronously (it is pure). `Snapshot` answers from data in
hand (the engine's tests build one). `OrgReader` is the shell's: it reads only
the people and departments an event asks about. What the engine asks for that
has not been read yet is noted as missing and answered as unknown; the shell
reads what is missing and runs the (pure, cheap) engine again, until an event
runs with every answer read — so the outcome is the same as with the whole
organisation in hand. The names a flow gives outright are read up front, so
most events take one round and one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables

UserRow = tuple[int | None, int | None, bool]  # (department, explicit manager, active)
DepartmentRow = tuple[int | None, int | None]  # (parent, head)
Delegation = tuple[int, int, datetime, datetime]  # (person, delegate, starts, ends)
ID_LIMIT = 2**63  # ids are 64-bit


class Organisation:
    """The engine's questions (`model.Directory`), answered from four lookups a subclass provides."""

    def _user(self, user: int) -> UserRow | None:
        raise NotImplementedError

    def _department(self, department: int) -> DepartmentRow | None:
        raise NotImplementedError

    def _delegations_of(self, user: int) -> list[Delegation]:
        raise NotImplementedError

    def role_members(self, role: str) -> list[int]:
        raise NotImplementedError

    def admins(self) -> list[int]:
        raise NotImplementedError

    def department_of(self, user: int) -> int | None:
        return (self._user(user) or (None, None, False))[0]

    def parent_of(self, department: int) -> int | None:
        return (self._department(department) or (None, None))[0]

    def head_of(self, department: int) -> int | None:
        return (self._department(department) or (None, None))[1]

    def manager_of(self, user: int) -> int | None:
        """The explicit manager, or else the nearest department head above (not the person)."""
        department, manager, _ = self._user(user) or (None, None, False)
        if manager is not None:
            return manager
        seen: set[int] = set()
        while department is not None and department not in seen:
            seen.add(department)
            parent, head = self._department(department) or (None, None)
            if head is not None and head != user:
                return head
            department = parent
        return None

    def delegate_of(self, user: int, now: datetime) -> int | None:
        for _, delegate, starts, ends in self._delegations_of(user):
            if starts <= now < ends and self.is_active(delegate):
                return delegate
        return None

    def is_active(self, user: int) -> bool:
        return (self._user(user) or (None, None, False))[2]


@dataclass(frozen=True)
class Snapshot(Organisation):
    """The organisation, or the part of it that matters, in hand."""

    users: dict[int, UserRow]
    departments: dict[int, DepartmentRow]
    roles: dict[str, list[int]]
    delegations: list[Delegation] = field(default_factory=list)
    app_admins: list[int] = field(default_factory=list)

    def _user(self, user: int) -> UserRow | None:
        return self.users.get(user)

    def _department(self, department: int) -> DepartmentRow | None:
        return self.departments.get(department)

    def _delegations_of(self, user: int) -> list[Delegation]:
        return [d for d in self.delegations if d[0] == user]

    def role_members(self, role: str) -> list[int]:
        return list(self.roles.get(role, []))

    def admins(self) -> list[int]:
        return list(self.app_admins)


@dataclass
class Missing:
    """What the engine asked about that has not been read yet."""

    users: set[int] = field(default_factory=set)
    departments: set[int] = field(default_factory=set)
    roles: bool = False
    admins: bool = False

    def __bool__(self) -> bool:
        return bool(self.users or self.departments or self.roles or self.admins)


class OrgReader(Organisation):
    """The organisation of one app, read piecemeal for one event (in its transaction)."""

    def __init__(self, app: str, now: datetime) -> None:
        self.app, self.now = app, now
        self.users: dict[int, UserRow | None] = {}  # None: there is no such user
        self.delegations: dict[int, list[Delegation]] = {}
        self.locales: dict[int, str | None] = {}  # read with the people: the notifications' languages
        self.departments: dict[int, DepartmentRow | None] = {}
        self.roles: dict[str, list[int]] | None = None
        self.app_admins: list[int] | None = None
        self._role_admins: list[int] = []  # members of the app's roles that make them its admins
        self.missing = Missing()

    def want(self, users: Iterable[int | None]) -> None:
        """People to read in the next round, before the engine asks."""
        self.missing.users |= {u for u in users if u is not None and u not in self.users}

    async def read(self, session: AsyncSession) -> None:
        """Read everything missing: then nothing is missing until the engine asks again."""
        missing, self.missing = self.missing, Missing()
        # An id no row can have (an event may name any number) is known without asking: nobody.
        self.users.update(dict.fromkeys(i for i in missing.users if not 0 < i < ID_LIMIT))
        self.departments.update(dict.fromkeys(i for i in missing.departments if not 0 < i < ID_LIMIT))
        if users := {i for i in missing.users if 0 < i < ID_LIMIT}:
            await self._read_users(session, users)
        if departments := {i for i in missing.departments if 0 < i < ID_LIMIT}:
            await self._read_departments(session, departments)
        if missing.roles or missing.admins:
            await self._read_roles(session)
        if missing.admins:
            await self._read_admins(session)

    # ------------------------------------------------------------ answers

    def _user(self, user: int) -> UserRow | None:
        if user not in self.users:
            self.missing.users.add(user)
        return self.users.get(user)

    def _department(self, department: int) -> DepartmentRow | None:
        if department not in self.departments:
            self.missing.departments.add(department)
        return self.departments.get(department)

    def _delegations_of(self, user: int) -> list[Delegation]:
        if user not in self.users:  # read with the person
            self.missing.users.add(user)
        return self.delegations.get(user, [])

    def role_members(self, role: str) -> list[int]:
        if self.roles is None:
            self.missing.roles = True
            return []
        return list(self.roles.get(role, []))

    def admins(self) -> list[int]:
        if self.app_admins is None:
            self.missing.admins = True
            return []
        return list(self.app_admins)

    # ------------------------------------------------------------ reading

    async def _read_users(self, session: AsyncSession, ids: set[int]) -> None:
        """The people, their languages and their delegations that have not ended, in one query."""
        u, g = tables.users, tables.delegations
        joined = u.outerjoin(g, and_(g.c.user_id == u.c.id, g.c.ends_at > self.now))
        person = (u.c.id, u.c.department_id, u.c.manager_id, u.c.active, u.c.locale)
        query = (
            select(*person, g.c.delegate_id, g.c.starts_at, g.c.ends_at)
            .select_from(joined)
            .where(u.c.id.in_(sorted(ids)))
            .order_by(g.c.id)
        )
        self.users.update(dict.fromkeys(ids))
        for row in await session.execute(query):
            self.users[row.id] = (row.department_id, row.manager_id, bool(row.active))
            self.locales[row.id] = row.locale
            delegations = self.delegations.setdefault(row.id, [])
            if row.delegate_id is not None:
                delegations.append((row.id, row.delegate_id, row.starts_at, row.ends_at))

    async def _read_departments(self, session: AsyncSession, ids: set[int]) -> None:
        """The departments and every department above them (a chain of managers climbs it), in one query."""
        d = tables.departments
        chain = select(d.c.id, d.c.parent_id, d.c.head_id).where(d.c.id.in_(sorted(ids))).cte("chain", recursive=True)
        chain = chain.union(select(d.c.id, d.c.parent_id, d.c.head_id).join(chain, d.c.id == chain.c.parent_id))
        self.departments.update(dict.fromkeys(ids))
        for row in await session.execute(select(chain.c.id, chain.c.parent_id, chain.c.head_id)):
            self.departments[row.id] = (row.parent_id, row.head_id)

    async def _read_roles(self, session: AsyncSession) -> None:
        if self.roles is not None:
            return
        r, m = tables.roles, tables.role_members
        rows = await session.execute(
            select(r.c.key, r.c.document, m.c.user_id).join(m, m.c.role_id == r.c.id).where(r.c.app_key == self.app)
        )
        roles: dict[str, list[int]] = {}
        for key, document, user_id in rows:
            roles.setdefault(key, []).append(user_id)
            if document.get("app_admin"):
                self._role_admins.append(user_id)
        self.roles = {k: sorted(v) for k, v in roles.items()}

    async def _read_admins(self, session: AsyncSession) -> None:
        """Platform admins, then the app's own admins (members of a role that makes them so)."""
        u = tables.users
        admins = [uid for (uid,) in await session.execute(select(u.c.id).where(u.c.is_admin, u.c.active))]
        self.app_admins = admins + [uid for uid in dict.fromkeys(self._role_admins) if uid not in admins]
