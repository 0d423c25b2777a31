"""The procurement example's automations over HTTP, installed as the bundled package (the import API).

An approved request becomes one purchase order with its lines copied, made by the outbox worker however
often it runs; a request over 100,000 is announced in the finance group's chat robot — a channel the
package names but cannot carry (its URL is a credential), so until an admin adds it each run fails in the
run log saying what to add, and the install and the purchase orders do not depend on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from decimal import Decimal
from typing import Any

import pytest

from tests.designer.test_bundled_apps import install
from tests.runtime.flow.test_procurement_flow import BIG, ORDERS, REQUESTS, SMALL, Company
from tests.runtime.integrations.automation_helpers import runs
from tests.runtime.integrations.helpers import deliver

APP = "procurement"
CHANNELS = f"/api/apps/{APP}/channels"
TO_ORDER = "approved_request_to_order"
TO_FINANCE = "notify_finance_of_large_requests"


@pytest.fixture
def company(client) -> Company:
    return Company(client, installer=lambda c: install(c, APP), supplier="Yangtze Office Supplies")


def until_idle(client) -> None:
    """Worker rounds until one finds nothing to do (as `opsloom worker` loops)."""
    for _ in range(50):
        if deliver(client).idle:
            return
    raise AssertionError("the worker still had work after 50 rounds")


def approved(c: Company, *items: tuple[str, int, str]) -> dict[str, Any]:
    """A request through the whole chain: the head, the vice-president when over 100,000, both finance people."""
    request = c.request(*items)
    assert c.requester.post(f"{REQUESTS}/{request['id']}/submit").status_code == 200
    c.head.approve()
    if Decimal(request["amount"]) > 100000:
        c.vp.approve()
    c.qian.approve()
    c.sun.approve()
    assert c.status(request) == "approved"
    return request


def orders_of(client, request: dict[str, Any]) -> list[dict[str, Any]]:
    found = client.get(ORDERS, params={"limit": 200}).json()["items"]
    return [client.get(f"{ORDERS}/{o['id']}").json() for o in found if o["request"] == request["id"]]


def lines(record: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    return [(i["item"], i["qty"], i["unit_price"], i["line_total"]) for i in record["items"]]


def test_an_approved_request_becomes_exactly_one_purchase_order_with_its_lines(company, client):
    c = company
    listed = client.get(f"/api/design/apps/{APP}/automation-overview").json()["items"]
    assert {(a["key"], a["enabled"]) for a in listed} == {(TO_ORDER, True), (TO_FINANCE, True)}
    request = approved(c, *SMALL)
    assert orders_of(client, request) == []  # made after the commit, by the worker
    until_idle(client)
    until_idle(client)  # a second worker pass makes nothing again
    [order] = orders_of(client, request)
    assert order["supplier"] == c.supplier and order["notes"] == request["title"]
    assert Decimal(order["amount"]) == Decimal("6452.50") and order["order_no"].startswith("PO-")
    assert lines(order) == lines(client.get(f"{REQUESTS}/{request['id']}").json())
    assert [i["id"] for i in order["items"]] != [i["id"] for i in request["items"]]  # copies, not the same rows
    [run] = runs(client, TO_ORDER, APP)
    assert run["outcome"] == "done" and run["record_id"] == request["id"]
    assert runs(client, TO_FINANCE, APP) == []  # 6,452.50: the condition leaves it out, nothing is logged


def test_a_large_request_fails_plainly_until_the_finance_robot_is_added_then_reaches_it_signed(
    company, client, receiver
):
    c = company
    first = approved(c, *BIG)
    until_idle(client)
    assert len(orders_of(client, first)) == 1  # the missing robot does not hold back the order
    [failed] = runs(client, TO_FINANCE, APP)
    assert failed["outcome"] == "failed" and failed["record_id"] == first["id"]
    assert "no active channel named 'finance'" in failed["detail"]["error"]
    assert f"POST /api/apps/{APP}/channels" in failed["detail"]["error"]
    assert receiver.requests == []

    secret = "SEC5d1f0c2a9b7e4"
    added = client.post(
        CHANNELS,
        json={
            "name": "finance",
            "channel": "dingtalk",
            "config": {"url": receiver.url + "/robot/send?access_token=fin-token"},
            "secret": secret,
        },
    )
    assert added.status_code == 201, added.text
    second = approved(c, *BIG)
    small = approved(c, *SMALL)
    until_idle(client)
    until_idle(client)
    [got] = receiver.requests  # the large one only, once
    assert got.path == "/robot/send" and got.query["access_token"] == "fin-token"
    expected = hmac.new(secret.encode(), f"{got.query['timestamp']}\n{secret}".encode(), hashlib.sha256).digest()
    assert got.query["sign"] == base64.b64encode(expected).decode()
    body = got.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == f"大额采购已批准 Large purchase approved: {second['number']}"
    assert "Laptops for the new team" in body["markdown"]["text"] and "105600.00" in body["markdown"]["text"]
    assert [r["outcome"] for r in runs(client, TO_FINANCE, APP)] == ["done", "failed"]  # newest first
    [delivery] = client.get(f"{CHANNELS}/{added.json()['id']}/deliveries").json()["items"]
    assert delivery["status"] == "delivered"
    assert len(orders_of(client, second)) == 1 and len(orders_of(client, small)) == 1


@pytest.mark.parametrize("robot", ["wecom", "feishu"])
def test_the_finance_robot_may_be_wecom_or_feishu(company, client, receiver, robot):
    c = company
    paths = {"wecom": "/cgi-bin/webhook/send?key=k-fin", "feishu": "/open-apis/bot/v2/hook/fin"}
    document: dict[str, Any] = {"name": "finance", "channel": robot, "config": {"url": receiver.url + paths[robot]}}
    secret = "feishu-sign-secret"
    if robot == "feishu":
        document["secret"] = secret
    assert client.post(CHANNELS, json=document).status_code == 201
    request = approved(c, *BIG)
    until_idle(client)
    [got] = receiver.requests
    body = got.json()
    title = f"大额采购已批准 Large purchase approved: {request['number']}"
    if robot == "wecom":
        assert got.query == {"key": "k-fin"} and body["msgtype"] == "markdown"
        assert body["markdown"]["content"].startswith(f"### {title}")
    else:
        assert body["msg_type"] == "interactive" and body["card"]["header"]["title"]["content"] == title
        key = f"{body['timestamp']}\n{secret}".encode()
        assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert len(orders_of(client, request)) == 1
