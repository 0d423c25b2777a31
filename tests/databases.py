"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection

from opsloom.platform.database import Database

PG_ADMIN_URL = os.environ.get("OPSLOOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_run(statement: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


_pg_state: dict[str, object] = {}


def postgres_available() -> bool:
    if "ok" not in _pg_state:
        try:
            _pg_run("SELECT 1")
            _pg_state["ok"] = True
        except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
            _pg_state["ok"] = False
            _pg_state["error"] = error
    return bool(_pg_state["ok"])


def require_postgres() -> None:
    if postgres_available():
        return
    message = f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {_pg_state.get('error')}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def postgres_database() -> Iterator[str]:
    require_postgres()
    name = f"opsloom_test_{uuid.uuid4().hex[:12]}"
    _pg_run(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        yield f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        _pg_run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def sqlite_database(directory: Path) -> Iterator[str]:
    yield f"sqlite+aiosqlite:///{directory / 'opsloom.db'}"


@contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    if kind == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        with sqlite_database(directory) as url:
            yield url


# A connection, and the runner that synchronous tests use it from.
Opened = tuple[asyncio.Runner, AsyncConnection]


@contextmanager
def opened_connection(kind: str, directory: Path, metadata: MetaData) -> Iterator[Opened]:
    """A connection to a fresh database of `kind` holding `metadata`'s tables, with the runner to use it from
    synchronous tests (a module's hypothesis properties, sharing one database)."""
    with database(kind, directory) as url, asyncio.Runner() as runner:
        db = Database(url)

        async def open_connection() -> AsyncConnection:
            async with db.engine.begin() as begun:
                await begun.run_sync(metadata.create_all)
            return await db.engine.connect()

        opened = runner.run(open_connection())
        try:
            yield runner, opened
        finally:
            runner.run(opened.close())
            runner.run(db.dispose())
