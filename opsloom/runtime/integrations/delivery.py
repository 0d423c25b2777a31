"""Delivery: at least once, with retries, never by two workers at once.

A worker claims due deliveries in a short transaction (PostgreSQL: `FOR UPDATE
SKIP LOCKED`; SQLite: one writer at a time) and marks them `sending` with a
lease: its name and a time. It sends outside any transaction, then settles each
one — only if it still holds the lease. A worker that dies mid-send leaves its
claims `sending`; once the lease runs out another worker takes them again (hence
at least once; receivers dedupe by `webhook-id`). Two live workers never hold the
same delivery, because a lease is only taken from a delivery nobody holds.

A failed attempt is retried after an exponentially growing, jittered wait
(`retry_delay`); after the last allowed attempt the delivery is `dead`. A refused
target (a private address) or 410 Gone is dead at once; 410 also switches the
subscription off. Every attempt is logged with its answer and duration.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, insert, or_, select, update

from opsloom.platform import tables
from opsloom.platform.database import Database
from opsloom.platform.types import StoredRow
from opsloom.runtime.integrations.channels import CHANNELS, Env, Result, Target
from opsloom.runtime.integrations.outbound import OutboundRefused


def retry_delay(attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...): base·2^(n-1), capped,
    then jittered into its upper half so that many failures at once do not retry in step."""
    delay = min(cap, base * 2 ** min(attempt - 1, 40))
    return delay / 2 + rand() * delay / 2


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{random.getrandbits(32):08x}"


async def claim(db: Database, now: datetime, owner: str, lease: float, limit: int) -> list[StoredRow]:
    """Take up to `limit` due deliveries for `owner` until `now + lease`."""
    d = tables.deliveries
    due = or_(
        and_(d.c.status == "pending", d.c.next_at <= now),
        and_(d.c.status == "sending", d.c.lease_until < now),  # its worker died: the lease ran out
    )
    async with db.session(write=True) as session:
        query = select(d.c.id).where(due).order_by(d.c.next_at, d.c.id).limit(limit)
        if db.is_postgresql:
            query = query.with_for_update(skip_locked=True)
        ids = list((await session.execute(query)).scalars())
        if not ids:
            return []
        until = now + timedelta(seconds=lease)
        taken = (
            update(d)
            .where(d.c.id.in_(ids), due)
            .values(status="sending", lease_owner=owner, lease_until=until, attempts=d.c.attempts + 1)
            .returning(*d.c)
        )
        return list((await session.execute(taken)).mappings().all())


async def subscriptions_of(db: Database, deliveries: Sequence[StoredRow]) -> dict[int, StoredRow]:
    """The subscriptions of a batch of deliveries, read once for the batch."""
    ids = sorted({d["subscription_id"] for d in deliveries})
    if not ids:
        return {}
    s = tables.subscriptions
    async with db.session() as session:
        rows = (await session.execute(select(s).where(s.c.id.in_(ids)))).mappings().all()
    return {row["id"]: row for row in rows}


async def send(env: Env, delivery: StoredRow, sub: StoredRow | None) -> Result:
    """One attempt at one delivery; never raises for the receiver's faults."""
    if sub is None or sub["deleted_at"] is not None or not sub["active"]:
        return Result(False, error="the subscription was deleted or switched off", permanent=True)
    channel = CHANNELS.get(sub["channel"])
    if channel is None:
        return Result(False, error=f"no channel {sub['channel']!r}", permanent=True)
    until = sub["previous_secret_until"]
    previous = sub["previous_secret"] if until is not None and until > datetime.now(UTC) else None
    target = Target(sub["id"], sub["channel"], sub["config"], sub["secret"], previous)
    try:
        return await channel.deliver(target, delivery["id"], delivery["payload"], env)
    except OutboundRefused as refused:
        return Result(False, error=f"refused: {refused}"[:1000], permanent=True)
    except httpx.TimeoutException:
        return Result(False, error="the receiver did not answer in time")
    except httpx.HTTPError as error:
        return Result(False, error=f"{type(error).__name__}: {error}"[:1000])


async def settle(
    db: Database,
    delivery: StoredRow,
    result: Result,
    now: datetime,
    owner: str,
    settings: Any,
    rand: Callable[[], float] = random.random,
) -> bool:
    """Store an attempt's outcome if `owner` still holds the delivery; answer whether it did."""
    d, attempt = tables.deliveries, delivery["attempts"]
    values: dict[str, Any] = {"response_status": result.status, "error": result.error, "lease_until": None}
    if result.delivered:
        values |= {"status": "delivered", "delivered_at": now, "error": None}
    elif result.permanent or attempt >= settings.outbox_max_attempts:
        values |= {"status": "dead"}
    else:
        wait = retry_delay(attempt, settings.outbox_retry_base, settings.outbox_retry_max, rand)
        values |= {"status": "pending", "next_at": now + timedelta(seconds=wait)}
    async with db.session(write=True) as session:
        mine = (d.c.id == delivery["id"], d.c.status == "sending", d.c.lease_owner == owner)
        done = await session.execute(update(d).where(*mine).values(**values))
        if done.rowcount == 0:  # type: ignore[attr-defined]
            return False  # the lease ran out and another worker took it: theirs to settle
        outcome = "delivered" if result.delivered else ("refused" if result.permanent else "failed")
        await session.execute(
            insert(tables.delivery_attempts).values(
                delivery_id=delivery["id"],
                attempt=attempt,
                at=now,
                outcome=outcome,
                response_status=result.status,
                response_body=result.body,
                duration_ms=result.duration_ms,
                error=result.error,
            )
        )
        if result.gone:
            s = tables.subscriptions
            await session.execute(
                update(s).where(s.c.id == delivery["subscription_id"]).values(active=False, updated_at=now)
            )
    return True


async def deliver_due(
    env: Env, now: datetime, owner: str, *, limit: int = 50, concurrency: int = 10
) -> Sequence[Result]:
    """Claim what is due, send it (`concurrency` at a time), settle it; answer the results."""
    settings = env.settings
    claimed = await claim(env.db, now, owner, settings.outbox_lease, limit)
    subs = await subscriptions_of(env.db, claimed)
    gate = asyncio.Semaphore(concurrency)

    async def one(delivery: StoredRow) -> Result:
        async with gate:
            result = await send(env, delivery, subs.get(delivery["subscription_id"]))
        await settle(env.db, delivery, result, now, owner, settings)
        return result

    return await asyncio.gather(*(one(delivery) for delivery in claimed))
