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

With --under-load, two publishes that rewrite every row are timed instead,
while another process keeps making small writes (and reads) of the same form:

  retype   ref: text -> decimal      (every value converted)
  formula  total: amount * qty -> amount * qty * 2   (computed again for every record)

It reports the publish's duration, its longest write transaction (on SQLite,
how long it held the database's write lock), and the worst latency and the
errors of the other process's writes and reads during the publish.

  python bench/schema_change.py --db both --rows 100000 --under-load
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import re
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
from sqlalchemy import cast, column, event, insert, literal, select, table, text, update
from sqlalchemy.dialects.postgresql import REGCLASS
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.publishing import publish_form, publish_in_batches
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
    _field("ref", "text", max_length=20),
    _field("total", "formula", formula="amount * qty"),
]


def order_form(fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"key": FORM, "label": "Order", "title_field": "title", "fields": fields}


def _renamed(fields: list[dict[str, Any]], old: str, new: str) -> list[dict[str, Any]]:
    """The field `old` renamed to `new`, and the formulas that name it with it (as a designer would)."""
    word = re.compile(rf"\b{re.escape(old)}\b")
    renamed = [{**f, "key": new} if f["key"] == old else f for f in fields]
    return [{**f, "formula": word.sub(new, f["formula"])} if "formula" in f else f for f in renamed]


NOTES = next(f for f in FIELDS if f["key"] == "notes")


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
            "ref": str(Decimal(rng.randrange(1_000_000)).scaleb(-2)),
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


async def loaded_form(db: Database, ctx: RequestContext, count: int) -> Any:
    """The bench app's form published on a migrated database, with `count` rows in its table."""
    await upgrade(db)
    async with db.session(write=True) as session:
        await definitions.save_app(session, ctx, {"key": APP, "label": "Bench"})
    await publish(db, ctx, FIELDS)
    async with db.session() as session:
        form = await FormRegistry().get(session, APP, FORM)
    started = time.perf_counter()
    await load_rows(db, form, count)
    print(f"  loaded {count:,} rows in {time.perf_counter() - started:.1f} s")
    return form


async def run(kind: str, count: int, repeat: int, show_sql: bool) -> list[Result]:
    ctx = RequestContext.for_now()
    with tempfile.TemporaryDirectory(prefix="opsloom-bench-") as directory:
        async with fresh_database(kind, Path(directory)) as url:
            db = Database(url)
            try:
                form = await loaded_form(db, ctx, count)
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


# ------------------------------------------------------------ under load


def _retyped(f: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in f.items() if k != "max_length"}, "type": "decimal", "precision": 12, "scale": 2}


LOADS = [
    ("retype ref text -> decimal", lambda fs: [_retyped(f) if f["key"] == "ref" else f for f in fs]),
    ("formula total x2", lambda fs: [{**f, "formula": "amount * qty * 2"} if f["key"] == "total" else f for f in fs]),
]


class WriteTransactions:
    """The longest write transaction of this process (on SQLite: the write lock's hold)."""

    def __init__(self, db: Database) -> None:
        self.longest = 0.0
        self.count = 0
        self._began: dict[int, float] = {}
        engine = db.engine.sync_engine
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _begin(self, connection: Any) -> None:
        if connection.get_execution_options().get("opsloom_begin_immediate"):
            self._began[id(connection)] = time.perf_counter()

    def _end(self, connection: Any) -> None:
        began = self._began.pop(id(connection), None)
        if began is not None:
            self.count += 1
            self.longest = max(self.longest, time.perf_counter() - began)


def probe(url: str, table_name: str, count: int, stop: Any, out: Any) -> None:
    """Another process: small writes and reads of the form's records until `stop` is set."""
    asyncio.run(_probe(url, table_name, count, stop, out))


async def _probe(url: str, table_name: str, count: int, stop: Any, out: Any) -> None:
    db = Database(url)
    t = table(table_name, column("id"), column("version"), column("title"))
    rng = random.Random(2)
    writes: list[float] = []
    reads: list[float] = []
    errors: list[str] = []
    try:
        while not stop.is_set():
            rid = rng.randrange(1, count + 1)
            for kind, latencies in (("write", writes), ("read", reads)):
                started = time.perf_counter()
                try:
                    async with db.session(write=kind == "write") as session:
                        if kind == "write":
                            await session.execute(update(t).where(t.c.id == rid).values(version=t.c.version + 1))
                        else:
                            await session.execute(select(t.c.title).where(t.c.id == rid))
                except Exception as error:  # noqa: BLE001 - counted and shown, not hidden
                    errors.append(f"{kind}: {str(error).splitlines()[0][:80]}")
                latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)
    finally:
        await db.dispose()
        out.put((writes, reads, errors))


@dataclass(frozen=True)
class LoadResult:
    name: str
    seconds: float
    longest_write: float
    write_transactions: int
    writes: list[float]
    reads: list[float]
    errors: list[str]


async def publish_under_load(
    db: Database, url: str, ctx: RequestContext, table_name: str, count: int, name: str, fields: list[dict[str, Any]]
) -> LoadResult:
    async with db.session(write=True) as session:
        await definitions.save_draft(session, ctx, APP, "form", FORM, order_form(fields))
    spawn = multiprocessing.get_context("spawn")
    stop, out = spawn.Event(), spawn.Queue()
    other = spawn.Process(target=probe, args=(url, table_name, count, stop, out))
    other.start()
    await asyncio.sleep(2)  # the other process is writing
    watch = WriteTransactions(db)
    started = time.perf_counter()
    try:
        await publish_draft(db, ctx)
    finally:
        seconds = time.perf_counter() - started
        stop.set()
    writes, reads, errors = out.get()
    other.join()
    return LoadResult(name, seconds, watch.longest, watch.count, writes, reads, errors)


async def publish_draft(db: Database, ctx: RequestContext) -> None:
    """As `POST .../publish` does: slow work staged in batches, then one short final transaction."""
    await publish_in_batches(db, ctx, APP, FORM)


async def run_under_load(kind: str, count: int) -> list[LoadResult]:
    ctx = RequestContext.for_now()
    with tempfile.TemporaryDirectory(prefix="opsloom-bench-") as directory:
        async with fresh_database(kind, Path(directory)) as url:
            db = Database(url)
            try:
                form = await loaded_form(db, ctx, count)
                results, fields = [], list(FIELDS)
                for name, change in LOADS:
                    fields = change(fields)
                    results.append(await publish_under_load(db, url, ctx, form.table.name, count, name, fields))
                return results
            finally:
                await db.dispose()


def report_under_load(results: list[LoadResult]) -> None:
    print(
        f"  {'publish':<28} {'total s':>8} {'longest write tx s':>19} {'write txs':>9} "
        f"{'other writes: n, max s':>23} {'other reads: n, max s':>22}  errors"
    )
    for r in results:
        errors = f"{len(r.errors)} ({r.errors[0]})" if r.errors else "0"
        print(
            f"  {r.name:<28} {r.seconds:>8.1f} {r.longest_write:>19.2f} {r.write_transactions:>9} "
            f"{len(r.writes):>13}, {max(r.writes, default=0):>7.2f} "
            f"{len(r.reads):>12}, {max(r.reads, default=0):>7.2f}  {errors}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="publishes timed per change")
    parser.add_argument("--show-sql", action="store_true", help="print each publish's SQL")
    parser.add_argument("--under-load", action="store_true", help="time publishes that rewrite every row")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    if args.under_load:
        print(f"publishing changes that rewrite every row of {args.rows:,}, while another process writes and reads")
        for kind in kinds:
            print(f"\n{kind}")
            report_under_load(asyncio.run(run_under_load(kind, args.rows)))
        return
    print(f"publishing schema changes of a form with {args.rows:,} rows (commit included)")
    for kind in kinds:
        print(f"\n{kind}")
        report(asyncio.run(run(kind, args.rows, args.repeat, args.show_sql)))


if __name__ == "__main__":
    sys.exit(main())
