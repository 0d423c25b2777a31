"""Fan-out: each outbox event starts its automations and becomes one delivery per subscription that wants it.

Runs in the worker, in one transaction per batch: the events are taken (on
PostgreSQL `FOR UPDATE SKIP LOCKED`, so workers share batches), their deliveries
written and the events marked dispatched together. A crash rolls all of it back,
and the batch is taken again: an event is fanned out exactly once.

A subscription sees an event as its owner would read the record: not at all if
the owner's row scope leaves the record out (the delivery is logged as skipped),
and without the fields hidden from the owner. Its condition is judged in SQL, by
the same compiler as list filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.auth import principal_from_row
from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.database import Database
from opsloom.platform.errors import OpsloomError
from opsloom.platform.permissions import FormAccess, form_access
from opsloom.platform.site_settings import DEFAULTS, SiteSettings
from opsloom.platform.types import StoredRow
from opsloom.runtime.access import eval_context, scope_clause
from opsloom.runtime.conditions import parse_condition, to_sql
from opsloom.runtime.fields import dump_datetime
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.integrations.automations import Published, run_automations

BATCH = 200


@dataclass(frozen=True)
class Skip:
    reason: str


async def dispatch_events(
    db: Database, forms: FormRegistry, now: datetime, limit: int = 10_000, site: SiteSettings = DEFAULTS
) -> int:
    """Fan out waiting events, a batch per transaction; answer how many were taken. Automations run in the
    zone of `site` (the settings in force)."""
    taken = 0
    while taken < limit:
        async with db.session(write=True) as session:
            o = tables.outbox
            query = select(o).where(o.c.dispatched_at.is_(None)).order_by(o.c.id).limit(BATCH)
            if db.is_postgresql:
                query = query.with_for_update(skip_locked=True)
            events = (await session.execute(query)).mappings().all()
            if not events:
                return taken
            subscriptions = await _subscriptions(session, {e["app_key"] for e in events})
            published, owners = Published(), Owners()
            rows: list[dict[str, Any]] = []
            for event in events:
                await run_automations(session, forms, event, now, published, site)
                for sub in subscriptions.get(event["app_key"], ()):
                    if _wants(sub, event):
                        rows += await _delivery(session, forms, owners, sub, event, now)
            if rows:
                await session.execute(insert(tables.deliveries), rows)
            ids = [e["id"] for e in events]
            await session.execute(update(o).where(o.c.id.in_(ids)).values(dispatched_at=now))
        taken += len(events)
    return taken


async def _subscriptions(session: AsyncSession, apps: set[str]) -> dict[str, list[StoredRow]]:
    s = tables.subscriptions
    query = select(s).where(s.c.app_key.in_(sorted(apps)), s.c.active, s.c.deleted_at.is_(None)).order_by(s.c.id)
    found: dict[str, list[StoredRow]] = {}
    for row in (await session.execute(query)).mappings():
        found.setdefault(row["app_key"], []).append(row)
    return found


def _wants(sub: StoredRow, event: StoredRow) -> bool:
    events = sub["events"] or []
    if event["topic"] not in events and "*" not in events:
        return False
    return sub["form_key"] is None or sub["form_key"] == event["form_key"]


class Owners:
    """Subscriptions' owners and their rights on forms, read once per batch of events."""

    def __init__(self) -> None:
        self._people: dict[int, Principal | None] = {}
        self._access: dict[tuple[int, str, str], FormAccess] = {}

    async def principal(self, session: AsyncSession, user_id: int) -> Principal | None:
        if user_id not in self._people:
            u = tables.users
            row = (await session.execute(select(u).where(u.c.id == user_id))).first()
            self._people[user_id] = principal_from_row(row) if row is not None and row.active else None
        return self._people[user_id]

    async def access(self, session: AsyncSession, principal: Principal, app: str, form: str) -> FormAccess:
        key = (principal.user_id or 0, app, form)
        if key not in self._access:
            self._access[key] = await form_access(session, principal, app, form)
        return self._access[key]


async def _delivery(
    session: AsyncSession, forms: FormRegistry, owners: Owners, sub: StoredRow, event: StoredRow, now: datetime
) -> list[dict[str, Any]]:
    try:
        built = await payload_for(session, forms, owners, sub, event, now)
    except OpsloomError as error:  # the form is gone, or the condition no longer fits it
        built = Skip(error.detail)
    if built is None:
        return []
    row = {
        "subscription_id": sub["id"],
        "event_id": event["id"],
        "topic": event["topic"],
        "attempts": 0,
        "next_at": now,
        "created_at": now,
        "error": None,
    }
    if isinstance(built, Skip):
        return [row | {"payload": {}, "status": "skipped", "error": built.reason[:1000]}]
    return [row | {"payload": built, "status": "pending"}]


async def payload_for(
    session: AsyncSession, forms: FormRegistry, owners: Owners, sub: StoredRow, event: StoredRow, now: datetime
) -> dict[str, Any] | Skip | None:
    """The event as the subscription's owner may read it; Skip when they may not; None when the
    subscription's condition leaves it out (or an update changed nothing they can see)."""
    owner = await owners.principal(session, sub["owner_id"])
    if owner is None:
        return Skip("the subscription's owner is no longer an active user")
    ctx = RequestContext(principal=owner, now=now)
    app, form_key, stored = event["app_key"], event["form_key"], event["payload"]
    data = {"record_id": event["record_id"]} | {k: v for k, v in stored.items() if k not in ("record", "changes")}
    if form_key is not None and event["record_id"] is not None:
        form = await forms.get(session, app, form_key)
        access = await owners.access(session, owner, app, form_key)
        clock = eval_context(ctx)
        t = form.table
        mine = select(t).where(t.c.id == event["record_id"], scope_clause(access.scope("read"), form, clock))
        row = (await session.execute(mine)).mappings().first()
        if row is None:
            return Skip("the subscription's owner may not read this record")
        if sub["condition"] is not None:
            condition = to_sql(parse_condition(sub["condition"], form, path="condition"), form, clock)
            if (await session.execute(select(t.c.id).where(t.c.id == row["id"], condition))).first() is None:
                return None
        hidden = access.hidden
        record = stored.get("record") or form.dump_row(row)
        data["record"] = {k: v for k, v in record.items() if k not in hidden}
        if "changes" in stored:
            data["changes"] = {k: v for k, v in stored["changes"].items() if k not in hidden}
            if not data["changes"]:
                return None
    return {
        "id": f"evt_{event['id']}",
        "type": event["topic"],
        "timestamp": dump_datetime(event["created_at"]),
        "app": app,
        "form": form_key,
        "actor_id": event["actor_id"],
        "data": data,
    }
