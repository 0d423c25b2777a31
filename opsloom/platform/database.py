"""The database: one async engine per process, sessions per request or job.

SQLite is configured for a server: WAL, foreign keys, a busy timeout, and
transactions begun by Opsloom itself so that DDL is transactional and a
writing transaction takes the write lock up front (`BEGIN IMMEDIATE`) instead
of failing half way with "database is locked".
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from opsloom.platform.settings import Settings

_IMMEDIATE = "opsloom_begin_immediate"

# SQL functions SQLite lacks, made from Python on each new connection: name -> (arguments, function).
# Other layers add theirs with `sqlite_function` as they load (a rich text's searched text), so an
# expression can use on SQLite what PostgreSQL has built in (regexp_replace).
_SQLITE_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {}


def sqlite_function(name: str, arguments: int, function: Callable[..., Any]) -> None:
    """Make `function` callable from SQL on SQLite connections opened from now on (deterministic)."""
    _SQLITE_FUNCTIONS[name] = (arguments, function)


def _json_number(value: Any) -> Any:
    # Request bodies keep decimals exact (`read_json`); a document holding one
    # (a flow's `"hours": 0.5`, a field's `"min": 0.5`) stores it as a JSON number.
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _dump_json(value: Any) -> str:
    return json.dumps(value, default=_json_number)


@dataclass(frozen=True)
class PoolLimits:
    """How many connections one process opens, and how long a request waits for one.

    Past `timeout` seconds the wait raises `sqlalchemy.exc.TimeoutError`, which
    the HTTP edge answers with 503 and `Retry-After` (platform/http.py)."""

    size: int = 10
    overflow: int = 20
    timeout: float = 30.0


class Database:
    def __init__(self, url: str, *, pool: PoolLimits | None = None, echo: bool = False) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        pool = pool or PoolLimits()
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _dump_json}
        in_memory = self.is_sqlite and self.url.database in (None, "", ":memory:")
        if self.is_sqlite and not in_memory:
            Path(self.url.database or "").parent.mkdir(parents=True, exist_ok=True)
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        if not in_memory:  # an in-memory SQLite database lives in its one connection
            kwargs.update(pool_size=pool.size, max_overflow=pool.overflow, pool_timeout=pool.timeout)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        # What every session of this database carries in `session.info` (the write hooks of
        # runtime/records/pipeline.py): filled at start-up, read as each session begins.
        self.session_info: dict[str, Any] = {}
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False, info=self.session_info)
        writer = self.engine.execution_options(**{_IMMEDIATE: True})
        self._writer = async_sessionmaker(writer, expire_on_commit=False, info=self.session_info)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        limits = PoolLimits(settings.db_pool_size, settings.db_pool_overflow, settings.db_pool_timeout)
        return cls(settings.resolved_database_url, pool=limits)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def session(self, *, write: bool = False) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed when the block ends, rolled back on error."""
        maker = self._writer if write else self._reader
        async with maker() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def is_writing(session: AsyncSession) -> bool:
    """Was this session opened with `write=True`?"""
    return bool(session.get_bind().get_execution_options().get(_IMMEDIATE))


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        for name, (arguments, function) in _SQLITE_FUNCTIONS.items():
            dbapi_connection.create_function(name, arguments, function, deterministic=True)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
