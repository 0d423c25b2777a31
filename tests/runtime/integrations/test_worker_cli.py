"""`opsloom worker --once` delivers the outbox beside the flow timers."""

from __future__ import annotations

import time

from click.testing import CliRunner
from standardwebhooks import Webhook

from opsloom.cli import main
from tests.builders import admin_client
from tests.runtime.integrations.helpers import APP, URL, add_webhook, deliver, publish_orders


def test_opsloom_worker_once_delivers_what_the_outbox_holds(client, receiver, settings):
    publish_orders(client)
    hook = add_webhook(client, receiver, events=["record.created"])
    client.post(URL, json={"title": "From the CLI"})
    env = {
        "OPSLOOM_DATABASE_URL": settings.database_url,
        "OPSLOOM_DATA_DIR": str(settings.data_dir),
        "OPSLOOM_OUTBOUND_ALLOW_PRIVATE": "true",
    }
    ran = CliRunner().invoke(main, ["worker", "--once"], env=env, catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    assert ran.output.strip() == "fired 0 timers; dispatched 1 events, delivered 1 messages; ran 0 jobs"
    [got] = receiver.requests
    assert Webhook(hook["secret"]).verify(got.body, got.headers)["data"]["record"]["title"] == "From the CLI"
    again = CliRunner().invoke(main, ["worker", "--once"], env=env, catch_exceptions=False)
    assert again.output.strip() == "fired 0 timers; dispatched 0 events, delivered 0 messages; ran 0 jobs"


def test_the_demo_server_delivers_by_itself(db_kind, tmp_path, receiver):
    """With OPSLOOM_RUN_WORKER (the demo's setting) the server runs the outbox worker inside."""
    with admin_client(db_kind, tmp_path, run_worker=True, outbound_allow_private=True) as client:
        publish_orders(client)
        add_webhook(client, receiver, events=["record.created"])
        client.post(URL, json={"title": "In the demo"})
        for _ in range(600):  # waits for the worker's next round (it pauses 1 s when idle), not a speed test
            if receiver.requests:
                break
            time.sleep(0.05)
        [got] = receiver.requests
        assert got.json()["data"]["record"]["title"] == "In the demo"


def test_opsloom_outbox_purge_forgets_what_is_done_and_keeps_the_dead(client, receiver, settings):
    publish_orders(client)
    hook = add_webhook(client, receiver, events=["record.created"])
    client.post(URL, json={"title": "Delivered"})
    deliver(client)
    receiver.default = (410, {})
    client.post(URL, json={"title": "Dead"})
    deliver(client)
    env = {"OPSLOOM_DATABASE_URL": settings.database_url, "OPSLOOM_DATA_DIR": str(settings.data_dir)}
    ran = CliRunner().invoke(main, ["outbox", "purge", "--older-than-days", "0"], env=env, catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    assert ran.output.strip() == "removed 2 events and 1 deliveries older than 0 days"
    log = client.get(f"/api/apps/{APP}/webhooks/{hook['id']}/deliveries").json()["items"]
    assert [d["status"] for d in log] == ["dead"]
