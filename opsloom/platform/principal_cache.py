"""Who a session cookie or an API token belongs to, remembered between requests.

Authentication reads a user joined to their session or token on every request:
a round trip as long as the request's own read. This process keeps the rows it
read, and forgets them all as soon as any process of the deployment changes a
user, a session or a token, so that a logout, a disabled account, a revoked
token or a changed department takes effect on the next request everywhere:

- a write to those tables is noticed as the session executes it (a SQLAlchemy
  session event, whoever writes: the API, the admin pages, the CLI, an import);
  when it commits, this process forgets at once, and the others learn it:
- on PostgreSQL by `NOTIFY` (sent in the writing transaction, so delivered on
  commit), which every process `LISTEN`s for on a connection of its own. While
  that connection is down nothing is remembered;
- on SQLite, whose processes share one machine, by a change to a file next to the
  database, which each request compares (one `stat`).

A row read while a change was committing is never kept past it: each read is
stamped with the generation it began in, and kept only if no change came since.
A remembered row is also dropped after `MAX_AGE` seconds whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import ORMExecuteState, Session

if TYPE_CHECKING:
    from opsloom.platform.database import Database

log = logging.getLogger(__name__)

CHANNEL = "opsloom_principals"
MAX_AGE = 60.0  # seconds a remembered row is used at most
MAX_ENTRIES = 10_000  # past this many callers, start over (a bound, not an eviction policy)
RECONNECT_SECONDS = 1.0
WATCHED = frozenset({"opsloom_users", "opsloom_sessions", "opsloom_api_tokens"})
_SESSION_KEY = "opsloom_principals"  # the cache, in every session's info (Database.session_info)
_CHANGED = "opsloom_principals_changed"


class PrincipalCache:
    """Rows of `auth.principal_for_request`'s look-ups by (kind, credential digest)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._rows: dict[Hashable, tuple[float, Any]] = {}  # key -> (when it was read, row)
        self.generation = 0
        self.listening = False  # PostgreSQL: is the LISTEN connection up (else nothing is kept)
        self._epoch_path = _epoch_path(db.url)
        self._epoch: tuple[int, int] | None = None
        self._listener: asyncio.Task[None] | None = None
        db.session_info[_SESSION_KEY] = self

    # ------------------------------------------------------------ life

    async def start(self) -> PrincipalCache:
        if self.db.is_postgresql:
            ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(ready))
            with contextlib.suppress(TimeoutError):  # serve anyway: uncached until it is up
                async with asyncio.timeout(5):
                    await ready.wait()
        return self

    async def stop(self) -> None:
        self.db.session_info.pop(_SESSION_KEY, None)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    def __len__(self) -> int:
        """How many callers are remembered."""
        return len(self._rows)

    @property
    def enabled(self) -> bool:
        return self.listening if self.db.is_postgresql else self._epoch_path is not None

    # ------------------------------------------------------------ use

    def get(self, key: Hashable) -> Any:
        """The row remembered for `key`, or None."""
        if not self.enabled:
            return None
        self._check_epoch()
        found = self._rows.get(key)
        if found is None:
            return None
        at, row = found  # `forget` empties the rows, so what is here was read in this generation
        if time.monotonic() - at > MAX_AGE:
            self._rows.pop(key, None)
            return None
        return row

    def ticket(self) -> int:
        """The generation a look-up begins in; pass it to `put`."""
        if self.enabled:
            self._check_epoch()
        return self.generation

    def put(self, key: Hashable, row: Any, ticket: int) -> None:
        """Remember `row`, unless a change came since its look-up began."""
        if not self.enabled or ticket != self.generation:
            return
        if len(self._rows) >= MAX_ENTRIES:
            self._rows.clear()
        self._rows[key] = (time.monotonic(), row)

    def forget(self) -> None:
        """Forget every row (a user, session or token changed somewhere)."""
        self.generation += 1
        self._rows.clear()

    # --------------------------------------------------- other processes

    def _check_epoch(self) -> None:
        if self._epoch_path is None:
            return
        try:
            found = os.stat(self._epoch_path)
            epoch = (found.st_size, found.st_mtime_ns)
        except FileNotFoundError:
            epoch = (-1, 0)
        if epoch != self._epoch:
            self._epoch = epoch
            self.forget()

    async def _listen(self, ready: asyncio.Event) -> None:
        """Keep a connection LISTENing for changes; forget on each one, and whenever it drops."""
        import asyncpg  # type: ignore[import-untyped]

        url = self.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(url, timeout=10)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, lambda *_: self.forget())
                self.forget()  # whatever changed while nobody listened
                self.listening = True
                ready.set()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(30):
                            await lost.wait()
                    if not lost.is_set():
                        await connection.execute("SELECT 1")  # notices a dead server sooner
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure: serve uncached, try again shortly
                log.warning("principal cache: LISTEN connection failed (%s); retrying", error)
            finally:
                self.listening = False
                self.forget()
                if connection is not None:
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(5):
                            await connection.close()
            await asyncio.sleep(RECONNECT_SECONDS)


def _epoch_path(url: URL) -> str | None:
    """SQLite: the file whose changes say "forget" to the processes sharing the database
    (a str: `os.stat` on it is the cheapest check there is)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return f"{url.database}-principals"


# ------------------------------------------------- noticing the changes
# For every session of every process (a server, `opsloom worker`, the CLI, a script):
# `database.py` imports this module, so a process that keeps no cache still tells the others.


@event.listens_for(Session, "do_orm_execute")
def _note_change(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    if getattr(getattr(state.statement, "table", None), "name", None) in WATCHED:
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "before_commit")
def _tell_others(session: Session) -> None:
    if session.info.get(_CHANGED) and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    if not session.info.pop(_CHANGED, False):
        return
    cache = session.info.get(_SESSION_KEY)
    if cache is not None:
        cache.forget()
    bind = session.get_bind()
    marks = _epoch_path(bind.engine.url)
    if marks is not None:
        with contextlib.suppress(OSError), open(marks, "ab") as out:
            out.write(b".")
            if out.tell() > 4096:
                out.truncate(0)


@event.listens_for(Session, "after_rollback")
def _drop_note(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def cache_of(state: Any) -> PrincipalCache | None:
    """The app's cache (None where an app keeps none)."""
    return getattr(state, "principals", None)
