"""The procurement example end to end over HTTP: a purchase request through its whole approval chain.

Department head -> the vice-president over 100,000 -> finance countersign
(two people) -> CC the requester's manager; then the app's automation, run by the
outbox worker, makes the purchase order.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from opsloom.designer.packages import install_package, read_package
from opsloom.platform.context import RequestContext
from opsloom.resources import data_path
from tests.builders import problem
from tests.runtime.flow.office import Office
from tests.runtime.integrations.helpers import deliver

PROCUREMENT = data_path("examples") / "procurement"
APP = "procurement"
REQUESTS = f"/api/apps/{APP}/forms/purchase_request/records"
ORDERS = f"/api/apps/{APP}/forms/purchase_order/records"


def install(client) -> None:
    async def run() -> None:
        async with client.app.state.db.session(write=True) as session:
            await install_package(
                session,
                RequestContext.for_now(),
                read_package(PROCUREMENT),
                registry=client.app.state.forms,
                with_sample_data=False,
            )

    client.portal.call(run)


class Company:
    """The procurement app installed, with the people its flow names."""

    def __init__(
        self, client, installer: Callable[[TestClient], object] = install, supplier: str = "Northwind Computing"
    ) -> None:
        installer(client)
        office = Office(client, APP)
        self.office = office
        self.ceo, self.head, self.lead, self.requester = office.people("ceo", "head", "lead", "requester")
        self.vp, self.qian, self.sun = office.people("vp", "qian", "sun")
        company = office.department("Company", head=self.ceo)
        engineering = office.department("Engineering", parent=company, head=self.head)
        for person in (self.head, self.lead, self.requester):
            office.move(person, department_id=engineering)
        office.move(self.requester, manager_id=self.lead.id)
        for role, people in (
            ("requester", [self.requester]),
            ("vice_president", [self.vp]),
            ("finance", [self.qian, self.sun]),
        ):
            office.add_members(role, *people)
        supplier = client.post(f"/api/apps/{APP}/forms/supplier/records", json={"name": supplier})
        assert supplier.status_code == 201, supplier.text
        self.supplier = supplier.json()["id"]

    def request(self, *items: tuple[str, int, str], **values) -> dict:
        body = {
            "title": "Laptops for the new team",
            "department": "engineering",
            "category": "it",
            "supplier": self.supplier,
            "reason": "Three engineers start next month",
            "items": [{"item": item, "qty": qty, "unit_price": price} for item, qty, price in items],
            **values,
        }
        created = self.requester.client.post(REQUESTS, json=body)
        assert created.status_code == 201, created.text
        return created.json()

    def status(self, record: dict) -> str:
        return self.requester.client.get(f"{REQUESTS}/{record['id']}").json()["status"]

    def timeline(self, record: dict) -> list[dict]:
        response = self.requester.client.get(f"{REQUESTS}/{record['id']}/timeline")
        assert response.status_code == 200, response.text
        [instance] = response.json()["items"]
        return instance["events"]


@pytest.fixture
def company(client) -> Company:
    return Company(client)


BIG = (("ThinkPad X1 Carbon", 6, "13900.00"), ("Docking station", 6, "500.00"), ("4K monitor", 6, "3200.00"))
SMALL = (("Keyboard", 10, "300.00"), ("Mouse", 10, "120.00"), ("Headset", 5, "450.50"))


def test_a_large_purchase_request_goes_through_the_whole_chain_and_becomes_a_purchase_order(company, client):
    c = company
    request = c.request(*BIG)
    assert request["amount"] == "105600.00"  # 6 x 13,900 + 6 x 500 + 6 x 3,200
    assert [i["line_total"] for i in request["items"]] == ["83400.00", "3000.00", "19200.00"]
    assert request["needs_vp"] is True and request["number"].startswith("PR-")

    submitted = c.requester.post(f"{REQUESTS}/{request['id']}/submit", {"comment": "needed by the 1st"})
    assert submitted.status_code == 200, submitted.text
    assert c.status(request) == "in_review"
    assert c.requester.client.patch(f"{REQUESTS}/{request['id']}", json={"title": "x"}).status_code == 409

    # the head of Engineering: the reason is editable at this step, nothing else is
    task = c.head.task("head")
    page = c.head.get(f"/api/tasks/{task}").json()
    assert page["fields"]["reason"] == "editable" and page["fields"]["amount"] == "readonly"
    assert page["record"]["amount"] == "105600.00"
    problem(c.head.act("approve", {"values": {"title": "cheaper"}}), 403, "values.title")
    c.head.approve(comment="agreed", values={"reason": "Three engineers start on the 1st"})
    assert c.vp.tasks()[0]["node"] == "vp"
    assert c.qian.tasks() == [] and c.sun.tasks() == []

    c.vp.approve(comment="within budget")
    assert c.qian.task("finance") and c.sun.task("finance")
    c.qian.approve()
    assert c.status(request) == "in_review" and c.lead.tasks("cc") == []
    c.sun.approve(comment="paid from the Q3 budget")

    done = c.requester.client.get(f"{REQUESTS}/{request['id']}").json()
    assert done["status"] == "approved"
    assert done["reason"] == "Three engineers start on the 1st"
    [copy] = c.lead.tasks("cc")
    assert (copy["record_id"], copy["node"]) == (request["id"], "cc_manager")
    assert "cc" in c.lead.notified()
    assert c.requester.notified()[-1] == "approved"

    assert client.get(ORDERS).json()["items"] == []  # the outbox worker makes it, after the commit
    deliver(client)
    [order] = client.get(ORDERS).json()["items"]
    assert order["request"] == request["id"]
    assert order["supplier"] == c.supplier
    assert Decimal(order["amount"]) == Decimal("105600.00")
    assert order["notes"] == "Laptops for the new team"
    assert order["order_no"].startswith("PO-")
    lines = [(i["item"], i["qty"], i["unit_price"], i["line_total"]) for i in order["items"]]
    assert lines == [
        ("ThinkPad X1 Carbon", 6, "13900.00", "83400.00"),
        ("Docking station", 6, "500.00", "3000.00"),
        ("4K monitor", 6, "3200.00", "19200.00"),
    ]

    story = [(e["action"], e["node"], e["actor_id"]) for e in c.timeline(request)]
    assert story == [
        ("submitted", None, c.requester.id),
        ("node_entered", "head", None),
        ("approved", "head", c.head.id),
        ("node_passed", "head", None),
        ("branch", "amount_check", None),
        ("node_entered", "vp", None),
        ("approved", "vp", c.vp.id),
        ("node_passed", "vp", None),
        ("node_entered", "finance", None),
        ("approved", "finance", c.qian.id),
        ("approved", "finance", c.sun.id),
        ("node_passed", "finance", None),
        ("cc", "cc_manager", None),
        ("approved", None, None),
    ]
    events = c.timeline(request)
    assert events[0]["comment"] == "needed by the 1st"
    assert events[2]["detail"]["changes"]["reason"]["after"] == "Three engineers start on the 1st"
    assert events[4]["detail"]["to"] == "vp"
    assert events[12]["detail"]["recipients"] == [c.lead.id]


def test_a_request_under_100000_skips_the_vice_president(company, client):
    c = company
    request = c.request(*SMALL)
    assert request["amount"] == "6452.50" and request["needs_vp"] is False
    assert c.requester.post(f"{REQUESTS}/{request['id']}/submit").status_code == 200
    c.head.approve()
    assert c.vp.tasks() == []
    c.qian.approve()
    c.sun.approve()
    assert c.status(request) == "approved"
    assert c.vp.tasks("done") == [] and c.vp.notified() == []
    nodes = [e["node"] for e in c.timeline(request) if e["action"] == "node_entered"]
    assert nodes == ["head", "finance"]
    deliver(client)
    [order] = client.get(ORDERS).json()["items"]
    assert (order["amount"], len(order["items"])) == ("6452.50", 3)


def test_a_finance_veto_sends_the_request_back_to_nobody_and_creates_no_order(company, client):
    c = company
    request = c.request(*SMALL)
    assert c.requester.post(f"{REQUESTS}/{request['id']}/submit").status_code == 200
    c.head.approve()
    c.qian.approve()
    assert c.sun.act("reject", {"comment": "no budget left"}).status_code == 200
    assert c.status(request) == "rejected"
    deliver(client)  # the worker runs the automations of the rejection: none makes an order
    assert client.get(ORDERS).json()["items"] == []
    assert c.lead.tasks("cc") == []
