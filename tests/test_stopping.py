"""A server stopping stops its workers, even one whose cancel was lost."""

from __future__ import annotations

import asyncio
import logging

import pytest

from opsloom.app import _stop


async def test_a_worker_whose_cancel_was_lost_is_cancelled_again(caplog: pytest.LogCaptureFixture) -> None:
    lost: list[str] = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            lost.append("the first cancel")  # swallowed, as Python 3.11's wait_for may
        await asyncio.sleep(3600)

    workers = [asyncio.create_task(stubborn()), asyncio.create_task(asyncio.sleep(3600))]
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="opsloom.app"):
        async with asyncio.timeout(10):
            await _stop(workers, grace=0.1)
    assert lost == ["the first cancel"]
    assert all(worker.cancelled() for worker in workers)
    assert "still running 0.1 s after it was cancelled" in caplog.text
