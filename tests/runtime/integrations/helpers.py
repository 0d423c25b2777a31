"""Helpers of the integrations' tests: a round of the worker, an app with a form, a webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsloom.runtime.integrations.worker import OutboxWorker, Round
from tests.builders import field, form, publish_app, records_url

APP = "shop"
FORM = "orders"
URL = records_url(APP, FORM)


def deliver(client, at: datetime | None = None, *, name: str = "test-worker") -> Round:
    """One round of the outbox worker (as `opsloom worker` runs it), at `at` (default: now)."""

    async def run() -> Round:
        worker = OutboxWorker(client.app.state.db, client.app.state.forms, client.app.state.settings, name)
        try:
            return await worker.round(at)
        finally:
            await worker.close()

    return client.portal.call(run)


def publish_orders(client) -> None:
    publish_app(
        client,
        APP,
        form(FORM, field("title", required=True), field("amount", "decimal", precision=12, scale=2)),
    )


def add_webhook(client, receiver, **document: Any) -> dict[str, Any]:
    body = {"url": receiver.url + "/hooks", "events": ["*"]} | document
    response = client.post(f"/api/apps/{APP}/webhooks", json=body)
    assert response.status_code == 201, response.text
    return response.json()
