"""The system status page: version, database, migrations, the worker's backlog and the files folder's size.

Read-only. The worker keeps no heartbeat of its own: the page shows the newest thing a worker did
(a job touched, a timer fired, an event dispatched, a delivery tried) as the sign that one is running.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from opsloom import __version__
from opsloom.admin.pages.shell import Admin, admin_nav, count_of, open_admin
from opsloom.platform import jobs, tables
from opsloom.platform.migrate import head_revision
from opsloom.runtime.pages.rendering import render

router = APIRouter(include_in_schema=False)


async def _database(session: AsyncSession, kind: str) -> dict[str, Any]:
    """The database's kind (`sqlite`, `postgresql`), its server's version and the migration it is at."""
    query = "SELECT sqlite_version()" if kind == "sqlite" else "SHOW server_version"
    server = (await session.execute(text(query))).scalar_one()
    revision = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    head = head_revision()
    return {"kind": kind, "server": str(server), "revision": revision, "head": head, "current": revision == head}


async def _backlog(session: AsyncSession, now: datetime) -> dict[str, int]:
    """What waits for a worker: due flow timers, queued and running jobs, undispatched events, deliveries."""
    ft, j, o, d = tables.flow_timers, tables.jobs, tables.outbox, tables.deliveries
    return {
        "timers_due": await count_of(
            session, select(func.count()).select_from(ft).where(ft.c.done_at.is_(None), ft.c.due_at <= now)
        ),
        "jobs_queued": await count_of(session, select(func.count()).select_from(j).where(j.c.state == jobs.QUEUED)),
        "jobs_running": await count_of(session, select(func.count()).select_from(j).where(j.c.state == jobs.RUNNING)),
        "events_waiting": await count_of(
            session, select(func.count()).select_from(o).where(o.c.dispatched_at.is_(None))
        ),
        "deliveries_waiting": await count_of(
            session, select(func.count()).select_from(d).where(d.c.status.in_(("pending", "sending")))
        ),
        "deliveries_dead": await count_of(session, select(func.count()).select_from(d).where(d.c.status == "dead")),
    }


async def _worker_seen(session: AsyncSession) -> datetime | None:
    """The newest thing a worker did: a job it worked on, a timer it fired, an event or a delivery it handled."""
    j, ft, o, a = tables.jobs, tables.flow_timers, tables.outbox, tables.delivery_attempts
    times = [
        (await session.execute(select(func.max(j.c.started_at)))).scalar_one(),
        (await session.execute(select(func.max(j.c.finished_at)))).scalar_one(),
        (await session.execute(select(func.max(ft.c.done_at)))).scalar_one(),
        (await session.execute(select(func.max(o.c.dispatched_at)))).scalar_one(),
        (await session.execute(select(func.max(a.c.at)))).scalar_one(),
    ]
    seen = [_aware(t) for t in times if t is not None]
    return max(seen) if seen else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def folder_size(folder: Path) -> tuple[int, int]:
    """How many files the folder holds, and their bytes (0, 0 when it does not exist yet)."""
    files = size = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            try:
                size += os.stat(os.path.join(root, name), follow_symlinks=False).st_size
            except OSError:
                continue  # removed while we counted
            files += 1
    return files, size


@router.get("/admin/status")
async def status_page(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    now = datetime.now(UTC)
    db = request.app.state.db
    async with db.session() as session:
        database = await _database(session, db.dialect)
        backlog = await _backlog(session, now)
        seen = await _worker_seen(session)
    settings = request.app.state.settings
    files, size = await asyncio.to_thread(folder_size, settings.files_dir)
    return render(
        admin.ctx,
        "admin_status.html",
        nav=admin_nav("status"),
        version=__version__,
        database=database,
        backlog=backlog,
        worker_seen=seen,
        zone=admin.ctx.zone,
        disk={"folder": str(settings.files_dir.resolve()), "files": files, "bytes": size, "text": _bytes(size)},
    )


def _bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
