"""The outbox: events written in the same transaction as the change that caused them.

A change and its event commit together or not at all, so an event is never lost
and never announces a change that was rolled back. Workers deliver what the
outbox holds afterwards (runtime/integrations/); nothing here sends anything.

An event is a topic, the app (and form and record) it is about, who caused it,
and a JSON payload whose shape is the topic's (documented in the README).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.log_rows import append_rows

RECORD_TOPICS = ("record.created", "record.updated", "record.deleted", "record.restored")
FLOW_TOPICS = ("flow.submitted", "flow.step_reached", "flow.approved", "flow.rejected", "flow.ended")
TOPICS = RECORD_TOPICS + FLOW_TOPICS
AUTOMATION = "automation"  # a principal's `via` when an automation acts: its events say so, and start none


def origin(via: str) -> dict[str, str]:
    """What an event's payload says of who caused it: only that an automation did (to stop loops)."""
    return {"via": AUTOMATION} if via == AUTOMATION else {}


@dataclass(frozen=True)
class Event:
    topic: str
    app: str
    at: datetime
    form: str | None = None
    record_id: int | None = None
    actor_id: int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.topic not in TOPICS:
            raise ValueError(f"unknown event topic {self.topic!r}")

    def row(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "app_key": self.app,
            "form_key": self.form,
            "record_id": self.record_id,
            "actor_id": self.actor_id,
            "payload": dict(self.payload),
            "created_at": self.at,
        }


async def emit(session: AsyncSession, events: Sequence[Event]) -> None:
    """Write events on the change's own session: they commit with it (with the write's other log rows,
    when a record write runs: `log_rows.together`)."""
    await append_rows(session, tables.outbox, [event.row() for event in events])


async def purge(session: AsyncSession, before: datetime) -> tuple[int, int]:
    """Forget what is done and older than `before`: dispatched events, and deliveries that were
    delivered or skipped (with their attempts). Dead and waiting deliveries stay, to be replayed.
    Answer (events, deliveries) removed."""
    o, d, a = tables.outbox, tables.deliveries, tables.delivery_attempts
    done = select(d.c.id).where(d.c.status.in_(("delivered", "skipped")), d.c.created_at < before)
    await session.execute(delete(a).where(a.c.delivery_id.in_(done)))
    deliveries = await session.execute(delete(d).where(d.c.id.in_(done.scalar_subquery())))
    events = await session.execute(delete(o).where(o.c.dispatched_at.is_not(None), o.c.dispatched_at < before))
    return events.rowcount, deliveries.rowcount  # type: ignore[attr-defined]
