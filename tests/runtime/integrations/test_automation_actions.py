"""Automation actions: start a flow, call an HTTP endpoint from a template with the app's secrets
(answer written back), the secret store, test runs that write and send nothing, switching off."""

from __future__ import annotations

from sqlalchemy import select
from standardwebhooks import Webhook

from opsloom.platform import tables
from tests.builders import field, form, list_all, problem, publish_app, records_url
from tests.conftest import query
from tests.runtime.flow.office import Office, approval, users
from tests.runtime.integrations.automation_helpers import publish_automation, runs, save_automation
from tests.runtime.integrations.helpers import APP, FORM, URL, deliver

SIGNING = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw=="
VOUCHERS = records_url(APP, "vouchers")


def publish_payments(client) -> None:
    publish_app(
        client,
        APP,
        form(
            FORM,
            field("title", required=True),
            field("amount", "decimal", precision=12, scale=2),
            field("erp_id"),
            field("erp_state"),
        ),
    )


def set_secret(client, name: str, value: str) -> None:
    response = client.put(f"/api/apps/{APP}/secrets/{name}", json={"value": value})
    assert response.status_code in (200, 201), response.text


def post_voucher(receiver, **extra) -> dict:
    return {
        "key": "post_voucher",
        "label": "Post a voucher to the ERP",
        "form": FORM,
        "trigger": {"on": "record.created"},
        "condition": {"field": "amount", "op": "gt", "value": 0},
        "actions": [
            {
                "kind": "call_http",
                "method": "POST",
                "url": receiver.url + "/vouchers?app_token={{secret.erp_token}}",
                "headers": {"Authorization": "Bearer {{secret.erp_token}}", "X-Book": "main"},
                "body": {
                    "summary": "title",
                    "amount": {"formula": "amount * 2"},
                    "currency": {"value": "CNY"},
                },
                "sign_with": "erp_signing",
                "answer": {"erp_id": "data.id", "erp_state": "data.state"},
            }
            | extra
        ],
    }


def test_the_secret_store_never_answers_a_value_and_keeps_it_encrypted(client):
    publish_payments(client)
    created = client.put(f"/api/apps/{APP}/secrets/erp_token", json={"value": "tok-123"})
    assert created.status_code == 201 and created.json() == {"name": "erp_token", "created": True}
    again = client.put(f"/api/apps/{APP}/secrets/erp_token", json={"value": "tok-456"})
    assert again.status_code == 200 and again.json()["created"] is False
    listed = client.get(f"/api/apps/{APP}/secrets").json()["items"]
    assert [s["name"] for s in listed] == ["erp_token"] and "value" not in listed[0]
    [stored] = query(client, select(tables.app_secrets.c.value))
    assert "tok-456" not in stored.value and "tok-123" not in stored.value
    problem(client.put(f"/api/apps/{APP}/secrets/erp_token", json={"value": ""}), 422, "value")
    assert client.delete(f"/api/apps/{APP}/secrets/erp_token").status_code == 204
    assert client.delete(f"/api/apps/{APP}/secrets/erp_token").status_code == 404


def test_an_http_call_sends_the_template_with_secrets_signed_and_writes_the_answer_back(client, receiver):
    publish_payments(client)
    set_secret(client, "erp_token", "tok-123")
    set_secret(client, "erp_signing", SIGNING)
    publish_automation(client, post_voucher(receiver))
    receiver.default = (201, {"data": {"id": "V-2026-001", "state": "posted", "lines": [1, 2]}})
    record = client.post(URL, json={"title": "Rent", "amount": "1500.00"}).json()
    deliver(client)
    [got] = receiver.requests
    assert got.path == "/vouchers" and got.query == {"app_token": "tok-123"}
    assert got.headers["authorization"] == "Bearer tok-123" and got.headers["x-book"] == "main"
    assert Webhook(SIGNING).verify(got.body, got.headers) == {
        "summary": "Rent",
        "amount": "3000.00",
        "currency": "CNY",
    }
    assert got.headers["webhook-id"].startswith("auto_shop_post_voucher_evt:")
    stored = client.get(f"{URL}/{record['id']}").json()
    assert (stored["erp_id"], stored["erp_state"]) == ("V-2026-001", "posted")
    [run] = runs(client, "post_voucher")
    assert run["outcome"] == "done" and "tok-123" not in str(run["detail"])
    assert run["detail"]["actions"][0]["headers"]["Authorization"] == "Bearer ••••••"


def test_an_endpoint_that_refuses_fails_the_run_and_writes_nothing(client, receiver):
    publish_payments(client)
    set_secret(client, "erp_token", "tok-123")
    set_secret(client, "erp_signing", SIGNING)
    publish_automation(client, post_voucher(receiver))
    receiver.default = (400, {"error": "period closed"})
    record = client.post(URL, json={"title": "Rent", "amount": "1500.00"}).json()
    deliver(client)
    [run] = runs(client, "post_voucher")
    assert run["outcome"] == "failed" and "period closed" in run["detail"]["error"]
    assert client.get(f"{URL}/{record['id']}").json()["erp_id"] is None


def test_credentials_in_plain_text_and_unknown_secrets_are_refused(client, receiver):
    publish_payments(client)
    set_secret(client, "erp_signing", SIGNING)
    document = post_voucher(
        receiver,
        url=receiver.url + "/vouchers?access_token=abc123",
        headers={"Authorization": "Bearer abc123", "X-Api-Key": "Bearer {{secret.erp_token}} extra"},
        body={"password": {"value": "hunter2"}},
    )
    paths = sorted(p["path"] for p in save_automation(client, document)["problems"])
    assert paths == [
        "actions[0]",  # no secret named erp_token
        "actions[0].body.password",
        "actions[0].headers.Authorization",
        "actions[0].headers.X-Api-Key",
        "actions[0].url",
    ]
    published = client.post(f"/api/design/apps/{APP}/automations/post_voucher/publish")
    problem(published, 422)
    userinfo = post_voucher(receiver, url="http://me:pw@example.com/x")
    assert "actions[0].url" in [p["path"] for p in save_automation(client, userinfo)["problems"]]


def test_an_automation_starts_the_records_flow(client):
    office = Office(client)
    office.publish_form()
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    document = {
        "key": "auto_submit",
        "label": "Submit new requests",
        "form": office.form_key,
        "trigger": {"on": "record.created"},
        "actions": [{"kind": "start_flow"}],
    }
    publish_automation(client, document, app=office.app)
    record = office.record(clerk)
    deliver(client)
    assert client.get(office.record_url(record)).json()["status"] == "in_review"
    assert [t["record_id"] for t in boss.tasks()] == [record["id"]]


def test_start_flow_needs_a_published_flow(client):
    publish_payments(client)
    document = {
        "key": "auto_submit",
        "label": "Submit",
        "form": FORM,
        "trigger": {"on": "record.created"},
        "actions": [{"kind": "start_flow"}],
    }
    assert [p["path"] for p in save_automation(client, document)["problems"]] == ["actions[0].kind"]


def test_a_test_run_answers_what_would_happen_and_writes_and_sends_nothing(client, receiver):
    publish_payments(client)
    publish_app(client, APP, form("vouchers", field("summary"), field("total", "decimal", precision=12, scale=2)))
    set_secret(client, "erp_token", "tok-123")
    set_secret(client, "erp_signing", SIGNING)
    document = post_voucher(receiver)
    document["actions"].append(
        {"kind": "create_record", "form": "vouchers", "mapping": {"summary": "title", "total": {"formula": "amount"}}}
    )
    save_automation(client, document)
    small = client.post(URL, json={"title": "Nothing", "amount": "0.00"}).json()
    rent = client.post(URL, json={"title": "Rent", "amount": "1500.00"}).json()
    url = f"/api/design/apps/{APP}/automations/post_voucher/test-run"
    tried = client.post(url, json={"record_id": rent["id"]})
    assert tried.status_code == 200, tried.text
    answer = tried.json()
    assert answer["condition_met"] is True and answer["dry_run"] is True
    http, create = answer["actions"]
    assert http["url"].endswith("/vouchers?app_token=••••••") and http["sent"] is False
    assert http["body"] == {"summary": "Rent", "amount": "3000.00", "currency": "CNY"}
    assert create == {"kind": "create_record", "form": "vouchers", "values": {"summary": "Rent", "total": "1500.00"}}
    assert client.post(url, json={"record_id": small["id"]}).json()["condition_met"] is False
    assert client.post(url).json()["record_id"] == rent["id"]  # the newest record by default
    assert receiver.requests == [] and list_all(client, VOUCHERS) == []
    assert client.get(f"{URL}/{rent['id']}").json()["erp_id"] is None
    problem(client.post(url, json={"record_id": 999999}), 422, "record_id")
    broken = dict(document, trigger={"on": "field_changed", "field": "nope"})
    problem(client.post(url, json={"document": broken}), 422, "trigger.field")


def test_a_schedules_test_run_tells_its_next_times(client):
    publish_payments(client)
    publish_app(client, APP, form("vouchers", field("summary"), field("total", "decimal", precision=12, scale=2)))
    document = {
        "key": "weekly",
        "label": "Weekly",
        "form": FORM,
        "trigger": {"on": "schedule", "cron": "30 8 * * 1", "timezone": "Asia/Shanghai"},
        "actions": [{"kind": "create_record", "form": "vouchers", "mapping": {"summary": {"value": "Weekly"}}}],
    }
    save_automation(client, document)
    answer = client.post(f"/api/design/apps/{APP}/automations/weekly/test-run").json()
    assert answer["record_id"] is None and answer["condition_met"] is True
    assert answer["actions"][0]["values"] == {"summary": "Weekly"}
    assert len(answer["next_runs"]) == 3
    assert all(t.endswith("08:30:00+08:00") for t in answer["next_runs"])


def test_a_switched_off_automation_runs_nothing_and_the_overview_says_so(client):
    publish_payments(client)
    publish_app(client, APP, form("vouchers", field("summary"), field("total", "decimal", precision=12, scale=2)))
    document = {
        "key": "copy",
        "label": "Copy to vouchers",
        "form": FORM,
        "trigger": {"on": "record.created"},
        "actions": [{"kind": "create_record", "form": "vouchers", "mapping": {"summary": "title"}}],
    }
    publish_automation(client, document)
    off = client.put(f"/api/design/apps/{APP}/automations/copy/enabled", json={"enabled": False})
    assert off.status_code == 200, off.text
    client.post(URL, json={"title": "Quiet"})
    deliver(client)
    assert list_all(client, VOUCHERS) == []
    publish_automation(client, {**document, "label": "Copy to vouchers, again"})  # a new version stays off
    client.post(URL, json={"title": "Still quiet"})
    deliver(client)
    assert list_all(client, VOUCHERS) == []
    client.put(f"/api/design/apps/{APP}/automations/copy/enabled", json={"enabled": True})
    client.post(URL, json={"title": "Loud"})
    deliver(client)
    assert [v["summary"] for v in list_all(client, VOUCHERS)] == ["Loud"]
    [item] = client.get(f"/api/design/apps/{APP}/automation-overview").json()["items"]
    assert item["enabled"] is True and item["label"] == "Copy to vouchers, again"
    assert [r["outcome"] for r in item["runs"]] == ["done"]
    problem(client.put(f"/api/design/apps/{APP}/automations/copy/enabled", json={"enabled": "yes"}), 422, "enabled")
