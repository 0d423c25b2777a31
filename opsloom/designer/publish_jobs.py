"""Publish jobs: how far a publish that stages its work in batches has got.

One row per such publish: `staging` while batches run (`done` of `total`
rows), then `done` (with the version it published) or `failed` (with why).
A job whose process died stops moving: after `STALE` without a batch it reads
as `interrupted`, and the next publish of the form drops its staging table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer.staging import drop_stage_table, stage_table_name
from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.database import Database

STALE = timedelta(seconds=60)

j = tables.publish_jobs


async def start_job(session: AsyncSession, ctx: RequestContext, definition_id: int, total: int) -> int:
    """A new job (its staging table is named after it), once the leftovers of dead ones are gone."""
    now = datetime.now(UTC)
    dead = or_(j.c.status != "staging", j.c.updated_at < now - STALE)
    leftovers = await session.execute(
        select(j.c.id, j.c.stage_table, j.c.status).where(
            j.c.definition_id == definition_id, j.c.stage_table.is_not(None), dead
        )
    )
    for job_id, name, status in leftovers.all():
        await drop_stage_table(session, name)
        values: dict[str, Any] = {"stage_table": None}
        if status == "staging":
            values.update(status="failed", error="interrupted: its process stopped")
        await session.execute(update(j).where(j.c.id == job_id).values(values))
    job_id = (
        await session.execute(
            insert(j)
            .values(
                definition_id=definition_id,
                status="staging",
                done=0,
                total=total,
                started_at=now,
                updated_at=now,
                started_by=ctx.principal.user_id,
            )
            .returning(j.c.id)
        )
    ).scalar_one()
    await session.execute(update(j).where(j.c.id == job_id).values(stage_table=stage_table_name(job_id)))
    return int(job_id)


async def record_progress(session: AsyncSession, job_id: int, done: int) -> None:
    await session.execute(update(j).where(j.c.id == job_id).values(done=done, updated_at=datetime.now(UTC)))


async def finish_job(session: AsyncSession, job_id: int, version: int | None) -> None:
    """In the publish's final transaction, which also drops the staging table."""
    await session.execute(
        update(j)
        .where(j.c.id == job_id)
        .values(status="done", done=j.c.total, version=version, stage_table=None, updated_at=datetime.now(UTC))
    )


async def fail_job(db: Database, job_id: int, error: str) -> None:
    """The publish failed before or in its final transaction: nothing of it was applied."""
    async with db.session(write=True) as session:
        name = (await session.execute(select(j.c.stage_table).where(j.c.id == job_id))).scalar_one_or_none()
        if name:
            await drop_stage_table(session, name)
        await session.execute(
            update(j)
            .where(j.c.id == job_id)
            .values(status="failed", error=error[:1000], stage_table=None, updated_at=datetime.now(UTC))
        )


async def latest_job(session: AsyncSession, definition_id: int) -> dict[str, Any] | None:
    row = (
        await session.execute(select(j).where(j.c.definition_id == definition_id).order_by(j.c.id.desc()).limit(1))
    ).first()
    if row is None:
        return None
    status = row.status
    if status == "staging" and row.updated_at < datetime.now(UTC) - STALE:
        status = "interrupted"
    return {
        "job": row.id,
        "status": status,
        "done": min(row.done, row.total),  # records added meanwhile are staged too
        "total": row.total,
        "version": row.version,
        "error": row.error,
        "started_at": row.started_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
