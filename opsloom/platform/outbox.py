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

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables

RECORD_TOPICS = ("record.created", "record.updated", "record.deleted", "record.restored")
FLOW_TOPICS = ("flow.submitted", "flow.step_reached", "flow.approved", "flow.rejected", "flow.ended")
TOPICS = RECORD_TOPICS + FLOW_TOPICS


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
    """Write events on the change's own session: they commit with it."""
    if events:
        await session.execute(insert(tables.outbox), [event.row() for event in events])
