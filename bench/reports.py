"""Figures: each report shape's time next to the same hand-written SQL, and a drill-down's first page.

For each database: a fresh database, a purchase-request form (department,
category, supplier name, amount, submitted at) and --rows rows (default
20,000; `--rows 1000000` for the issue's figure). The rows are written with
one multi-row INSERT per chunk straight into the form's table (loading speed
only; every value is one the records API would store). Then, for each report
shape, the best of --repeat runs of:

- engine: `run_report` as an admin would run it (plan, one SQL statement,
  labels and drill-down filters of the answer);
- hand:   the same aggregate written by hand as SQL text (ROLLUP on
  PostgreSQL, UNION ALL on SQLite), rows fetched;

and their ratio (engine / hand; the aim is about 1.1 or less). Last, the
first page (50) of the records list behind the first row's drill-down.
`python bench/reports.py --databases sqlite,postgresql --rows 1000000`.

Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path

from opsloom.designer import definitions  # noqa: E402
from opsloom.designer.publishing import publish_form  # noqa: E402
from opsloom.platform.context import RequestContext  # noqa: E402
from opsloom.platform.database import Database  # noqa: E402
from opsloom.platform.migrate import upgrade  # noqa: E402
from opsloom.platform.permissions import full_access  # noqa: E402
from opsloom.platform.settings import Settings  # noqa: E402
from opsloom.runtime import records  # noqa: E402
from opsloom.runtime.forms import FormRegistry  # noqa: E402
from opsloom.runtime.reports.run import Viewer, run_report  # noqa: E402

APP, FORM = "bench", "purchase"
DEPARTMENTS = [f"d{i}" for i in range(12)]
CATEGORIES = ["it", "office", "travel", "services", "hardware"]
SUPPLIERS = [f"Supplier {i}" for i in range(400)]
TAGS = ["urgent", "capex", "framework", "audit", "green", "local"]


def option_list(values: list[str]) -> list[dict[str, str]]:
    return [{"value": v, "label": v.upper()} for v in values]


DOCUMENT = {
    "key": FORM,
    "label": "Purchase",
    "title_field": "title",
    "fields": [
        {"id": "f_title", "key": "title", "type": "text", "label": "Title"},
        {"id": "f_dept", "key": "department", "type": "select", "label": "Dept", "options": option_list(DEPARTMENTS)},
        {"id": "f_cat", "key": "category", "type": "select", "label": "Cat", "options": option_list(CATEGORIES)},
        {"id": "f_sup", "key": "supplier", "type": "text", "label": "Supplier"},
        {"id": "f_amount", "key": "amount", "type": "decimal", "label": "Amount", "precision": 14, "scale": 2},
        {"id": "f_at", "key": "submitted_at", "type": "datetime", "label": "Submitted"},
        {"id": "f_tags", "key": "tags", "type": "multiselect", "label": "Tags", "options": option_list(TAGS)},
    ],
}

COUNT_SUM = [{"key": "n", "agg": "count"}, {"key": "spend", "agg": "sum", "field": "amount"}]
SHAPES: dict[str, dict[str, Any]] = {
    "one dimension, count + sum": {"dimensions": [{"field": "department"}], "measures": COUNT_SUM},
    "month buckets": {"dimensions": [{"field": "submitted_at", "bucket": "month"}], "measures": COUNT_SUM},
    "two dimensions with subtotals": {
        "dimensions": [{"field": "department"}, {"field": "category"}],
        "measures": COUNT_SUM,
    },
    "top 10 suppliers + others": {
        "dimensions": [{"field": "supplier"}],
        "measures": COUNT_SUM,
        "sort": [{"by": "spend", "desc": True}],
        "limit": 10,
        "others": True,
    },
    "avg, min, max": {
        "dimensions": [{"field": "category"}],
        "measures": [
            {"key": "mean", "agg": "avg", "field": "amount"},
            {"key": "low", "agg": "min", "field": "amount"},
            {"key": "high", "agg": "max", "field": "amount"},
        ],
    },
    "multi-value tags, total once": {"dimensions": [{"field": "tags"}], "measures": COUNT_SUM},
}


def handwritten(shape: str, table: str, dialect: str) -> str:
    """The same aggregate as a person would write it for this database."""
    live = f"FROM {table} WHERE deleted_at IS NULL"
    count_sum = "count(*), sum(amount)"
    if shape == "one dimension, count + sum":
        if dialect == "postgresql":
            return f"SELECT department, {count_sum} {live} GROUP BY ROLLUP(department)"
        return f"SELECT department, {count_sum} {live} GROUP BY department UNION ALL SELECT NULL, {count_sum} {live}"
    if shape == "month buckets":
        month = (
            "to_char(submitted_at AT TIME ZONE 'UTC', 'YYYY-MM')"
            if dialect == "postgresql"
            else ("strftime('%Y-%m', date(submitted_at))")
        )
        if dialect == "postgresql":
            return f"SELECT {month}, {count_sum} {live} GROUP BY ROLLUP({month})"
        return f"SELECT {month}, {count_sum} {live} GROUP BY 1 UNION ALL SELECT NULL, {count_sum} {live}"
    if shape == "two dimensions with subtotals":
        if dialect == "postgresql":
            return f"SELECT department, category, {count_sum} {live} GROUP BY ROLLUP(department, category)"
        return (
            f"SELECT department, category, {count_sum} {live} GROUP BY department, category UNION ALL "
            f"SELECT department, NULL, {count_sum} {live} GROUP BY department UNION ALL "
            f"SELECT NULL, NULL, {count_sum} {live}"
        )
    if shape == "top 10 suppliers + others":
        top = (
            f"supplier IN (SELECT k FROM (SELECT supplier AS k, row_number() OVER (ORDER BY sum(amount) DESC) AS rn "
            f"{live} GROUP BY supplier) AS ranked WHERE rn <= 10)"
        )
        grouped = f"CASE WHEN {top} THEN supplier END"
        return f"SELECT {grouped}, {count_sum} {live} GROUP BY {grouped}"
    if shape == "multi-value tags, total once":
        values = (
            f"{table} LEFT JOIN LATERAL jsonb_array_elements_text({table}.tags) AS v(value) ON true"
            if dialect == "postgresql"
            else f"{table} LEFT JOIN json_each({table}.tags) AS v"
        )
        return (
            f"SELECT v.value, {count_sum} FROM {values} WHERE deleted_at IS NULL GROUP BY v.value "
            f"UNION ALL SELECT NULL, {count_sum} {live}"
        )
    if dialect == "postgresql":
        return f"SELECT category, avg(amount), min(amount), max(amount) {live} GROUP BY ROLLUP(category)"
    return (
        f"SELECT category, sum(amount), count(amount), min(amount), max(amount) {live} GROUP BY category "
        f"UNION ALL SELECT NULL, sum(amount), count(amount), min(amount), max(amount) {live}"
    )


async def best(repeat: int, work: Callable[[], Awaitable[Any]]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await work()
        times.append(time.perf_counter() - start)
    return min(times)


async def fill(db: Database, registry: FormRegistry, rows: int) -> Any:
    ctx = RequestContext.for_now()
    async with db.session(write=True) as session:
        await definitions.save_app(session, ctx, {"key": APP, "label": "Bench"})
        await definitions.save_draft(session, ctx, APP, "form", FORM, DOCUMENT)
        await publish_form(session, ctx, APP, FORM)
    async with db.session() as session:
        form = await registry.get(session, APP, FORM)
    t = form.table
    column = {spec.key: spec.column for spec in form.fields}
    rng = random.Random(7)
    now = datetime.now(UTC)
    chunk = 5000
    for start in range(0, rows, chunk):
        batch = []
        for i in range(start, min(rows, start + chunk)):
            at = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 730))
            batch.append(
                {
                    "created_at": at,
                    "updated_at": at,
                    "status": "approved",
                    "version": 1,
                    column["title"]: f"Request {i}",
                    column["department"]: rng.choice(DEPARTMENTS),
                    column["category"]: rng.choice(CATEGORIES),
                    column["supplier"]: rng.choice(SUPPLIERS),
                    column["amount"]: Decimal(rng.randrange(100, 20_000_000)) / 100,
                    column["submitted_at"]: at,
                    column["tags"]: rng.sample(TAGS, rng.randrange(0, 3)) or None,
                }
            )
        async with db.session(write=True) as session:
            await session.execute(insert(t), batch)
    return form


async def measure(kind: str, rows: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        async with fresh_database(kind, Path(workdir)) as url:
            settings = Settings(database_url=url, data_dir=Path(workdir) / "data", secret_key="bench")
            db = Database.from_settings(settings)
            try:
                await upgrade(db)
                registry = FormRegistry()
                started = time.perf_counter()
                form = await fill(db, registry, rows)
                print(f"\n{kind}: {rows:,} rows written in {time.perf_counter() - started:.1f} s")
                print(f"  {'shape':<32} {'engine':>10} {'hand':>10} {'ratio':>7}")
                viewer = Viewer(RequestContext.for_now(), "en")
                first_filter = None
                for name, shape in SHAPES.items():
                    document = {"key": "b", "label": "b", "form": FORM, **shape}
                    answers: list[Any] = []

                    async def engine(document: dict[str, Any] = document, answers: list[Any] = answers) -> None:
                        async with db.session() as session:
                            answers.append(await run_report(session, registry, viewer, APP, document))

                    sql = text(handwritten(name, form.table.name, db.engine.dialect.name))

                    async def hand(sql: Any = sql) -> None:
                        async with db.session() as session:
                            (await session.execute(sql)).all()

                    engine_time = await best(repeat, engine)
                    hand_time = await best(repeat, hand)
                    ratio = engine_time / hand_time
                    print(f"  {name:<32} {engine_time * 1000:>8.1f}ms {hand_time * 1000:>8.1f}ms {ratio:>7.2f}")
                    if first_filter is None and answers[-1]["rows"]:
                        first_filter = answers[-1]["rows"][0]["filter"]
                if first_filter is not None:
                    await _drill_down(db, registry, form, first_filter, repeat)
            finally:
                await db.dispose()


async def _drill_down(db: Database, registry: FormRegistry, form: Any, condition: Any, repeat: int) -> None:
    query = records.ListRequest(filter=json.dumps(condition), limit="50", count="none")

    async def page() -> None:
        async with db.session() as session:
            await records.list_records(session, form, RequestContext.for_now(), query, full_access(APP, FORM))

    print(f"  drill-down: first page of 50 records behind the first row: {await best(repeat, page) * 1000:.1f}ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for kind in args.databases.split(","):
        asyncio.run(measure(kind.strip(), args.rows, args.repeat))


if __name__ == "__main__":
    main()
