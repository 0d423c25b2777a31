"""Webhooks: events written with the change, delivered signed, retried, logged, replayed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

from opsloom.platform.database import Database
from opsloom.runtime.integrations.channels import Result
from opsloom.runtime.integrations.delivery import claim, retry_delay, settle
from opsloom.runtime.integrations.dispatch import dispatch_events
from opsloom.runtime.integrations.worker import OutboxWorker
from tests.builders import problem
from tests.conftest import another_client, create_user, log_in
from tests.runtime.integrations.helpers import APP, FORM, URL, add_webhook, deliver, publish_orders


def test_a_created_record_reaches_the_webhook_signed_per_standard_webhooks(client, receiver):
    publish_orders(client)
    hook = add_webhook(client, receiver, events=["record.created"])
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in client.get(f"/api/apps/{APP}/webhooks/{hook['id']}").json()
    record = client.post(URL, json={"title": "Desk", "amount": "120.50"}).json()
    done = deliver(client)
    assert (done.dispatched, done.delivered) == (1, 1)
    [got] = receiver.requests
    payload = Webhook(hook["secret"]).verify(got.body, got.headers)  # raises if the signature is wrong
    assert got.headers["webhook-signature"].startswith("v1,")
    assert payload["type"] == "record.created" and payload["app"] == APP and payload["form"] == FORM
    assert payload["data"]["record_id"] == record["id"]
    assert payload["data"]["record"]["title"] == "Desk" and payload["data"]["record"]["amount"] == "120.50"
    assert deliver(client).idle  # nothing is sent twice


def test_updates_deletes_and_restores_are_events_with_the_changed_fields(client, receiver):
    publish_orders(client)
    hook = add_webhook(client, receiver, events=["record.updated", "record.deleted", "record.restored"])
    record = client.post(URL, json={"title": "Desk", "amount": "10.00"}).json()
    changed = client.patch(f"{URL}/{record['id']}", json={"amount": "12.00"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert client.delete(f"{URL}/{record['id']}").status_code == 204
    assert client.post(f"{URL}/{record['id']}/restore").status_code == 200
    deliver(client)
    payloads = [Webhook(hook["secret"]).verify(r.body, r.headers) for r in receiver.requests]
    payloads.sort(key=lambda p: int(p["id"].removeprefix("evt_")))  # sent side by side: order by event
    assert [p["type"] for p in payloads] == ["record.updated", "record.deleted", "record.restored"]
    assert payloads[0]["data"]["changes"] == {"amount": {"from": "10.00", "to": "12.00"}}
    assert payloads[0]["data"]["record"]["amount"] == "12.00"


def test_a_refused_write_writes_no_event(client, receiver):
    publish_orders(client)
    add_webhook(client, receiver)
    problem(client.post(URL, json={"amount": "1.00"}), 422, "title")  # rolled back: no event either
    client.post(URL, json={"title": "Kept"})
    deliver(client)
    assert [r.json()["data"]["record"]["title"] for r in receiver.requests] == ["Kept"]


def test_a_failing_receiver_is_retried_with_backoff_then_the_delivery_is_dead_and_can_be_replayed(client, receiver):
    publish_orders(client)
    hook = add_webhook(client, receiver)
    receiver.default = (500, {"error": "down"})
    client.post(URL, json={"title": "Retry me"})
    t0 = datetime.now(UTC)
    assert len(deliver(client, t0).results) == 1
    assert deliver(client, t0 + timedelta(seconds=10)).idle  # the first retry waits 30 to 60 s
    assert len(deliver(client, t0 + timedelta(minutes=2)).results) == 1
    assert deliver(client, t0 + timedelta(minutes=2, seconds=30)).idle  # then 60 to 120 s
    assert len(deliver(client, t0 + timedelta(minutes=5)).results) == 1
    assert deliver(client, t0 + timedelta(days=1)).idle  # three attempts allowed: dead
    log = client.get(f"/api/apps/{APP}/webhooks/{hook['id']}/deliveries").json()["items"]
    [dead] = log
    assert (dead["status"], dead["attempts"], dead["response_status"]) == ("dead", 3, 500)
    detail = client.get(f"/api/apps/{APP}/webhooks/{hook['id']}/deliveries/{dead['id']}").json()
    assert [(a["attempt"], a["outcome"], a["response_status"]) for a in detail["attempt_log"]] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "failed", 500),
    ]
    assert all(isinstance(a["duration_ms"], int) for a in detail["attempt_log"])
    receiver.default = (204, None)
    replayed = client.post(f"/api/apps/{APP}/webhooks/{hook['id']}/deliveries/{dead['id']}/replay")
    assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
    problem(client.post(f"/api/apps/{APP}/webhooks/{hook['id']}/deliveries/{dead['id']}/replay"), 409)
    assert deliver(client).delivered == 1
    assert len(set(receiver.webhook_ids())) == 1  # every attempt and the replay: one webhook-id
    delivered = client.get(f"/api/apps/{APP}/webhooks/{hook['id']}/deliveries?status=delivered").json()["items"]
    assert [d["id"] for d in delivered] == [dead["id"]]


def test_the_retry_wait_doubles_is_capped_and_jittered_into_its_upper_half():
    assert [retry_delay(n, 5, 100, lambda: 1.0) for n in (1, 2, 3, 4, 5, 6, 50)] == [5, 10, 20, 40, 80, 100, 100]
    assert [retry_delay(n, 5, 100, lambda: 0.0) for n in (1, 2, 6)] == [2.5, 5, 50]


def test_a_crashed_workers_claims_return_once_its_lease_runs_out(client, receiver):
    publish_orders(client)
    add_webhook(client, receiver)
    client.post(URL, json={"title": "Orphan"})
    t0 = datetime.now(UTC)
    db, settings = client.app.state.db, client.app.state.settings

    async def crash() -> list:
        await dispatch_events(db, client.app.state.forms, t0)
        return await claim(db, t0, "crashed-worker", settings.outbox_lease, 10)  # and never settles

    [taken] = client.portal.call(crash)
    assert deliver(client, t0 + timedelta(seconds=10)).idle  # still leased
    assert deliver(client, t0 + timedelta(seconds=31)).delivered == 1
    late = client.portal.call(settle, db, taken, Result(True), t0, "crashed-worker", settings)
    assert late is False  # the crashed worker's late answer changes nothing
    assert len(receiver.requests) == 1


def test_two_workers_racing_never_deliver_one_event_twice(client, receiver, settings):
    publish_orders(client)
    add_webhook(client, receiver)
    response = client.post(f"{URL}/bulk", json={"records": [{"title": f"r{i}"} for i in range(60)]})
    assert response.status_code == 201, response.text
    receiver.delay = 0.02  # each send takes a while, so that the two workers' rounds overlap

    async def race() -> None:
        async def work(name: str) -> None:
            db = Database(settings.resolved_database_url)  # a worker of its own, as on another machine
            worker = OutboxWorker(db, client.app.state.forms, settings, name)
            try:
                while not (await worker.round(limit=7)).idle:
                    pass
            finally:
                await worker.close()
                await db.dispose()

        await asyncio.gather(work("one"), work("two"))

    client.portal.call(race)
    ids = receiver.webhook_ids()
    assert len(ids) == 60 and len(set(ids)) == 60


def test_410_gone_switches_the_webhook_off(client, receiver):
    publish_orders(client)
    hook = add_webhook(client, receiver)
    receiver.default = (410, {})
    client.post(URL, json={"title": "Gone"})
    deliver(client)
    assert client.get(f"/api/apps/{APP}/webhooks/{hook['id']}").json()["active"] is False
    [dead] = client.get(f"/api/apps/{APP}/webhooks/{hook['id']}/deliveries").json()["items"]
    assert dead["status"] == "dead" and dead["response_status"] == 410
    client.post(URL, json={"title": "Not sent"})
    deliver(client)
    assert len(receiver.requests) == 1


def test_a_condition_and_a_form_choose_the_events(client, receiver):
    publish_orders(client)
    condition = {"field": "amount", "op": "gt", "value": 100}
    add_webhook(client, receiver, events=["record.created"], form=FORM, condition=condition)
    client.post(URL, json={"title": "Small", "amount": "5.00"})
    client.post(URL, json={"title": "Big", "amount": "500.00"})
    deliver(client)
    assert [r.json()["data"]["record"]["title"] for r in receiver.requests] == ["Big"]


def test_payloads_hold_only_what_the_webhooks_owner_may_read(client, receiver):
    publish_orders(client)
    owner = create_user(client, "integrator@example.com", "integrator-pass-1")
    role = {"app": APP, "key": "integrators", "label": "Integrators", "app_admin": True}
    assert client.post("/api/roles", json=role).status_code == 200
    assert client.post(f"/api/roles/{APP}/integrators/members", json={"add": [owner["id"]]}).status_code == 200
    integrator = another_client(client)
    log_in(integrator, "integrator@example.com", "integrator-pass-1")
    hook = add_webhook(integrator, receiver, events=["record.created"])
    # The integrator stops being an app admin: they may read only their own orders, without amounts.
    reader = {"read": "own", "create": "all", "fields": {"amount": "hidden"}}
    readers = {"app": APP, "key": "readers", "label": "Readers", "permissions": {FORM: reader}}
    assert client.post("/api/roles", json=readers).status_code == 200
    client.post(f"/api/roles/{APP}/readers/members", json={"add": [owner["id"]]})
    client.post(f"/api/roles/{APP}/integrators/members", json={"remove": [owner["id"]]})
    client.post(URL, json={"title": "Not theirs", "amount": "9.00"})
    assert integrator.post(URL, json={"title": "Theirs"}).status_code == 201
    deliver(client)
    [got] = receiver.requests
    record = Webhook(hook["secret"]).verify(got.body, got.headers)["data"]["record"]
    assert record["title"] == "Theirs" and "amount" not in record
    skipped = client.get(f"/api/apps/{APP}/webhooks/{hook['id']}/deliveries?status=skipped").json()["items"]
    assert len(skipped) == 1 and "may not read" in skipped[0]["error"]


def test_a_webhook_is_checked_and_only_app_admins_manage_it(client, receiver):
    publish_orders(client)
    hooks = f"/api/apps/{APP}/webhooks"
    problem(client.post(hooks, json={"events": ["*"]}), 422, "url")
    problem(client.post(hooks, json={"url": "ftp://example.com", "events": ["*"]}), 422, "url")
    problem(client.post(hooks, json={"url": receiver.url, "events": ["record.exploded"]}), 422, "events[0]")
    problem(client.post(hooks, json={"url": receiver.url, "events": []}), 422, "events")
    condition = {"field": "amount", "op": "gt", "value": 1}
    problem(client.post(hooks, json={"url": receiver.url, "events": ["*"], "condition": condition}), 422, "condition")
    problem(client.post(hooks, json={"url": receiver.url, "events": ["*"], "form": "nope"}), 422, "form")
    bad = {"field": "nope", "op": "eq", "value": 1}
    problem(client.post(hooks, json={"url": receiver.url, "events": ["*"], "form": FORM, "condition": bad}), 422)
    problem(client.post(hooks, json={"url": receiver.url, "events": ["*"], "color": "red"}), 422, "color")
    problem(client.post("/api/apps/nowhere/webhooks", json={"url": receiver.url, "events": ["*"]}), 404)
    long_url = receiver.url + "/" + "x" * 300
    assert len(add_webhook(client, receiver, url=long_url)["name"]) == 120  # named after its URL, cut
    hook = add_webhook(client, receiver)
    changed = client.patch(f"{hooks}/{hook['id']}", json={"events": ["record.deleted"], "active": False})
    assert changed.status_code == 200 and changed.json()["events"] == ["record.deleted"]
    assert changed.json()["active"] is False
    rotated = client.post(f"{hooks}/{hook['id']}/secret").json()["secret"]
    assert rotated.startswith("whsec_") and rotated != hook["secret"]
    create_user(client, "clerk@example.com", "clerk-password-1")
    clerk = another_client(client)
    log_in(clerk, "clerk@example.com", "clerk-password-1")
    problem(clerk.get(hooks), 403)
    problem(clerk.post(hooks, json={"url": receiver.url, "events": ["*"]}), 403)
    assert client.delete(f"{hooks}/{hook['id']}").status_code == 204
    problem(client.get(f"{hooks}/{hook['id']}"), 404)
    assert [h["url"] for h in client.get(hooks).json()["items"]] == [long_url]


def test_the_webhook_routes_are_in_the_api_document(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/apps/{app}/webhooks",
        "/api/apps/{app}/webhooks/{sub_id}/deliveries/{delivery_id}/replay",
        "/api/apps/{app}/channels",
        "/api/apps/{app}/channels/{sub_id}/test",
    ):
        assert path in paths, path


def test_after_a_rotation_both_secrets_sign_so_receivers_can_switch_without_a_gap(client, receiver):
    publish_orders(client)
    hook = add_webhook(client, receiver, events=["record.created"])
    new = client.post(f"/api/apps/{APP}/webhooks/{hook['id']}/secret").json()["secret"]
    client.post(URL, json={"title": "Rotated"})
    deliver(client)
    [got] = receiver.requests
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], new):  # a receiver with either secret accepts it
        assert Webhook(secret).verify(got.body, got.headers)["data"]["record"]["title"] == "Rotated"
