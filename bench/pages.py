"""Benchmark: how fast the end-user pages answer.

For each database this makes a fresh database, fills it with the demo
(`opsloom demo --no-serve`: the procurement app, its sample records and the
demo people), and starts `opsloom serve` (one uvicorn worker, no timer
worker) on a free loopback port. It then adds --records purchase requests
through the bulk records API and submits --submitted of the sales ones to the
approval flow, so that the head of Sales has a long to-do list, and drives
each page with --requests GETs from --clients concurrent clients, logged in
as the demo person the page is for:

  home              /                                    sales head
  list              the purchase requests, first page    finance (reads all)
  list filtered     amount > 10000, sorted by -amount    finance
  new               the empty form                       sales rep
  record            a submitted request, with timeline   finance
  tasks             the to-do list                       sales head
  task              one task                             sales head
  preview           POST .../preview, 3 line items       sales rep

It prints, per page, the errors, requests per second, p50/p99 latency, the
server process's CPU time per request and the size of the answer.

Figures only: nothing here passes or fails. `python bench/pages.py --help`;
`make bench-pages` runs it with the defaults (SQLite and PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path
from records_api import Figures, Request, Server, _free_port, drive, served  # noqa: E402

FORM = "/apps/procurement/forms/purchase_request"
RECORDS = "/api/apps/procurement/forms/purchase_request/records"
PASSWORD = "opsloom-demo"
ADMIN, REP, HEAD, FINANCE = (
    f"{name}@opsloom.local" for name in ("admin", "sales.rep", "sales.head", "finance")
)  # fmt: skip
DEPARTMENTS = ("sales", "engineering", "finance", "operations")
ITEMS = ("Laptop", "Monitor", "Desk chair", "Printer paper", "Projector", "Licence", "Headset", "Cables")
BULK = 1000

# ----------------------------------------------------------------- server


@contextmanager
def opsloom_server(env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """`opsloom serve`, one worker, on a free loopback port; stopped on exit.

    Run in `workdir`, so that no `.env` of the current directory changes the settings.
    """
    port = _free_port()
    command = [sys.executable, "-m", "opsloom", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with served("opsloom", command, port, env, workdir) as server:
        yield server


def seed_demo(env: dict[str, str], workdir: Path) -> None:
    """The demo's apps, people and sample requests, in the (empty) database of `env`."""
    command = [
        sys.executable, "-m", "opsloom", "demo", "--no-serve",
        "--data-dir", env["OPSLOOM_DATA_DIR"], "--database-url", env["OPSLOOM_DATABASE_URL"],
    ]  # fmt: skip
    done = subprocess.run(command, cwd=workdir, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"opsloom demo failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


async def log_in(server: Server, email: str) -> dict[str, str]:
    """The headers of a logged-in session: the cookie the pages read, and its CSRF token."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        if response.status_code != 200:
            raise RuntimeError(f"login of {email} failed: {response.text}")
        return {
            "Cookie": f"opsloom_session={response.cookies['opsloom_session']}",
            "X-CSRF-Token": response.json()["csrf_token"],
        }


# ------------------------------------------------------------------- data


def line_items(rng: random.Random, count: int) -> list[dict[str, Any]]:
    return [
        {
            "item": rng.choice(ITEMS),
            "qty": rng.randrange(1, 20),
            "unit_price": f"{rng.randrange(500, 300_000) / 100:.2f}",
        }
        for _ in range(count)
    ]


def purchase_request(rng: random.Random, n: int, department: str) -> dict[str, Any]:
    items = line_items(rng, rng.randrange(1, 6))
    body: dict[str, Any] = {"title": f"Purchase request {n}", "department": department, "items": items}
    amount = sum(row["qty"] * Decimal(row["unit_price"]) for row in items)
    if amount > 100_000:  # the form requires a reason above 100,000
        body["reason"] = "Replaces equipment that is out of warranty."
    return body


async def create_requests(server: Server, auth: dict[str, str], bodies: list[dict[str, Any]]) -> list[int]:
    """Through the bulk endpoint, BULK per call; answers the new records' ids."""
    ids: list[int] = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=300, headers=auth) as client:
        for start in range(0, len(bodies), BULK):
            response = await client.post(f"{RECORDS}/bulk", json={"records": bodies[start : start + BULK]})
            if response.status_code != 201:
                raise RuntimeError(f"bulk create failed: {response.text[:500]}")
            ids += [item["id"] for item in response.json()["items"]]
    return ids


async def seed_requests(
    server: Server, auth: dict[str, dict[str, str]], args: argparse.Namespace
) -> tuple[list[int], Figures]:
    """--records requests: --submitted of them raised and submitted by the sales rep, the rest by the admin.

    Answers the submitted ones' ids and the figures of the submits.
    """
    rng = random.Random(3)
    own = [purchase_request(rng, n, "sales") for n in range(args.submitted)]
    others = [purchase_request(rng, n, rng.choice(DEPARTMENTS)) for n in range(args.submitted, args.records)]
    await create_requests(server, auth[ADMIN], others)
    submitted = await create_requests(server, auth[REP], own)
    submits = [Request("POST", f"{RECORDS}/{i}/submit", b"{}") for i in submitted]
    return submitted, await drive(server, submits, args.clients, auth[REP])


async def pending_tasks(server: Server, auth: dict[str, str], limit: int) -> list[int]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, headers=auth) as client:
        response = await client.get("/api/tasks", params={"box": "pending", "limit": str(limit)})
        response.raise_for_status()
        return [item["id"] for item in response.json()["items"]]


# ------------------------------------------------------------------ pages


@dataclass(frozen=True)
class Page:
    name: str
    who: str
    requests: list[Request]


def pages(args: argparse.Namespace, submitted: list[int], tasks: list[int]) -> list[Page]:
    n = args.requests
    condition = json.dumps({"field": "amount", "op": "gt", "value": "10000"}, separators=(",", ":"))
    filtered = httpx.QueryParams({"filter": condition, "sort": "-amount"})
    rng = random.Random(5)
    preview = json.dumps({"values": {"items": line_items(rng, 3)}}).encode()

    def same(path: str) -> list[Request]:
        return [Request("GET", path)] * n

    return [
        Page("home", HEAD, same("/")),
        Page("list", FINANCE, same(FORM)),
        Page("list filtered, sorted", FINANCE, same(f"{FORM}?{filtered}")),
        Page("new", REP, same(f"{FORM}/new")),
        Page("record", FINANCE, [Request("GET", f"{FORM}/records/{submitted[i % len(submitted)]}") for i in range(n)]),
        Page("tasks", HEAD, same("/tasks")),
        Page("task", HEAD, [Request("GET", f"/tasks/{tasks[i % len(tasks)]}") for i in range(n)]),
        Page("preview (POST)", REP, [Request("POST", f"{FORM}/preview", preview)] * n),
    ]


async def probe(server: Server, page: Page, auth: dict[str, str]) -> tuple[int, int]:
    """The status and size in bytes of the page's first request (a redirect to the login is not a 200)."""
    request = page.requests[0]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, headers=auth) as client:
        response = await client.request(
            request.method, request.path, content=request.body, headers={"content-type": "application/json"}
        )
    return response.status_code, len(response.content)


@dataclass(frozen=True)
class Result:
    page: Page
    status: int
    size: int
    figures: Figures


async def measure(server: Server, page: Page, auth: dict[str, str], clients: int) -> Result:
    status, size = await probe(server, page, auth)
    await drive(server, page.requests[: max(10, len(page.requests) // 10)], clients, auth)  # warm up
    return Result(page, status, size, await drive(server, page.requests, clients, auth))


# -------------------------------------------------------------------- run


@dataclass(frozen=True)
class Run:
    kind: str
    seconds_demo: float
    seconds_records: float
    submits: Figures
    tasks: int
    results: list[Result]


async def run_database(kind: str, args: argparse.Namespace) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"opsloom-bench-pages-{kind}-") as tmp:
        workdir = Path(tmp)
        async with fresh_database(kind, workdir) as url:
            env = {
                "OPSLOOM_DATABASE_URL": url,
                "OPSLOOM_DATA_DIR": str(workdir / "data"),
                "OPSLOOM_SECRET_KEY": "bench",
                "OPSLOOM_RUN_WORKER": "false",
            }
            started = time.perf_counter()
            seed_demo(env, workdir)
            seconds_demo = time.perf_counter() - started
            print(f"  {kind}: demo installed in {seconds_demo:.1f}s", flush=True)
            with opsloom_server(env, workdir) as server:
                auth = {email: await log_in(server, email) for email in (ADMIN, REP, HEAD, FINANCE)}
                started = time.perf_counter()
                submitted, submits = await seed_requests(server, auth, args)
                seconds_records = time.perf_counter() - started
                print(
                    f"  {kind}: {args.records:,} requests created, {len(submitted):,} submitted "
                    f"in {seconds_records:.1f}s",
                    flush=True,
                )
                tasks = await pending_tasks(server, auth[HEAD], 200)
                results = []
                for page in pages(args, submitted, tasks):
                    results.append(await measure(server, page, auth[page.who], args.clients))
                    print(f"  {kind}: {page.name} done", flush=True)
    return Run(kind, seconds_demo, seconds_records, submits, len(tasks), results)


def report(run: Run, args: argparse.Namespace) -> None:
    title = {"sqlite": "SQLite (temp file)", "postgresql": "PostgreSQL"}[run.kind]
    print()
    print(
        f"{title} - {os.cpu_count()} cores, one uvicorn worker, {args.clients} clients; "
        f"{args.records:,} purchase requests, {args.submitted:,} submitted"
    )
    head = (
        f"{'page':<24}{'as':<12}{'n':>6}{'errors':>8}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/req':>12}{'KB':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in run.results:
        f = r.figures
        status = "" if r.status == 200 else f"  (first answer {r.status}, not 200)"
        print(
            f"{r.page.name:<24}{r.page.who.split('@')[0]:<12}{f.requests:>6}{f.errors:>8}{f.rate:>8.1f}"
            f"{f.p50_ms:>9.1f}{f.p99_ms:>9.1f}{f.cpu_us:>12.0f}{r.size / 1024:>8.1f}{status}"
        )
    s = run.submits
    print(
        f"seeding: demo {run.seconds_demo:.1f}s; requests and submits {run.seconds_records:.1f}s "
        f"(submits {s.rate:.1f}/s, p50 {s.p50_ms:.0f} ms, {s.errors} errors); "
        f"the sales head's first page of tasks: {run.tasks}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--records", type=int, default=10_000, help="purchase requests added to the demo's")
    parser.add_argument("--submitted", type=int, default=200, help="of them, sales ones submitted to the flow")
    parser.add_argument("--requests", type=int, default=300, help="per page")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    args = parser.parse_args(argv)
    kinds = args.databases.split(",")
    if not set(kinds) <= {"sqlite", "postgresql"}:
        parser.error("--databases takes sqlite, postgresql or both, comma-separated")
    if not 1 <= args.submitted <= args.records or args.requests < 10:
        parser.error("use 1 <= --submitted <= --records and --requests >= 10")
    args.kinds = kinds
    return args


async def main(args: argparse.Namespace) -> None:
    runs = [await run_database(kind, args) for kind in args.kinds]
    for run in runs:
        report(run, args)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
