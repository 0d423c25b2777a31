"""Benchmark: does the server hold up under many concurrent clients?

For each database this makes a fresh database, fills it with the demo
(`opsloom demo --no-serve`) and starts `opsloom serve` (one uvicorn worker) on
a free loopback port. Then:

1. load: --tokens fresh API tokens (never used, so each one's first request
   also notes "last used"), and --clients concurrent clients, each with its
   own token, sending --requests-per-client requests: a mix of list pages,
   single records and new purchase requests (--writes of them);
2. login burst: --logins people log in at once (each from its own loopback
   address, as people do from their own machines), with the right password,
   while /api/health is asked every 20 ms.

It prints, per database: requests, 5xx answers (and of them 503, the answer
of a server too busy to find a free database connection in time), p50/p99
latency, and for the burst the logins that succeeded, were throttled (429) or
failed, and the slowest /api/health answer while the passwords were hashed.

Every request goes to 127.0.0.1 (the burst from 127.0.0.x); the run is bounded
by the counts above and by --seconds per phase. Figures only: nothing here
passes or fails. `python bench/load.py --help`; `make bench-load` runs it with
the defaults (SQLite and PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path
from pages import ADMIN, DEPARTMENTS, RECORDS, log_in, opsloom_server, purchase_request, seed_demo  # noqa: E402
from records_api import Server  # noqa: E402

LOGIN_PASSWORD = "burst-password"
HEALTH_EVERY = 0.02


# ------------------------------------------------------------------ set-up


async def create_tokens(server: Server, admin: dict[str, str], count: int) -> list[str]:
    """`count` API tokens that may write, none of them used yet."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, headers=admin) as client:
        tokens = []
        for n in range(count):
            response = await client.post("/api/auth/tokens", json={"name": f"load {n}", "write": True})
            if response.status_code != 201:
                raise RuntimeError(f"token creation failed: {response.text[:500]}")
            tokens.append(response.json()["token"])
        return tokens


async def create_people(server: Server, admin: dict[str, str], count: int) -> list[str]:
    """`count` people who can log in with LOGIN_PASSWORD; answers their e-mails."""
    emails = [f"burst{n}@example.com" for n in range(count)]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, headers=admin) as client:
        for email in emails:
            body = {"email": email, "name": email.split("@")[0], "password": LOGIN_PASSWORD, "locale": "en"}
            response = await client.post("/api/users", json=body)
            if response.status_code != 201:
                raise RuntimeError(f"user creation failed: {response.text[:500]}")
    return emails


async def record_ids(server: Server, admin: dict[str, str]) -> list[int]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, headers=admin) as client:
        response = await client.get(RECORDS, params={"limit": "100"})
        response.raise_for_status()
        return [item["id"] for item in response.json()["items"]]


# -------------------------------------------------------------------- load


@dataclass
class Tally:
    """Answers by status, and each request's latency in seconds."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    unanswered: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of the server process

    def add(self, status: int | Exception, latency: float) -> None:
        """An answer's status, or the error of a request that got none (counted as 599, with the 5xx)."""
        if isinstance(status, Exception):
            self.unanswered[type(status).__name__] += 1
            status = 599
        self.statuses[status] += 1
        self.latencies.append(latency)

    def merge(self, other: Tally) -> None:
        self.statuses.update(other.statuses)
        self.unanswered.update(other.unanswered)
        self.latencies += other.latencies

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def percentile_ms(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


async def client_session(
    client: httpx.AsyncClient, token: str, ids: list[int], args: argparse.Namespace, seed: int, deadline: float
) -> Tally:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    tally = Tally()
    for n in range(args.requests_per_client):
        if time.monotonic() > deadline:
            break
        roll = rng.random()
        started = time.perf_counter()
        try:
            if roll < args.writes:
                body = purchase_request(rng, seed * 1000 + n, rng.choice(DEPARTMENTS))
                response = await client.post(RECORDS, json=body, headers=headers)
            elif roll < args.writes + (1 - args.writes) / 3:
                response = await client.get(f"{RECORDS}/{rng.choice(ids)}", headers=headers)
            else:
                params = {"limit": "20", "sort": "-amount" if rng.random() < 0.5 else "-id"}
                response = await client.get(RECORDS, params=params, headers=headers)
            status: int | Exception = response.status_code
        except httpx.HTTPError as error:
            status = error
        tally.add(status, time.perf_counter() - started)
    return tally


async def load(server: Server, tokens: list[str], ids: list[int], args: argparse.Namespace) -> Tally:
    # uvicorn closes a connection idle for 5 s, httpx's default expiry: a request sent on one just then
    # gets no answer. Expiring sooner keeps that race out of the figures.
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients, keepalive_expiry=2)
    deadline = time.monotonic() + args.seconds
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=60) as client:
        cpu = server.cpu_seconds()
        started = time.perf_counter()
        tallies = await asyncio.gather(
            *(client_session(client, tokens[n % len(tokens)], ids, args, n, deadline) for n in range(args.clients))
        )
        seconds = time.perf_counter() - started
        cpu = server.cpu_seconds() - cpu
    total = Tally(seconds=seconds, cpu_seconds=cpu)
    for tally in tallies:
        total.merge(tally)
    return total


# ------------------------------------------------------------- login burst


@dataclass
class Burst:
    logins: Tally
    health: Tally


async def one_login(server: Server, email: str, address: str) -> tuple[int | Exception, float]:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=server.base_url, transport=transport, timeout=60) as client:
        started = time.perf_counter()
        try:
            response = await client.post("/api/auth/login", json={"email": email, "password": LOGIN_PASSWORD})
            status: int | Exception = response.status_code
        except httpx.HTTPError as error:
            status = error
        return status, time.perf_counter() - started


async def login_burst(server: Server, emails: list[str], args: argparse.Namespace) -> Burst:
    logins, health = Tally(), Tally()
    done = asyncio.Event()

    async def watch_health() -> None:
        deadline = time.monotonic() + args.seconds
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            while not done.is_set() and time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    status: int | Exception = (await client.get("/api/health")).status_code
                except httpx.HTTPError as error:
                    status = error
                health.add(status, time.perf_counter() - started)
                await asyncio.sleep(HEALTH_EVERY)

    watcher = asyncio.create_task(watch_health())
    await asyncio.sleep(0.2)  # a few answers before the burst
    started = time.perf_counter()
    addresses = [f"127.0.{1 + n // 250}.{2 + n % 250}" for n in range(len(emails))]
    try:
        answers = await asyncio.wait_for(
            asyncio.gather(*(one_login(server, e, a) for e, a in zip(emails, addresses, strict=True))),
            timeout=args.seconds,
        )
    finally:
        logins.seconds = time.perf_counter() - started
        done.set()
        await watcher
    for status, latency in answers:
        logins.add(status, latency)
    return Burst(logins, health)


# --------------------------------------------------------------------- run


@dataclass(frozen=True)
class Run:
    kind: str
    load: Tally
    burst: Burst
    tracebacks: int  # in the server's log


async def run_database(kind: str, args: argparse.Namespace) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"opsloom-bench-load-{kind}-") as tmp:
        workdir = Path(tmp)
        async with fresh_database(kind, workdir) as url:
            env = {
                "OPSLOOM_DATABASE_URL": url,
                "OPSLOOM_DATA_DIR": str(workdir / "data"),
                "OPSLOOM_SECRET_KEY": "bench",
                "OPSLOOM_RUN_WORKER": "false",
            }
            seed_demo(env, workdir)
            with opsloom_server(env, workdir) as server:
                admin = await log_in(server, ADMIN)
                tokens = await create_tokens(server, admin, args.tokens)
                emails = await create_people(server, admin, args.logins)
                ids = await record_ids(server, admin)
                print(f"  {kind}: {len(tokens)} tokens, {len(emails)} people; load...", flush=True)
                tally = await load(server, tokens, ids, args)
                print(f"  {kind}: login burst...", flush=True)
                burst = await login_burst(server, emails, args)
                tracebacks = server.log.read_text(errors="replace").count("Traceback")
    return Run(kind, tally, burst, tracebacks)


def report(run: Run, args: argparse.Namespace) -> None:
    title = {"sqlite": "SQLite (temp file)", "postgresql": "PostgreSQL"}[run.kind]
    t, b = run.load, run.burst
    others = {status: n for status, n in sorted(t.statuses.items()) if status not in (200, 201)}
    print()
    print(f"{title} - one uvicorn worker, {args.clients} clients with {args.tokens} fresh tokens")
    print(
        f"  load:  {t.requests} requests in {t.seconds:.1f}s ({t.requests / t.seconds:.0f}/s, "
        f"server CPU {t.cpu_seconds / t.requests * 1000:.1f} ms each); "
        f"5xx {t.server_errors} (503: {t.statuses[503]}); p50 {t.percentile_ms(0.5):.0f} ms, "
        f"p99 {t.percentile_ms(0.99):.0f} ms; answers other than 200/201: {others or 'none'}"
    )
    if t.unanswered:
        print(f"         no answer (599): {dict(t.unanswered)}")
    health_max = max(b.health.latencies, default=float("nan")) * 1000
    print(
        f"  burst: {b.logins.requests} logins in {b.logins.seconds:.1f}s: {b.logins.statuses[200]} ok, "
        f"{b.logins.statuses[429]} throttled, 5xx {b.logins.server_errors} (503: {b.logins.statuses[503]}); "
        f"login p50 {b.logins.percentile_ms(0.5):.0f} ms, p99 {b.logins.percentile_ms(0.99):.0f} ms"
    )
    print(
        f"         /api/health meanwhile: {b.health.requests} answers, max {health_max:.0f} ms, "
        f"p50 {b.health.percentile_ms(0.5):.1f} ms, non-200: {b.health.requests - b.health.statuses[200]}"
    )
    print(f"  server log: {run.tracebacks} tracebacks")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients")
    parser.add_argument("--tokens", type=int, default=200, help="fresh API tokens, shared out among the clients")
    parser.add_argument("--requests-per-client", type=int, default=10)
    parser.add_argument("--writes", type=float, default=0.2, help="share of requests that create a record")
    parser.add_argument("--logins", type=int, default=40, help="people logging in at once")
    parser.add_argument("--seconds", type=float, default=180, help="the most one phase may take")
    args = parser.parse_args(argv)
    kinds = args.databases.split(",")
    if not set(kinds) <= {"sqlite", "postgresql"}:
        parser.error("--databases takes sqlite, postgresql or both, comma-separated")
    if not (1 <= args.clients <= 1000 and 1 <= args.tokens <= 1000 and 1 <= args.requests_per_client <= 1000):
        parser.error("--clients, --tokens and --requests-per-client take 1 to 1000")
    if not (0 <= args.writes <= 1 and 1 <= args.logins <= 1000 and 0 < args.seconds <= 600):
        parser.error("use 0 <= --writes <= 1, 1 <= --logins <= 1000 and 0 < --seconds <= 600")
    args.kinds = kinds
    return args


async def main(args: argparse.Namespace) -> None:
    runs = [await run_database(kind, args) for kind in args.kinds]
    for run in runs:
        report(run, args)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
