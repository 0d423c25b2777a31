"""Throw-away databases for the benchmarks: a SQLite file, or a PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

PG_ADMIN_URL = os.environ.get("OPSLOOM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _pg_admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def fresh_database(kind: str, directory: Path) -> AsyncIterator[str]:
    """A temporary SQLite file, or a PostgreSQL database created and dropped here."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'bench.db'}"
        return
    name = f"opsloom_bench_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
