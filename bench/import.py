"""Benchmark: importing a spreadsheet of N rows x 10 columns, from CSV and from XLSX.

Each scenario runs in a process of its own (so its peak memory is its own): a
fresh database, the app served in-process (httpx over ASGI, its job runner
inside), the file uploaded through the API, committed, and followed until the
job is done. Printed per scenario: rows/s of the commit (upload and analysis
timed apart), the peak resident memory of the process, and the ratio to a raw
bulk insert of the same rows into the same table (SQLAlchemy Core
executemany, 1,000 rows a statement, no history) measured in the same process.

    python bench/import.py                       # 100,000 rows, CSV and XLSX, SQLite and PostgreSQL
    python bench/import.py --rows 1000000 --db postgresql --format csv

Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import xlsxwriter  # type: ignore[import-untyped]
from asgi_lifespan import LifespanManager
from sqlalchemy import insert

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path

from opsloom.app import create_app  # noqa: E402
from opsloom.platform import org  # noqa: E402
from opsloom.platform.context import RequestContext  # noqa: E402
from opsloom.platform.settings import Settings  # noqa: E402

ADMIN = {"email": "bench@example.com", "password": "bench-password-1234", "name": "Bench", "is_admin": True}
HEADERS = ["编号", "标题", "金额", "数量", "类别", "下单日期", "加急", "备注", "城市", "参考号"]


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


def write_file(path: Path, rows: int) -> None:
    if path.suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADERS)
            for n in range(1, rows + 1):
                writer.writerow(row(n))
        return
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("数据")
    sheet.write_row(0, 0, HEADERS)
    for n in range(1, rows + 1):
        sheet.write_row(n, 0, row(n))
    book.close()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def scenario(kind: str, file_format: str, rows: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        source = directory / f"data.{file_format}"
        write_file(source, rows)
        async with fresh_database(kind, directory) as url:
            settings = Settings(
                database_url=url, data_dir=directory / "data", secret_key="bench", import_batch_rows=batch
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
                    await http.put("/api/design/apps/bench/forms/purchase", json=FORM)
                    await http.post("/api/design/apps/bench/forms/purchase/publish")
                    imports = "/api/apps/bench/forms/purchase/imports"
                    before_upload = peak_mb()
                    started = time.perf_counter()
                    with open(source, "rb") as handle:  # noqa: ASYNC230 - the timed part is the upload
                        uploaded = await http.post(imports, files={"file": (source.name, handle)})
                    assert uploaded.status_code == 201, uploaded.text
                    upload_seconds = time.perf_counter() - started
                    body = uploaded.json()
                    assert body["unmatched"] == {} and len(body["mapping"]) == 10, body
                    url_ = f"{imports}/{body['id']}"
                    started = time.perf_counter()
                    assert (await http.post(f"{url_}/commit")).status_code == 202
                    while True:
                        state = (await http.get(url_)).json()
                        if state["state"] in ("done", "failed", "cancelled"):
                            break
                        await asyncio.sleep(0.2)
                    commit_seconds = time.perf_counter() - started
                    assert state["state"] == "done" and state["counts"]["inserted"] == rows, state
                    raw_seconds = await raw_insert(app, rows)
    return {
        "db": kind,
        "format": file_format,
        "rows": rows,
        "upload_s": round(upload_seconds, 1),
        "commit_s": round(commit_seconds, 1),
        "rows_per_s": round(rows / commit_seconds),
        "raw_rows_per_s": round(rows / raw_seconds),
        "ratio": round(raw_seconds / commit_seconds, 2),
        "peak_mb": round(peak_mb()),
        "peak_mb_before_upload": round(before_upload),
    }


async def raw_insert(app: Any, rows: int) -> float:
    """The same rows straight into the form's table: the floor an import is measured against."""
    async with app.state.db.session() as session:
        form = await app.state.forms.get(session, "bench", "purchase")
    table = form.table
    columns = {spec.key: spec.column for spec in form.fields}
    started = time.perf_counter()
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    for start in range(0, rows, 1000):
        params = []
        for n in range(start + 1, min(start + 1000, rows) + 1):
            day = date(2024, 1, 1) + timedelta(days=n % 365)
            values = {
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
            params.append(
                {columns[k]: v for k, v in values.items()}
                | {"version": 1, "status": "draft", "created_at": now, "updated_at": now}
            )
        async with app.state.db.session(write=True) as session:
            await session.execute(insert(table), params)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--format", choices=["csv", "xlsx", "both"], default="both")
    parser.add_argument("--batch", type=int, default=500, help="Rows per transaction (OPSLOOM_IMPORT_BATCH_ROWS)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a single scenario, in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(scenario(args.db, args.format, args.rows, args.batch))))
        return
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    formats = ["csv", "xlsx"] if args.format == "both" else [args.format]
    print(
        f"{'db':<11}{'format':<7}{'rows':>9}{'upload s':>10}{'commit s':>10}{'rows/s':>9}{'raw rows/s':>12}"
        f"{'ratio':>7}{'peak MB':>9}"
    )
    for kind in dbs:
        for file_format in formats:
            command = [sys.executable, __file__, "--one", "--db", kind, "--format", file_format]
            command += ["--rows", str(args.rows), "--batch", str(args.batch)]
            out = subprocess.run(command, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(f"{kind:<11}{file_format:<7} failed:\n{out.stderr[-2000:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{r['db']:<11}{r['format']:<7}{r['rows']:>9}{r['upload_s']:>10}{r['commit_s']:>10}"
                f"{r['rows_per_s']:>9}{r['raw_rows_per_s']:>12}{r['ratio']:>7}{r['peak_mb']:>9}"
            )


if __name__ == "__main__":
    main()
