"""A worker killed with SIGKILL in the middle of a scheduled run: a restarted worker completes the work,
nothing is lost and nothing is done twice (records created once; every request's idempotency key reaches
the receiver, and only the calls of the batch that was cut short are sent a second time)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from opsloom.platform import tables
from opsloom.runtime.integrations.timed import BATCH
from tests.builders import field, form, list_all, publish_app, records_url
from tests.conftest import query
from tests.runtime.integrations.automation_helpers import publish_automation, published_at
from tests.runtime.integrations.helpers import APP, FORM, URL, publish_orders

ORDERS = 60
PURCHASE_ORDERS = records_url(APP, "purchase_orders")


def start_worker(settings) -> subprocess.Popen:
    env = os.environ | {
        "OPSLOOM_DATABASE_URL": settings.database_url,
        "OPSLOOM_DATA_DIR": str(settings.data_dir),
        "OPSLOOM_SECRET_KEY": settings.secret_key,
        "OPSLOOM_OUTBOUND_ALLOW_PRIVATE": "true",
        "OPSLOOM_AUTO_UPGRADE": "false",
    }
    command = [sys.executable, "-m", "opsloom", "worker", "--interval", "0.2"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def done_runs(client) -> list[str]:
    r = tables.automation_runs
    return [row.fire_key for row in query(client, select(r.c.fire_key).where(r.c.outcome == "done"))]


def wait_for(check, worker: subprocess.Popen, what: str) -> None:
    """Poll until `check()` holds; the limit only stops a hung test, it measures nothing."""
    for _ in range(1200):
        if check():
            return
        assert worker.poll() is None, f"the worker stopped: {worker.stderr.read().decode() if worker.stderr else ''}"
        time.sleep(0.05)
    raise AssertionError(f"waited a minute for {what}")


def test_a_worker_killed_mid_run_leaves_no_loss_and_no_double(client, receiver, settings):
    publish_orders(client)
    publish_app(
        client, APP, form("purchase_orders", field("order_title"), field("amount", "decimal", precision=12, scale=2))
    )
    for i in range(ORDERS):
        client.post(URL, json={"title": f"order {i:02}", "amount": "10.00"})
    document = {
        "key": "nightly_orders",
        "label": "Nightly purchase orders",
        "form": FORM,
        "trigger": {"on": "schedule", "cron": "0 9 * * *", "timezone": "Asia/Shanghai"},
        "condition": {"field": "amount", "op": "gt", "value": 0},
        "actions": [
            {"kind": "call_http", "url": receiver.url + "/erp", "body": {"order": "title"}},
            {
                "kind": "create_record",
                "form": "purchase_orders",
                "mapping": {"order_title": "title", "amount": "amount"},
            },
        ],
    }
    publish_automation(client, document)
    published_at(client, "nightly_orders", datetime.now(UTC) - timedelta(days=2))
    receiver.delay = 0.05  # slow enough to be killed in the middle

    first = start_worker(settings)
    try:
        wait_for(lambda: len(receiver.requests) >= BATCH + 5, first, "the first calls")
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    committed = done_runs(client)
    assert len(committed) < ORDERS  # killed mid-run
    assert len(committed) % BATCH == 0  # whole batches or nothing: the cut one rolled back
    assert len(list_all(client, PURCHASE_ORDERS)) == len(committed)

    second = start_worker(settings)
    try:
        wait_for(lambda: len(done_runs(client)) == ORDERS, second, "every order")
    finally:
        second.terminate()
        second.wait()
    orders = sorted(po["order_title"] for po in list_all(client, PURCHASE_ORDERS))
    assert orders == [f"order {i:02}" for i in range(ORDERS)]  # each once
    keys = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(set(keys)) == ORDERS  # every call reached the receiver under its own idempotency key
    assert len(keys) - ORDERS <= BATCH  # only the cut batch was sent again, with the same keys
    assert {r.json()["order"] for r in receiver.requests} == set(orders)
