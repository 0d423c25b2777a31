"""Benchmark: approval flows driven through the HTTP API.

An Opsloom server (one uvicorn worker) serves a form with a two-step flow: a
department head approves, then two people of finance countersign. This process
creates --instances records, submits each, and has every approver work
through their to-do list, approving each task: four actions per instance.
It prints actions per second and p50/p99 latency per kind of action, and
checks (reports, never asserts) that every instance ended approved.
`--organisation N` adds N colleagues (in departments of 20) who play no part
in the flow: what a flow event costs in a company of that size.

Figures only: nothing here passes or fails. `python bench/flows.py --help`;
`make bench-flows` runs it on PostgreSQL with 10,000 instances.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path
from records_api import Figures, Request, Server, drive, uvicorn_server  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from opsloom.platform import org, tables  # noqa: E402
from opsloom.platform.context import RequestContext  # noqa: E402
from opsloom.platform.database import Database  # noqa: E402

APP = "benchflow"
PASSWORD = "bench-password-1234"
PEOPLE = ("submitter", "head", "fin1", "fin2")
FORM = {
    "key": "request",
    "label": "Request",
    "title_field": "title",
    "fields": [
        {"id": "f_title", "key": "title", "type": "text", "label": "Title", "required": True},
        {"id": "f_amount", "key": "amount", "type": "decimal", "label": "Amount", "scale": 2},
    ],
}


def flow(ids: dict[str, int]) -> dict[str, object]:
    return {
        "key": "approve",
        "label": "Approve",
        "form": "request",
        "nodes": [
            {"id": "start", "type": "start", "next": "head"},
            {"id": "head", "type": "approval", "approvers": [{"kind": "users", "users": [ids["head"]]}], "next": "fin"},
            {
                "id": "fin",
                "type": "approval",
                "mode": "countersign",
                "approvers": [{"kind": "users", "users": [ids["fin1"], ids["fin2"]]}],
                "next": "end",
            },
            {"id": "end", "type": "end"},
        ],
    }


async def create_people(url: str, organisation: int = 0) -> dict[str, int]:
    """The four people of the flow, and `organisation` more colleagues in departments of 20 (who play
    no part in the flow, but are the organisation a flow event may have to look people up in)."""
    db = Database(url)
    ids = {}
    try:
        async with db.session(write=True) as session:
            now = RequestContext.for_now().now
            d, u = tables.departments, tables.users
            for start in range(0, organisation, 1000):
                batch = range(start, min(organisation, start + 1000))
                departments = await session.execute(
                    insert(d).returning(d.c.id), [{"name": f"team {i}", "created_at": now} for i in batch[::20]]
                )
                team = [row.id for row in departments for _ in range(20)]
                people = [
                    {"email": f"colleague{i}@example.com", "name": f"colleague {i}", "department_id": team[i - start]}
                    for i in batch
                ]
                await session.execute(insert(u), [p | {"created_at": now, "updated_at": now} for p in people])
            for name in PEOPLE:
                user = await org.create_user(
                    session,
                    RequestContext.for_now(),
                    {
                        "email": f"{name}@example.com",
                        "password": PASSWORD,
                        "name": name,
                        "is_admin": name == "submitter",
                    },
                )
                ids[name] = user["id"]
    finally:
        await db.dispose()
    return ids


async def log_in(server: Server, name: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        response = await client.post("/api/auth/login", json={"email": f"{name}@example.com", "password": PASSWORD})
        response.raise_for_status()
        return {
            "Cookie": f"opsloom_session={response.cookies['opsloom_session']}",
            "X-CSRF-Token": response.json()["csrf_token"],
        }


async def prepare(server: Server, auth: dict[str, str], ids: dict[str, int], count: int) -> list[int]:
    """Publish the form and flow, create the records (bulk); answer their ids."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=300, headers=auth) as client:
        (await client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Bench"})).raise_for_status()
        for kind, document in (("forms", FORM), ("flows", flow(ids))):
            url = f"/api/design/apps/{APP}/{kind}/{document['key']}"
            (await client.put(url, json=document)).raise_for_status()
            response = await client.post(f"{url}/publish")
            if response.status_code != 200:
                raise RuntimeError(f"publishing {document['key']} failed: {response.text}")
        record_ids: list[int] = []
        for start in range(0, count, 1000):
            batch = [
                {"title": f"request {i}", "amount": f"{i % 5000}.00"} for i in range(start, min(count, start + 1000))
            ]
            response = await client.post(f"/api/apps/{APP}/forms/request/records/bulk", json={"records": batch})
            response.raise_for_status()
            record_ids += [item["id"] for item in response.json()["items"]]
    return record_ids


async def pending_tasks(server: Server, auth: dict[str, str]) -> list[int]:
    ids: list[int] = []
    cursor = None
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, headers=auth) as client:
        while True:
            params = {"box": "pending", "limit": "200", **({"cursor": str(cursor)} if cursor else {})}
            page = (await client.get("/api/tasks", params=params)).json()
            ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids


async def run(kind: str, args: argparse.Namespace) -> list[tuple[str, Figures]]:
    results: list[tuple[str, Figures]] = []
    with tempfile.TemporaryDirectory(prefix=f"opsloom-bench-flows-{kind}-") as tmp:
        workdir = Path(tmp)
        async with fresh_database(kind, workdir) as url:
            env = {"OPSLOOM_DATABASE_URL": url, "OPSLOOM_DATA_DIR": str(workdir / "data"), "OPSLOOM_SECRET_KEY": "b"}
            with uvicorn_server("opsloom", "opsloom.app:create_app", env, workdir) as server:
                ids = await create_people(url, args.organisation)
                auth = {name: await log_in(server, name) for name in PEOPLE}
                started = time.perf_counter()
                records = await prepare(server, auth["submitter"], ids, args.instances)
                print(f"  {kind}: {len(records):,} records in {time.perf_counter() - started:.1f}s", flush=True)
                submits = [Request("POST", f"/api/apps/{APP}/forms/request/records/{r}/submit", b"{}") for r in records]
                results.append(("submit", await drive(server, submits, args.concurrency, auth["submitter"])))
                for name in ("head", "fin1", "fin2"):
                    tasks = await pending_tasks(server, auth[name])
                    approves = [Request("POST", f"/api/tasks/{t}/approve", b'{"comment": "ok"}') for t in tasks]
                    results.append((f"approve ({name})", await drive(server, approves, args.concurrency, auth[name])))
                async with httpx.AsyncClient(base_url=server.base_url, timeout=60, headers=auth["submitter"]) as c:
                    flt = json.dumps({"field": "status", "op": "eq", "value": "approved"})
                    page = (
                        await c.get(
                            f"/api/apps/{APP}/forms/request/records",
                            params={"filter": flt, "count": "exact", "limit": "1"},
                        )
                    ).json()
                print(f"  {kind}: {page['total']:,} of {len(records):,} requests approved", flush=True)
    return results


def report(kind: str, results: list[tuple[str, Figures]]) -> None:
    print(f"\n{kind}: {'action':<18}{'count':>8}{'errors':>8}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    for name, f in results:
        pad = " " * (len(kind) + 2)
        print(f"{pad}{name:<18}{f.requests:>8,}{f.errors:>8}{f.rate:>9.1f}{f.p50_ms:>9.1f}{f.p99_ms:>9.1f}")
    total = sum(f.requests for _, f in results)
    seconds = sum(f.seconds for _, f in results)
    approves = [f for name, f in results if name.startswith("approve")]
    p99 = max(f.p99_ms for f in approves) if approves else float("nan")
    rate = total / seconds
    print(f"{' ' * (len(kind) + 2)}all actions: {total:,} in {seconds:.1f}s = {rate:.1f}/s; approve p99 {p99:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--organisation", type=int, default=0, help="colleagues besides the four people of the flow")
    args = parser.parse_args()
    for kind in args.databases.split(","):
        report(kind, asyncio.run(run(kind, args)))


if __name__ == "__main__":
    main()
