"""The `notify` action: a message to one of an app's channels, delivered by the outbox worker.

Written in the caller's transaction like any event, so a notification an
automation sends is kept or dropped with the change that caused it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.errors import NotFound


async def notify(
    session: AsyncSession, app: str, channel_id: int, title: str, text: str, now: datetime, link: str | None = None
) -> int:
    """Queue a message to the app's channel; answer the delivery's id."""
    s = tables.subscriptions
    found = await session.execute(
        select(s.c.id).where(s.c.id == channel_id, s.c.app_key == app, s.c.deleted_at.is_(None), s.c.active)
    )
    if found.first() is None:
        raise NotFound(f"App '{app}' has no active channel {channel_id}")
    payload = {"type": "notification", "title": title[:200], "text": text[:4000], "link": link}
    row = {
        "subscription_id": channel_id,
        "topic": "notification",
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_at": now,
        "created_at": now,
    }
    return (
        await session.execute(insert(tables.deliveries).values(**row).returning(tables.deliveries.c.id))
    ).scalar_one()
