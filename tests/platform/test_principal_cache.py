"""Callers remembered between requests (`PrincipalCache`), and forgotten by every process at once
when a user, a session or a token changes anywhere."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from opsloom.app import create_app
from opsloom.platform.database import Database
from opsloom.platform.principal_cache import PrincipalCache
from opsloom.platform.settings import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, create_user, log_in
from tests.databases import postgres_database

PASSWORD = "user-password"


@pytest.fixture
def two_servers(settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    """Two server processes' worth of app (each its own pool and cache) on one database; the admin
    logged in on the first, and the second sending the same cookie."""
    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as first,
        TestClient(create_app(settings), raise_server_exceptions=False) as second,
    ):
        create_user(first, ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
        log_in(first, ADMIN_EMAIL, ADMIN_PASSWORD)
        second.cookies = first.cookies
        second.headers["X-CSRF-Token"] = first.headers["X-CSRF-Token"]
        yield first, second


def remembered(client: TestClient) -> int:
    return len(client.app.state.principals)  # type: ignore[attr-defined]


def refused_soon(request: Callable[[], int]) -> int:
    """The status once the other process has heard of the change (PostgreSQL's NOTIFY arrives
    within milliseconds; SQLite's processes see it on their next request)."""
    deadline = time.monotonic() + 5
    status = request()
    while status != 401 and time.monotonic() < deadline:
        time.sleep(0.02)
        status = request()
    return status


def test_a_logout_in_one_process_ends_the_session_in_the_others(two_servers, db_kind) -> None:
    first, second = two_servers
    assert second.get("/api/me").status_code == 200
    assert remembered(second) == 1 and second.get("/api/me").json()["email"] == ADMIN_EMAIL
    assert first.post("/api/auth/logout").status_code in (200, 204)
    answer = second.get("/api/me")
    if db_kind == "sqlite":
        assert answer.status_code == 401  # the very next request
    else:
        assert refused_soon(lambda: second.get("/api/me").status_code) == 401
    assert remembered(second) == 0


def test_a_token_revoked_in_one_process_is_refused_by_the_others(two_servers) -> None:
    first, second = two_servers
    created = first.post("/api/auth/tokens", json={"name": "script"}).json()
    script = TestClient(second.app, headers={"Authorization": f"Bearer {created['token']}"})  # type: ignore[arg-type]
    script.portal = second.portal  # type: ignore[attr-defined]
    assert script.get("/api/me").status_code == 200
    assert script.get("/api/me").status_code == 200
    assert first.delete(f"/api/auth/tokens/{created['id']}").status_code == 204
    assert refused_soon(lambda: script.get("/api/me").status_code) == 401


def test_an_account_disabled_by_a_process_that_keeps_no_cache_is_refused(two_servers, settings) -> None:
    first, second = two_servers
    create_user(first, "worker@example.com", PASSWORD)
    log_in(second, "worker@example.com", PASSWORD)
    assert second.get("/api/me").json()["email"] == "worker@example.com"
    assert remembered(second) >= 1

    # A process of its own that only opens the database, as a script or `opsloom worker` would.
    script = (
        "import asyncio, sys\n"
        "from sqlalchemy import update\n"
        "from opsloom.platform import tables\n"
        "from opsloom.platform.database import Database\n"
        "async def disable():\n"
        "    db = Database(sys.argv[1])\n"
        "    async with db.session(write=True) as session:\n"
        "        u = tables.users\n"
        "        await session.execute(update(u).where(u.c.email == 'worker@example.com').values(active=False))\n"
        "    await db.dispose()\n"
        "asyncio.run(disable())\n"
    )
    subprocess.run([sys.executable, "-c", script, settings.database_url], check=True, timeout=60)
    assert refused_soon(lambda: second.get("/api/me").status_code) == 401


def test_a_look_up_that_raced_a_change_is_not_kept(settings) -> None:
    async def run() -> tuple[object, object]:
        db = Database(settings.database_url)
        cache = await PrincipalCache(db).start()
        try:
            before = cache.ticket()
            cache.forget()  # a change committed while the look-up read the old row
            cache.put(("session", "x"), "old row", before)
            stale = cache.get(("session", "x"))
            cache.put(("session", "x"), "new row", cache.ticket())
            return stale, cache.get(("session", "x"))
        finally:
            await cache.stop()
            await db.dispose()

    assert asyncio.run(run()) == (None, "new row")


def test_while_postgresql_cannot_tell_of_changes_nothing_is_remembered(tmp_path) -> None:
    with postgres_database() as url:
        settings = Settings(database_url=url, data_dir=tmp_path / "data", secret_key="test-secret")
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            create_user(client, ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
            log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
            cache: PrincipalCache = client.app.state.principals  # type: ignore[attr-defined]
            assert client.get("/api/me").status_code == 200 and len(cache) == 1

            async def cut_the_listener() -> int:
                db = Database(url)
                try:
                    async with db.session() as session:
                        found = await session.execute(
                            text(
                                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                            )
                        )
                        return len(found.all())
                finally:
                    await db.dispose()

            assert asyncio.run(cut_the_listener()) == 1
            deadline = time.monotonic() + 5
            while cache.listening and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not cache.listening and len(cache) == 0
            assert client.get("/api/me").status_code == 200  # served, looked up every time
            while not cache.listening and time.monotonic() < deadline + 5:
                time.sleep(0.05)
            assert cache.listening  # it listens again, and remembers again
            assert client.get("/api/me").status_code == 200 and len(cache) == 1
