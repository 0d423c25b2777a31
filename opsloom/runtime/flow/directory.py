"""The organisation as the engine sees it: a snapshot loaded for one event.

The engine asks about departments, heads, managers, roles and out-of-office
delegations synchronously (it is pure); the shell answers from this snapshot,
read in a handful of queries within the event's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables


@dataclass(frozen=True)
class Snapshot:
    users: dict[int, tuple[int | None, int | None, bool]]  # id -> (department, explicit manager, active)
    departments: dict[int, tuple[int | None, int | None]]  # id -> (parent, head)
    roles: dict[str, list[int]]
    delegations: list[tuple[int, int, datetime, datetime]] = field(default_factory=list)
    app_admins: list[int] = field(default_factory=list)

    def department_of(self, user: int) -> int | None:
        return self.users.get(user, (None, None, False))[0]

    def parent_of(self, department: int) -> int | None:
        return self.departments.get(department, (None, None))[0]

    def head_of(self, department: int) -> int | None:
        return self.departments.get(department, (None, None))[1]

    def manager_of(self, user: int) -> int | None:
        """The explicit manager, or else the nearest department head above (not the person)."""
        department, manager, _ = self.users.get(user, (None, None, False))
        if manager is not None:
            return manager
        seen: set[int] = set()
        while department is not None and department not in seen:
            seen.add(department)
            parent, head = self.departments.get(department, (None, None))
            if head is not None and head != user:
                return head
            department = parent
        return None

    def role_members(self, role: str) -> list[int]:
        return list(self.roles.get(role, []))

    def delegate_of(self, user: int, now: datetime) -> int | None:
        for person, delegate, starts, ends in self.delegations:
            if person == user and starts <= now < ends and self.is_active(delegate):
                return delegate
        return None

    def admins(self) -> list[int]:
        return list(self.app_admins)

    def is_active(self, user: int) -> bool:
        return self.users.get(user, (None, None, False))[2]


async def load_snapshot(session: AsyncSession, app: str, now: datetime) -> Snapshot:
    u, d = tables.users, tables.departments
    users = {
        row.id: (row.department_id, row.manager_id, bool(row.active))
        for row in await session.execute(select(u.c.id, u.c.department_id, u.c.manager_id, u.c.active))
    }
    departments = {
        row.id: (row.parent_id, row.head_id)
        for row in await session.execute(select(d.c.id, d.c.parent_id, d.c.head_id))
    }
    r, m = tables.roles, tables.role_members
    roles: dict[str, list[int]] = {}
    admins: list[int] = [uid for (uid,) in await session.execute(select(u.c.id).where(u.c.is_admin, u.c.active))]
    rows = await session.execute(
        select(r.c.key, r.c.document, m.c.user_id).join(m, m.c.role_id == r.c.id).where(r.c.app_key == app)
    )
    for key, document, user_id in rows:
        roles.setdefault(key, []).append(user_id)
        if document.get("app_admin") and user_id not in admins:
            admins.append(user_id)
    g = tables.delegations
    delegations = [
        (row.user_id, row.delegate_id, row.starts_at, row.ends_at)
        for row in await session.execute(select(g).where(g.c.ends_at > now).order_by(g.c.id))
    ]
    return Snapshot(users, departments, {k: sorted(v) for k, v in roles.items()}, delegations, admins)
