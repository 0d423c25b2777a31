"""The bundled CRM over HTTP, from a lead to money received: a lead becomes a customer, the customer an
opportunity, a quote and a contract with line items that a sales manager approves; the contract's payment
plan and a payment received show on the collection dashboard; a follow-up moves its customer's last follow-up
and a payment marks its plan received, when the worker runs. The public pool takes back a customer nobody
followed up for 30 days, and a payment plan due in three days is marked so, when the worker runs."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from opsloom.designer.packages import read_package
from opsloom.resources import data_path
from tests.designer.test_bundled_apps import create, install, records_url, status, submit
from tests.runtime.flow.office import Office, Person
from tests.runtime.integrations.automation_helpers import runs, when_published
from tests.runtime.integrations.helpers import deliver

SHANGHAI = ZoneInfo("Asia/Shanghai")


def patch(person: Person, form: str, record: dict[str, Any], **values: Any) -> dict[str, Any]:
    response = person.client.patch(f"{records_url('crm', form)}/{record['id']}", json=values)
    assert response.status_code == 200, response.text
    return response.json()


def read(person: Person, form: str, record: dict[str, Any]) -> dict[str, Any]:
    response = person.get(f"{records_url('crm', form)}/{record['id']}")
    assert response.status_code == 200, response.text
    return response.json()


def titles(person: Person, form: str, field: str = "name") -> set[str]:
    response = person.get(records_url("crm", form), limit=200)
    assert response.status_code == 200, response.text
    return {r[field] for r in response.json()["items"]}


def run_report(person: Person, key: str) -> dict[str, Any]:
    response = person.client.post(f"/api/apps/crm/reports/{key}/run", headers={"Accept-Language": "en"})
    assert response.status_code == 200, response.text
    return response.json()


def test_crm_from_a_lead_to_a_payment_received(client: TestClient) -> None:
    installed = install(client, "crm")
    assert installed["records"]["contract"] == 2 and installed["records"]["payment_plan"] == 6
    office = Office(client, "crm")
    rep, other_rep, manager, accountant = office.people("rep", "other", "manager", "accountant")
    office.add_members("sales_rep", rep, other_rep)
    office.add_members("sales_manager", manager)
    office.add_members("finance", accountant)
    today = datetime.now(SHANGHAI).date()

    lead = create(rep, "crm", "lead", name="周敏", company="远航机械", source="trade_show", owner=rep.id)
    assert lead["stage"] == "new" and lead["number"].startswith("LEAD-")
    assert titles(rep, "lead") == {"周敏"}  # a rep sees their own leads, not the sample ones
    customer = create(rep, "crm", "customer", name="远航机械", industry="manufacturing", owner=rep.id)
    assert customer["last_followed"] is None
    create(rep, "crm", "follow_up", customer=customer["id"], subject="首次拜访", method="visit", date=today.isoformat())
    deliver(client)  # the automation follow_up_touches_customer moves the customer's last follow-up
    assert read(rep, "customer", customer)["last_followed"] == today.isoformat()
    refused = rep.client.patch(f"{records_url('crm', 'lead')}/{lead['id']}", json={"stage": "converted"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "customer"
    lead = patch(rep, "lead", lead, stage="converted", customer=customer["id"])
    assert (lead["stage"], lead["customer"]) == ("converted", customer["id"])

    # the public pool: customers nobody owns are everyone's to see and claim; owned ones are their owner's
    pool = titles(other_rep, "customer")
    assert "青禾咨询" in pool and "远航机械" not in pool
    assert other_rep.get(f"{records_url('crm', 'customer')}/{customer['id']}").status_code == 404

    deal = create(
        rep, "crm", "opportunity", title="远航机械 MES", customer=customer["id"], amount="380000", owner=rep.id
    )
    deal = patch(rep, "opportunity", deal, stage="proposal", probability=60)
    assert deal["weighted"] == "228000.00"
    lines = [
        {"product": "MES 软件许可", "qty": 2, "unit_price": "120000.00"},
        {"product": "实施服务（人天）", "qty": 80, "unit_price": "1500.00"},
    ]
    quote = create(
        rep, "crm", "quote", title="远航机械 MES 报价", customer=customer["id"], opportunity=deal["id"], items=lines
    )
    assert quote["total"] == "360000.00" and [r["line_total"] for r in quote["items"]] == ["240000.00", "120000.00"]

    contract = create(
        rep,
        "crm",
        "contract",
        title="远航机械 MES 合同",
        customer=customer["id"],
        opportunity=deal["id"],
        quote=quote["id"],
        items=copy.deepcopy(lines),
        owner=rep.id,
    )
    assert contract["total"] == "360000.00" and contract["number"].startswith("CT-")
    submit(rep, "crm", "contract", contract)
    assert status(rep, "crm", "contract", contract) == "in_review"
    assert [t["node"] for t in manager.tasks()] == ["manager"]
    manager.approve(comment="ok", values={"signed_on": today.isoformat()})
    assert status(rep, "crm", "contract", contract) == "approved"
    assert patch(rep, "opportunity", deal, stage="won")["stage"] == "won"

    plans = [
        create(
            rep,
            "crm",
            "payment_plan",
            contract=contract["id"],
            period=period,
            planned_date=(today + timedelta(days=days)).isoformat(),
            planned_amount=amount,
            owner=rep.id,
        )
        for period, days, amount in (("预付款", 4, "108000.00"), ("尾款", 60, "252000.00"))
    ]
    assert [p["state"] for p in plans] == ["planned", "planned"]
    assert titles(other_rep, "payment_plan", "period") == set()
    payment = create(
        accountant,
        "crm",
        "payment",
        contract=contract["id"],
        payment_plan=plans[0]["id"],
        date=today.isoformat(),
        amount="108000.00",
    )
    assert payment["method"] == "bank_transfer" and payment["number"].startswith("PAY-")
    deliver(client)  # the automation payment_settles_plan marks the plan the payment names received
    assert [read(rep, "payment_plan", p)["state"] for p in plans] == ["received", "planned"]
    settled = {r["record_id"]: r["outcome"] for r in runs(client, "payment_settles_plan", app="crm")}
    assert settled[payment["id"]] == "done" and set(settled.values()) == {"done"}  # the samples' plans: as they were
    assert rep.client.post(records_url("crm", "payment"), json={}).status_code == 403  # finance records payments

    by_contract = run_report(manager, "received_by_contract")
    row = next(r for r in by_contract["rows"] if r["labels"]["contract"] == "远航机械 MES 合同")
    assert {k: Decimal(v) for k, v in row["values"].items() if k != "contract"} == {
        "received": Decimal("108000.00"),
        "contract_total": Decimal("360000.00"),
        "outstanding": Decimal("252000.00"),
    }
    month = today.strftime("%Y-%m")
    by_month = run_report(manager, "received_by_month")
    received = {r["values"]["date__month"][:7]: Decimal(r["values"]["received"]) for r in by_month["rows"]}
    assert received[month] >= Decimal("108000.00")
    overdue = run_report(manager, "overdue_payment_plans")
    assert "远航机械 MES 合同" not in {r["labels"]["contract"] for r in overdue["rows"]}
    # the sample's late instalments (a day either side of today: the server's zone may differ from Shanghai)
    sample = read_package(data_path("examples") / "crm")["sample_data"]["payment_plan"]
    open_plans = [p for p in sample if p.get("state") != "received"]
    surely = {p["contract"] for p in open_plans if p["planned_date"] < (today - timedelta(days=1)).isoformat()}
    maybe = {p["contract"] for p in open_plans if p["planned_date"] <= (today + timedelta(days=1)).isoformat()}
    assert surely and surely <= {r["labels"]["contract"] for r in overdue["rows"]} <= maybe
    funnel = {r["values"]["stage"]: Decimal(r["values"]["amount"]) for r in run_report(manager, "sales_funnel")["rows"]}
    assert "won" not in funnel and funnel["proposal"] == Decimal("680000.00")  # the sample deal; ours is won
    for dashboard in ("collection", "sales"):
        board = manager.client.post(f"/api/apps/crm/dashboards/{dashboard}/run", json={})
        assert board.status_code == 200 and all("result" in i for i in board.json()["items"]), board.text
    won = {r["labels"]["owner"]: Decimal(r["values"]["total"]) for r in run_report(manager, "won_by_owner")["rows"]}
    assert list(won.values()) == [Decimal("360000.00")]  # the one approved contract

    # A customer not followed up for 30 days goes back to the pool at the next nightly run.
    stale = create(rep, "crm", "customer", name="久未联系公司", owner=rep.id)
    stale = patch(rep, "customer", stale, last_followed=(today - timedelta(days=45)).isoformat())
    published = when_published(client, "customer_back_to_pool", app="crm")
    deliver(client, published + timedelta(days=1, hours=1))
    assert read(rep, "customer", stale)["owner"] is None  # still readable: in the pool
    assert read(rep, "customer", customer)["owner"] == rep.id  # followed up today: kept
    assert "久未联系公司" in titles(other_rep, "customer")
    assert [r["record_id"] for r in runs(client, "customer_back_to_pool", app="crm")] == [stale["id"]]
    # the instalment received is not due any more; the one in sixty days is not due yet
    assert read(rep, "payment_plan", plans[1])["state"] == "planned"
    assert read(rep, "payment_plan", plans[0])["state"] == "received"


def test_a_payment_plan_is_marked_due_soon_three_days_ahead_then_overdue(client: TestClient) -> None:
    install(client, "crm")
    contract = client.get(records_url("crm", "contract"), params={"limit": 1}).json()["items"][0]
    published = when_published(client, "payment_due_soon", app="crm").astimezone(SHANGHAI).date()
    url = records_url("crm", "payment_plan")

    def plan(days: int) -> dict[str, Any]:
        body = {
            "contract": contract["id"],
            "period": f"in {days} days",
            "planned_date": (published + timedelta(days=days)).isoformat(),
            "planned_amount": "1000.00",
        }
        created = client.post(url, json=body)
        assert created.status_code == 201, created.text
        return created.json()

    soon, later = plan(4), plan(30)
    at = datetime.combine(published + timedelta(days=1), datetime.min.time(), SHANGHAI).astimezone(UTC)
    deliver(client, at + timedelta(hours=12))
    assert client.get(f"{url}/{soon['id']}").json()["state"] == "due_soon"
    assert client.get(f"{url}/{later['id']}").json()["state"] == "planned"
    deliver(client, at + timedelta(days=4, hours=12))  # the day after the planned date
    assert client.get(f"{url}/{soon['id']}").json()["state"] == "overdue"


def test_crm_1_0_0_upgrades_to_the_bundled_version_and_keeps_its_records(client: TestClient) -> None:
    bundled = read_package(data_path("examples") / "crm")
    old_forms = {"customer", "contact", "opportunity", "follow_up"}
    old = {
        "format": bundled["format"],
        "app": bundled["app"] | {"version": "1.0.0", "menu": sorted(old_forms)},
        "forms": [f for f in bundled["forms"] if f["key"] in old_forms],
        "flows": [f for f in bundled["flows"] if f["key"] == "deal_review"],
        "roles": [
            r | {"permissions": {k: v for k, v in r["permissions"].items() if k in old_forms | {"*"}}}
            for r in bundled["roles"]
            if r["key"] != "finance"
        ],
        "sample_data": {k: v for k, v in bundled["sample_data"].items() if k in old_forms},
    }
    assert client.post("/api/packages/import", json=old).status_code == 200
    kept = client.post(records_url("crm", "customer"), json={"name": "Kept Ltd"}).json()
    upgraded = client.post("/api/packages/import", json=bundled)
    assert upgraded.status_code == 200, upgraded.text
    assert client.get(f"{records_url('crm', 'customer')}/{kept['id']}").json()["name"] == "Kept Ltd"
    assert client.get(records_url("crm", "contract")).status_code == 200
    keys = {r["key"] for r in client.get("/api/apps/crm/reports").json()["items"]}
    assert {"sales_funnel", "planned_by_month", "received_by_month", "overdue_payment_plans"} <= keys
