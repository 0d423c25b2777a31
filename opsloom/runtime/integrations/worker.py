"""The outbox worker: fire schedules and dates, fan events out, deliver what is due.

`opsloom worker` and the demo run it.

`run_outbox_round` is one round (what `opsloom worker --once` does); `work_outbox`
repeats rounds until cancelled, sleeping only when a round found nothing to do.
It is a loop of its own, so it runs beside the flow timers and other job runners.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from opsloom.platform.database import Database
from opsloom.platform.settings import Settings
from opsloom.platform.settings_store import SettingsStore
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.integrations.automations import Tools
from opsloom.runtime.integrations.channels import Env, Result
from opsloom.runtime.integrations.delivery import deliver_due, worker_name
from opsloom.runtime.integrations.dispatch import dispatch_events
from opsloom.runtime.integrations.outbound import Outbound
from opsloom.runtime.integrations.timed import run_timed

log = logging.getLogger("opsloom.worker")


@dataclass(frozen=True)
class Round:
    dispatched: int  # events fanned out
    results: Sequence[Result]  # attempts made
    fired: int = 0  # schedules and dates that fired

    @property
    def delivered(self) -> int:
        return sum(1 for r in self.results if r.delivered)

    @property
    def idle(self) -> bool:
        return not self.dispatched and not self.results and not self.fired


class OutboxWorker:
    """One worker: its name (the owner of its leases) and its HTTP client."""

    def __init__(self, db: Database, forms: FormRegistry, settings: Any, name: str | None = None) -> None:
        self.db, self.forms, self.settings = db, forms, settings
        self.name = name or worker_name()
        outbound = Outbound(allow_private=settings.outbound_allow_private, timeout=settings.outbound_timeout)
        # The mail server and the time zone are settings an admin may change while the worker runs.
        site = {"site": SettingsStore(settings)} if isinstance(settings, Settings) else {}
        self.env = Env(outbound, settings, db, extra=site)
        self.tools = Tools(forms, outbound, settings.resolved_secret_key(), settings.zone)

    async def round(self, now: datetime | None = None, *, limit: int = 50) -> Round:
        now = now or datetime.now(UTC)
        store = self.env.extra.get("site")
        tools = replace(self.tools, zone=(await store.fresh(self.db)).settings.zone) if store else self.tools
        fired = await run_timed(self.db, tools, now)
        dispatched = await dispatch_events(self.db, self.forms, now, tools=tools)
        results = await deliver_due(self.env, now, self.name, limit=limit)
        return Round(dispatched, results, fired)

    async def close(self) -> None:
        await self.env.outbound.close()


async def run_outbox_round(db: Database, forms: FormRegistry, settings: Any, now: datetime | None = None) -> Round:
    worker = OutboxWorker(db, forms, settings)
    try:
        return await worker.round(now)
    finally:
        await worker.close()


async def work_outbox(db: Database, forms: FormRegistry, settings: Any, interval: float = 1.0) -> None:
    """Deliver until cancelled: round after round while there is work, a pause when there is none."""
    worker = OutboxWorker(db, forms, settings)
    try:
        while True:
            try:
                done = await worker.round()
            except Exception:  # noqa: BLE001 - a worker outlives one bad round; the error is logged
                log.exception("the outbox round failed")
                done = Round(0, ())
            if done.idle:
                await asyncio.sleep(interval)
    finally:
        await worker.close()
