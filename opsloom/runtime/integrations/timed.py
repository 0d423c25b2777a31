"""Timed triggers, judged at every worker round: a schedule (cron), a date field reached, and a
metric (a report's total, checked at the slots of a cron expression: metrics.py).

    {"on": "schedule", "cron": "0 9 * * 1-5", "timezone": "Asia/Shanghai"}
    {"on": "date_reached", "field": "end_date", "offset_days": -3}     3 days before the end

A schedule fires for its latest slot (the last time its cron expression names, in
its time zone or the server's) once that slot is after the automation was
published; a worker that was down fires the slot it missed once, not every one.
With a condition it runs once per matching record, without one once in all.

A date trigger fires for each record whose date plus `offset_days` is today or
earlier, but not before the automation was published — once per record and date
value: a record whose date moves fires again on the new date.

Each firing is a row of `opsloom_automation_runs` with a unique key, written in
the transaction of its actions (automations.fire): exactly once, across workers
and across a worker killed mid-run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cronsim import CronSim
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.database import Database
from opsloom.platform.errors import OpsloomError
from opsloom.runtime.access import eval_context
from opsloom.runtime.conditions import parse_condition, to_sql
from opsloom.runtime.integrations.automations import (
    ON_A_CLOCK,
    Tools,
    automation_context,
    fire,
    published,
    zone_of,
)

BATCH = 20  # firings per transaction
MOST = 1000  # records one automation fires for in one round; the rest wait for the next round


def latest_slot(trigger: Mapping[str, Any], now: datetime, zone: Any) -> datetime:
    """The last time at or before `now` that the cron expression names, in UTC."""
    local = now.astimezone(zone_of(trigger, zone)) + timedelta(microseconds=1)  # `now` itself counts
    return next(iter(CronSim(trigger["cron"], local, reverse=True))).astimezone(UTC)


async def run_timed(db: Database, tools: Tools, now: datetime) -> int:
    """Fire what schedules and dates call for now; answer how many firings ran."""
    async with db.session() as session:
        found = await published(session, timed=True)
    ran = 0
    for document, since in found:
        app = document["_app"]
        try:
            async with db.session() as session:
                due = await _due(session, tools, app, document, since, now)
        except OpsloomError:
            continue  # its form is gone or changed: publishing it again reports why
        for start in range(0, len(due), BATCH):
            async with db.session(write=True) as session:
                for fire_key, record_id in due[start : start + BATCH]:
                    ran += await fire(session, tools, app, document, fire_key, record_id, now) is not None
    return ran


async def _due(
    session: AsyncSession, tools: Tools, app: str, document: Mapping[str, Any], since: datetime, now: datetime
) -> list[tuple[str, int | None]]:
    """(fire key, record) of each firing due now that has not happened yet."""
    trigger = document["trigger"]
    form = await tools.forms.get(session, app, document["form"])
    t = form.table
    query = select(t.c.id).where(t.c.deleted_at.is_(None)).order_by(t.c.id).limit(MOST)
    if document.get("condition") is not None:
        condition = parse_condition(document["condition"], form, path="condition")
        query = query.where(to_sql(condition, form, eval_context(automation_context(document, now))))
    if trigger["on"] in ON_A_CLOCK:
        slot = latest_slot(trigger, now, tools.zone)
        if slot <= since:
            return []
        prefix = f"{'metric' if trigger['on'] == 'metric' else 'cron'}:{slot.isoformat()}"
        if document.get("condition") is None:
            wanted: list[tuple[str, int | None]] = [(prefix, None)]
        else:
            wanted = [(f"{prefix}:{rid}", rid) for rid in (await session.execute(query)).scalars()]
    else:
        column = t.c[form.by_key[trigger["field"]].column]
        zone = zone_of(trigger, tools.zone)
        offset = timedelta(days=trigger.get("offset_days", 0))
        first, last = since.astimezone(zone).date() - offset, now.astimezone(zone).date() - offset
        rows = await session.execute(query.add_columns(column).where(column.between(first, last)))
        wanted = [(f"date:{rid}:{day.isoformat()}", rid) for rid, day in rows]
    return await _not_fired(session, app, document["key"], wanted)


async def _not_fired(
    session: AsyncSession, app: str, key: str, wanted: list[tuple[str, int | None]]
) -> list[tuple[str, int | None]]:
    if not wanted:
        return []
    r = tables.automation_runs
    done: set[str] = set()
    keys = [k for k, _ in wanted]
    for start in range(0, len(keys), 500):
        query = select(r.c.fire_key).where(
            r.c.app_key == app, r.c.automation_key == key, r.c.fire_key.in_(keys[start : start + 500])
        )
        done.update((await session.execute(query)).scalars())
    return [(k, rid) for k, rid in wanted if k not in done]
