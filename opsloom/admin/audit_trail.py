"""Reading the audit log: filters (person, app, kind, time), pages, and rows for an export.

The log is append-only: nothing here (nor anywhere) changes or deletes an entry, and the
database refuses to (triggers of migration 0010). Entries are read newest first, by id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables

# The kinds of entry a reader filters by -> the actions they hold ("x." is every action starting so).
KINDS: dict[str, tuple[str, ...]] = {
    "login": ("login", "login.", "logout", "password."),
    "record": ("record.",),
    "flow": ("flow.",),
    "definition": ("definition.",),
    "permission": ("permission.", "role."),
    "organisation": ("user.", "department."),
    "token": ("token.",),
}
EXPORT_BATCH = 1000
MAX_EXPORT_ROWS = 200_000


def kind_of(action: str) -> str | None:
    for kind, patterns in KINDS.items():
        if any(action == p or (p.endswith(".") and action.startswith(p)) for p in patterns):
            return kind
    return None


@dataclass(frozen=True)
class AuditFilter:
    person: int | None = None
    app: str | None = None
    kind: str | None = None
    since: date | None = None  # from this day (in the server's zone) ...
    until: date | None = None  # ... to this day, inclusive

    def conditions(self, zone: tzinfo) -> list[Any]:
        a = tables.audit_log
        where: list[Any] = []
        if self.person is not None:
            where.append(a.c.actor_id == self.person)
        if self.app:
            where.append(a.c.target.startswith(f"{self.app}/", autoescape=True))
        if self.kind in KINDS:
            where.append(
                or_(
                    *(
                        a.c.action.startswith(p, autoescape=True) if p.endswith(".") else a.c.action == p
                        for p in KINDS[self.kind]
                    )
                )
            )
        if self.since:
            where.append(a.c.at >= datetime.combine(self.since, time(), zone))
        if self.until:
            where.append(a.c.at < datetime.combine(self.until + timedelta(days=1), time(), zone))
        return where


def _query(where: list[Any]) -> Any:
    a, u = tables.audit_log, tables.users
    return (
        select(a, u.c.name.label("actor_name"), u.c.email.label("actor_email"))
        .outerjoin(u, u.c.id == a.c.actor_id)
        .where(and_(true(), *where))
        .order_by(a.c.id.desc())
    )


def entry_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at,
        "actor_id": row.actor_id,
        "actor_name": row.actor_name,
        "actor_email": row.actor_email,
        "action": row.action,
        "kind": kind_of(row.action),
        "target": row.target,
        "ip": row.ip,
        "detail": row.detail,
    }


async def read_page(
    session: AsyncSession, wanted: AuditFilter, zone: tzinfo, page: int, size: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of entries (newest first) and how many match in all."""
    where = wanted.conditions(zone)
    a = tables.audit_log
    total = (await session.execute(select(func.count()).select_from(a).where(and_(true(), *where)))).scalar_one()
    rows = await session.execute(_query(where).limit(size).offset((page - 1) * size))
    return [entry_view(r) for r in rows], int(total)


async def all_entries(session: AsyncSession, wanted: AuditFilter, zone: tzinfo) -> AsyncIterator[dict[str, Any]]:
    """Every matching entry, newest first, read in batches (an export of a long log never loads it whole)."""
    where = wanted.conditions(zone)
    a = tables.audit_log
    last: int | None = None
    written = 0
    while written < MAX_EXPORT_ROWS:
        batch = _query(where if last is None else [*where, a.c.id < last]).limit(EXPORT_BATCH)
        rows = (await session.execute(batch)).all()
        for row in rows:
            yield entry_view(row)
        written += len(rows)
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1].id


async def apps_in_log(session: AsyncSession) -> list[dict[str, Any]]:
    """The installed apps, key and label (the app filter's choices)."""
    a = tables.apps
    rows = await session.execute(select(a.c.key, a.c.document).order_by(a.c.key))
    return [{"key": row.key, "label": row.document.get("label") or row.key} for row in rows]
