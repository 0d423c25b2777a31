"""The connection pool under load: authentication never holds two connections, and a request that waits
too long for one answers 503 with Retry-After, never 500."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from opsloom.app import create_app
from opsloom.platform import tables
from opsloom.platform.database import Database
from opsloom.platform.settings import Settings, cores
from tests.builders import problem
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, another_client, create_user, log_in, query

POOL_SIZE = 2
CALLERS = 12  # six times the pool


def small_pool_client(settings: Settings, size: int, timeout: float) -> TestClient:
    limits = {"db_pool_size": size, "db_pool_overflow": 0, "db_pool_timeout": timeout}
    return TestClient(create_app(settings.model_copy(update=limits)), raise_server_exceptions=False)


@pytest.fixture
def small_pool(settings: Settings) -> Iterator[TestClient]:
    """The admin, logged in, on a server whose pool has POOL_SIZE connections and no overflow."""
    with small_pool_client(settings, POOL_SIZE, timeout=10) as client:
        create_user(client, ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
        log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        yield client


@asynccontextmanager
async def every_connection_taken(db: Database, count: int) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        for _ in range(count):
            session = await stack.enter_async_context(db.session())
            await session.execute(select(1))  # checks a connection out
        yield


def test_more_never_used_tokens_at_once_than_pooled_connections_all_answer(small_pool: TestClient) -> None:
    tokens = []
    for n in range(CALLERS):
        created = small_pool.post("/api/auth/tokens", json={"name": f"script {n}"})
        assert created.status_code == 201, created.text
        tokens.append(created.json()["token"])
    callers = [another_client(small_pool, headers={"Authorization": f"Bearer {token}"}) for token in tokens]
    start = threading.Barrier(CALLERS)

    def call(caller: TestClient) -> int:
        start.wait(10)
        return caller.get("/api/auth/tokens").status_code

    with ThreadPoolExecutor(CALLERS) as threads:
        statuses = list(threads.map(call, callers))
    assert statuses == [200] * CALLERS
    used = query(small_pool, select(tables.api_tokens.c.last_used_at))
    assert len(used) == CALLERS and all(row.last_used_at is not None for row in used)
    touches = query(small_pool, select(tables.audit_log.c.id).where(tables.audit_log.c.action == "token.used"))
    assert len(touches) == CALLERS  # once per token


def test_a_request_that_waits_too_long_for_a_connection_gets_503_with_retry_after(settings: Settings) -> None:
    with small_pool_client(settings, 1, timeout=0.5) as client:
        create_user(client, ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
        log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        with client.portal.wrap_async_context_manager(every_connection_taken(client.app.state.db, 1)):
            busy = client.get("/api/me")
            health = client.get("/api/health")
        body = problem(busy, 503)
        assert int(busy.headers["retry-after"]) >= 1
        assert body["retry_after"] == int(busy.headers["retry-after"])
        assert "busy" in body["detail"]
        assert health.status_code == 200  # needs no connection
        assert client.get("/api/me").json()["email"] == ADMIN_EMAIL  # the connection came back


def test_a_pool_keeps_twice_the_cores_unless_told_otherwise(settings: Settings, db_kind: str) -> None:
    """More connections at work (PostgreSQL's server processes, SQLite's reader threads) than a couple
    per core only share the cores (see `PoolLimits.sized`). Either is set by the settings."""
    default = Database.from_settings(settings.model_copy(update={"db_pool_size": None, "db_pool_overflow": None}))
    chosen = Database.from_settings(settings.model_copy(update={"db_pool_size": 7, "db_pool_overflow": 3}))
    try:
        pool = default.engine.sync_engine.pool
        assert (pool.size(), pool._max_overflow) == (2 * cores(), 0)  # type: ignore[attr-defined]
        pool = chosen.engine.sync_engine.pool
        assert (pool.size(), pool._max_overflow) == (7, 3)  # type: ignore[attr-defined]
    finally:
        default.engine.sync_engine.dispose()
        chosen.engine.sync_engine.dispose()
