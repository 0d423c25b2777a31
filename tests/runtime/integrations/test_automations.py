"""Automations: drafts, checks and versions like flows; run by the outbox worker on the form's events."""

from __future__ import annotations

from tests.builders import field, form, list_all, problem, publish_app, records_url
from tests.runtime.integrations.helpers import APP, FORM, URL, deliver, publish_orders

INVOICES = records_url(APP, "invoices")


def publish_automation(client, document) -> dict:
    saved = client.put(f"/api/design/apps/{APP}/automations/{document['key']}", json=document)
    assert saved.status_code == 200, saved.text
    assert saved.json()["problems"] == [], saved.json()["problems"]
    published = client.post(f"/api/design/apps/{APP}/automations/{document['key']}/publish")
    assert published.status_code == 200, published.text
    return published.json()


def big_order_becomes_invoice() -> dict:
    return {
        "key": "invoice_big_orders",
        "label": "Big orders become invoices",
        "form": FORM,
        "trigger": {"on": "record.created"},
        "condition": {"field": "amount", "op": "gt", "value": 100},
        "actions": [
            {"kind": "create_record", "form": "invoices", "mapping": {"order_title": "title", "total": "amount"}},
            {"kind": "update_record", "values": {"title": "invoiced"}},
        ],
    }


def test_a_created_record_that_meets_the_condition_creates_a_record_in_another_form(client):
    publish_orders(client)
    publish_app(client, APP, form("invoices", field("order_title"), field("total", "decimal", precision=12, scale=2)))
    assert publish_automation(client, big_order_becomes_invoice())["version"] == 1
    small = client.post(URL, json={"title": "Pens", "amount": "5.00"}).json()
    big = client.post(URL, json={"title": "Desks", "amount": "900.00"}).json()
    assert list_all(client, INVOICES) == []  # nothing happens until the worker runs
    deliver(client)
    invoices = list_all(client, INVOICES)
    assert [(i["order_title"], i["total"]) for i in invoices] == [("Desks", "900.00")]
    assert client.get(f"{URL}/{big['id']}").json()["title"] == "invoiced"
    assert client.get(f"{URL}/{small['id']}").json()["title"] == "Pens"
    deliver(client)  # the automation's own writes start no automation: no loop, no second invoice
    assert len(list_all(client, INVOICES)) == 1
    versions = client.get(f"/api/design/apps/{APP}/automations/invoice_big_orders/versions").json()["items"]
    assert [v["version"] for v in versions] == [1]


def test_a_field_change_notifies_a_channel_with_the_records_values(client):
    publish_orders(client)
    me = client.get("/api/me").json()
    inbox = client.post(f"/api/apps/{APP}/channels", json={"channel": "inbox", "config": {"users": [me["id"]]}})
    document = {
        "key": "amount_watch",
        "label": "Amount watch",
        "form": FORM,
        "trigger": {"on": "field_changed", "field": "amount"},
        "actions": [{"kind": "notify", "channel": inbox.json()["id"], "title": "{title} now costs {amount}"}],
    }
    publish_automation(client, document)
    record = client.post(URL, json={"title": "Chairs", "amount": "10.00"}).json()
    client.patch(f"{URL}/{record['id']}", json={"title": "Chairs!"})  # another field: not a trigger
    client.patch(f"{URL}/{record['id']}", json={"amount": "12.00"})
    deliver(client)  # the automation queues the message
    deliver(client)  # and the next round delivers it
    texts = [n["text"] for n in client.get("/api/notifications").json()["items"]]
    assert texts == ["Chairs! now costs 12.00"]


def test_an_automation_with_wrong_references_cannot_be_published(client):
    publish_orders(client)
    url = f"/api/design/apps/{APP}/automations/broken"
    document = {
        "key": "broken",
        "label": "Broken",
        "form": FORM,
        "trigger": {"on": "field_changed", "field": "nope"},
        "condition": {"field": "ghost", "op": "eq", "value": 1},
        "actions": [
            {"kind": "create_record", "form": "nowhere", "mapping": {}},
            {"kind": "update_record", "values": {"missing": 1}},
            {"kind": "notify", "channel": 999, "title": "{unknown}"},
        ],
    }
    saved = client.put(url, json=document).json()
    paths = {p["path"] for p in saved["problems"]}
    assert {"trigger.field", "actions[0].form", "actions[1].values.missing", "actions[2].channel"} <= paths
    assert "actions[2].title" in paths and any(p.startswith("condition") for p in paths)
    problem(client.post(f"{url}/publish"), 422)
    unknown = client.put(url, json={**document, "actions": [{"kind": "explode"}]}).json()
    assert [p["path"] for p in unknown["problems"]] == ["actions[0].kind"]
