"""Time limits: due timers stored in the database, fired by a worker.

`run_due_timers` takes due timers one at a time, each in its own transaction
(on PostgreSQL with SKIP LOCKED, so several workers share the work without
taking a timer twice) and applies it to its instance through the shell. A timer
whose instance cannot take it is marked done with the reason, never retried
forever. `opsloom worker` runs it in a loop; the demo server runs it inside.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy import select, update

from opsloom.platform import tables
from opsloom.platform.database import Database
from opsloom.platform.errors import OpsloomError
from opsloom.platform.settings_store import SettingsStore
from opsloom.platform.site_settings import DEFAULTS
from opsloom.runtime.flow.instances import Services, run_timer, system_context

log = logging.getLogger("opsloom.worker")


async def run_due_timers(
    db: Database,
    services: Services,
    now: datetime | None = None,
    limit: int = 500,
    site: SettingsStore | None = None,
) -> int:
    """Fire timers due by `now`, in the zone and language the settings give; answer how many ran."""
    now = now or datetime.now(UTC)
    settings = (await site.fresh(db)).settings if site else DEFAULTS
    fired = 0
    while fired < limit:
        async with db.session(write=True) as session:
            ft = tables.flow_timers
            query = select(ft).where(ft.c.done_at.is_(None), ft.c.due_at <= now).order_by(ft.c.due_at, ft.c.id)
            if db.is_postgresql:
                query = query.with_for_update(skip_locked=True)
            timer = (await session.execute(query.limit(1))).mappings().first()
            if timer is None:
                return fired
            await session.execute(update(ft).where(ft.c.id == timer["id"]).values(done_at=now))
            try:
                async with session.begin_nested():
                    await run_timer(session, system_context(now, settings), services, timer)
            except OpsloomError as error:
                log.warning("timer %s of instance %s: %s", timer["id"], timer["instance_id"], error.detail)
        fired += 1
    return fired


async def work(db: Database, services: Services, interval: float = 5.0, site: SettingsStore | None = None) -> None:
    """Fire due timers every `interval` seconds, until cancelled."""
    while True:
        try:
            await run_due_timers(db, services, site=site)
        except Exception:  # noqa: BLE001 - a worker outlives one bad round; the error is logged
            log.exception("the timer round failed")
        await asyncio.sleep(interval)
