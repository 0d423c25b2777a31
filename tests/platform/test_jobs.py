"""Background jobs: one worker per job, a lease that a stopped worker loses, cancellation, outcomes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsloom.platform import jobs
from opsloom.platform.database import Database
from opsloom.platform.migrate import upgrade


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await upgrade(database)
    yield database
    await database.dispose()


async def queue(db: Database, kind: str = "demo", **payload: Any) -> int:
    async with db.session(write=True) as session:
        return await jobs.enqueue(session, kind, payload, now=datetime.now(UTC))


async def state_of(db: Database, job_id: int) -> dict[str, Any]:
    async with db.session() as session:
        found = await jobs.read_job(session, job_id)
    assert found is not None
    return found


async def test_a_job_is_held_by_one_worker_until_its_lease_runs_out(db: Database) -> None:
    job_id = await queue(db, n=1)
    kinds = {"demo": None}
    first = await jobs.claim(db, kinds, "worker-a")
    assert first is not None and first.id == job_id and first.attempts == 1 and first.payload == {"n": 1}
    assert await jobs.claim(db, kinds, "worker-b") is None  # held
    assert await jobs.claim(db, {"other": None}, "worker-b") is None  # and of another kind anyway
    later = datetime.now(UTC) + jobs.LEASE + timedelta(seconds=1)
    assert (await state_of(db, job_id))["state"] == "running"
    taken = await jobs.claim(db, kinds, "worker-b", now=later)  # worker-a stopped renewing
    assert taken is not None and taken.id == job_id and taken.attempts == 2
    with pytest.raises(jobs.LeaseLost):
        await jobs.renew(db, job_id, "worker-a")
    assert await jobs.renew(db, job_id, "worker-b", {"done": 3}) is False
    assert (await state_of(db, job_id))["progress"] == {"done": 3}


async def test_the_runner_records_each_outcome(db: Database) -> None:
    async def succeed(run: jobs.JobRun) -> Mapping[str, Any]:
        await run.report(done=1)
        return {"ok": run.job.payload["n"]}

    async def refuse(run: jobs.JobRun) -> None:
        raise jobs.JobFailed("the file is gone")

    async def crash(run: jobs.JobRun) -> None:
        raise RuntimeError("boom")

    ok, refused, crashed = await queue(db, "ok", n=7), await queue(db, "refuse"), await queue(db, "crash")
    runner = jobs.JobRunner(db, {"ok": succeed, "refuse": refuse, "crash": crash})
    assert await runner.run_all() == 3
    done = await state_of(db, ok)
    assert (done["state"], done["result"], done["progress"]) == ("done", {"ok": 7}, {"done": 1})
    assert (await state_of(db, refused))["error"] == "the file is gone"
    failed = await state_of(db, crashed)
    assert failed["state"] == "failed" and failed["error"] == "RuntimeError: boom"


async def test_a_cancelled_job_stops_at_its_next_report_or_never_starts(db: Database) -> None:
    reports: list[int] = []

    async def long(run: jobs.JobRun) -> None:
        for n in range(1, 100):
            if n == 3:
                async with db.session(write=True) as session:
                    await jobs.request_cancel(session, run.job.id, datetime.now(UTC))
            reports.append(n)
            await run.report(done=n)

    running, queued = await queue(db, "long"), await queue(db, "long")
    async with db.session(write=True) as session:
        await jobs.request_cancel(session, queued, datetime.now(UTC))
    runner = jobs.JobRunner(db, {"long": long})
    assert await runner.run_one() is True
    assert reports == [1, 2, 3]
    stopped = await state_of(db, running)
    assert stopped["state"] == "cancelled" and stopped["progress"] == {"done": 3}
    assert await runner.run_one() is False  # the queued one is found cancelled, not run
    assert (await state_of(db, queued))["state"] == "cancelled"


async def test_a_runner_woken_as_it_is_cancelled_stops(db: Database) -> None:
    """A wake and a cancel in one turn of the loop (a job queued as the server stops): the runner stops,
    where Python 3.11's wait_for returned from the wait and the runner went on for ever."""
    runner = jobs.JobRunner(db, {"demo": lambda run: asyncio.sleep(0)})
    working = asyncio.create_task(runner.work(interval=30))
    await asyncio.sleep(0.5)  # it found nothing and waits to be woken
    runner.wake()
    working.cancel()
    done, _ = await asyncio.wait({working}, timeout=10)
    assert done == {working} and working.cancelled()
