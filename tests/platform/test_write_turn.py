"""SQLite's one writer: the writers of a process take turns, and a writer cancelled as its turn
comes stops there and hands the turn on (an `opsloom serve` stopping cancels its workers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opsloom.platform.database import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    yield database
    await database.dispose()


async def test_writers_take_turns(db: Database) -> None:
    inside: list[str] = []
    overlapped = False

    async def write(name: str) -> None:
        nonlocal overlapped
        async with db.session(write=True):
            overlapped = overlapped or bool(inside)
            inside.append(name)
            await asyncio.sleep(0.02)
            inside.remove(name)

    await asyncio.gather(*(write(f"writer {n}") for n in range(5)))
    assert not overlapped


async def test_a_writer_cancelled_as_its_turn_comes_stops_and_leaves_the_turn_free(db: Database) -> None:
    release = asyncio.Event()
    wrote: list[str] = []

    async def first() -> None:
        async with db.session(write=True):
            await release.wait()

    async def second() -> None:
        async with db.session(write=True):
            wrote.append("second")

    holder = asyncio.create_task(first())
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(second())
    await asyncio.sleep(0.05)
    # The holder hands the turn on as it ends; its done callback then cancels the waiter in the same
    # turn of the loop, before the waiter has run again: the moment Python 3.11's wait_for lost the cancel.
    holder.add_done_callback(lambda _: waiter.cancel())
    release.set()
    done, _ = await asyncio.wait({holder, waiter}, timeout=10)
    assert done == {holder, waiter}
    assert waiter.cancelled()  # the cancel reached the writer (wait_for's took the turn and went on)
    async with asyncio.timeout(10), db.session(write=True):
        wrote.append("third")  # the turn was handed on, not kept by the cancelled writer
    assert wrote[-1] == "third"
