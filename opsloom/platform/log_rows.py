"""Rows of append-only logs written together when a write ends: one statement on PostgreSQL.

A record write appends to three logs: the record's history, the audit log and
the outbox. Each INSERT was a round trip of its own: three of the seven a
create sent on PostgreSQL. While a write runs (`together`), `append_rows` keeps
the rows in the session, and the write's end writes them in one statement. On
PostgreSQL each log's INSERT is a data-modifying `WITH` of the last one, which
PostgreSQL always runs to completion. SQLite's `WITH` takes no INSERT; there the
statement inserts one row into a view of the three logs (`opsloom_log_rows`, a
TEMP view each connection makes before its first transaction), whose INSTEAD
OF trigger inserts each log's row. A SQLite statement costs no network, but it
costs a turn of the driver's thread and of the event loop, which other
requests share, and all that while the write holds the database's one write
lock. They commit with the write either way, and a write that fails writes none.

Only a write of one row per log (a record's create, update, delete) is
combined: SQLAlchemy caches no statement with a multi-row `VALUES` list and
would compile it anew each time, which costs more than the round trips it
saves, so a larger write (a bulk create, an import's batch) keeps one
executemany per log.

Nothing reads these logs inside the write that appends to them; a read would
not see the rows still waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, bindparam, insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables

PENDING = "opsloom.pending_log_rows"
LOG_VIEW = "opsloom.log_view"  # in a SQLite connection's info once it has made `opsloom_log_rows`


async def append_rows(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Append rows to a log: kept for the end of the write that runs (`together`), else written now.
    The rows of one call have the same keys."""
    if not rows:
        return
    pending: list[tuple[Table, Sequence[dict[str, Any]]]] | None = session.info.get(PENDING)
    if pending is None:
        await session.execute(insert(table), list(rows))
    else:
        pending.append((table, rows))


@asynccontextmanager
async def together(session: AsyncSession) -> AsyncIterator[None]:
    """Keep the log rows appended in the block, and write them when it ends without an error.
    Within a write that keeps them already, the outer one writes them."""
    if PENDING in session.info:
        yield
        return
    pending: list[tuple[Table, Sequence[dict[str, Any]]]] = []
    session.info[PENDING] = pending
    try:
        yield
        del session.info[PENDING]
        await _write(session, pending)
    finally:
        session.info.pop(PENDING, None)


async def _write(session: AsyncSession, pending: list[tuple[Table, Sequence[dict[str, Any]]]]) -> None:
    one_row_each = all(len(rows) == 1 for _, rows in pending)
    if len(pending) > 1 and one_row_each:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            await session.execute(_combined(pending), _combined_params(pending))
            return
        held = [table for table, _ in pending]
        if dialect == "sqlite" and len(set(held)) == len(held) and all(t in _LOGS for t in held):
            connection = await session.connection()
            if connection.sync_connection and connection.sync_connection.connection.info.get(LOG_VIEW):
                await session.execute(_VIEW_INSERT, _view_row(pending))
                return
    for table, rows in pending:
        await session.execute(insert(table), list(rows))


# PostgreSQL: the combined statement of each shape of write (which logs, which columns), built
# once with a bound parameter per value: building it anew, its values coerced and its cache key
# worked out, was a few per cent of a create's time.
_COMBINED: dict[tuple[tuple[str, tuple[str, ...]], ...], Any] = {}


def _combined(pending: list[tuple[Table, Sequence[dict[str, Any]]]]) -> Any:
    shape = tuple((table.name, tuple(rows[0])) for table, rows in pending)
    statement = _COMBINED.get(shape)
    if statement is None:
        *first, last = [
            insert(table).values({key: bindparam(f"l{n}_{key}") for key in rows[0]})
            for n, (table, rows) in enumerate(pending)
        ]
        statement = last.add_cte(*(log.cte(f"log_{n}") for n, log in enumerate(first)))
        if len(_COMBINED) < 256:
            _COMBINED[shape] = statement
    return statement


def _combined_params(pending: list[tuple[Table, Sequence[dict[str, Any]]]]) -> dict[str, Any]:
    return {f"l{n}_{key}": value for n, (_, (row,)) in enumerate(pending) for key, value in row.items()}


# SQLite: one row of `opsloom_log_rows` holds a row of each log, its columns named `l{n}_{column}`,
# and `log_{n}` set for each log the row writes to.
_LOGS = (tables.record_history, tables.audit_log, tables.outbox)
_VIEW = Table(
    "opsloom_log_rows",
    MetaData(),
    *(Column(f"l{n}_{c.name}", c.type) for n, log in enumerate(_LOGS) for c in log.columns if not c.primary_key),
    *(Column(f"log_{n}", Integer) for n in range(len(_LOGS))),
)


_VIEW_INSERT = insert(_VIEW)  # the row's keys name the columns it sets


def _view_row(pending: list[tuple[Table, Sequence[dict[str, Any]]]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for table, (row,) in pending:
        n = _LOGS.index(table)
        values[f"log_{n}"] = 1
        values.update({f"l{n}_{key}": value for key, value in row.items()})
    return values


def sqlite_log_view() -> list[str]:
    """The statements that make a connection's `opsloom_log_rows` view and its trigger: TEMP, the
    connection's own, made as its first transaction begins once the process has migrated the
    schema (`Database.migrated`), since SQLite refuses a table's change while a trigger names a
    table or column that is missing. A migration that drops or renames one of the three logs
    must first `DROP TRIGGER IF EXISTS temp.opsloom_log_rows_insert`."""
    columns = [c.name for c in _VIEW.columns]
    view = ", ".join(f'NULL AS "{name}"' for name in columns)
    inserts = []
    for n, log in enumerate(_LOGS):
        own = [c.name for c in log.columns if not c.primary_key]
        targets = ", ".join(f'"{name}"' for name in own)
        values = ", ".join(f'NEW."l{n}_{name}"' for name in own)
        inserts.append(f'INSERT INTO {log.name} ({targets}) SELECT {values} WHERE NEW."log_{n}" IS NOT NULL;')
    return [
        f"CREATE TEMP VIEW IF NOT EXISTS {_VIEW.name} AS SELECT {view}",
        f"CREATE TEMP TRIGGER IF NOT EXISTS {_VIEW.name}_insert INSTEAD OF INSERT ON {_VIEW.name} "
        f"BEGIN {' '.join(inserts)} END",
    ]
