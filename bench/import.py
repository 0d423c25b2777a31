"""Benchmark: importing a spreadsheet of N rows x 10 columns, from CSV and from XLSX.

Each scenario runs in a process of its own (so its peak memory is its own): a
fresh database, the app served in-process (httpx over ASGI, its job runner
inside), the file uploaded through the API, committed, and followed until the
job is done. Printed per scenario: rows/s of the commit (upload and analysis
timed apart), the peak resident memory of the process and of the largest
workbook reader it started (a large workbook is streamed by a child process:
`opsloom/runtime/imports/workbook_stream.py`), and the ratio to a raw
bulk insert of the same rows into the same table (SQLAlchemy Core
executemany, 1,000 rows a statement, no history) measured in the same process;
and the ratio to a "logged" raw insert, which also writes the rows an import
stores beside each record (its history entry, outbox event and bookkeeping
row) by plain INSERTs: the cost of the generic layer alone.

Two scenarios (`--scenario`):

- plain: a fresh form, every row inserted (mode insert).
- upsert: the form has an 11th column, a relation to a second form
  `supplier` (1,000 suppliers, seeded by raw insert) named in the file by the
  supplier's title ("供应商 17"), and a unique `code`; half of the rows (every
  even n) already exist, seeded by raw insert with an old amount and no
  supplier. The import runs with mode upsert, key field `code`, and must end
  with inserted == updated == rows/2; one updated record is read back through
  the records API (the file's amount, the right supplier). Its ratio is still
  to a raw bulk insert of the same number of rows (with their supplier ids):
  an upsert has to find each key and update in place, so its floor is not
  lower than an insert's.

    python bench/import.py                       # 100,000 rows, CSV and XLSX, SQLite and PostgreSQL
    python bench/import.py --rows 1000000 --db postgresql --format csv
    python bench/import.py --scenario upsert --rows 500000 --db postgresql --format xlsx

Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import xlsxwriter  # type: ignore[import-untyped]
from asgi_lifespan import LifespanManager
from sqlalchemy import insert, select

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path

from opsloom.app import create_app  # noqa: E402
from opsloom.platform import org, tables  # noqa: E402
from opsloom.platform.context import RequestContext  # noqa: E402
from opsloom.platform.settings import Settings  # noqa: E402

ADMIN = {"email": "bench@example.com", "password": "bench-password-1234", "name": "Bench", "is_admin": True}
HEADERS = ["编号", "标题", "金额", "数量", "类别", "下单日期", "加急", "备注", "城市", "参考号"]
SUPPLIERS = 1000
OLD_AMOUNT = Decimal("1.00")  # what the rows already stored before an upsert hold


def _field(key: str, type_: str, label: str, **rules: Any) -> dict[str, Any]:
    return {"id": f"fld_{key}", "key": key, "type": type_, "label": {"zh-CN": label, "en": key}, **rules}


FORM = {
    "key": "purchase",
    "label": "Purchase",
    "title_field": "title",
    "fields": [
        _field("code", "text", "编号"),
        _field("title", "text", "标题"),
        _field("amount", "decimal", "金额", precision=14, scale=2),
        _field("qty", "integer", "数量"),
        _field(
            "category",
            "select",
            "类别",
            options=[{"value": "it", "label": "信息技术"}, {"value": "office", "label": "办公"}],
        ),
        _field("ordered_on", "date", "下单日期"),
        _field("urgent", "boolean", "加急"),
        _field("note", "text", "备注"),
        _field("city", "text", "城市"),
        _field("ref", "text", "参考号"),
    ],
}

SUPPLIER_FORM = {
    "key": "supplier",
    "label": "Supplier",
    "title_field": "name",
    "fields": [_field("name", "text", "名称", required=True)],
}

# The upsert scenario's purchase form: `code` is unique (the import's key), and an 11th field links a supplier.
UPSERT_FORM = FORM | {
    "fields": [
        _field("code", "text", "编号", unique=True),
        *FORM["fields"][1:],
        _field("supplier", "relation", "供应商", form="supplier"),
    ]
}


def supplier_of(n: int) -> str:
    return f"供应商 {n % SUPPLIERS + 1}"


def row(n: int) -> list[Any]:
    day = date(2024, 1, 1) + timedelta(days=n % 365)
    return [
        f"P-{n:07d}",
        f"采购 {n}",
        f"¥{n % 10000:,}.50",
        str(n % 50 + 1),
        "信息技术" if n % 2 else "办公",
        f"{day.year}年{day.month}月{day.day}日",
        "是" if n % 3 == 0 else "否",
        "备注" * (n % 5),
        "上海",
        f"R{n}",
    ]


def upsert_row(n: int) -> list[Any]:
    return [*row(n), supplier_of(n)]


def write_file(path: Path, rows: int, headers: list[str], make_row: Callable[[int], list[Any]]) -> None:
    if path.suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            for n in range(1, rows + 1):
                writer.writerow(make_row(n))
        return
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("数据")
    sheet.write_row(0, 0, headers)
    for n in range(1, rows + 1):
        sheet.write_row(n, 0, make_row(n))
    book.close()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ReaderPeak:
    """The largest peak memory (VmHWM) of a workbook reader this process started, sampled from /proc
    every 0.2 s (getrusage's figure for children counts the parent's pages they held before exec)."""

    def __init__(self) -> None:
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ReaderPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        me = str(os.getpid())
        while not self._stop.wait(0.2):
            for entry in Path("/proc").iterdir():
                try:
                    if not entry.name.isdigit() or b"workbook_stream" not in (entry / "cmdline").read_bytes():
                        continue
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                if fields.get("PPid", "").strip() == me and "VmHWM" in fields:
                    self.mb = max(self.mb, int(fields["VmHWM"].split()[0]) / 1024)


async def scenario(kind: str, file_format: str, rows: int, batch: int, name: str = "plain") -> dict[str, Any]:
    upsert = name == "upsert"
    with tempfile.TemporaryDirectory() as scratch, ReaderPeak() as reader:
        directory = Path(scratch)
        source = directory / f"data.{file_format}"
        if upsert:
            write_file(source, rows, [*HEADERS, "供应商"], upsert_row)
        else:
            write_file(source, rows, HEADERS, row)
        async with fresh_database(kind, directory) as url:
            settings = Settings(
                database_url=url,
                data_dir=directory / "data",
                secret_key="bench",
                import_batch_rows=batch,
                freeze_gc=True,  # as `opsloom serve` and `opsloom worker` run
            )
            app = create_app(settings)
            async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=3600) as http:
                    async with app.state.db.session(write=True) as session:
                        await org.create_user(session, RequestContext.for_now(), dict(ADMIN))
                    login = await http.post("/api/auth/login", json={k: ADMIN[k] for k in ("email", "password")})
                    http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
                    await http.put("/api/design/apps/bench", json={"key": "bench", "label": "Bench"})
                    suppliers: dict[str, int] = {}
                    if upsert:
                        await publish(http, SUPPLIER_FORM)
                        await publish(http, UPSERT_FORM)
                        suppliers = await seed_suppliers(app)
                        await raw_rows(app, "purchase", (existing_values(n) for n in range(2, rows + 1, 2)))
                    else:
                        await publish(http, FORM)
                    imports = "/api/apps/bench/forms/purchase/imports"
                    before_upload = peak_mb()
                    started = time.perf_counter()
                    with open(source, "rb") as handle:  # noqa: ASYNC230 - the timed part is the upload
                        uploaded = await http.post(imports, files={"file": (source.name, handle)})
                    assert uploaded.status_code == 201, uploaded.text
                    upload_seconds = time.perf_counter() - started
                    body = uploaded.json()
                    assert body["unmatched"] == {} and len(body["mapping"]) == (11 if upsert else 10), body
                    url_ = f"{imports}/{body['id']}"
                    if upsert:
                        patched = await http.patch(url_, json={"mode": "upsert", "key_field": "code"})
                        assert patched.status_code == 200, patched.text
                    started = time.perf_counter()
                    assert (await http.post(f"{url_}/commit")).status_code == 202
                    while True:
                        state = (await http.get(url_)).json()
                        if state["state"] in ("done", "failed", "cancelled"):
                            break
                        await asyncio.sleep(0.2)
                    commit_seconds = time.perf_counter() - started
                    if upsert:
                        counts = state["counts"]
                        assert state["state"] == "done", state
                        assert counts.get("inserted") == rows - rows // 2, state
                        assert counts.get("updated") == rows // 2, state
                        await spot_check(app, http, rows, suppliers)
                    else:
                        assert state["state"] == "done" and state["counts"]["inserted"] == rows, state
                    raw_seconds = await raw_insert(app, rows, suppliers)
                    logged_seconds = await raw_logged_insert(app, rows, suppliers, body["id"])
    return {
        "db": kind,
        "format": file_format,
        "mode": "upsert" if upsert else "insert",
        "rows": rows,
        "upload_s": round(upload_seconds, 1),
        "commit_s": round(commit_seconds, 1),
        "rows_per_s": round(rows / commit_seconds),
        "raw_rows_per_s": round(rows / raw_seconds),
        "ratio": round(raw_seconds / commit_seconds, 2),
        "logged_rows_per_s": round(rows / logged_seconds),
        "logged_ratio": round(logged_seconds / commit_seconds, 2),
        "peak_mb": round(peak_mb()),
        "peak_mb_before_upload": round(before_upload),
        "reader_mb": round(reader.mb),
    }


async def publish(http: httpx.AsyncClient, form: dict[str, Any]) -> None:
    base = f"/api/design/apps/bench/forms/{form['key']}"
    saved = await http.put(base, json=form)
    assert saved.status_code < 300, saved.text
    published = await http.post(f"{base}/publish")
    assert published.status_code < 300, published.text


async def spot_check(app: Any, http: httpx.AsyncClient, rows: int, suppliers: dict[str, int]) -> None:
    """One record that existed before the import: the file's amount and supplier, read through the API."""
    n = max(2, rows // 2 // 2 * 2)  # an even row, in the middle of the file
    async with app.state.db.session() as session:
        form = await app.state.forms.get(session, "bench", "purchase")
        code = form.column(form.by_key["code"])
        found = await session.execute(select(form.table.c.id).where(code == f"P-{n:07d}"))
        record_id = found.scalar_one()
    read = await http.get(f"/api/apps/bench/forms/purchase/records/{record_id}")
    assert read.status_code == 200, read.text
    record = read.json()
    values = record.get("data", record)
    assert Decimal(str(values["amount"])) == Decimal(f"{n % 10000}.50"), record
    assert values["supplier"] == suppliers[supplier_of(n)], record


def raw_values(n: int) -> dict[str, Any]:
    day = date(2024, 1, 1) + timedelta(days=n % 365)
    return {
        "code": f"Q-{n:07d}",
        "title": f"采购 {n}",
        "amount": Decimal(f"{n % 10000}.50"),
        "qty": n % 50 + 1,
        "category": "it" if n % 2 else "office",
        "ordered_on": day,
        "urgent": n % 3 == 0,
        "note": "备注" * (n % 5),
        "city": "上海",
        "ref": f"R{n}",
    }


def existing_values(n: int) -> dict[str, Any]:
    """A row of the file as it was stored before the upsert: its code, an old amount, no supplier."""
    return raw_values(n) | {"code": f"P-{n:07d}", "amount": OLD_AMOUNT}


async def seed_suppliers(app: Any) -> dict[str, int]:
    await raw_rows(app, "supplier", ({"name": f"供应商 {n}"} for n in range(1, SUPPLIERS + 1)))
    async with app.state.db.session() as session:
        form = await app.state.forms.get(session, "bench", "supplier")
        found = await session.execute(select(form.column(form.by_key["name"]), form.table.c.id))
        return {name: ident for name, ident in found.all()}


async def raw_rows(app: Any, form_key: str, values: Iterable[dict[str, Any]]) -> float:
    """Rows straight into a form's table (SQLAlchemy Core executemany, 1,000 a statement, no history)."""
    async with app.state.db.session() as session:
        form = await app.state.forms.get(session, "bench", form_key)
    table = form.table
    columns = {spec.key: spec.column for spec in form.fields}
    started = time.perf_counter()
    now = datetime.now(UTC)
    system = {"version": 1, "status": "draft", "created_at": now, "updated_at": now}
    pending = iter(values)
    while chunk := list(islice(pending, 1000)):
        params = [{columns[k]: v for k, v in one.items()} | system for one in chunk]
        async with app.state.db.session(write=True) as session:
            await session.execute(insert(table), params)
    return time.perf_counter() - started


def file_values(rows: int, suppliers: dict[str, int]) -> Iterable[dict[str, Any]]:
    """The file's rows as stored (with their supplier ids when the form links one)."""
    for n in range(1, rows + 1):
        yield raw_values(n) | {"supplier": suppliers[supplier_of(n)]} if suppliers else raw_values(n)


async def raw_insert(app: Any, rows: int, suppliers: dict[str, int]) -> float:
    """The same rows straight into the form's table: the floor an import is measured against."""
    return await raw_rows(app, "purchase", file_values(rows, suppliers))


def _json_value(value: Any) -> Any:
    return str(value) if isinstance(value, (Decimal, date)) else value


async def raw_logged_insert(app: Any, rows: int, suppliers: dict[str, int], import_id: int) -> float:
    """The same rows and every row an import stores beside each: its history entry, its outbox
    event and its import bookkeeping row, all by plain executemany INSERTs (1,000 rows a
    statement) with no Python between them but building the rows. What is left between this
    and the import is the generic layer: reading and cleaning cells, validating, formulas."""
    async with app.state.db.session() as session:
        form = await app.state.forms.get(session, "bench", "purchase")
    table, columns = form.table, {spec.key: spec.column for spec in form.fields}
    history, outbox, import_rows = tables.record_history, tables.outbox, tables.import_rows
    started = time.perf_counter()
    now = datetime.now(UTC)
    system = {"version": 1, "status": "draft", "created_at": now, "updated_at": now}
    values = (one | {"code": "L" + one["code"][1:]} for one in file_values(rows, suppliers))  # codes unused yet
    pending, number = iter(values), 1_000_000_000  # and row numbers no import used
    while chunk := list(islice(pending, 1000)):
        async with app.state.db.session(write=True) as session:
            params = [{columns[k]: v for k, v in one.items()} | system for one in chunk]
            found = await session.execute(insert(table).returning(table.c.id), params)
            ids = sorted(found.scalars().all())
            dumped = [{k: _json_value(v) for k, v in one.items()} for one in chunk]
            await session.execute(
                insert(history),
                [
                    {
                        "form_id": form.form_id,
                        "record_id": ident,
                        "record_version": 1,
                        "action": "import",
                        "actor_id": None,
                        "at": now,
                        "changes": {k: {"before": None, "after": v} for k, v in values.items()},
                    }
                    for ident, values in zip(ids, dumped, strict=True)
                ],
            )
            await session.execute(
                insert(outbox),
                [
                    {
                        "topic": "record.created",
                        "app_key": "bench",
                        "form_key": "purchase",
                        "record_id": ident,
                        "actor_id": None,
                        "payload": {"record": {"id": ident, **values}},
                        "created_at": now,
                    }
                    for ident, values in zip(ids, dumped, strict=True)
                ],
            )
            await session.execute(
                insert(import_rows),
                [
                    {"import_id": import_id, "row_number": number + k, "outcome": "inserted", "record_id": ident}
                    for k, ident in enumerate(ids)
                ],
            )
            number += len(ids)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--format", choices=["csv", "xlsx", "both"], default="both")
    parser.add_argument("--scenario", choices=["plain", "upsert", "both"], default="plain")
    parser.add_argument("--batch", type=int, default=500, help="Rows per transaction (OPSLOOM_IMPORT_BATCH_ROWS)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a single scenario, in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(scenario(args.db, args.format, args.rows, args.batch, args.scenario))))
        return
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    formats = ["csv", "xlsx"] if args.format == "both" else [args.format]
    scenarios = ["plain", "upsert"] if args.scenario == "both" else [args.scenario]
    print(
        f"{'db':<11}{'format':<7}{'mode':<7}{'rows':>9}{'upload s':>10}{'commit s':>10}{'rows/s':>9}"
        f"{'raw rows/s':>12}{'ratio':>7}{'logged rows/s':>15}{'ratio':>7}{'peak MB':>9}{'reader MB':>11}"
    )
    for name in scenarios:
        for kind in dbs:
            for file_format in formats:
                command = [sys.executable, __file__, "--one", "--db", kind, "--format", file_format]
                command += ["--rows", str(args.rows), "--batch", str(args.batch), "--scenario", name]
                out = subprocess.run(command, capture_output=True, text=True, check=False)
                if out.returncode != 0:
                    print(f"{kind:<11}{file_format:<7}{name:<7} failed:\n{out.stderr[-2000:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"{r['db']:<11}{r['format']:<7}{r['mode']:<7}{r['rows']:>9}{r['upload_s']:>10}"
                    f"{r['commit_s']:>10}{r['rows_per_s']:>9}{r['raw_rows_per_s']:>12}{r['ratio']:>7}"
                    f"{r['logged_rows_per_s']:>15}{r['logged_ratio']:>7}{r['peak_mb']:>9}"
                    f"{r['reader_mb']:>11}"
                )


if __name__ == "__main__":
    main()
