"""Benchmark: the outbox — what it costs a record create, and how fast workers deliver it.

1. Write overhead: records created one by one through the HTTP API (in process),
   in alternating rounds without the outbox hook, with it, and with it and ten
   webhook subscriptions (fan-out happens in the worker, so subscriptions should
   not slow a write). Prints creates/s and the ratios to "without".
2. Delivery: --events records are created in one bulk request (one event each,
   one webhook subscribed), then 1, 2 and 4 workers — each with its own engine,
   each a process of its own — deliver them to a local receiver running
   in another process. Prints events/s (dispatch + signed POST + settle).
3. The same with an automation on create (each event also creates a record in a
   second form, in the worker): creates/s with it switched on and off in
   alternating rounds (their ratio: an automation should cost the write
   nothing), then events/s of 1, 2 and 4 workers, each event now also running
   the automation, and the ratio to the same number of workers without it.

Figures only: nothing here passes or fails. `python bench/outbox.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path

from opsloom.app import create_app  # noqa: E402
from opsloom.platform import org  # noqa: E402
from opsloom.platform.context import RequestContext  # noqa: E402
from opsloom.platform.database import Database  # noqa: E402
from opsloom.platform.settings import Settings  # noqa: E402
from opsloom.runtime.forms import FormRegistry  # noqa: E402
from opsloom.runtime.integrations.events import install_outbox, write_record_events  # noqa: E402
from opsloom.runtime.integrations.worker import OutboxWorker  # noqa: E402
from opsloom.runtime.records.pipeline import write_hooks  # noqa: E402

APP, FORM = "bench", "orders"
URL = f"/api/apps/{APP}/forms/{FORM}/records"
ADMIN = {"email": "bench@example.com", "password": "bench-password-1234", "name": "Bench"}
FIELDS: list[dict[str, Any]] = [
    {"id": "fld_title", "key": "title", "type": "text", "label": "Title", "required": True},
    {"id": "fld_amount", "key": "amount", "type": "decimal", "label": "Amount", "precision": 12, "scale": 2},
    {"id": "fld_qty", "key": "qty", "type": "integer", "label": "Qty"},
    {"id": "fld_note", "key": "note", "type": "textarea", "label": "Note"},
]


def _receive(port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _record(i: int) -> dict[str, Any]:
    return {"title": f"Order {i}", "amount": f"{i % 1000}.50", "qty": i % 7, "note": "bench"}


async def _creates(client: httpx.AsyncClient, count: int, start: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + count):
        response = await client.post(URL, json=_record(i))
        assert response.status_code == 201, response.text
    return count / (time.perf_counter() - began)


async def run(kind: str, creates: int, rounds: int, events: int, receiver_url: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        async with fresh_database(kind, Path(directory)) as url:
            settings = Settings(
                database_url=url, data_dir=Path(directory) / "data", secret_key="bench", outbound_allow_private=True
            )
            app = create_app(settings)
            async with LifespanManager(app):
                db: Database = app.state.db
                async with db.session(write=True) as session:
                    await org.create_user(session, RequestContext.for_now(), ADMIN | {"is_admin": True})
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                    login = await client.post(
                        "/api/auth/login", json={"email": ADMIN["email"], "password": ADMIN["password"]}
                    )
                    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
                    await client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Bench"})
                    await client.put(
                        f"/api/design/apps/{APP}/forms/{FORM}", json={"key": FORM, "label": "Orders", "fields": FIELDS}
                    )
                    assert (await client.post(f"/api/design/apps/{APP}/forms/{FORM}/publish")).status_code == 200
                    await _creates(client, 50, 0)  # warm up
                    await _write_overhead(client, db, creates, rounds)
                    plain = await _delivery(client, app, settings, events, receiver_url, kind, "webhook")
                    await _publish_automation(client)
                    await _automation_write_cost(client, creates, rounds)
                    automated = await _delivery(
                        client, app, settings, events, receiver_url, kind, "webhook + automation"
                    )
                    for workers, rate in automated.items():
                        print(
                            f"  {kind}: {workers} worker(s), automation on create / webhook only: "
                            f"{rate / plain[workers]:5.2f}"
                        )


async def _automation_write_cost(client: httpx.AsyncClient, creates: int, rounds: int) -> None:
    """Creates/s with the automation switched off and on, in alternating rounds (the same table, the same
    moment): it runs in the worker, so the write should not pay for it."""
    enabled = f"/api/design/apps/{APP}/automations/order_to_shipment/enabled"
    rates: dict[bool, list[float]] = {False: [], True: []}
    n = 50_000
    for _ in range(rounds):
        for on in (False, True):
            assert (await client.put(enabled, json={"enabled": on})).status_code == 200
            rates[on].append(await _creates(client, creates, n))
            n += creates
    without, with_it = max(rates[False]), max(rates[True])
    print(f"  creates/s {'with outbox, no automation':<26} {without:8.1f}")
    print(f"  creates/s {'with an automation on create':<26} {with_it:8.1f}   ratio {with_it / without:5.2f}")


async def _publish_automation(client: httpx.AsyncClient) -> None:
    """A second form, and an automation making one of its records from each new order (in the worker)."""
    shipment = {"key": "shipments", "label": "Shipments", "fields": [FIELDS[0] | {"required": False}, FIELDS[2]]}
    assert (await client.put(f"/api/design/apps/{APP}/forms/shipments", json=shipment)).status_code == 200
    assert (await client.post(f"/api/design/apps/{APP}/forms/shipments/publish")).status_code == 200
    automation = {
        "key": "order_to_shipment",
        "label": "Each order is shipped",
        "form": FORM,
        "trigger": {"on": "record.created"},
        "actions": [{"kind": "create_record", "form": "shipments", "mapping": {"title": "title", "qty": "qty"}}],
    }
    design = f"/api/design/apps/{APP}/automations/order_to_shipment"
    saved = await client.put(design, json=automation)
    assert saved.status_code == 200 and saved.json()["problems"] == [], saved.text
    assert (await client.post(f"{design}/publish")).status_code == 200


async def _write_overhead(client: httpx.AsyncClient, db: Database, creates: int, rounds: int) -> None:
    rates: dict[str, list[float]] = {"without outbox": [], "with outbox": [], "with outbox, 10 webhooks": []}
    hooks = write_hooks(db)
    n = 10_000
    for _ in range(rounds):
        hooks.remove(write_record_events)
        rates["without outbox"].append(await _creates(client, creates, n))
        install_outbox(db)
        rates["with outbox"].append(await _creates(client, creates, n + creates))
        n += 2 * creates
    for i in range(10):
        body = {"url": f"http://127.0.0.1:9/h{i}", "events": ["record.created"], "active": False}
        assert (await client.post(f"/api/apps/{APP}/webhooks", json=body)).status_code == 201
    for _ in range(rounds):
        rates["with outbox, 10 webhooks"].append(await _creates(client, creates, n))
        n += creates
    base = max(rates["without outbox"])
    for name, found in rates.items():
        best = max(found)
        print(f"  creates/s {name:<26} {best:8.1f}   ratio {best / base:5.2f}")


async def _delivery(
    client: httpx.AsyncClient, app: Any, settings: Settings, events: int, receiver_url: str, kind: str, what: str
) -> dict[int, float]:
    """Events/s of 1, 2 and 4 worker processes, by their number."""
    hooks = (await client.get(f"/api/apps/{APP}/webhooks")).json()["items"]
    if not any(h["active"] for h in hooks):
        body = {"url": receiver_url, "events": ["record.created"], "form": FORM}
        assert (await client.post(f"/api/apps/{APP}/webhooks", json=body)).status_code == 201
    first = OutboxWorker(app.state.db, app.state.forms, settings)
    while not (await first.round(limit=500)).idle:  # what the overhead rounds wrote: fanned out, dropped
        pass
    await first.close()
    rates = {}
    for workers in (1, 2, 4):
        records = [_record(i) for i in range(events)]
        for start in range(0, events, 1000):
            chunk = {"records": records[start : start + 1000]}
            assert (await client.post(f"{URL}/bulk", json=chunk)).status_code == 201
        with multiprocessing.Pool(workers) as pool:  # each worker a process of its own, as in production
            runs = pool.map(_work_process, [settings.model_dump(mode="json")] * workers)
        counts = [count for count, _, _ in runs]
        elapsed = max(end for _, _, end in runs) - min(start for _, start, _ in runs)  # from the first round on
        rates[workers] = sum(counts) / elapsed
        print(
            f"  {kind}, {what}: {workers} worker process(es) delivered {sum(counts)} events in {elapsed:.2f} s: "
            f"{rates[workers]:8.1f} events/s"
        )
    return rates


def _work_process(config: dict[str, Any]) -> tuple[int, float, float]:
    return asyncio.run(_work(Settings(**config)))


async def _work(settings: Settings) -> tuple[int, float, float]:
    """Deliver until nothing is left; answer how many, and when the first round began and the last ended."""
    db = Database(settings.resolved_database_url)
    worker = OutboxWorker(db, FormRegistry(), settings)
    delivered = 0
    started = time.time()
    try:
        while not (done := await worker.round(limit=100)).idle:
            delivered += done.delivered
    finally:
        ended = time.time()
        await worker.close()
        await db.dispose()
    return delivered, started, ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--creates", type=int, default=200, help="records per write-overhead round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (best kept)")
    parser.add_argument("--events", type=int, default=2000, help="events per delivery run")
    args = parser.parse_args()
    port = _free_port()
    receiver = multiprocessing.Process(target=_receive, args=(port,), daemon=True)
    receiver.start()
    try:
        for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
            print(f"{kind}:")
            asyncio.run(run(kind, args.creates, args.rounds, args.events, f"http://127.0.0.1:{port}/hook"))
    finally:
        receiver.terminate()


if __name__ == "__main__":
    main()
