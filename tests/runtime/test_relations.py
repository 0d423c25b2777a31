"""Relation fields: links to records of another form, checked, expanded, filtered, protected."""

from __future__ import annotations

import json

from tests.builders import field, form, publish_app, records_url

APP = "buy"
SUPPLIERS = records_url(APP, "supplier")
ORDERS = records_url(APP, "order")


def forms(on_delete="restrict"):
    supplier = form("supplier", field("name", required=True), title_field="name")
    order = form(
        "order",
        field("title", required=True),
        {
            "id": "fld_sup",
            "key": "supplier",
            "type": "relation",
            "label": "Supplier",
            "form": "supplier",
            "on_delete": on_delete,
        },
        title_field="title",
    )
    return supplier, order


def test_links_are_checked_and_expanded(client):
    publish_app(client, APP, *forms())
    north = client.post(SUPPLIERS, json={"name": "Northwind"}).json()["id"]
    order = client.post(ORDERS, json={"title": "desks", "supplier": north})
    assert order.status_code == 201 and order.json()["supplier"] == north
    missing = client.post(ORDERS, json={"title": "x", "supplier": 999})
    assert missing.status_code == 422 and missing.json()["errors"][0]["path"] == "supplier"
    expanded = client.get(f"{ORDERS}/{order.json()['id']}", params={"expand": "supplier"}).json()
    assert expanded["supplier"] == {"id": north, "title": "Northwind", "access": True}
    listed = client.get(ORDERS, params={"expand": "supplier"}).json()["items"]
    assert listed[0]["supplier"]["title"] == "Northwind"
    assert client.get(ORDERS, params={"expand": "title"}).status_code == 400


def test_filter_by_the_linked_records_title(client):
    publish_app(client, APP, *forms())
    north = client.post(SUPPLIERS, json={"name": "Northwind"}).json()["id"]
    south = client.post(SUPPLIERS, json={"name": "Southpaw"}).json()["id"]
    client.post(ORDERS, json={"title": "a", "supplier": north})
    client.post(ORDERS, json={"title": "b", "supplier": south})
    flt = json.dumps({"field": "supplier", "op": "contains", "value": "NORTH"})
    assert [r["title"] for r in client.get(ORDERS, params={"filter": flt}).json()["items"]] == ["a"]
    by_id = json.dumps({"field": "supplier", "op": "eq", "value": south})
    assert [r["title"] for r in client.get(ORDERS, params={"filter": by_id}).json()["items"]] == ["b"]


def test_deleting_a_linked_record_is_refused_with_the_referrers(client):
    publish_app(client, APP, *forms())
    north = client.post(SUPPLIERS, json={"name": "Northwind"}).json()["id"]
    order = client.post(ORDERS, json={"title": "a", "supplier": north}).json()["id"]
    refused = client.delete(f"{SUPPLIERS}/{north}")
    assert refused.status_code == 409
    assert str(order) in refused.json()["errors"][0]["message"]
    assert client.get(f"{SUPPLIERS}/{north}").status_code == 200
    client.delete(f"{ORDERS}/{order}")
    assert client.delete(f"{SUPPLIERS}/{north}").status_code == 204


def test_set_empty_links_are_emptied_when_the_record_goes(client):
    publish_app(client, APP, *forms(on_delete="set_empty"))
    north = client.post(SUPPLIERS, json={"name": "Northwind"}).json()["id"]
    order = client.post(ORDERS, json={"title": "a", "supplier": north}).json()["id"]
    assert client.delete(f"{SUPPLIERS}/{north}").status_code == 204
    assert client.get(f"{ORDERS}/{order}").json()["supplier"] is None
    history = client.get(f"{ORDERS}/{order}/history").json()["items"]
    assert history[-1]["changes"] == {"supplier": {"before": north, "after": None}}


def test_a_relation_must_link_to_a_published_form(client):
    supplier, order = forms()
    order["fields"][1]["form"] = "nowhere"
    client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Buy"})
    client.put(f"/api/design/apps/{APP}/forms/order", json=order)
    refused = client.post(f"/api/design/apps/{APP}/forms/order/publish")
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "fields[1].form"
