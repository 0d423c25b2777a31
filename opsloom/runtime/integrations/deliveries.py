"""A subscription's delivery log: what was sent, how each attempt went; and replay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import Conflict, FieldError, NotFound, ValidationFailed
from opsloom.platform.types import StoredRow
from opsloom.runtime.fields import dump_datetime

STATUSES = ("pending", "sending", "delivered", "dead", "skipped")


async def log(session: AsyncSession, sub_id: int, status: str | None, limit: int, before: int | None) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise ValidationFailed.of([FieldError("status", f"one of {', '.join(STATUSES)}")])
    d = tables.deliveries
    query = select(d).where(d.c.subscription_id == sub_id)
    if status is not None:
        query = query.where(d.c.status == status)
    if before is not None:
        query = query.where(d.c.id < before)
    rows = (await session.execute(query.order_by(d.c.id.desc()).limit(limit + 1))).mappings().all()
    durations = await _last_durations(session, [r["id"] for r in rows[:limit]])
    items = [_view(r) | {"duration_ms": durations.get(r["id"])} for r in rows[:limit]]
    return {"items": items, "next_before": rows[limit - 1]["id"] if len(rows) > limit else None}


async def _last_durations(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    a = tables.delivery_attempts
    last = select(func.max(a.c.id)).where(a.c.delivery_id.in_(ids)).group_by(a.c.delivery_id)
    rows = await session.execute(select(a.c.delivery_id, a.c.duration_ms).where(a.c.id.in_(last)))
    return {row.delivery_id: row.duration_ms for row in rows}


async def one(session: AsyncSession, sub_id: int, delivery_id: int, *, lock: bool = False) -> dict[str, Any]:
    d, a = tables.deliveries, tables.delivery_attempts
    query = select(d).where(d.c.id == delivery_id, d.c.subscription_id == sub_id)
    row = (await session.execute(query.with_for_update() if lock else query)).mappings().first()
    if row is None:
        raise NotFound(f"Subscription {sub_id} has no delivery {delivery_id}")
    attempts = await session.execute(select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.id))
    return _view(row) | {
        "payload": row["payload"],
        "attempt_log": [
            {
                "attempt": t["attempt"],
                "at": dump_datetime(t["at"]),
                "outcome": t["outcome"],
                "response_status": t["response_status"],
                "response_body": t["response_body"],
                "duration_ms": t["duration_ms"],
                "error": t["error"],
            }
            for t in attempts.mappings()
        ],
    }


async def replay(session: AsyncSession, ctx: RequestContext, sub: StoredRow, delivery_id: int) -> dict[str, Any]:
    """Send a delivery again, now, with the same `webhook-id` and the full retry schedule."""
    current = await one(session, sub["id"], delivery_id, lock=True)
    if current["status"] in ("pending", "sending"):
        raise Conflict(f"Delivery {delivery_id} is {current['status']} already; wait for its attempt")
    if current["status"] == "skipped":
        raise Conflict(f"Delivery {delivery_id} was skipped: {current['error']}; it has nothing to send")
    if not sub["active"]:
        raise Conflict("The subscription is switched off; switch it on (PATCH active: true) first")
    d = tables.deliveries
    await session.execute(
        update(d)
        .where(d.c.id == delivery_id)
        .values(status="pending", attempts=0, next_at=ctx.now, lease_owner=None, lease_until=None, delivered_at=None)
    )
    return await one(session, sub["id"], delivery_id)


def _view(row: StoredRow) -> dict[str, Any]:
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "topic": row["topic"],
        "status": row["status"],
        "attempts": row["attempts"],
        "response_status": row["response_status"],
        "error": row["error"],
        "created_at": _when(row["created_at"]),
        "next_at": _when(row["next_at"]) if row["status"] == "pending" else None,
        "delivered_at": _when(row["delivered_at"]),
    }


def _when(value: datetime | None) -> str | None:
    return None if value is None else dump_datetime(value)
