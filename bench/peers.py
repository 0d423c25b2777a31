"""Benchmark: Opsloom's generated REST API next to Directus 11's, on the same data.

Directus (https://directus.io) is a Node platform that also generates a REST
API from tables it manages. This installs it from the npm registry into a
folder of its own (`--directus-dir`, kept between runs so the second run does
not download it again; never the project's package.json), and for each
database (`--databases`):

1. makes two fresh databases (SQLite files, or PostgreSQL databases), one for
   each side;
2. starts Opsloom twice (uvicorn `opsloom.app:create_app`, as `opsloom serve`
   runs it, without the access log: one worker, and one worker per core) and
   Directus once (`directus bootstrap`, then `directus start`: one Node
   process), each on a free loopback port, each with its own cache off;
3. defines the same 8-field purchase request on both (Opsloom: a form published
   through the design API, `department` and `amount` marked `index`, then a
   view saved that picks one department and sorts by -amount, as the list
   cases ask, and the form published again, which adds the index of
   department and amount together that the view needs; Directus: a collection
   and its fields through `POST /collections`), and loads the same --rows rows
   into both tables with SQLAlchemy Core bulk inserts (no history, no
   revisions), then VACUUM ANALYZE (ANALYZE on SQLite); on the Directus table
   it creates the indexes that Opsloom made for the form's own fields (same
   columns, same order), and prints the indexes of each;
4. checks that both answer the same record and the same count for one filter
   (a warning if not);
5. drives each case with the same requests, in each API's own dialect, from
   --clients concurrent clients (16 and 64), in --rounds rounds that alternate
   the order of the three servers, and prints the medians:

  get        GET one record by id
  list       department = X and amount > Y, sorted by -amount, 20 rows, no total
  total      the same with its total (Opsloom: `count=auto`, exact up to
             10,000 rows then estimated; Directus: `meta=filter_count`, exact)
  deep       100 rows from page ~200, sorted by -id (Opsloom: the page's
             keyset cursor, as a client paging there holds it; Directus:
             `offset`)
  count      how many rows match the filter (Opsloom: `limit=0&count=exact`, no rows;
             Directus: `aggregate[count]=*`)
  create     POST one record (Opsloom also writes its history row; Directus its
             activity and revision rows)

Both authenticate with a bearer token of an administrator (Opsloom: an API
token; Directus: the admin's static token). The load client is this one Python
process (aiohttp) on the same 2-core machine as the servers, so the fastest
figures are partly the client's; its own CPU per request is printed.

Figures only: nothing here passes or fails. `python bench/peers.py --help`;
`make bench-peers` runs it with the defaults (SQLite and PostgreSQL, 100,000
rows: about 15 minutes, plus ~470 MB for Directus the first time).
`--rows 1000000` works too (loading takes a few minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path
from records_api import (  # noqa: E402
    APP,
    RECORDS,
    Figures,
    Request,
    Server,
    _field,
    _free_port,
    analyze,
    drive,
    load_rows,
    log_in_admin,
    publish_forms,
    served,
)

from opsloom.cli import cores  # noqa: E402
from opsloom.platform.database import Database, PoolLimits  # noqa: E402
from opsloom.runtime.forms import compile_form, initial_storage  # noqa: E402

DIRECTUS_VERSION = "11.3.5"  # the last 11.x whose `engines` admit Node 20 (11.4 and later need Node 22)
DEFAULT_DIRECTUS_DIR = Path(tempfile.gettempdir()) / "opsloom-bench-directus"
DIRECTUS_ADMIN = {"email": "bench@example.com", "password": "bench-password-1234"}
DIRECTUS_TOKEN = "bench-static-token-0123456789"  # the admin's static token: it never expires
COLLECTION = "purchase"

DEPARTMENTS = (
    "sales", "engineering", "finance", "operations", "marketing",
    "legal", "people", "it", "facilities", "procurement",
)  # fmt: skip
STATES = ("open", "approved", "rejected", "ordered")  # `status` is a system field of every Opsloom record

# ---------------------------------------------------------------- schema


def _choices(values: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"value": v, "label": v.title()} for v in values]


FORM: dict[str, Any] = {
    "key": COLLECTION,
    "label": "Purchase request",
    "title_field": "title",
    "fields": [
        _field("title", "text", required=True, max_length=200),
        _field("department", "select", options=_choices(DEPARTMENTS), index=True),
        _field("amount", "decimal", precision=12, scale=2, min=0, index=True),
        _field("requested_on", "date"),
        _field("state", "select", options=_choices(STATES)),
        _field("qty", "integer"),
        _field("urgent", "boolean"),
        _field("notes", "textarea"),
    ],
}

# The form's table as Opsloom compiles it (same names and column types), for the bulk insert.
OPSLOOM_TABLE = compile_form(APP, FORM, form_id=0, version=1, storage=initial_storage(APP, FORM)).table


def _directus_field(name: str, type_: str, **schema: Any) -> dict[str, Any]:
    return {"field": name, "type": type_, "schema": schema, "meta": {}}


COLLECTION_DOCUMENT: dict[str, Any] = {
    "collection": COLLECTION,
    "meta": {"icon": "shopping_cart"},
    "schema": {},
    "fields": [
        {
            "field": "id",
            "type": "integer",
            "meta": {"hidden": True, "readonly": True, "interface": "input"},
            "schema": {"is_primary_key": True, "has_auto_increment": True},
        },
        _directus_field("title", "string", max_length=200),
        _directus_field("department", "string", max_length=64),
        _directus_field("amount", "decimal", numeric_precision=12, numeric_scale=2),
        _directus_field("requested_on", "date"),
        _directus_field("state", "string", max_length=64),
        _directus_field("qty", "integer"),
        _directus_field("urgent", "boolean"),
        _directus_field("notes", "text"),
    ],
}

# The table Directus makes for the collection, as it makes it, for the bulk insert.
DIRECTUS_TABLE = Table(
    COLLECTION,
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(200)),
    Column("department", String(64)),
    Column("amount", Numeric(12, 2)),
    Column("requested_on", Date),
    Column("state", String(64)),
    Column("qty", Integer),
    Column("urgent", Boolean),
    Column("notes", Text),
)

# ------------------------------------------------------------------ data

EPOCH = date(2025, 1, 1)


def purchase(rng: random.Random) -> dict[str, Any]:
    """One purchase request's values (Python types); the same sequence for both sides."""
    n = rng.randrange(1_000_000)
    return {
        "title": f"Purchase request {n}",
        "department": rng.choice(DEPARTMENTS),
        "amount": Decimal(rng.randrange(0, 10_000_000)).scaleb(-2),
        "requested_on": EPOCH + timedelta(days=rng.randrange(730)),
        "state": rng.choice(STATES),
        "qty": rng.randrange(1, 100),
        "urgent": rng.random() < 0.2,
        "notes": "Deliver to the loading bay before noon." if rng.random() < 0.3 else None,
    }


def as_json(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: str(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, date) else v for k, v in values.items()
    }


def opsloom_row(rng: random.Random, now: datetime) -> dict[str, Any]:
    return {"version": 1, "status": "draft", "created_at": now, "updated_at": now, **purchase(rng)}


def directus_row(rng: random.Random, now: datetime) -> dict[str, Any]:
    return purchase(rng)


# --------------------------------------------------------------- servers


class ProcessTree(Server):
    """A server whose CPU time is that of its process and all its descendants (uvicorn's workers)."""

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(pid) for pid in _descendants(self.process.pid))


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(root: int) -> list[int]:
    """`root` and every live process below it (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


def _tree(server: Server) -> ProcessTree:
    return ProcessTree(server.name, server.process, server.base_url, server.log)


# -------------------------------------------------------------- Directus


def install_directus(directory: Path, version: str) -> Path:
    """`npm install directus@VERSION` into `directory` unless it is there already; the path of its CLI."""
    cli = directory / "node_modules" / "directus" / "cli.js"
    package = directory / "node_modules" / "directus" / "package.json"
    if package.exists() and json.loads(package.read_text())["version"] == version:
        return cli
    directory.mkdir(parents=True, exist_ok=True)
    print(f"installing directus@{version} into {directory} (npm; a few minutes the first time)...", flush=True)
    env = dict(os.environ)
    if Path("/usr/include/node/node_version.h").exists():
        # Native modules without a prebuilt binary compile against the installed headers
        # instead of downloading them.
        env.setdefault("npm_config_nodedir", "/usr")
    command = ["npm", "install", "--prefix", str(directory), f"directus@{version}", "--no-audit", "--no-fund"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not cli.exists():
        raise RuntimeError(f"npm install failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return cli


def directus_env(url: str, workdir: Path, port: int) -> dict[str, str]:
    env = {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "KEY": "bench-key",
        "SECRET": "bench-secret-0123456789abcdef",
        "ADMIN_EMAIL": DIRECTUS_ADMIN["email"],
        "ADMIN_PASSWORD": DIRECTUS_ADMIN["password"],
        "CACHE_ENABLED": "false",
        "RATE_LIMITER_ENABLED": "false",
        "LOG_LEVEL": "warn",
        "TELEMETRY": "false",
        "NODE_ENV": "production",
        "EXTENSIONS_PATH": str(workdir / "extensions"),
        "STORAGE_LOCAL_ROOT": str(workdir / "uploads"),
    }
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {**env, "DB_CLIENT": "sqlite3", "DB_FILENAME": str(parsed.database)}
    return {
        **env,
        "DB_CLIENT": "pg",
        "DB_HOST": parsed.host or "127.0.0.1",
        "DB_PORT": str(parsed.port or 5432),
        "DB_DATABASE": str(parsed.database),
        "DB_USER": parsed.username or "postgres",
        "DB_PASSWORD": parsed.password or "",
    }


@contextmanager
def directus_server(cli: Path, url: str, workdir: Path) -> Iterator[Server]:
    """`directus bootstrap` (its tables and the admin), then `directus start`: one Node process."""
    port = _free_port()
    env = directus_env(url, workdir, port)
    (workdir / "extensions").mkdir(exist_ok=True)
    done = subprocess.run(
        ["node", str(cli), "bootstrap"], cwd=workdir, env={**os.environ, **env}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"directus bootstrap failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    with served("directus", ["node", str(cli), "start"], port, env, workdir) as server:
        yield _tree(server)


async def directus_auth(server: Server) -> dict[str, str]:
    """Log the admin in, give them a static token (it never expires), answer its header."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        response = await client.post("/auth/login", json=DIRECTUS_ADMIN)
        if response.status_code != 200:
            raise RuntimeError(f"directus login failed: {response.text[:500]}")
        access = response.json()["data"]["access_token"]
        response = await client.patch(
            "/users/me", json={"token": DIRECTUS_TOKEN}, headers={"Authorization": f"Bearer {access}"}
        )
        if response.status_code != 200:
            raise RuntimeError(f"directus static token failed: {response.text[:500]}")
    return {"Authorization": f"Bearer {DIRECTUS_TOKEN}"}


async def create_collection(server: Server, auth: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, headers=auth) as client:
        response = await client.post("/collections", json=COLLECTION_DOCUMENT)
        if response.status_code != 200:
            raise RuntimeError(f"directus collection failed: {response.text[:1000]}")


# --------------------------------------------------------------- Opsloom


@contextmanager
def opsloom_server(name: str, workers: int, env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """uvicorn `opsloom.app:create_app` as `opsloom serve --workers N` runs it (`env` sets what serve sets,
    OPSLOOM_FREEZE_GC), but without the access log (Directus logs no request at LOG_LEVEL=warn either)."""
    port = _free_port()
    command = [
        sys.executable, "-m", "uvicorn", "opsloom.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--proxy-headers", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with served(name, command, port, env, workdir) as server:
        yield _tree(server)


async def api_token(server: Server, session: dict[str, str]) -> dict[str, str]:
    """An API token of the admin that may write: the counterpart of Directus's static token."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, headers=session) as client:
        response = await client.post("/api/auth/tokens", json={"name": "peers", "write": True})
        if response.status_code != 201:
            raise RuntimeError(f"token creation failed: {response.text[:500]}")
        return {"Authorization": f"Bearer {response.json()['token']}"}


async def until_ready(server: Server, path: str, auth: dict[str, str] | None = None, seconds: float = 120) -> None:
    """Wait until `path` answers 200 (a server with several workers may listen before they all serve)."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, headers=auth or {}) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(path)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer {path} within {seconds}s")


# ------------------------------------------------------------------ load


async def read_indexes(url: str, table: str) -> list[Any]:
    """The table's indexes, as the database has them (SQLAlchemy's inspector)."""
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return await connection.run_sync(lambda c: inspect(c).get_indexes(table))
    finally:
        await db.dispose()


async def table_indexes(url: str, table: str) -> list[str]:
    """The table's indexes as `(columns)`, read from the database."""
    return sorted(f"({', '.join(str(c) for c in ix['column_names'])})" for ix in await read_indexes(url, table))


async def index_directus_like_opsloom(url: str, d_url: str) -> list[str]:
    """On the Directus table, the indexes Opsloom made of the form's own fields (those the form asked for
    and those its saved view earned, with the same columns in the same order), none other."""
    found = await read_indexes(url, OPSLOOM_TABLE.name)
    wanted = sorted(
        {
            columns
            for index in found
            if (columns := tuple(str(c) for c in index["column_names"] if c != "deleted_at"))
            and set(columns) <= FORM_KEYS
            and not index["unique"]
        }
    )
    db = Database(d_url)
    try:
        async with db.engine.begin() as connection:
            for columns in wanted:
                index = Index(f"ix_{COLLECTION}_{'_'.join(columns)}", *(DIRECTUS_TABLE.c[c] for c in columns))
                await connection.run_sync(lambda c, index=index: index.create(c))
    finally:
        await db.dispose()
    return [f"({', '.join(columns)})" for columns in wanted]


# The view a user saves, whose filter and sort the list cases ask again with other values: the publish
# after it adds the index it needs (see opsloom/designer/index_advice.py).
SAVED_VIEW = {
    "name": "A department's largest",
    "filter": {"field": "department", "op": "eq", "value": DEPARTMENTS[0]},
    "sort": "-amount",
}


async def save_view_and_publish(server: Server, auth: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, headers=auth) as client:
        (await client.post(f"/api/apps/{APP}/forms/{COLLECTION}/views", json=SAVED_VIEW)).raise_for_status()
    await publish_forms(server, auth, (FORM,))


FORM_KEYS = frozenset(f["key"] for f in FORM["fields"])


async def journal_mode(url: str) -> str:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return str((await connection.exec_driver_sql("PRAGMA journal_mode")).scalar())
    finally:
        await db.dispose()


# ----------------------------------------------------------------- cases

OPSLOOM_URL = RECORDS.format(form=COLLECTION)
DIRECTUS_URL = f"/items/{COLLECTION}"
PAGE = 100


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    opsloom: list[Request]
    directus: list[Request]
    # What each request asks of the database at the least (Opsloom's table, its statements' shape), for
    # this process to send alone, with no server between: how fast the database answers them here.
    database: list[Any] = field(default_factory=list)


def _query(params: dict[str, str]) -> str:
    return str(httpx.QueryParams(params))


def opsloom_filter(department: str, amount: str) -> str:
    document = {
        "and": [
            {"field": "department", "op": "eq", "value": department},
            {"field": "amount", "op": "gt", "value": amount},
        ]
    }
    return json.dumps(document, separators=(",", ":"))


def directus_filter(department: str, amount: str) -> str:
    document = {"_and": [{"department": {"_eq": department}}, {"amount": {"_gt": amount}}]}
    return json.dumps(document, separators=(",", ":"))


def filters(rng: random.Random, n: int) -> list[tuple[str, str]]:
    return [(rng.choice(DEPARTMENTS), f"{rng.randrange(50_000, 95_000)}.00") for _ in range(n)]


def deep_pages(rows: int) -> range:
    """Pages around 200 (of 100 rows, newest first), within the table."""
    last = min(250, rows // PAGE)
    return range(max(2, last * 3 // 5), last + 1)


def cases(requests: int, rows: int, cursors: dict[int, str]) -> list[Case]:
    """The same request sequence for each case, in each API's own dialect."""
    rng = random.Random(7)
    ids = [rng.randrange(1, rows + 1) for _ in range(requests)]
    wanted = filters(rng, requests)
    pages = [rng.choice(list(cursors)) for _ in range(requests)]
    bodies = [json.dumps(as_json(purchase(rng))).encode() for _ in range(requests)]
    newest = {"sort": "-id", "limit": str(PAGE)}

    def o_list(d: str, a: str, count: str, limit: str = "20") -> str:
        params = {"filter": opsloom_filter(d, a), "sort": "-amount", "limit": limit, "count": count}
        return f"{OPSLOOM_URL}?{_query(params)}"

    def d_list(d: str, a: str, **extra: str) -> str:
        return f"{DIRECTUS_URL}?{_query({'filter': directus_filter(d, a), 'sort': '-amount', 'limit': '20', **extra})}"

    t = OPSLOOM_TABLE
    live = t.c.deleted_at.is_(None)

    def matching(d: str, a: str) -> list[Any]:
        return [live, t.c.department == d, t.c.amount > Decimal(a)]

    def page(d: str, a: str) -> Any:
        return select(t).where(*matching(d, a)).order_by(t.c.amount.desc().nulls_first(), t.c.id.desc()).limit(21)

    def count(d: str, a: str) -> Any:
        return select(func.count()).select_from(t).where(*matching(d, a))

    return [
        Case(
            "get",
            "get by id",
            [Request("GET", f"{OPSLOOM_URL}/{i}") for i in ids],
            [Request("GET", f"{DIRECTUS_URL}/{i}") for i in ids],
            [select(t).where(t.c.id == i, live) for i in ids],
        ),
        Case(
            "list",
            "list: filter, -amount, 20",
            [Request("GET", o_list(d, a, "none")) for d, a in wanted],
            [Request("GET", d_list(d, a)) for d, a in wanted],
            [page(d, a) for d, a in wanted],
        ),
        Case(
            "total",
            "list with total",
            [Request("GET", o_list(d, a, "auto")) for d, a in wanted],
            [Request("GET", d_list(d, a, meta="filter_count")) for d, a in wanted],
            [page(d, a).add_columns(count(d, a).scalar_subquery()) for d, a in wanted],
        ),
        Case(
            "deep",
            f"deep page ({min(cursors)}-{max(cursors)}) x{PAGE}",
            [
                Request("GET", f"{OPSLOOM_URL}?{_query({**newest, 'count': 'none', 'cursor': cursors[p]})}")
                for p in pages
            ],
            [Request("GET", f"{DIRECTUS_URL}?{_query({**newest, 'offset': str((p - 1) * PAGE)})}") for p in pages],
            [
                select(t).where(live, t.c.id <= rows - (p - 1) * PAGE).order_by(t.c.id.desc()).limit(PAGE + 1)
                for p in pages
            ],
        ),
        Case(
            "count",
            "count by filter",
            [Request("GET", o_list(d, a, "exact", limit="0")) for d, a in wanted],
            [
                Request("GET", f"{DIRECTUS_URL}?{_query({'aggregate[count]': '*', 'filter': directus_filter(d, a)})}")
                for d, a in wanted
            ],
            [count(d, a) for d, a in wanted],
        ),
        Case(
            "create",
            "create (POST)",
            [Request("POST", OPSLOOM_URL, b) for b in bodies],
            [Request("POST", DIRECTUS_URL, b) for b in bodies],
        ),
    ]


CASES = ("get", "list", "total", "deep", "count", "create")


async def page_cursors(server: Server, auth: dict[str, str], pages: range) -> dict[int, str]:
    """Opsloom's cursor of each page in `pages` (sorted by -id), found by paging there once."""
    cursors: dict[int, str] = {}
    cursor: str | None = None
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, headers=auth) as client:
        for page in range(1, pages.stop):
            if page in pages and cursor:
                cursors[page] = cursor
            params = {"sort": "-id", "limit": str(PAGE), "count": "none", **({"cursor": cursor} if cursor else {})}
            response = await client.get(OPSLOOM_URL, params=params)
            response.raise_for_status()
            cursor = response.json()["next_cursor"]
            if cursor is None:
                break
    return cursors


async def compare_answers(sides: Sides, rows: int) -> list[str]:
    """One record and one filter's count from both; a warning where they differ (never an assertion)."""
    rng = random.Random(3)
    record_id = rng.randrange(1, rows + 1)
    department, amount = filters(rng, 1)[0]
    notes = []
    async with httpx.AsyncClient(timeout=60) as client:
        o = (await client.get(f"{sides.opsloom.base_url}{OPSLOOM_URL}/{record_id}", headers=sides.opsloom_auth)).json()
        d = (
            await client.get(f"{sides.directus.base_url}{DIRECTUS_URL}/{record_id}", headers=sides.directus_auth)
        ).json()
        d = d.get("data", d)
        for key in FORM_KEYS:
            a, b = o.get(key), d.get(key)
            if key == "amount":
                a, b = Decimal(str(a)), Decimal(str(b))
            elif key == "urgent":
                a, b = bool(a), bool(b)
            if a != b:
                notes.append(f"WARNING: record {record_id}.{key} differs: opsloom {a!r}, directus {b!r}")
        params = {"filter": opsloom_filter(department, amount), "limit": "0", "count": "exact"}
        o_count = (
            await client.get(sides.opsloom.base_url + OPSLOOM_URL, params=params, headers=sides.opsloom_auth)
        ).json()["total"]
        params = {"aggregate[count]": "*", "filter": directus_filter(department, amount)}
        answer = (
            await client.get(sides.directus.base_url + DIRECTUS_URL, params=params, headers=sides.directus_auth)
        ).json()
        d_count = int(answer["data"][0]["count"])
    if o_count != d_count:
        notes.append(
            f"WARNING: count of department={department}, amount>{amount}: opsloom {o_count}, directus {d_count}"
        )
    else:
        notes.append(
            f"same answers: record {record_id}, and {o_count} rows for department={department}, amount>{amount}"
        )
    return notes


# ------------------------------------------------------------------- run


@dataclass(frozen=True)
class Sides:
    opsloom: Server  # one worker
    opsloom_n: Server  # one worker per core
    directus: Server
    opsloom_auth: dict[str, str]
    directus_auth: dict[str, str]
    opsloom_database: str  # its URL, for the statements sent with no server between

    def servers(self) -> dict[str, tuple[Server, dict[str, str]]]:
        return {
            "o1": (self.opsloom, self.opsloom_auth),
            "oN": (self.opsloom_n, self.opsloom_auth),
            "d": (self.directus, self.directus_auth),
        }


@dataclass(frozen=True)
class Row:
    case: Case
    clients: int
    figures: dict[str, list[Figures]]  # by side: one per round
    database: list[float]  # the case's statements sent to Opsloom's database alone: requests/s, one per round

    def rate(self, side: str) -> float:
        return statistics.median(f.rate for f in self.figures[side])

    def database_rate(self) -> float | None:
        return statistics.median(self.database) if self.database else None

    def p50(self, side: str) -> float:
        return statistics.median(f.p50_ms for f in self.figures[side])

    def p99(self, side: str) -> float:
        return statistics.median(f.p99_ms for f in self.figures[side])

    def cpu_ms(self, side: str) -> float:
        return statistics.median(f.cpu_us for f in self.figures[side]) / 1000

    def client_ms(self) -> float:
        """The load client's CPU time per request (this process), over every side and round."""
        return statistics.median(f.client_cpu_us for side in self.figures.values() for f in side) / 1000

    def errors(self, side: str) -> int:
        return sum(f.errors for f in self.figures[side])

    def failures(self, side: str) -> str:
        """What the errors were, e.g. `503 x3, ReadTimeout x1`."""
        total: dict[str, int] = {}
        for figures in self.figures[side]:
            for what, count in figures.failures:
                total[what] = total.get(what, 0) + count
        return ", ".join(f"{what} x{count}" for what, count in sorted(total.items()))


async def measure(case: Case, clients: int, sides: Sides, rounds: int) -> Row:
    """Warm each server up, then `rounds` rounds of Opsloom 1w, Opsloom Nw and Directus, the order alternating."""
    servers = sides.servers()
    requests = {"o1": case.opsloom, "oN": case.opsloom, "d": case.directus}
    warm = max(10, len(case.opsloom) // 10)
    for side, (server, auth) in servers.items():
        await drive(server, requests[side][:warm], clients, auth)
    figures: dict[str, list[Figures]] = {side: [] for side in servers}
    order = list(servers)
    database = []
    for round_ in range(rounds):
        for side in order if round_ % 2 == 0 else order[::-1]:
            server, auth = servers[side]
            figures[side].append(await drive(server, requests[side], clients, auth))
        if case.database:
            database.append(await drive_database(sides.opsloom_database, case.database, clients))
    return Row(case, clients, figures, database)


async def drive_database(url: str, statements: list[Any], concurrency: int) -> float:
    """Send each statement once from `concurrency` connections of this process, with no server
    between: requests/s. No server answers a case faster than its database does here."""
    engine = create_async_engine(url, pool_size=concurrency, max_overflow=0)
    position = 0

    async def client_loop() -> None:
        nonlocal position
        async with engine.connect() as connection:
            while position < len(statements):
                statement = statements[position]
                position += 1
                (await connection.execute(statement)).all()

    try:
        await drive_database_warm(engine, statements[: max(10, len(statements) // 10)])
        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        return len(statements) / (time.perf_counter() - started)
    finally:
        await engine.dispose()


async def drive_database_warm(engine: Any, statements: list[Any]) -> None:
    async with engine.connect() as connection:
        for statement in statements:
            (await connection.execute(statement)).all()


@dataclass(frozen=True)
class Report:
    kind: str
    rows: list[Row]
    notes: list[str]


async def run_database(kind: str, args: argparse.Namespace, cli: Path) -> Report:
    with tempfile.TemporaryDirectory(prefix=f"opsloom-bench-peers-{kind}-") as tmp:
        workdir = Path(tmp)
        for side in ("opsloom", "directus"):
            (workdir / side).mkdir()
        async with (
            fresh_database(kind, workdir / "opsloom") as url,
            fresh_database(kind, workdir / "directus") as d_url,
        ):
            env = {
                "OPSLOOM_DATABASE_URL": url,
                "OPSLOOM_DATA_DIR": str(workdir / "data"),
                "OPSLOOM_SECRET_KEY": "bench",
                "OPSLOOM_RUN_WORKER": "false",
                "OPSLOOM_FREEZE_GC": "true",  # as `opsloom serve` sets it for its web processes
            }
            with opsloom_server("opsloom-1w", 1, env, workdir) as o1:
                session = await log_in_admin(o1, url)
                await publish_forms(o1, session, (FORM,))
                await save_view_and_publish(o1, session)
                o_auth = await api_token(o1, session)
                with opsloom_server(f"opsloom-{args.workers}w", args.workers, env, workdir) as on:
                    await until_ready(on, OPSLOOM_URL + "?limit=1", o_auth)
                    with directus_server(cli, d_url, workdir / "directus") as d:
                        await until_ready(d, "/server/ping")
                        d_auth = await directus_auth(d)
                        await create_collection(d, d_auth)
                        sides = Sides(o1, on, d, o_auth, d_auth, url)
                        notes = await load(kind, args, url, d_url)
                        notes += await compare_answers(sides, args.rows)
                        for note in notes[-1:]:
                            print(f"  {kind}: {note}", flush=True)
                        rows = await run_cases(kind, args, sides)
                        for server in (o1, on, d):
                            tracebacks = server.log.read_text(errors="replace").count("Traceback")
                            if tracebacks:
                                notes.append(f"{server.name}: {tracebacks} tracebacks in its log")
    return Report(kind, rows, notes)


async def load(kind: str, args: argparse.Namespace, url: str, d_url: str) -> list[str]:
    started = time.perf_counter()
    await load_rows(url, OPSLOOM_TABLE, args.rows, opsloom_row, seed=1)
    await load_rows(d_url, DIRECTUS_TABLE, args.rows, directus_row, seed=1)
    indexed = await index_directus_like_opsloom(url, d_url)
    await analyze(d_url, DIRECTUS_TABLE)  # again, with the new indexes
    print(f"  {kind}: loaded {args.rows:,} rows into each in {time.perf_counter() - started:.0f}s", flush=True)
    notes = [
        f"indexes on {OPSLOOM_TABLE.name} (opsloom): {', '.join(await table_indexes(url, OPSLOOM_TABLE.name))}",
        f"indexes on {COLLECTION} (directus): {', '.join(await table_indexes(d_url, COLLECTION))} "
        f"(made here to match opsloom's on {', '.join(indexed)}) and its primary key",
    ]
    if kind == "postgresql":
        size, overflow = PoolLimits().sized()
        notes.append(
            f"connection pools: Opsloom {size} (+{overflow} overflow) per worker, as set by default on this "
            "machine; Directus knex's default, 2 to 10"
        )
    if kind == "sqlite":
        notes.append(
            f"sqlite journal mode: opsloom {await journal_mode(url)}, directus {await journal_mode(d_url)} (the "
            "loader's connection switches Directus's file to WAL, as Opsloom's; Directus alone keeps SQLite's "
            "rollback journal; knex gives Directus one SQLite connection)"
        )
    return notes


async def run_cases(kind: str, args: argparse.Namespace, sides: Sides) -> list[Row]:
    pages = deep_pages(args.rows)
    cursors = await page_cursors(sides.opsloom, sides.opsloom_auth, pages)
    rows = []
    for case in cases(args.requests, args.rows, cursors):
        if case.name not in args.cases:
            continue
        for clients in args.clients:
            started = time.perf_counter()
            rows.append(await measure(case, clients, sides, args.rounds))
            print(f"  {kind}: {case.name} x{clients} done in {time.perf_counter() - started:.0f}s", flush=True)
    return rows


# ----------------------------------------------------------------- print

TITLES = {"sqlite": "SQLite (temp files)", "postgresql": "PostgreSQL"}


def print_report(report: Report, args: argparse.Namespace, version: str) -> None:
    n = args.workers
    print()
    print(
        f"{TITLES[report.kind]} - {args.rows:,} rows, {cores()} cores, {args.requests} requests per case, "
        f"median of {args.rounds} rounds; Opsloom 1 and {n} workers, Directus {version} (one Node process)"
    )
    head = (
        f"{'case':<27}{'clients':>7} | {'o 1w rps':>8} {f'o {n}w rps':>9} {'dir rps':>8} | {'ratio 1w':>8} "
        f"{f'ratio {n}w':>8} | {'o 1w p50/p99':>13} {f'o {n}w p50/p99':>13} {'dir p50/p99':>13} "
        f"| {'CPU ms/req':>14} {'client':>6} | {'db rps':>7} | errors"
    )
    print(head)
    print("-" * len(head))
    for row in report.rows:
        o1, on, d = row.rate("o1"), row.rate("oN"), row.rate("d")
        lat = "".join(f" {row.p50(s):>6.1f}/{row.p99(s):<6.0f}" for s in ("o1", "oN", "d"))
        print(
            f"{row.case.label:<27}{row.clients:>7} | {o1:>8.0f} {on:>9.0f} {d:>8.0f} | {o1 / d:>8.2f} {on / d:>8.2f} |"
            f"{lat} | {row.cpu_ms('o1'):>4.1f}/{row.cpu_ms('oN'):>4.1f}/{row.cpu_ms('d'):>4.1f} {row.client_ms():>6.1f}"
            f" | {_rate(row.database_rate()):>7} | {row.errors('o1')}/{row.errors('oN')}/{row.errors('d')}"
        )
    print(
        f"rps = requests/s; ratio = Opsloom rps / Directus rps (above 1: Opsloom answers more); latency in ms; "
        f"errors = non-2xx or no answer, over all rounds (o 1w / o {n}w / dir)"
    )
    print(
        f"CPU ms/req = the server's CPU time (all its processes) per request, o 1w / o {n}w / dir: what each "
        "costs, whatever the load client (which shares the cores) can send; client = the load client's own "
        "CPU ms per request (aiohttp, in this process)"
    )
    print(
        "db rps = the case's statements (what it asks of the database at the least, in the shape of "
        "Opsloom's) sent by this process to Opsloom's database alone, from as many connections as clients, "
        "no server between: no server answers the case faster here"
    )
    for row in report.rows:
        for side, name in (("o1", "Opsloom 1w"), ("oN", f"Opsloom {n}w"), ("d", "Directus")):
            if row.errors(side):
                print(f"errors: {row.case.label}, {row.clients} clients, {name}: {row.failures(side)}")
    for note in report.notes:
        print(f"note: {note}")


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0f}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--rows", type=int, default=100_000, help="purchase requests in each table")
    parser.add_argument("--requests", type=int, default=500, help="requests per case, client count, side and round")
    parser.add_argument("--clients", default="16,64", help="concurrent clients, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds; the median is shown")
    parser.add_argument("--workers", type=int, default=cores(), help="Opsloom's second server: workers (as serve)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--directus-dir", type=Path, default=DEFAULT_DIRECTUS_DIR, help="where npm installs Directus")
    parser.add_argument("--directus-version", default=DIRECTUS_VERSION, help="an 11.x that runs on this Node")
    args = parser.parse_args(argv)
    args.kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    if not args.kinds or not set(args.kinds) <= {"sqlite", "postgresql"}:
        parser.error("--databases takes sqlite, postgresql or both, comma-separated")
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    if not args.cases or not set(args.cases) <= set(CASES):
        parser.error(f"--cases takes {', '.join(CASES)}, comma-separated")
    try:
        args.clients = [int(c) for c in args.clients.split(",")]
    except ValueError:
        parser.error("--clients takes whole numbers, comma-separated")
    if args.rows < 1000 or args.requests < 10 or args.rounds < 1 or args.workers < 1 or min(args.clients) < 1:
        parser.error("use --rows >= 1000, --requests >= 10, and at least 1 round, worker and client")
    return args


async def main(args: argparse.Namespace) -> None:
    cli = install_directus(args.directus_dir, args.directus_version)
    version = json.loads((cli.parent / "package.json").read_text())["version"]
    reports = [await run_database(kind, args, cli) for kind in args.kinds]
    for report in reports:
        print_report(report, args, version)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
