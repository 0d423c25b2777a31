"""A server killed with SIGKILL right after its creates answered, its in-process worker mid-send.

A real `opsloom serve` (with the demo's in-process worker) takes the creates; the webhook receiver holds
every request unanswered, so nothing is settled as delivered when the server is killed. Two `opsloom
worker` processes then finish the work side by side: every event reaches the receiver under its own
idempotency key (`webhook-id`), so a receiver that dedupes on it handles each exactly once; only messages
the dead server had already sent arrive a second time, unchanged; the automation on create made exactly
one purchase order per order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from opsloom.platform import tables
from tests.builders import field, form, list_all, publish_app, records_url
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, query
from tests.designer.test_publish_across_processes import REQUEST_TIMEOUT, Server, _free_port, _wait_healthy, ok
from tests.runtime.integrations.automation_helpers import publish_automation
from tests.runtime.integrations.helpers import APP, FORM, URL, add_webhook, publish_orders

pytestmark = pytest.mark.slow

ORDERS = 20
PURCHASE_ORDERS = records_url(APP, "purchase_orders")


def environment(settings, **extra: str) -> dict[str, str]:
    return os.environ | {
        "OPSLOOM_DATABASE_URL": settings.database_url,
        "OPSLOOM_DATA_DIR": str(settings.data_dir),
        "OPSLOOM_SECRET_KEY": settings.secret_key,
        "OPSLOOM_OUTBOUND_ALLOW_PRIVATE": "true",
        "OPSLOOM_AUTO_UPGRADE": "false",
        **extra,
    }


@contextmanager
def serving(settings, workdir: Path) -> Iterator[Server]:
    """`opsloom serve` delivering the outbox itself (as the demo does); its leases last a second."""
    env = environment(settings, OPSLOOM_RUN_WORKER="true", OPSLOOM_OUTBOX_LEASE="1")
    for _attempt in range(3):
        port, log = _free_port(), workdir / "server.log"
        command = [
            sys.executable,
            "-m",
            "opsloom",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
        server = Server("killed", process, port, log)
        try:
            if _wait_healthy(server):  # False: the port was taken between probing and binding
                yield server
                return
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
    raise AssertionError(f"the server kept exiting:\n{server.log_tail()}")


def start_worker(settings) -> subprocess.Popen:
    command = [sys.executable, "-m", "opsloom", "worker", "--interval", "0.2"]
    return subprocess.Popen(command, env=environment(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def delivered(client) -> int:
    d = tables.deliveries
    [(count,)] = query(client, select(func.count()).select_from(d).where(d.c.status == "delivered"))
    return int(count)


def test_a_server_killed_right_after_commit_loses_nothing_and_doubles_nothing(client, receiver, settings, tmp_path):
    publish_orders(client)
    publish_app(client, APP, form("purchase_orders", field("order_title")))
    add_webhook(client, receiver, events=["record.created"], form=FORM)
    automation = {
        "key": "order_to_po",
        "label": "Orders become purchase orders",
        "form": FORM,
        "trigger": {"on": "record.created"},
        "actions": [{"kind": "create_record", "form": "purchase_orders", "mapping": {"order_title": "title"}}],
    }
    publish_automation(client, automation)
    receiver.open.clear()  # every request is held: the server's worker sends, and waits for an answer

    with serving(settings, tmp_path) as server, httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http:
        login = ok(http.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        http.headers["X-CSRF-Token"] = login["csrf_token"]
        created = [ok(http.post(URL, json={"title": f"order {i:02}"}), 201)["id"] for i in range(ORDERS - 1)]
        for _ in range(1200):  # until the server's worker is sending (the limit only stops a hung test)
            if receiver.requests:
                break
            assert server.process.poll() is None, server.log_tail()
            time.sleep(0.05)
        created.append(ok(http.post(URL, json={"title": f"order {ORDERS - 1:02}"}), 201)["id"])
        os.kill(server.process.pid, signal.SIGKILL)  # right after the last create answered
        server.process.wait()
    sent_before = set(receiver.webhook_ids())
    assert sent_before  # killed mid-send,
    assert delivered(client) == 0  # before any answer came back

    receiver.open.set()
    workers = [start_worker(settings), start_worker(settings)]
    try:
        for _ in range(1200):  # the limit only stops a hung test; it measures nothing
            if delivered(client) == ORDERS:
                break
            assert all(w.poll() is None for w in workers), [w.stderr.read() for w in workers if w.stderr]
            time.sleep(0.05)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait()

    bodies: dict[str, bytes] = {}
    for got in receiver.requests:
        key = got.headers["webhook-id"]
        assert bodies.setdefault(key, got.body) == got.body  # a message sent again is the same message
    handled = [json.loads(body)["data"]["record_id"] for body in bodies.values()]
    assert sorted(handled) == sorted(created)  # deduped on webhook-id: each event exactly once
    again = [k for k in receiver.webhook_ids() if receiver.webhook_ids().count(k) > 1]
    assert set(again) == sent_before  # what the dead server had sent (never settled) comes twice; nothing else
    d = tables.deliveries
    statuses = query(client, select(d.c.status, func.count()).group_by(d.c.status))
    assert [tuple(row) for row in statuses] == [("delivered", ORDERS)]
    titles = sorted(po["order_title"] for po in list_all(client, PURCHASE_ORDERS))
    assert titles == [f"order {i:02}" for i in range(ORDERS)]  # the automation ran once per order
