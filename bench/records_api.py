"""Benchmark: Opsloom's generated records API against a hand-written FastAPI app.

Both serve the same tables of the same database, each in its own uvicorn
process (one worker, same engine and pool settings), started on a free
loopback port. This process drives them with aiohttp: a fixed number of
requests from a fixed number of concurrent clients, the same request sequence
for both, and prints throughput, p50/p99 latency and the server process's CPU
time per request, with the ratio generated / hand-written.

Scenarios:
  create   POST a record of an 8-field form (history row included on both sides)
  logged   the same creates, the hand-written side also writing the audit line and
           the outbox event that Opsloom's create writes: what the generic layer
           costs when both sides store the same rows
  get      GET one record by id
  list     amount > X, sorted by -amount, 50 rows, with the bounded total
  wide     a page of 100 rows of a 50-field form holding --rows rows
  numbered POST a record of a form with an autonumber (`PO-{seq:6}`) and three
           line items, from --numbered-clients creators at once (25): every
           create takes the form's one counter, so this shows how long a create
           holds it. Compared with the same form without the autonumber, in
           alternating rounds (a ratio near 1.00: the counter costs little), and
           on PostgreSQL with how many connections wait for a lock on average.
           Generated API only.

The orders are 10,000 made through the bulk endpoint; `--orders N` adds N
more with a Core bulk insert (e.g. 1000000), so `get` and `list` read a large
table.

Figures only: nothing here passes or fails. Run `python bench/records_api.py
--help`; `make bench` runs it with the defaults (SQLite and PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy import Table, insert, text
from yarl import URL

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path
from handwritten_app import APP, WIDE_FIELDS, orders, wide  # noqa: E402

from opsloom.platform import org  # noqa: E402
from opsloom.platform.context import RequestContext  # noqa: E402
from opsloom.platform.database import Database  # noqa: E402

RECORDS = f"/api/apps/{APP}/forms/{{form}}/records"
OPTIONS = ("a", "b", "c")
ADMIN = {"email": "bench@example.com", "password": "bench-password-1234", "name": "Bench"}

# ---------------------------------------------------------------- forms


def _field(key: str, type_: str, **rules: Any) -> dict[str, Any]:
    return {"id": f"fld_{key}", "key": key, "type": type_, "label": key.replace("_", " ").title(), **rules}


def _options() -> list[dict[str, str]]:
    return [{"value": v, "label": v.upper()} for v in OPTIONS]


ORDER_FORM = {
    "key": "order",
    "label": "Order",
    "title_field": "title",
    "fields": [
        _field("title", "text", required=True, max_length=50),
        _field("amount", "decimal", precision=12, scale=2, min=0, index=True),
        _field("qty", "integer"),
        _field("kind", "select", options=_options()),
        _field("due", "date"),
        _field("email", "email"),
        _field("paid", "boolean"),
        _field("notes", "textarea"),
    ],
}


def _wide_rules(kind: str) -> dict[str, Any]:
    if kind == "decimal":
        return {"precision": 18, "scale": 2}
    if kind in ("select", "multiselect"):
        return {"options": _options()}
    return {}


NUMBERED_FORM = {
    "key": "numbered",
    "label": "Numbered order",
    "title_field": "title",
    "fields": [
        *ORDER_FORM["fields"],
        _field("number", "autonumber", pattern="PO-{seq:6}", reset="never"),
        _field(
            "lines",
            "subform",
            fields=[
                _field("line_item", "text", required=True) | {"key": "item"},
                _field("line_qty", "integer", min=1) | {"key": "qty"},
                _field("line_price", "decimal", precision=12, scale=2) | {"key": "price"},
                _field("line_total", "formula") | {"formula": "qty * price"},
            ],
        ),
    ],
}

UNNUMBERED_FORM = {
    **NUMBERED_FORM,
    "key": "unnumbered",
    "label": "Unnumbered order",
    "fields": [f for f in NUMBERED_FORM["fields"] if f["type"] != "autonumber"],
}

WIDE_FORM = {
    "key": "wide",
    "label": "Wide",
    "fields": [_field(key, kind, **_wide_rules(kind)) for key, kind in WIDE_FIELDS],
}

# ----------------------------------------------------------------- data

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def order_payload(rng: random.Random) -> dict[str, Any]:
    n = rng.randrange(1_000_000)
    return {
        "title": f"Order {n}",
        "amount": f"{rng.randrange(0, 10_000_000) / 100:.2f}",
        "qty": rng.randrange(1, 100),
        "kind": rng.choice(OPTIONS),
        "due": (EPOCH.date() + timedelta(days=rng.randrange(365))).isoformat(),
        "email": f"buyer{n}@example.com",
        "paid": rng.random() < 0.5,
        "notes": "Deliver to the loading bay before noon." if rng.random() < 0.3 else None,
    }


def numbered_payload(rng: random.Random) -> dict[str, Any]:
    lines = [
        {
            "item": f"Part {rng.randrange(1000)}",
            "qty": rng.randrange(1, 20),
            "price": f"{rng.randrange(100, 99_999) / 100:.2f}",
        }
        for _ in range(3)
    ]
    return {**order_payload(rng), "lines": lines}


RowMaker = Callable[[random.Random, datetime], dict[str, Any]]


def order_row(rng: random.Random, now: datetime) -> dict[str, Any]:
    """An order as a row of its table (for a Core insert): the payload's values, typed, and the system columns."""
    payload = order_payload(rng)
    values = {**payload, "amount": Decimal(payload["amount"]), "due": date.fromisoformat(payload["due"])}
    return {"version": 1, "status": "draft", "created_at": now, "updated_at": now, **values}


def wide_row(rng: random.Random, now: datetime) -> dict[str, Any]:
    makers: dict[str, Callable[[], Any]] = {
        "text": lambda: f"text {rng.randrange(10**6)}",
        "integer": lambda: rng.randrange(-(10**9), 10**9),
        "decimal": lambda: Decimal(rng.randrange(10**9)).scaleb(-2),
        "boolean": lambda: rng.random() < 0.5,
        "date": lambda: EPOCH.date() + timedelta(days=rng.randrange(730)),
        "datetime": lambda: EPOCH + timedelta(seconds=rng.randrange(63_072_000)),
        "select": lambda: rng.choice(OPTIONS),
        "email": lambda: f"user{rng.randrange(10**6)}@example.com",
        "textarea": lambda: "A longer note about this record, with a few words in it.",
        "multiselect": lambda: sorted(rng.sample(OPTIONS, rng.randrange(1, 3))),
    }
    row = {key: makers[kind]() for key, kind in WIDE_FIELDS}
    return {
        "version": 1,
        "status": "draft",
        "created_at": now,
        "updated_at": now,
        **row,
    }


# ------------------------------------------------------------- databases


# --------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def uvicorn_server(name: str, target: str, env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """`uvicorn TARGET --factory`, one worker, on a free loopback port; stopped on exit."""
    port = _free_port()
    command = [
        sys.executable, "-m", "uvicorn", target, "--factory",
        "--app-dir", str(BENCH_DIR),
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with served(name, command, port, env, workdir) as server:
        yield server


@contextmanager
def served(name: str, command: list[str], port: int, env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """Run a server `command` listening on `port` (output to `workdir/NAME.log`) until it answers; stop it on exit."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=workdir, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(name, process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_up(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited at start:\n{server.log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])), 0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not start within {timeout}s")


# ------------------------------------------------------------------ load


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None


@dataclass(frozen=True)
class Figures:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    failures: tuple[tuple[str, int], ...] = ()  # what the errors were: status code or exception, with counts
    client_cpu_us: float = 0.0  # this process's CPU time per request: the load client's cost

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


async def drive(server: Server, requests: list[Request], concurrency: int, auth: dict[str, str]) -> Figures:
    """Send every request once, from `concurrency` clients; time each one.

    The client is aiohttp: it shares the cores with the servers, and spends 0.09 ms of CPU on a
    request where httpx spent 1.5-1.7 (16 clients against a server that answers at once), so that
    the figures say more of the server and less of this process."""
    latencies: list[float] = []
    errors = 0
    failures: Counter[str] = Counter()
    position = 0
    headers = {"content-type": "application/json", **auth}
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def client_loop() -> None:
            nonlocal position, errors
            while position < len(requests):
                request = requests[position]
                position += 1
                started = time.perf_counter()
                try:
                    url = URL(server.base_url + request.path, encoded=True)  # sent as written, not requoted
                    async with client.request(request.method, url, data=request.body, headers=headers) as response:
                        await response.read()
                        failed = not 200 <= response.status < 300
                        if failed:
                            failures[str(response.status)] += 1
                except (aiohttp.ClientError, TimeoutError) as error:
                    failed = True  # no answer: counted with the errors
                    failures[type(error).__name__] += 1
                latencies.append(time.perf_counter() - started)
                errors += failed

        cpu_before = server.cpu_seconds()
        client_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
    latencies.sort()
    return Figures(
        requests=len(requests),
        errors=errors,
        seconds=seconds,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        cpu_us=cpu / len(requests) * 1e6,
        failures=tuple(sorted(failures.items())),
        client_cpu_us=client_cpu / len(requests) * 1e6,
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    generated: list[Request]
    handwritten: list[Request]


def scenarios(args: argparse.Namespace, order_ids: range, wide_ids: range) -> list[Scenario]:
    """The same request sequence, in each API's own dialect."""
    rng = random.Random(7)
    n = args.requests
    order_url = RECORDS.format(form="order")
    wide_url = RECORDS.format(form="wide")
    bodies = [json.dumps(order_payload(rng)).encode() for _ in range(n)]
    ids = [rng.choice(order_ids) for _ in range(n)]
    amounts = [f"{rng.randrange(50_000, 95_000)}.00" for _ in range(n)]
    wide_n = max(1, n // 4)
    before = [rng.randrange(wide_ids.start + 200, wide_ids.stop + 1) for _ in range(wide_n)]

    def amount_filter(x: str) -> str:
        document = json.dumps({"field": "amount", "op": "gt", "value": x}, separators=(",", ":"))
        return httpx.QueryParams({"filter": document, "sort": "-amount", "limit": "50"}).__str__()

    def id_filter(x: int) -> str:
        document = json.dumps({"field": "id", "op": "lt", "value": x}, separators=(",", ":"))
        return httpx.QueryParams({"filter": document, "limit": "100", "count": "none"}).__str__()

    return [
        Scenario(
            "create",
            "create (POST)",
            [Request("POST", order_url, b) for b in bodies],
            [Request("POST", "/orders", b) for b in bodies],
        ),
        Scenario(
            "logged",
            "create, same rows written",
            [Request("POST", order_url, b) for b in bodies],
            [Request("POST", "/orders/logged", b) for b in bodies],
        ),
        Scenario(
            "get",
            "get by id",
            [Request("GET", f"{order_url}/{i}") for i in ids],
            [Request("GET", f"/orders/{i}") for i in ids],
        ),
        Scenario(
            "list",
            "list amount>X, -amount, 50",
            [Request("GET", f"{order_url}?{amount_filter(x)}") for x in amounts],
            [Request("GET", f"/orders?amount_gt={x}&limit=50") for x in amounts],
        ),
        Scenario(
            "wide",
            f"wide: 100 rows x 50 fields of {len(wide_ids):,}",
            [Request("GET", f"{wide_url}?{id_filter(b)}") for b in before],
            [Request("GET", f"/wide?before_id={b}&limit=100") for b in before],
        ),
    ]


# ----------------------------------------------------------------- setup


async def log_in_admin(server: Server, url: str) -> dict[str, str]:
    """A platform admin, created in the database; the headers of their logged-in session.

    Both APIs authenticate every request with this session cookie (and CSRF token).
    """
    db = Database(url)
    try:
        async with db.session(write=True) as session:
            await org.create_user(session, RequestContext.for_now(), {**ADMIN, "is_admin": True})
    finally:
        await db.dispose()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        response = await client.post("/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]})
        if response.status_code != 200:
            raise RuntimeError(f"login failed: {response.text}")
        return {
            "Cookie": f"opsloom_session={response.cookies['opsloom_session']}",
            "X-CSRF-Token": response.json()["csrf_token"],
        }


async def publish_forms(
    server: Server,
    auth: dict[str, str],
    documents: tuple[dict[str, Any], ...] = (ORDER_FORM, WIDE_FORM, NUMBERED_FORM, UNNUMBERED_FORM),
) -> None:
    """The app `APP` and each form of `documents`, saved and published through the design API."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, headers=auth) as client:
        response = await client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Bench"})
        response.raise_for_status()
        for document in documents:
            url = f"/api/design/apps/{APP}/forms/{document['key']}"
            (await client.put(url, json=document)).raise_for_status()
            response = await client.post(f"{url}/publish")
            if response.status_code != 200:
                raise RuntimeError(f"publishing {document['key']} failed: {response.text}")


async def seed_orders(server: Server, auth: dict[str, str], count: int) -> range:
    """Orders through the generated bulk endpoint, 1000 per request (history included)."""
    rng = random.Random(1)
    first = None
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, headers=auth) as client:
        for start in range(0, count, 1000):
            batch = [order_payload(rng) for _ in range(min(1000, count - start))]
            response = await client.post(RECORDS.format(form="order") + "/bulk", json={"records": batch})
            if response.status_code != 201:
                raise RuntimeError(f"bulk create failed: {response.text[:500]}")
            items = response.json()["items"]
            first = items[0]["id"] if first is None else first
    assert first is not None
    return range(first, first + count)


async def load_rows(url: str, table: Table, count: int, make_row: RowMaker, seed: int) -> None:
    """`count` rows straight into `table` with SQLAlchemy Core, in chunks: fast, no history; then ANALYZE."""
    db = Database(url)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    try:
        for start in range(0, count, 2000):
            chunk = [make_row(rng, now) for _ in range(min(2000, count - start))]
            async with db.session(write=True) as session:
                await session.execute(insert(table), chunk)
    finally:
        await db.dispose()
    await analyze(url, table)


async def analyze(url: str, *tables: Table) -> None:
    """Fresh planner statistics for `tables`; on PostgreSQL a VACUUM too, as autovacuum soon runs after a
    bulk load (it marks the pages all-visible, so that a count can read an index alone)."""
    db = Database(url)
    try:
        if db.engine.dialect.name == "postgresql":
            async with db.engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                for table in tables:
                    await connection.execute(text(f'VACUUM ANALYZE "{table.name}"'))
        else:
            async with db.session(write=True) as session:
                for table in tables:
                    await session.execute(text(f'ANALYZE "{table.name}"'))
    finally:
        await db.dispose()


async def load_wide(url: str, count: int) -> range:
    """Rows straight into the wide table (and fresh statistics of the orders)."""
    await load_rows(url, wide, count, wide_row, seed=2)
    await analyze(url, orders)
    return range(1, count + 1)


async def compare_answers(generated: Server, handwritten: Server, auth: dict[str, str], order_id: int) -> list[str]:
    """Both APIs should answer the same; report (never assert) where they do not."""
    notes = []
    async with httpx.AsyncClient(timeout=60, headers=auth) as client:
        pairs = [
            (f"{RECORDS.format(form='order')}/{order_id}", f"/orders/{order_id}", None),
            (
                RECORDS.format(form="wide") + "?limit=100&count=none",
                "/wide?limit=100",
                "items",
            ),
        ]
        for generated_path, handwritten_path, key in pairs:
            a = (await client.get(generated.base_url + generated_path)).json()
            b = (await client.get(handwritten.base_url + handwritten_path)).json()
            if key:
                if key not in a or key not in b:
                    notes.append(f"no {key!r} in an answer: {str(a)[:300]} / {str(b)[:300]}")
                    continue
                a, b = a[key], b[key]
            if a != b:
                notes.append(f"answers differ: {generated_path} vs {handwritten_path}")
    return notes


# ------------------------------------------------------------------- run


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    generated: Figures
    handwritten: Figures


async def run_database(kind: str, args: argparse.Namespace) -> tuple[list[Result], list[str], Numbered | None]:
    compared = [name for name in args.scenarios if name != "numbered"]
    with tempfile.TemporaryDirectory(prefix=f"opsloom-bench-{kind}-") as tmp:
        workdir = Path(tmp)
        async with fresh_database(kind, workdir) as url:
            generated_env = {
                "OPSLOOM_DATABASE_URL": url,
                "OPSLOOM_DATA_DIR": str(workdir / "data"),
                "OPSLOOM_SECRET_KEY": "bench",
                "OPSLOOM_FREEZE_GC": "true",  # as `opsloom serve` sets it (the hand-written app does the same)
            }
            with uvicorn_server("generated", "opsloom.app:create_app", generated_env, workdir) as gen:
                auth = await log_in_admin(gen, url)
                await publish_forms(gen, auth)
                results: list[Result] = []
                notes: list[str] = []
                if compared:
                    results, notes = await run_compared(kind, args, url, gen, auth, compared, workdir)
                numbered = None
                if "numbered" in args.scenarios:
                    numbered, note = await run_numbered(gen, auth, args, url)
                    notes.append(note)
                    print(f"  {kind}: numbered done", flush=True)
            return results, notes, numbered


async def run_compared(
    kind: str,
    args: argparse.Namespace,
    url: str,
    gen: Server,
    auth: dict[str, str],
    names: list[str],
    workdir: Path,
) -> tuple[list[Result], list[str]]:
    started = time.perf_counter()
    order_ids = await seed_orders(gen, auth, min(args.rows, 10_000))
    if args.orders:  # more orders, straight into the table (ids follow on from the seeded ones)
        await load_rows(url, orders, args.orders, order_row, seed=3)
        order_ids = range(order_ids.start, order_ids.stop + args.orders)
    wide_ids = await load_wide(url, args.rows)
    print(
        f"  {kind}: loaded {len(order_ids):,} orders and {len(wide_ids):,} wide rows "
        f"in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    hand_env = {"BENCH_DATABASE_URL": url}
    with uvicorn_server("handwritten", "handwritten_app:create_app", hand_env, workdir) as hand:
        notes = await compare_answers(gen, hand, auth, order_ids[0])
        results = []
        for scenario in scenarios(args, order_ids, wide_ids):
            if scenario.name in names:
                results.append(await run_scenario(scenario, gen, hand, auth, args))
                print(f"  {kind}: {scenario.name} done", flush=True)
    return results, notes


@dataclass(frozen=True)
class Numbered:
    numbered: Figures
    unnumbered: Figures
    lock_waiters: float | None  # PostgreSQL: connections waiting for a lock, on average, while numbering


async def run_numbered(gen: Server, auth: dict[str, str], args: argparse.Namespace, url: str) -> tuple[Numbered, str]:
    """Creates on the autonumbered form and on its twin without the number, from many creators
    at once, in alternating rounds; the best round of each."""
    rng = random.Random(11)
    bodies = [json.dumps(numbered_payload(rng)).encode() for _ in range(args.requests)]
    forms = ("numbered", "unnumbered")
    requests = {name: [Request("POST", RECORDS.format(form=name), body) for body in bodies] for name in forms}
    for name in forms:
        await drive(gen, requests[name][: max(10, len(bodies) // 10)], args.numbered_clients, auth)
    best: dict[str, Figures] = {}
    waiters: list[float] = []
    for round_ in range(args.rounds):
        for name in forms if round_ % 2 == 0 else forms[::-1]:
            async with lock_waits(url, name == "numbered") as samples:
                figures = await drive(gen, requests[name], args.numbered_clients, auth)
            waiters += samples
            if name not in best or figures.rate > best[name].rate:
                best[name] = figures
    mean_waiters = statistics.mean(waiters) if waiters else None
    note = await numbering_note(gen, auth, RECORDS.format(form="numbered"))
    return Numbered(best["numbered"], best["unnumbered"], mean_waiters), note


@asynccontextmanager
async def lock_waits(url: str, wanted: bool) -> AsyncIterator[list[float]]:
    """On PostgreSQL, sample every 20 ms how many connections wait for a lock."""
    samples: list[float] = []
    if not wanted or not url.startswith("postgresql"):
        yield samples
        return
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"

    async def sample() -> None:
        while True:
            samples.append(await connection.fetchval(query))
            await asyncio.sleep(0.02)

    task = asyncio.create_task(sample())
    try:
        yield samples
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        await connection.close()


async def numbering_note(gen: Server, auth: dict[str, str], url: str) -> str:
    """Whether the numbers handed out are 1..N with no gap (reported, never asserted)."""
    async with httpx.AsyncClient(base_url=gen.base_url, timeout=60, headers=auth) as client:
        page = (await client.get(url, params={"sort": "-number", "limit": "1", "count": "exact"})).json()
    total, highest = page["total"], int(page["items"][0]["number"].removeprefix("PO-"))
    state = "gap-free" if total == highest else "NOT gap-free"
    return f"numbered: {total} records, highest number {highest}: {state}"


async def run_scenario(
    scenario: Scenario, gen: Server, hand: Server, auth: dict[str, str], args: argparse.Namespace
) -> Result:
    """Warm both up, then measure: generated, hand-written, in `--rounds` alternating rounds."""
    warm = max(10, len(scenario.generated) // 10)
    await drive(gen, scenario.generated[:warm], args.clients, auth)
    await drive(hand, scenario.handwritten[:warm], args.clients, auth)
    best: dict[str, Figures] = {}
    for round_ in range(args.rounds):
        order = [("generated", gen), ("handwritten", hand)]
        for name, server in order if round_ % 2 == 0 else order[::-1]:
            requests = getattr(scenario, name)
            figures = await drive(server, requests, args.clients, auth)
            if name not in best or figures.rate > best[name].rate:
                best[name] = figures
    return Result(scenario, best["generated"], best["handwritten"])


# ----------------------------------------------------------------- print


TITLES = {"sqlite": "SQLite (temp file)", "postgresql": "PostgreSQL"}


def print_table(kind: str, results: list[Result], notes: list[str], args: argparse.Namespace) -> None:
    if not results:
        return
    print()
    print(
        f"{TITLES[kind]} - {os.cpu_count()} cores, {args.clients} clients, "
        f"best of {args.rounds} round(s); generated / hand-written"
    )
    head = (
        f"{'scenario':<38}{'n':>6}  {'req/s':>15}  {'p50 ms':>13}  {'p99 ms':>13}"
        f"  {'server CPU us/req':>19}  {'ratio':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        g, h = r.generated, r.handwritten
        errors = f"  ({g.errors}/{h.errors} errors)" if g.errors or h.errors else ""
        print(
            f"{r.scenario.label:<38}{g.requests:>6}  {g.rate:>7.0f} /{h.rate:>6.0f}"
            f"  {g.p50_ms:>6.2f}/{h.p50_ms:>6.2f}  {g.p99_ms:>6.2f}/{h.p99_ms:>6.2f}"
            f"  {g.cpu_us:>9.0f}/{h.cpu_us:>9.0f}  {g.rate / h.rate:>6.2f}{errors}"
        )
    print("ratio = generated req/s / hand-written req/s (1.00 = as fast; target >= 0.95)")


def print_numbered(kind: str, figures: Numbered, args: argparse.Namespace) -> None:
    print()
    print(
        f"{TITLES[kind]} - {os.cpu_count()} cores, creates with 3 line items each, "
        f"{args.numbered_clients} concurrent creators, best of {args.rounds} round(s)"
    )
    for label, f in (("autonumbered", figures.numbered), ("no autonumber", figures.unnumbered)):
        errors = f"  ({f.errors} errors)" if f.errors else ""
        print(
            f"  {label:<14}{f.requests:>5} creates: {f.rate:>5.0f} creates/s, p50 {f.p50_ms:>7.1f} ms, "
            f"p99 {f.p99_ms:>7.1f} ms, server CPU {f.cpu_us:>6.0f} us/create{errors}"
        )
    print(f"  ratio autonumbered / no autonumber: {figures.numbered.rate / figures.unnumbered.rate:.2f} creates/s")
    if figures.lock_waiters is not None:
        print(f"  connections waiting for a lock while numbering: {figures.lock_waiters:.1f} on average")


SCENARIOS = ("create", "logged", "get", "list", "wide", "numbered")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=1000, help="per scenario (wide: a quarter)")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the wide form")
    parser.add_argument(
        "--orders",
        type=int,
        default=0,
        help="orders added by a Core bulk insert (no history) to the 10,000 made through the API, "
        "so get and list run on a larger table, e.g. 1000000 (default: none)",
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds; the best is shown")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, from {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--numbered-clients", type=int, default=25, help="concurrent creators of `numbered`")
    args = parser.parse_args(argv)
    args.scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown or not args.scenarios:
        parser.error(f"unknown scenarios {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if args.rows < 1000 or args.requests < 10 or args.orders < 0:
        parser.error("use --rows >= 1000, --requests >= 10 and --orders >= 0")
    return args


async def main(args: argparse.Namespace) -> None:
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    tables = {}
    for kind in kinds:
        tables[kind] = await run_database(kind, args)
    for kind, (results, notes, numbered) in tables.items():
        print_table(kind, results, notes, args)
        if numbered is not None:
            print_numbered(kind, numbered, args)
        for note in notes:
            print(f"note: {note}")


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
