"""The database: one async engine per process, sessions per request or job.

SQLite is configured for a server: WAL, foreign keys, a busy timeout, and
transactions begun by Opsloom itself so that DDL is transactional and a
writing transaction takes the write lock up front (`BEGIN IMMEDIATE`) instead
of failing half way with "database is locked".
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from opsloom.platform import principal_cache  # noqa: F401 - its session events tell other processes of auth changes
from opsloom.platform.log_rows import LOG_VIEW, sqlite_log_view
from opsloom.platform.settings import Settings, cores

_IMMEDIATE = "opsloom_begin_immediate"
_NO_BEGIN = "opsloom_no_begin"
SQLITE_BUSY_SECONDS = 30  # how long a SQLite write waits for the write lock before giving up

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


# A write of many records dumps a history entry and an event per record: orjson does it in an
# eighth of the standard library's time. What orjson refuses (an integer past 64 bits) the
# standard encoder still writes, as it did before.
_JSON_ENCODER = json.JSONEncoder(default=_json_number)


def _dump_json(value: Any) -> str:
    try:
        return orjson.dumps(value, default=_json_number, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return _JSON_ENCODER.encode(value)


def _load_json(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what only the standard library writes or reads (NaN, huge integers)
        return json.loads(text)


@dataclass(frozen=True)
class PoolLimits:
    """How many connections one process opens, and how long a request waits for one.

    Past `timeout` seconds the wait raises `sqlalchemy.exc.TimeoutError`, which
    the HTTP edge answers with 503 and `Retry-After` (platform/http.py)."""

    size: int | None = None  # None: the database's own default (`sized`)
    overflow: int | None = None
    timeout: float = 30.0
    # PostgreSQL: a connection that sat unused in the pool this long is checked before use
    # (a server restart leaves dead ones behind); a busy pool's connections are not, as each
    # check costs three round trips (BEGIN, an empty statement, ROLLBACK).
    ping_after: float = 2.0

    def sized(self) -> tuple[int, int]:
        """(connections kept, more opened under load), as set, else twice the cores and no more.

        The same on either database. On PostgreSQL each connection is a server
        process; past a couple per core, more of them working at once only share the same cores,
        and share them with this process too, which must answer what they return. On two cores,
        16 clients reading counts and totals (`bench/peers.py`) were answered 20-45% faster from
        4 connections than from the 10 (+20) kept before. On SQLite each connection is a thread
        of this process, and its writes take turns (`_write_turn`) whatever the pool: 64 clients
        reading 100-row pages cost 10.5 ms of CPU a request with 30 threads and 7.1 with 4."""
        size = self.size or 2 * cores()
        return size, 0 if self.overflow is None else self.overflow


class WriteTurnTimeout(exc.TimeoutError):
    """SQLite: the writes before this one held the write lock for longer than a write waits."""


class _Held:
    """The session a request's authentication began, until the request's first `session()` takes it."""

    def __init__(self, db: Database, session: AsyncSession, write: bool) -> None:
        self.db, self.session, self.write = db, session, write


_HELD: ContextVar[list[_Held]] = ContextVar("opsloom_held_session")


class Database:
    def __init__(self, url: str, *, pool: PoolLimits | None = None, echo: bool = False) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        pool = pool or PoolLimits()
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _dump_json, "json_deserializer": _load_json}
        in_memory = self.is_sqlite and self.url.database in (None, "", ":memory:")
        if self.is_sqlite and not in_memory:
            Path(self.url.database or "").parent.mkdir(parents=True, exist_ok=True)
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS}
        if not in_memory:  # an in-memory SQLite database lives in its one connection
            size, overflow = pool.sized()
            kwargs.update(pool_size=size, max_overflow=overflow, pool_timeout=pool.timeout)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self.migrated = False  # the schema is at head: brought there by `migrate.upgrade`, or seen by `note_current`
        if self.is_sqlite:
            _configure_sqlite(self.engine, lambda: self.migrated)
        else:
            _ping_idle_connections(self.engine, pool.ping_after)
        # What every session of this database carries in `session.info` (the write hooks of
        # runtime/records/pipeline.py): filled at start-up, read as each session begins.
        self.session_info: dict[str, Any] = {}
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False, info=self.session_info)
        writer = self.engine.execution_options(**{_IMMEDIATE: True})
        # SQLite has one writer at a time. Writers of this process queue here in turn, and
        # begin as soon as the one before commits; at SQLite's lock they would wait in its
        # busy handler, which sleeps in growing steps (up to 100 ms) and wakes late.
        self._write_turn = asyncio.Lock() if self.is_sqlite else None
        self._writer = async_sessionmaker(writer, expire_on_commit=False, info=self.session_info)
        # Reads that need no transaction (see `reading`): each statement commits on its own.
        no_transaction = {_NO_BEGIN: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
        autocommit = self.engine.execution_options(**no_transaction)
        self._autocommit = async_sessionmaker(autocommit, expire_on_commit=False, info=self.session_info)

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
        """A session in one transaction: committed when the block ends, rolled back on error.

        The request's first session continues the transaction its authentication began
        (`hold`), when that one fits: a read fits anything, a write needs a held write."""
        held = await self._take_held(write)
        if held is not None:
            async with held:
                try:
                    yield held
                except BaseException:
                    await held.rollback()
                    raise
                await held.commit()
            return
        turn = self._turn_to_write() if write and self._write_turn is not None else nullcontext()
        async with turn, (self._writer if write else self._reader)() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for a read that needs no transaction: each statement runs on its own (autocommit),
        which saves the BEGIN and COMMIT a transaction costs: on PostgreSQL two of the three round trips
        of a read of one record, on SQLite a statement and a turn of its driver's thread. Only for reads:
        nothing written here is atomic.

        Under PostgreSQL's READ COMMITTED, the isolation every session here has, each statement of a
        transaction sees what was committed when it began, so the statements of such a read see what
        they would have seen inside one; on SQLite, each then reads the latest snapshot as well, as on
        PostgreSQL. A read continues a transaction its authentication held."""
        held = _HELD.get(None)
        if held:
            async with self.session() as session:
                yield session
            return
        async with self._autocommit() as session:
            yield session

    @asynccontextmanager
    async def _turn_to_write(self) -> AsyncIterator[None]:
        """This process's turn at SQLite's one write lock, waited for as long as SQLite would."""
        assert self._write_turn is not None
        # Not `asyncio.wait_for`: on Python 3.11 it swallows a cancel that lands as the lock is granted,
        # so a worker cancelled at shutdown took the turn and went on, and the shutdown waited for ever.
        try:
            async with asyncio.timeout(SQLITE_BUSY_SECONDS):
                await self._write_turn.acquire()
        except TimeoutError:
            raise WriteTurnTimeout(f"no turn to write came within {SQLITE_BUSY_SECONDS} s") from None
        try:
            yield
        finally:
            self._write_turn.release()

    async def hold(self, *, write: bool = False) -> AsyncSession:
        """A session begun now whose transaction the caller's next `session()` continues.

        For a request's authentication: its look-up and the request's own first
        statements then share one connection and one transaction (fewer round trips,
        one pool checkout). `release()` ends it if nothing took it."""
        maker = self._writer if write else self._reader
        session = maker()
        await session.begin()
        _HELD.set([_Held(self, session, write)])
        return session

    async def release(self) -> None:
        """End a held session nothing took (its transaction only read: committed)."""
        await self._take_held(None)

    async def _take_held(self, write: bool | None) -> AsyncSession | None:
        """The held session if a session for `write` may continue it (None: release it)."""
        held = _HELD.get(None)
        if not held or held[0].db is not self:
            return None
        taken = held.pop()
        if write is not None and (taken.write or not write):
            return taken.session
        async with taken.session:  # not fit for this session: end it before another is begun
            await taken.session.commit()
        return None

    async def dispose(self) -> None:
        await self.engine.dispose()


async def release_held() -> None:
    """End the session held in this context (`Database.hold`) that nothing took: a request's,
    once it is done (`http.ReleaseHeld`)."""
    held = _HELD.get(None)
    if held:
        await held[0].db.release()


def is_writing(session: AsyncSession) -> bool:
    """Was this session opened with `write=True`?"""
    return bool(session.get_bind().get_execution_options().get(_IMMEDIATE))


def _ping_idle_connections(engine: AsyncEngine, after: float) -> None:
    """Check a pooled connection before use when it sat idle for `after` seconds.

    SQLAlchemy's `pool_pre_ping` checks every checkout, which on asyncpg is three
    round trips; under load connections come back within milliseconds, so only an idle
    pool pays. A dead connection found here is replaced (with every older one)."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["opsloom_idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("opsloom_idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < after:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure means the connection is unusable
            raise exc.InvalidatePoolError(f"a pooled connection failed its check: {error}") from error


def _configure_sqlite(engine: AsyncEngine, migrated: Callable[[], bool]) -> None:
    """`migrated`: whether this process has brought the schema up to date, so the logs' view can
    be made (its trigger names the logs' tables and columns, which must exist by then)."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        for name, (arguments, function) in _SQLITE_FUNCTIONS.items():
            dbapi_connection.create_function(name, arguments, function, deterministic=True)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(_NO_BEGIN):
            return  # `Database.reading`: the driver runs each statement on its own
        held = connection.connection.info  # kept as long as the driver's connection
        if migrated() and not held.get(LOG_VIEW):  # made outside a transaction: no rollback takes it away
            for statement in sqlite_log_view():
                connection.exec_driver_sql(statement)
            held[LOG_VIEW] = True
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_IMMEDIATE, False) else "BEGIN")
