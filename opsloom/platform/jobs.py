"""Background jobs: work that outlives a request, stored in `opsloom_jobs`, run by workers.

A job is queued in the transaction of the request that asks for it, then a
worker claims it: on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so several
workers never take one job; on SQLite the claim is a write transaction, and
SQLite runs one writer at a time. The worker holds the job under a lease that
it renews while the job runs. A worker killed mid-job (kill -9, a crash, a
lost machine) stops renewing: once the lease has run out, any worker claims
the job again and its handler carries on from what the job stored. Handlers
are therefore written to resume: they record what they finished in the same
transaction as the work itself.

Each kind of job has one handler, `async def handler(run: JobRun) -> result`,
given to the `JobRunner` by whoever wires the process (the app factory, the
`opsloom worker` command); the platform knows no kind by name.

    runner = JobRunner(db, {"import": run_import})
    await runner.work()                # until cancelled
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.database import Database

log = logging.getLogger("opsloom.jobs")

LEASE = timedelta(seconds=30)
j = tables.jobs

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = frozenset({DONE, FAILED, CANCELLED})


class JobCancelled(Exception):
    """Someone asked the job to stop; the handler stops where it is (what it stored stays)."""


class LeaseLost(Exception):
    """Another worker holds the job now (this one was too slow to renew its lease)."""


class JobFailed(Exception):
    """A handler's refusal to go on, with a reason for people; the job ends `failed`."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    payload: Mapping[str, Any]
    attempts: int
    progress: Mapping[str, Any]


@dataclass
class JobRun:
    """A job as its handler sees it while it runs: what to do, and where to say how far it got."""

    db: Database
    job: Job
    owner: str
    progress: dict[str, Any] = field(default_factory=dict)
    lease: timedelta = LEASE

    async def report(self, **progress: Any) -> None:
        """Store how far the job got (and renew its lease); raise `JobCancelled` if asked to stop."""
        self.progress.update(progress)
        if await renew(self.db, self.job.id, self.owner, self.progress, self.lease):
            raise JobCancelled()


Handler = Callable[[JobRun], Awaitable[Mapping[str, Any] | None]]


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


async def enqueue(
    session: AsyncSession, kind: str, payload: Mapping[str, Any], *, now: datetime, created_by: int | None = None
) -> int:
    """A new job, queued in the caller's transaction (it exists only if that commits)."""
    result = await session.execute(
        insert(j)
        .values(
            kind=kind,
            state=QUEUED,
            payload=dict(payload),
            progress={},
            attempts=0,
            cancel_requested=False,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        .returning(j.c.id)
    )
    return int(result.scalar_one())


async def claim(
    db: Database, kinds: Mapping[str, Any], owner: str, now: datetime | None = None, lease: timedelta = LEASE
) -> Job | None:
    """The oldest job of these kinds that is queued, or running under a lease that ran out."""
    now = now or datetime.now(UTC)
    async with db.session(write=True) as session:
        query = (
            select(j)
            .where(
                j.c.kind.in_(list(kinds)),
                or_(j.c.state == QUEUED, (j.c.state == RUNNING) & (j.c.lease_until < now)),
            )
            .order_by(j.c.id)
            .limit(1)
        )
        if db.is_postgresql:
            query = query.with_for_update(skip_locked=True)
        row = (await session.execute(query)).mappings().first()
        if row is None:
            return None
        if row["cancel_requested"]:  # asked to stop while nobody ran it: it stops here
            await session.execute(
                update(j).where(j.c.id == row["id"]).values(state=CANCELLED, finished_at=now, updated_at=now)
            )
            return None
        await session.execute(
            update(j)
            .where(j.c.id == row["id"])
            .values(
                state=RUNNING,
                lease_owner=owner,
                lease_until=now + lease,
                attempts=row["attempts"] + 1,
                started_at=row["started_at"] or now,
                updated_at=now,
            )
        )
        return Job(row["id"], row["kind"], row["payload"], row["attempts"] + 1, row["progress"] or {})


async def renew(
    db: Database, job_id: int, owner: str, progress: Mapping[str, Any] | None = None, lease: timedelta = LEASE
) -> bool:
    """Extend the lease (and store the progress); answer whether the job was asked to stop."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {"lease_until": now + lease, "updated_at": now}
    if progress is not None:
        values["progress"] = dict(progress)
    async with db.session(write=True) as session:
        result = await session.execute(
            update(j)
            .where(j.c.id == job_id, j.c.lease_owner == owner, j.c.state == RUNNING)
            .values(values)
            .returning(j.c.cancel_requested)
        )
        cancel = result.scalar_one_or_none()
    if cancel is None:
        raise LeaseLost(f"job {job_id} is no longer held by {owner}")
    return bool(cancel)


async def finish(
    db: Database,
    job_id: int,
    owner: str,
    state: str,
    *,
    result: Mapping[str, Any] | None = None,
    error: str | None = None,
    progress: Mapping[str, Any] | None = None,
) -> None:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "state": state,
        "result": None if result is None else dict(result),
        "error": None if error is None else error[:2000],
        "lease_owner": None,
        "lease_until": None,
        "finished_at": now,
        "updated_at": now,
    }
    if progress is not None:
        values["progress"] = dict(progress)
    async with db.session(write=True) as session:
        await session.execute(update(j).where(j.c.id == job_id, j.c.lease_owner == owner).values(values))


async def request_cancel(session: AsyncSession, job_id: int, now: datetime) -> None:
    """Ask a job to stop: a queued one never starts, a running one stops at its next report."""
    await session.execute(
        update(j)
        .where(j.c.id == job_id, j.c.state.in_([QUEUED, RUNNING]))
        .values(cancel_requested=True, updated_at=now)
    )


async def read_job(session: AsyncSession, job_id: int) -> dict[str, Any] | None:
    row = (await session.execute(select(j).where(j.c.id == job_id))).mappings().first()
    if row is None:
        return None
    state = row["state"]
    if state == RUNNING and row["lease_until"] is not None and row["lease_until"] < datetime.now(UTC):
        state = "interrupted"  # its worker stopped; the next worker to look resumes it
    return {
        "id": row["id"],
        "kind": row["kind"],
        "state": state,
        "progress": row["progress"] or {},
        "result": row["result"],
        "error": row["error"],
        "attempts": row["attempts"],
        "cancel_requested": row["cancel_requested"],
        "created_at": row["created_at"].isoformat(),
        "started_at": row["started_at"].isoformat() if row["started_at"] else None,
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
    }


class JobRunner:
    """Claims jobs of the kinds it has handlers for and runs them, one at a time."""

    def __init__(
        self, db: Database, handlers: Mapping[str, Handler], owner: str | None = None, lease: timedelta = LEASE
    ) -> None:
        self.db = db
        self.handlers = dict(handlers)
        self.owner = owner or worker_name()
        self.lease = lease
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A job was queued: look for it now rather than at the next round."""
        self._wake.set()

    async def run_one(self) -> bool:
        """Run the next job, if there is one; answer whether there was."""
        job = await claim(self.db, self.handlers, self.owner, lease=self.lease)
        if job is None:
            return False
        run = JobRun(self.db, job, self.owner, dict(job.progress), self.lease)
        keeper = asyncio.create_task(self._keep_lease(job.id))
        try:
            result = await self.handlers[job.kind](run)
        except JobCancelled:
            await finish(self.db, job.id, self.owner, CANCELLED, progress=run.progress)
        except LeaseLost:
            log.warning("job %s was taken over by another worker", job.id)
        except JobFailed as failed:
            await finish(self.db, job.id, self.owner, FAILED, error=str(failed), progress=run.progress)
        except Exception as error:  # noqa: BLE001 - the job fails with its reason; the worker goes on
            log.exception("job %s (%s) failed", job.id, job.kind)
            await finish(self.db, job.id, self.owner, FAILED, error=f"{type(error).__name__}: {error}")
        else:
            await finish(self.db, job.id, self.owner, DONE, result=result, progress=run.progress)
        finally:
            keeper.cancel()
        return True

    async def run_all(self) -> int:
        """Run jobs until none is left to claim; answer how many ran."""
        count = 0
        while await self.run_one():
            count += 1
        return count

    async def work(self, interval: float = 1.0) -> None:
        """Run jobs as they come, until cancelled."""
        while True:
            try:
                if await self.run_one():
                    continue
            except Exception:  # noqa: BLE001 - a worker outlives one bad round; the error is logged
                log.exception("the job round failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):  # not wait_for: see database.Database._turn_to_write
                    await self._wake.wait()
            self._wake.clear()

    async def _keep_lease(self, job_id: int) -> None:
        """Renew the lease while the handler works between its reports (a long batch)."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await renew(self.db, job_id, self.owner, lease=self.lease)
            except LeaseLost:
                return
            except Exception:  # noqa: BLE001 - the next renewal may succeed; the lease is generous
                log.exception("renewing the lease of job %s failed", job_id)
