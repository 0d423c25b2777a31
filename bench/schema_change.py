"""Benchmark: publishing schema changes of a form that holds many records.

A published 8-field form is filled with --rows rows (PostgreSQL: COPY through
asyncpg; SQLite: one Core executemany), then three changes are published
through the real path, `publishing.publish_form` in one write session (commit
included), each timed on its own:

  add      a new nullable field            (one ALTER TABLE ... ADD COLUMN)
  rename   a field's key changes           (the column is renamed)
  archive  a field is removed              (its column is renamed aside)

None of them should touch the rows. On PostgreSQL the table's relfilenode is
read before and after each change: if it changed, the table was rewritten.
Figures only: nothing here passes or fails.

  python bench/schema_change.py --db both --rows 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path
from sqlalchemy import cast, column, event, insert, literal, select, table, text
from sqlalchemy.dialects.postgresql import REGCLASS
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.publishing import publish_form
from opsloom.platform.context import RequestContext
from opsloom.platform.database import Database
from opsloom.platform.migrate import upgrade
from opsloom.runtime.forms import CompiledForm, FormRegistry

APP = "bench"
FORM = "order"
CHUNK = 50_000


def _field(key: str, type_: str, **rules: Any) -> dict[str, Any]:
    return {"id": f"fld_{key}", "key": key, "type": type_, "label": key.title(), **rules}


OPTIONS = [{"value": v, "label": v.upper()} for v in ("a", "b", "c")]
FIELDS = [
    _field("title", "text", required=True, max_length=50),
    _field("amount", "decimal", precision=12, scale=2),
    _field("qty", "integer"),
    _field("kind", "select", options=OPTIONS),
    _field("due", "date"),
    _field("email", "email"),
    _field("paid", "boolean"),
    _field("notes", "textarea"),
]


def order_form(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"key": FORM, "label": "Order", "title_field": "title", "fields": fields}


def _renamed(fields: list[dict[str, Any]], old: str, new: str) -> list[dict[str, Any]]:
    return [{**f, "key": new} if f["key"] == old else f for f in fields]


NOTES = FIELDS[-1]


@dataclass(frozen=True)
class Change:
    name: str
    description: str
    apply: Callable[[list[dict[str, Any]], int], list[dict[str, Any]]]
    # Publishing this (untimed) takes the form back, so the change can be timed again.
    undo: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None


CHANGES = [
    Change("add", "add a nullable field", lambda fs, i: [*fs, _field(f"extra_{i}", "integer")]),
    Change(
        "rename",
        "rename qty -> quantity",
        lambda fs, i: _renamed(fs, "qty", "quantity"),
        lambda fs: _renamed(fs, "quantity", "qty"),
    ),
    Change(
        "archive",
        "archive (remove) notes",
        lambda fs, i: [f for f in fs if f["key"] != "notes"],
        lambda fs: [*fs, NOTES],
    ),
]


# ------------------------------------------------------------------- data

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def rows(count: int) -> Iterator[dict[str, Any]]:
    """Field values by column, plus the system columns a record must have."""
    rng = random.Random(1)
    now = datetime.now(UTC)
    for n in range(count):
        yield {
            "version": 1,
            "status": "draft",
            "created_at": now,
            "updated_at": now,
            "title": f"Order {n}",
            "amount": Decimal(rng.randrange(10_000_000)).scaleb(-2),
            "qty": rng.randrange(1, 100),
            "kind": rng.choice("abc"),
            "due": EPOCH.date() + timedelta(days=rng.randrange(365)),
            "email": f"buyer{n}@example.com",
            "paid": rng.random() < 0.5,
            "notes": "Deliver to the loading bay before noon." if rng.random() < 0.3 else None,
        }


def _chunks(count: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows(count):
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def load_rows(db: Database, form: CompiledForm, count: int) -> None:
    async with db.session(write=True) as session:
        if db.is_postgresql:
            await _copy_rows(session, form, count)
        else:
            for chunk in _chunks(count):
                await session.execute(insert(form.table), chunk)
    async with db.session(write=True) as session:
        await session.execute(text("ANALYZE"))


async def _copy_rows(session: AsyncSession, form: CompiledForm, count: int) -> None:
    """COPY through asyncpg: values already have the types asyncpg encodes for each column."""
    names: list[str] | None = None
    raw = await (await session.connection()).get_raw_connection()
    for chunk in _chunks(count):
        names = names or list(chunk[0])
        records = [tuple(row[n] for n in names) for row in chunk]
        await raw.driver_connection.copy_records_to_table(form.table.name, records=records, columns=names)


# --------------------------------------------------------------- databases


async def relfilenode(db: Database, table_name: str) -> int | None:
    """PostgreSQL's file of the table: a new one means the table was rewritten."""
    if not db.is_postgresql:
        return None
    pg_class = table("pg_class", column("oid"), column("relfilenode"))
    query = select(pg_class.c.relfilenode).where(pg_class.c.oid == cast(literal(table_name), REGCLASS))
    async with db.session() as session:
        return int((await session.execute(query)).scalar_one())


# -------------------------------------------------------------------- run


@dataclass(frozen=True)
class Result:
    change: Change
    ms: list[float]
    statements: int
    steps: list[str]
    nodes: list[tuple[int | None, int | None]]  # relfilenode before and after each publish


class StatementCounter:
    """Counts (and optionally prints) the SQL statements the database receives."""

    def __init__(self, db: Database, show: bool) -> None:
        self.count = 0
        self.show = show
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count += 1
        if self.show:
            print(f"      SQL: {' '.join(statement.split())[:160]}")


async def publish(db: Database, ctx: RequestContext, fields: list[dict[str, Any]]) -> list[str]:
    async with db.session(write=True) as session:
        await definitions.save_draft(session, ctx, APP, "form", FORM, order_form(fields))
    async with db.session(write=True) as session:
        result = await publish_form(session, ctx, APP, FORM)
    return [step["action"] for step in result.plan.as_json()["steps"]]


async def time_change(
    db: Database, ctx: RequestContext, table_name: str, change: Change, repeat: int, counter: Any
) -> Result:
    """Publish `change` `repeat` times (undoing it in between, untimed)."""
    fields = list(FIELDS)
    ms: list[float] = []
    nodes: list[tuple[int | None, int | None]] = []
    statements, steps = 0, []
    for i in range(repeat):
        fields = change.apply(fields, i)
        async with db.session(write=True) as session:
            await definitions.save_draft(session, ctx, APP, "form", FORM, order_form(fields))
        before = await relfilenode(db, table_name)
        if counter.show:
            print(f"    {change.name} #{i + 1}: publish")
        counter.count = 0
        started = time.perf_counter()
        async with db.session(write=True) as session:
            outcome = await publish_form(session, ctx, APP, FORM)
        ms.append((time.perf_counter() - started) * 1000)
        statements = counter.count
        steps = [s["action"] for s in outcome.plan.as_json()["steps"]]
        nodes.append((before, await relfilenode(db, table_name)))
        if change.undo is not None:
            fields = change.undo(fields)
            await publish(db, ctx, fields)
    if change.name == "add":  # leave the form as it was for the next change
        await publish(db, ctx, list(FIELDS))
    return Result(change, ms, statements, steps, nodes)


async def run(kind: str, count: int, repeat: int, show_sql: bool) -> list[Result]:
    ctx = RequestContext.for_now()
    with tempfile.TemporaryDirectory(prefix="opsloom-bench-") as directory:
        async with fresh_database(kind, Path(directory)) as url:
            db = Database(url)
            try:
                await upgrade(db)
                async with db.session(write=True) as session:
                    await definitions.save_app(session, ctx, {"key": APP, "label": "Bench"})
                await publish(db, ctx, FIELDS)
                async with db.session() as session:
                    form = await FormRegistry().get(session, APP, FORM)
                started = time.perf_counter()
                await load_rows(db, form, count)
                print(f"  loaded {count:,} rows in {time.perf_counter() - started:.1f} s")
                counter = StatementCounter(db, show_sql)
                return [await time_change(db, ctx, form.table.name, change, repeat, counter) for change in CHANGES]
            finally:
                await db.dispose()


def report(results: list[Result]) -> None:
    print(f"  {'change':<24} {'median ms':>9} {'min':>7} {'max':>7} {'SQL':>4}  {'steps':<15} relfilenode")
    for r in results:
        if r.nodes[0][0] is None:
            node = "n/a (SQLite)"
        else:
            rewrites = sum(before != after for before, after in r.nodes)
            verdict = "unchanged, no rewrite" if not rewrites else f"CHANGED in {rewrites}: rewritten"
            node = f"{r.nodes[0][0]} -> {r.nodes[-1][1]} ({len(r.nodes)} publishes) {verdict}"
        print(
            f"  {r.change.description:<24} {statistics.median(r.ms):>9.1f} {min(r.ms):>7.1f} "
            f"{max(r.ms):>7.1f} {r.statements:>4}  {','.join(r.steps):<15} {node}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="publishes timed per change")
    parser.add_argument("--show-sql", action="store_true", help="print each publish's SQL")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(f"publishing schema changes of a form with {args.rows:,} rows (commit included)")
    for kind in kinds:
        print(f"\n{kind}")
        report(asyncio.run(run(kind, args.rows, args.repeat, args.show_sql)))


if __name__ == "__main__":
    sys.exit(main())
