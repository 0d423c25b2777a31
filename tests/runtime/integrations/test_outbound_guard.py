"""Webhooks and robots may not call private or loopback addresses unless the operator allows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders import admin_client, problem
from tests.runtime.integrations.helpers import APP, URL, add_webhook, deliver, publish_orders


@pytest.fixture
def guarded(db_kind: str, tmp_path: Path):
    with admin_client(db_kind, tmp_path) as client:  # outbound_allow_private is off by default
        yield client


def test_private_targets_are_refused_when_saved_and_when_called(guarded, receiver):
    publish_orders(guarded)
    hooks = f"/api/apps/{APP}/webhooks"
    body = problem(guarded.post(hooks, json={"url": receiver.url, "events": ["*"]}), 422, "url")
    assert "private" in body["errors"][0]["message"]
    problem(guarded.post(hooks, json={"url": "http://[::1]:8/x", "events": ["*"]}), 422, "url")
    named = receiver.url.replace("127.0.0.1", "localhost")  # a name: checked when it is resolved
    hook = add_webhook(guarded, receiver, url=named)
    guarded.post(URL, json={"title": "Probe"})
    deliver(guarded)
    assert receiver.requests == []
    [dead] = guarded.get(f"{hooks}/{hook['id']}/deliveries").json()["items"]
    assert dead["status"] == "dead" and "not a public address" in dead["error"]
