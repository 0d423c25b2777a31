"""A linked record's title is shown only to readers who may read that record.

Purchase orders link to purchase requests. A buyer may read orders but no
request: everywhere an order names its request (expand, the list and record
pages, the history, the task page, the export) the buyer reads "no access",
and a filter on the request's title finds nothing that would count them.
Readers who may read the request read its title.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import admin_client, field, form, publish_app, records_url
from tests.conftest import DATABASES, another_client, create_user, log_in
from tests.runtime.flow.office import approval, line, users

APP = "links"
REQUESTS = records_url(APP, "purchase_request")
ORDERS = records_url(APP, "purchase_order")
SECRET = "Secret merger laptops"
OWN = "Own chairs"
PASSWORD = "link-password-1"
NO_ACCESS = {"zh-CN": "无权查看", "en": "No access"}


def _forms() -> list[dict[str, Any]]:
    request = form(
        "purchase_request",
        field("title", required=True),
        field("amount", "decimal", precision=12, scale=2),
        title_field="title",
    )
    source = {"id": "fld_source", "key": "source", "type": "relation", "label": "Source", "form": "purchase_request"}
    order = form(
        "purchase_order",
        field("order_no", required=True),
        {"id": "fld_request", "key": "request", "type": "relation", "label": "Request", "form": "purchase_request"},
        field("lines", "subform", fields=[field("item", required=True), source]),
        title_field="order_no",
    )
    return [request, order]


ORDERS_ONLY = {"purchase_order": {"read": "all", "update": "all", "export": "all"}}
ROLES = {
    "buyer": ORDERS_ONLY,
    "manager": {**ORDERS_ONLY, "purchase_request": {"read": "all"}},
    "requester": {**ORDERS_ONLY, "purchase_request": {"create": "all", "read": "own"}},
    "peeker": {**ORDERS_ONLY, "purchase_request": {"read": "all", "fields": {"title": "hidden"}}},
}


@dataclass
class Shop:
    admin: TestClient
    readers: dict[str, TestClient]
    secret: int  # a request only the manager may read
    own: int  # the requester's own request
    order: int  # an order of the secret request (submitted; the buyer approves it)
    other: int  # an order of the requester's request (a draft)
    task: int  # the buyer's task on `order`


def _person(admin: TestClient, name: str) -> TestClient:
    email = f"{name}@links.example.com"
    user = create_user(admin, email, PASSWORD)
    browser = another_client(admin)
    log_in(browser, email, PASSWORD)
    browser.user_id = user["id"]  # type: ignore[attr-defined]
    return browser


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module", params=DATABASES)
def shop(request, tmp_path_factory) -> Any:
    with admin_client(request.param, tmp_path_factory.mktemp("links")) as admin:
        publish_app(admin, APP, *_forms())
        readers = {name: _person(admin, name) for name in ROLES}
        for key, permissions in ROLES.items():
            _ok(admin.post("/api/roles", json={"app": APP, "key": key, "label": key, "permissions": permissions}))
            _ok(admin.post(f"/api/roles/{APP}/{key}/members", json={"add": [readers[key].user_id]}))
        secret = _ok(admin.post(REQUESTS, json={"title": SECRET, "amount": "900000"}), 201)["id"]
        own = _ok(readers["requester"].post(REQUESTS, json={"title": OWN}), 201)["id"]
        order = _ok(admin.post(ORDERS, json={"order_no": "PO-1", "request": own}), 201)
        # the history names both requests: the link changed from one to the other
        changed = {"request": secret, "lines": [{"item": "laptop", "source": secret}]}
        _ok(admin.patch(f"{ORDERS}/{order['id']}", json=changed, headers={"If-Match": f'"{order["version"]}"'}))
        other = _ok(admin.post(ORDERS, json={"order_no": "PO-2", "request": own}), 201)["id"]
        flow = {
            "key": "order_approval",
            "label": "Order approval",
            "form": "purchase_order",
            "nodes": line(approval("buy", users(readers["buyer"].user_id))),
        }
        _ok(admin.put(f"/api/design/apps/{APP}/flows/order_approval", json=flow))
        _ok(admin.post(f"/api/design/apps/{APP}/flows/order_approval/publish"))
        _ok(admin.post(f"{ORDERS}/{order['id']}/submit"))
        [task] = _ok(readers["buyer"].get("/api/tasks"))["items"]
        yield Shop(admin, readers, secret, own, order["id"], other, task["id"])


def _link(reader: TestClient, record: int) -> Any:
    return _ok(reader.get(f"{ORDERS}/{record}", params={"expand": "request"}))["request"]


def _listed(reader: TestClient) -> dict[int, Any]:
    items = _ok(reader.get(ORDERS, params={"expand": "request", "sort": "id"}))["items"]
    return {item["id"]: item["request"] for item in items}


# ------------------------------------------------------------------ the API


def test_a_reader_without_read_on_requests_gets_the_link_without_its_title(shop: Shop) -> None:
    buyer = shop.readers["buyer"]
    hidden = {"id": shop.secret, "title": None, "access": False}
    assert _link(buyer, shop.order) == hidden
    assert _listed(buyer)[shop.order] == hidden
    assert _listed(buyer)[shop.other] == {"id": shop.own, "title": None, "access": False}


def test_a_reader_of_requests_gets_the_title(shop: Shop) -> None:
    manager = shop.readers["manager"]
    assert _link(manager, shop.order) == {"id": shop.secret, "title": SECRET, "access": True}
    assert _listed(manager)[shop.other] == {"id": shop.own, "title": OWN, "access": True}
    assert _link(shop.admin, shop.order)["title"] == SECRET


def test_the_linked_forms_row_scope_decides_record_by_record(shop: Shop) -> None:
    requester = shop.readers["requester"]
    assert _link(requester, shop.other) == {"id": shop.own, "title": OWN, "access": True}
    assert _link(requester, shop.order) == {"id": shop.secret, "title": None, "access": False}


def test_a_hidden_title_field_hides_the_title_of_every_linked_record(shop: Shop) -> None:
    peeker = shop.readers["peeker"]
    assert _link(peeker, shop.order) == {"id": shop.secret, "title": None, "access": False}
    assert _link(peeker, shop.other)["access"] is False


def _count(reader: TestClient, op: str, value: Any) -> int:
    condition = json.dumps({"field": "request", "op": op, "value": value})
    return _ok(reader.get(ORDERS, params={"filter": condition, "count": "exact"}))["total"]


@pytest.mark.parametrize("op, value", [("starts_with", "Secret"), ("contains", "merger"), ("contains", "s")])
def test_a_filter_on_the_linked_title_counts_only_titles_the_reader_may_read(shop: Shop, op: str, value: str) -> None:
    assert _count(shop.readers["buyer"], op, value) == 0
    assert _count(shop.readers["peeker"], op, value) == 0
    assert _count(shop.readers["manager"], op, value) >= 1
    assert _count(shop.admin, op, value) == _count(shop.readers["manager"], op, value)


def test_the_requesters_filter_finds_their_own_requests_title_only(shop: Shop) -> None:
    requester = shop.readers["requester"]
    assert _count(requester, "starts_with", "Own") == 1
    assert _count(requester, "starts_with", "Secret") == 0


def test_a_filter_by_the_linked_id_still_works_without_read_on_requests(shop: Shop) -> None:
    assert _count(shop.readers["buyer"], "eq", shop.secret) == 1


# ------------------------------------------------------------------ pages and the export


def _page(reader: TestClient, url: str) -> str:
    response = reader.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.text


def test_the_pages_say_no_access_instead_of_the_title(shop: Shop) -> None:
    buyer = shop.readers["buyer"]
    pages = [
        f"/apps/{APP}/forms/purchase_order",  # the list
        f"/apps/{APP}/forms/purchase_order/records/{shop.order}",  # fields, order lines and the history
        f"/apps/{APP}/forms/purchase_order/records/{shop.other}/edit",
        f"/tasks/{shop.task}",
    ]
    for url in pages:
        html = _page(buyer, url)
        assert SECRET not in html and OWN not in html, url
        assert NO_ACCESS["zh-CN"] in html, url


def test_the_pages_show_the_title_to_a_reader_of_the_request(shop: Shop) -> None:
    manager = shop.readers["manager"]
    assert SECRET in _page(manager, f"/apps/{APP}/forms/purchase_order")
    record_page = _page(manager, f"/apps/{APP}/forms/purchase_order/records/{shop.order}")
    assert SECRET in record_page and OWN in record_page  # the history names both
    assert NO_ACCESS["zh-CN"] not in record_page


def _export(reader: TestClient) -> str:
    response = reader.get(f"/api/apps/{APP}/forms/purchase_order/export", params={"locale": "en"})
    assert response.status_code == 200, response.text
    return response.content.decode("utf-8-sig")


def test_the_export_writes_no_access_instead_of_the_title(shop: Shop) -> None:
    written = _export(shop.readers["buyer"])
    assert SECRET not in written and OWN not in written
    assert written.count(NO_ACCESS["en"]) == 2
    assert SECRET in _export(shop.readers["manager"])


def test_the_apps_openapi_document_describes_a_link_without_access(shop: Shop) -> None:
    document = _ok(shop.readers["buyer"].get(f"/api/apps/{APP}/openapi.json"))
    link = document["components"]["schemas"]["RecordLink"]
    assert link["required"] == ["id", "title", "access"]
    assert link["properties"]["access"]["type"] == "boolean"
    assert "access" in link["description"] and "null" in link["description"]
