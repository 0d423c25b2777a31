"""The audit log: append-only, written in the same transaction as what it records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext


async def audit(
    session: AsyncSession,
    ctx: RequestContext,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    actor_id: int | None = None,
) -> None:
    await session.execute(
        insert(tables.audit_log).values(
            at=ctx.now,
            actor_id=actor_id if actor_id is not None else ctx.principal.user_id,
            action=action,
            target=target,
            ip=ctx.ip,
            detail=detail,
        )
    )
