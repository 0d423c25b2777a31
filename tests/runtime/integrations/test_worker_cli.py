"""`opsloom worker --once` delivers the outbox beside the flow timers."""

from __future__ import annotations

from click.testing import CliRunner
from standardwebhooks import Webhook

from opsloom.cli import main
from tests.runtime.integrations.helpers import URL, add_webhook, publish_orders


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
    assert ran.output.strip() == "fired 0 timers; dispatched 1 events, delivered 1 messages"
    [got] = receiver.requests
    assert Webhook(hook["secret"]).verify(got.body, got.headers)["data"]["record"]["title"] == "From the CLI"
    again = CliRunner().invoke(main, ["worker", "--once"], env=env, catch_exceptions=False)
    assert again.output.strip() == "fired 0 timers; dispatched 0 events, delivered 0 messages"
