"""Rows of append-only logs written together when a write ends: one statement on PostgreSQL.

A record write appends to three logs: the record's history, the audit log and
the outbox. Each INSERT was a round trip of its own: three of the seven a
create sent on PostgreSQL. While a write runs (`together`), `append_rows` keeps
the rows in the session, and the write's end writes them: on PostgreSQL in one
statement (each log's INSERT a data-modifying `WITH` of the last one), which
PostgreSQL always runs to completion; on SQLite, where a statement costs no
round trip and `WITH` takes no INSERT, one INSERT per log. They commit with the
write either way, and a write that fails writes none.

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

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

PENDING = "opsloom.pending_log_rows"


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
    if len(pending) > 1 and one_row_each and session.get_bind().dialect.name == "postgresql":
        *first, (table, (row,)) = pending
        logs = [insert(t).values(r).cte(f"log_{i}") for i, (t, (r,)) in enumerate(first)]
        await session.execute(insert(table).values(row).add_cte(*logs))
        return
    for table, rows in pending:
        await session.execute(insert(table), list(rows))
