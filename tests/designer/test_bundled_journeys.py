"""The bundled projects and procurement templates over HTTP, each along its main journey: installed through
the import API, used by the members of the app's roles, its reports and dashboards run on what they entered."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from opsloom.designer.packages import read_package
from opsloom.resources import data_path
from opsloom.runtime.fields import sources_of
from tests.designer.test_bundled_apps import create, install, records_url, status, submit
from tests.runtime.flow.office import Office, Person


def run_dashboard(person: Person, app: str, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = person.client.post(f"/api/apps/{app}/dashboards/{key}/run", json=body or {})
    assert response.status_code == 200, response.text
    items = {item["report"]: item for item in response.json()["items"]}
    assert all("result" in item for item in items.values()), items
    return {key: item["result"] for key, item in items.items()}


def run_report(person: Person, app: str, key: str) -> dict[str, Any]:
    response = person.client.post(f"/api/apps/{app}/reports/{key}/run", json={})
    assert response.status_code == 200, response.text
    return dict(response.json())


def pages_open(person: Person, *urls: str) -> None:
    for url in urls:
        page = person.client.get(url, headers={"Accept-Language": "en"})
        assert page.status_code == 200 and "<main" in page.text, url


def row_of(result: dict[str, Any], **values: Any) -> dict[str, Any]:
    [row] = [r["values"] for r in result["rows"] if all(r["values"].get(k) == v for k, v in values.items())]
    return dict(row)


# ------------------------------------------------------------------- projects


def test_projects_hours_and_costs_add_up_to_the_projects_actual_cost_on_the_budget_dashboard(
    client: TestClient,
) -> None:
    install(client, "projects")
    office = Office(client, "projects")
    pm, dev, tester = office.people("pm", "dev", "tester")
    office.add_members("project_manager", pm)
    office.add_members("member", dev, tester)
    delivery = office.department("Delivery")
    project = create(
        pm,
        "projects",
        "project",
        name="ERP rollout",
        budget="100000",
        manager=pm.id,
        department=delivery,
        start_date="2026-11-02",
        end_date="2027-03-31",
    )
    assert project["department"] == delivery
    backwards = pm.client.post(
        records_url("projects", "project"),
        json={"name": "Backwards", "start_date": "2027-02-01", "end_date": "2027-01-01"},
    )
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["path"] == "end_date"

    past = "2026-11-27"  # whatever the day the test runs, this is before it
    late = create(pm, "projects", "task", title="Data migration", project=project["id"], assignee=dev.id, due_date=past)
    create(
        pm, "projects", "task", title="Cut-over plan", project=project["id"], assignee=tester.id, due_date="2099-01-01"
    )
    create(
        pm,
        "projects",
        "task",
        title="Kick-off",
        project=project["id"],
        assignee=tester.id,
        due_date=past,
        progress="done",
    )

    # members log their own hours: the person is whoever logs them, the cost hours x hourly cost
    mapping = create(
        dev,
        "projects",
        "timesheet",
        activity="Mapping",
        project=project["id"],
        task=late["id"],
        work_date="2026-11-16",
        hours="8",
        hourly_cost="400.00",
    )
    assert (mapping["person"], mapping["cost"]) == (dev.id, "3200.00")
    scripts = create(
        dev,
        "projects",
        "timesheet",
        activity="Scripts",
        project=project["id"],
        task=late["id"],
        work_date="2026-12-01",
        hours="6.5",
        hourly_cost="400.00",
    )
    create(  # not submitted yet: logged, not booked
        tester,
        "projects",
        "timesheet",
        activity="Test plan",
        project=project["id"],
        work_date="2026-12-02",
        hours="3",
        hourly_cost="300.00",
    )
    too_long = dev.client.post(
        records_url("projects", "timesheet"),
        json={"activity": "x", "project": project["id"], "hours": "25", "hourly_cost": "1"},
    )
    assert too_long.status_code == 422 and too_long.json()["errors"][0]["path"] == "hours"
    mine = dev.get(records_url("projects", "timesheet")).json()["items"]
    assert {t["activity"] for t in mine} == {"Mapping", "Scripts"}  # members read their own hours only
    assert dev.client.post(records_url("projects", "cost"), json={}).status_code == 403

    create(
        pm,
        "projects",
        "cost",
        description="Licences",
        project=project["id"],
        category="software",
        amount="10000.00",
        spent_on="2026-11-20",
    )
    create(
        pm,
        "projects",
        "cost",
        description="Site visits",
        project=project["id"],
        category="travel",
        amount="4200.00",
        spent_on="2026-12-03",
    )

    # the project manager approves the hours; each approved timesheet is booked as a labour cost
    for timesheet in (mapping, scripts):
        submit(dev, "projects", "timesheet", timesheet)
        pm.approve()
        assert status(dev, "projects", "timesheet", timesheet) == "approved"
    booked = pm.get(
        records_url("projects", "cost"), filter=f'{{"field": "project", "op": "eq", "value": {project["id"]}}}'
    )
    labour_costs = {
        c["timesheet"]: (c["category"], c["amount"], c["spent_on"]) for c in booked.json()["items"] if c["timesheet"]
    }
    assert labour_costs == {
        mapping["id"]: ("labour", "3200.00", "2026-11-16"),
        scripts["id"]: ("labour", "2600.00", "2026-12-01"),
    }

    board = run_dashboard(
        pm, "projects", "delivery", {"filter": {"field": "project", "op": "eq", "value": project["id"]}}
    )
    labour = row_of(board["project_labour_cost"], project=project["id"])
    assert labour == {
        "project": project["id"],
        "hours": "17.50",
        "labour": "6700.00",
        "budget": "100000.00",
        "budget_used": "6.7",
    }
    actual = row_of(board["project_actual_cost"], project=project["id"])
    assert actual == {
        "project": project["id"],
        "actual": "20000.00",  # 5,800 of approved hours and 14,200 of other costs
        "budget": "100000.00",
        "budget_used": "20.0",
        "remaining": "80000.00",
    }
    overdue = board["overdue_tasks_by_owner"]
    assert [r["values"]["assignee"] for r in overdue["rows"]] == [dev.id]  # done and future tasks are not overdue
    assert row_of(overdue, assignee=dev.id)["tasks"] == 1
    months = {r["values"]["work_date__month"]: r["values"]["hours"] for r in board["hours_by_project_month"]["rows"]}
    assert months == {"2026-11": "8.00", "2026-12": "9.50"}
    categories = {r["values"]["category"]: r["values"]["amount"] for r in board["costs_by_category"]["rows"]}
    assert categories == {"labour": "5800.00", "software": "10000.00", "travel": "4200.00"}

    pages_open(
        pm, "/apps/projects/dashboards/delivery", "/apps/projects/forms/cost/new", "/apps/projects/forms/timesheet"
    )
    # without the filter the sample projects are there too, each against its own budget
    sample = run_report(pm, "projects", "project_actual_cost")
    assert {r["labels"]["project"] for r in sample["rows"]} == {"ERP rollout", "官网改版", "Warehouse move"}


# ------------------------------------------------------------------- purchasing and suppliers


def test_purchasing_onboards_a_supplier_compares_quotations_and_matches_the_invoice_three_ways(
    client: TestClient,
) -> None:
    install(client, "procurement")
    office = Office(client, "procurement")
    requester, buyer, finance = office.people("requester", "buyer", "finance")
    office.add_members("requester", requester)
    office.add_members("buyer", buyer)
    office.add_members("finance", finance)

    # a requester proposes a supplier; purchasing reviews it, finance countersigns above 500,000 a year
    application = create(
        requester,
        "procurement",
        "supplier_application",
        name="Acme Displays",
        code="AD-100",
        category="it",
        contact="Mia Wong",
        email="mia@acme.example",
        expected_spend="800000",
    )
    assert (application["risk"], application["needs_finance"]) == ("low", True)
    submit(requester, "procurement", "supplier_application", application)
    buyer.approve(comment="references checked", values={"risk": "medium", "review_note": "Two references"})
    assert status(requester, "procurement", "supplier_application", application) == "in_review"
    finance.approve()
    assert status(requester, "procurement", "supplier_application", application) == "approved"
    [acme] = buyer.get(
        records_url("procurement", "supplier"), filter='{"field": "name", "op": "eq", "value": "Acme Displays"}'
    ).json()["items"]
    assert (acme["code"], acme["category"], acme["email"], acme["active"]) == ("AD-100", "it", "mia@acme.example", True)
    small = create(
        requester, "procurement", "supplier_application", name="Corner Cables", category="it", expected_spend="20000"
    )
    submit(requester, "procurement", "supplier_application", small)
    buyer.approve()
    assert status(requester, "procurement", "supplier_application", small) == "approved"  # finance is not asked
    assert finance.tasks() == []

    # an RFQ with two quotations, compared by total
    northwind = first_of(buyer, "supplier", "Northwind Computing")
    rfq = create(
        buyer, "procurement", "rfq", title="Meeting room displays", items=[{"item": "65-inch display", "qty": 4}]
    )
    assert rfq["number"].startswith("RFQ-") and rfq["state"] == "open"
    for reference, supplier, price, days in (("AD-Q-1", acme["id"], "5200.00", 7), ("NW-Q-9", northwind, "5650.00", 5)):
        quotation = create(
            buyer,
            "procurement",
            "quotation",
            reference=reference,
            rfq=rfq["id"],
            supplier=supplier,
            delivery_days=days,
            items=[{"item": "65-inch display", "qty": 4, "unit_price": price}],
        )
        assert Decimal(quotation["total"]) == 4 * Decimal(price)
    comparison = run_report(buyer, "procurement", "quotation_comparison")
    offers = [
        (r["labels"]["supplier"], r["values"]["total"], r["values"]["delivery_days"])
        for r in comparison["rows"]
        if r["values"]["rfq"] == rfq["id"]
    ]
    assert offers == [("Acme Displays", "20800.00", 7), ("Northwind Computing", "22600.00", 5)]  # cheapest first
    awarded = buyer.client.patch(
        f"{records_url('procurement', 'rfq')}/{rfq['id']}", json={"state": "awarded", "awarded_to": acme["id"]}
    )
    assert awarded.status_code == 200, awarded.text

    # the order, its receipt, and invoices checked against both
    order = create(
        buyer,
        "procurement",
        "purchase_order",
        supplier=acme["id"],
        supplier_name="Acme Displays",
        amount="20800.00",
        delivery_date="2026-12-20",
        items=[{"item": "65-inch display", "qty": 4, "unit_price": "5200.00"}],
    )
    receipt = create(
        buyer,
        "procurement",
        "goods_receipt",
        purchase_order=order["id"],
        supplier=acme["id"],
        expected_date="2026-12-20",
        received_date="2026-12-18",
        items=[{"item": "65-inch display", "qty": 4, "unit_price": "5200.00"}],
    )
    assert (receipt["number"][:3], receipt["amount"], receipt["on_time"]) == ("GR-", "20800.00", True)
    invoice = {
        "supplier": acme["id"],
        "purchase_order": order["id"],
        "goods_receipt": receipt["id"],
        "po_amount": "20800.00",
        "received_amount": receipt["amount"],
    }
    matched = create(
        buyer,
        "procurement",
        "supplier_invoice",
        invoice_no="AD-INV-1",
        **invoice,
        items=[{"item": "65-inch display", "qty": 4, "unit_price": "5240.00"}],
    )  # 0.8% above the order
    assert (matched["amount"], matched["variance"], matched["matched"]) == ("20960.00", "160.00", True)
    submit(buyer, "procurement", "supplier_invoice", matched)
    assert status(buyer, "procurement", "supplier_invoice", matched) == "approved"  # matched: ready to pay

    wrong = {
        **invoice,
        "invoice_no": "AD-INV-2",
        "items": [{"item": "65-inch display", "qty": 4, "unit_price": "5400.00"}],
    }
    refused = buyer.client.post(records_url("procurement", "supplier_invoice"), json=wrong)
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "mismatch_note", refused.text
    flagged = create(buyer, "procurement", "supplier_invoice", **wrong, mismatch_note="Billed at the list price")
    assert (flagged["amount"], flagged["matched"]) == ("21600.00", False)
    submit(buyer, "procurement", "supplier_invoice", flagged)
    assert status(buyer, "procurement", "supplier_invoice", flagged) == "in_review"  # a mismatch waits for finance
    finance.approve(comment="credit note promised")
    assert status(buyer, "procurement", "supplier_invoice", flagged) == "approved"
    assert requester.client.post(records_url("procurement", "supplier_invoice"), json=wrong).status_code == 403
    # billed in full for three of the four displays received: the receipt does not match the order
    short = create(
        buyer,
        "procurement",
        "supplier_invoice",
        **{**invoice, "received_amount": "15600.00"},
        invoice_no="AD-INV-3",
        items=[{"item": "65-inch display", "qty": 4, "unit_price": "5200.00"}],
        mismatch_note="One display missing",
    )
    assert (short["variance"], short["matched"]) == ("0.00", False)

    # the scorecard, for this supplier
    board = run_dashboard(
        buyer, "procurement", "supplier_scorecard", {"filter": {"field": "supplier", "op": "eq", "value": acme["id"]}}
    )
    assert [(r["values"]["on_time"], r["values"]["receipts"]) for r in board["supplier_on_time"]["rows"]] == [(True, 1)]
    matching = {r["values"]["matched"]: r["values"]["invoices"] for r in board["supplier_invoice_match"]["rows"]}
    assert matching == {True: 1, False: 2}
    assert row_of(board["supplier_spend"], supplier=acme["id"])["spend"] == "20800.00"
    assert len(board["quotation_comparison"]["rows"]) == 1

    pages_open(
        buyer,
        "/apps/procurement/dashboards/supplier_scorecard",
        "/apps/procurement/reports/quotation_comparison",
        "/apps/procurement/forms/supplier_invoice/new",
        f"/apps/procurement/forms/supplier_invoice/records/{flagged['id']}",
        "/apps/procurement/forms/goods_receipt",
    )

    # the sample receipts and invoices: one late delivery, one invoice that does not match
    everyone = run_dashboard(buyer, "procurement", "supplier_scorecard")
    late = [r["labels"]["supplier"] for r in everyone["supplier_on_time"]["rows"] if r["values"]["on_time"] is False]
    assert late == ["Northwind Computing"]
    unmatched = [
        r["labels"]["supplier"] for r in everyone["supplier_invoice_match"]["rows"] if r["values"]["matched"] is False
    ]
    assert sorted(unmatched) == ["Acme Displays", "Northwind Computing"]


def first_of(person: Person, form: str, name: str) -> int:
    found = person.get(records_url("procurement", form), filter=f'{{"field": "name", "op": "eq", "value": "{name}"}}')
    assert found.status_code == 200, found.text
    return int(found.json()["items"][0]["id"])


# ------------------------------------------------------------------- upgrading from the first versions

FIRST = {  # the forms and roles of each template's 1.0.0
    "projects": ({"project", "milestone", "task"}, {"member", "pmo", "project_manager"}),
    "procurement": (
        {"purchase_request", "purchase_order", "supplier"},
        {"approver", "finance", "requester", "vice_president"},
    ),
}


def first_version(key: str) -> dict[str, Any]:
    """The template as its 1.0.0 was: its first forms and roles, their flows, reports and dashboards."""
    package = read_package(data_path("examples") / key)
    forms, roles = FIRST[key]
    package["app"] = {**package["app"], "version": "1.0.0", "menu": [m for m in package["app"]["menu"] if m in forms]}
    # (rollups over forms that came later came with them)
    package["forms"] = [
        {**f, "fields": [x for x in f["fields"] if sources_of(x) <= forms]}
        for f in package["forms"]
        if f["key"] in forms
    ]
    package["roles"] = [
        {**r, "permissions": {k: v for k, v in r["permissions"].items() if k in forms or k == "*"}}
        for r in package["roles"]
        if r["key"] in roles
    ]
    package["flows"] = [f for f in package["flows"] if f["form"] in forms]
    package["reports"] = [r for r in package.get("reports", []) if r["form"] in forms]
    reports = {r["key"] for r in package["reports"]}
    package["dashboards"] = [
        d
        for d in package.get("dashboards", [])
        if all(i["report"] in reports if "report" in i else i["process"] in forms for i in d["items"])
    ]
    package["sample_data"] = {k: v for k, v in package["sample_data"].items() if k in forms}
    return package


def test_the_first_versions_upgrade_in_place_to_the_bundled_ones_keeping_every_record(client: TestClient) -> None:
    for key in FIRST:
        first = first_version(key)
        assert client.post("/api/packages/import", json=first).status_code == 200
        before = {form: len(client.get(records_url(key, form)).json()["items"]) for form in first["sample_data"]}
        bundled = read_package(data_path("examples") / key)
        plan = client.post("/api/packages/import", json=bundled, params={"dry_run": "true"}).json()["plan"]
        assert plan["action"] == "upgrade" and plan["can_apply"], plan
        created = {d["key"] for d in plan["documents"] if d["outcome"] == "created" and d["kind"] == "forms"}
        assert created == {f["key"] for f in bundled["forms"]} - FIRST[key][0]
        upgraded = client.post("/api/packages/import", json=bundled)
        assert upgraded.status_code == 200, upgraded.text
        history = client.get(f"/api/apps/{key}/package").json()["history"]
        assert next(h["version"] for h in history if h["status"] == "installed") == bundled["app"]["version"]
        assert {form: len(client.get(records_url(key, form)).json()["items"]) for form in before} == before
        assert client.get(f"/api/design/apps/{key}").json()["menu"] == bundled["app"]["menu"]
        for dashboard in bundled["dashboards"]:
            ran = client.post(f"/api/apps/{key}/dashboards/{dashboard['key']}/run", json={})
            assert ran.status_code == 200 and all("result" in item for item in ran.json()["items"]), ran.text
