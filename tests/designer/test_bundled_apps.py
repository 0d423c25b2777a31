"""The bundled template apps (examples/crm, projects, inventory) over HTTP: installed through the import API,
a record created by a member of the app's role, its flow run by the role that approves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from opsloom.designer.packages import read_package
from opsloom.resources import data_path
from tests.runtime.flow.office import Office, Person


def install(client: TestClient, key: str) -> dict[str, Any]:
    package = read_package(data_path("examples") / key)
    response = client.post("/api/packages/import", json=package)
    assert response.status_code == 200, response.text
    installed = response.json()["installed"]
    assert installed["records"] == {k: len(v) for k, v in package["sample_data"].items()}
    return installed


def records_url(app: str, form: str) -> str:
    return f"/api/apps/{app}/forms/{form}/records"


def first_id(person: Person, app: str, form: str) -> int:
    response = person.get(records_url(app, form), limit=1)
    assert response.status_code == 200, response.text
    return int(response.json()["items"][0]["id"])


def create(person: Person, app: str, form: str, **values: Any) -> dict[str, Any]:
    response = person.client.post(records_url(app, form), json=values)
    assert response.status_code == 201, response.text
    return response.json()


def submit(person: Person, app: str, form: str, record: dict[str, Any]) -> None:
    response = person.post(f"{records_url(app, form)}/{record['id']}/submit", {})
    assert response.status_code == 200, response.text


def status(person: Person, app: str, form: str, record: dict[str, Any]) -> str:
    return str(person.get(f"{records_url(app, form)}/{record['id']}").json()["status"])


def test_crm_a_large_deal_goes_to_the_sales_manager(client: TestClient) -> None:
    install(client, "crm")
    office = Office(client, "crm")
    rep, manager = office.people("rep", "manager")
    office.add_members("sales_rep", rep)
    office.add_members("sales_manager", manager)
    customer = first_id(rep, "crm", "customer")
    small = create(rep, "crm", "opportunity", title="Spare parts", customer=customer, amount="20000", probability=40)
    assert small["weighted"] == "8000.00" and small["stage"] == "lead" and small["number"].startswith("OPP-")
    submit(rep, "crm", "opportunity", small)
    assert status(rep, "crm", "opportunity", small) == "approved"  # under 500,000 nobody reviews it

    deal = create(rep, "crm", "opportunity", title="Plant rollout", customer=customer, amount="900000", probability=60)
    submit(rep, "crm", "opportunity", deal)
    assert status(rep, "crm", "opportunity", deal) == "in_review"
    manager.approve(comment="go", values={"stage": "negotiation"})
    done = rep.get(f"{records_url('crm', 'opportunity')}/{deal['id']}").json()
    assert (done["status"], done["stage"]) == ("approved", "negotiation")
    assert create(rep, "crm", "follow_up", customer=customer, subject="Call back", date="2026-12-04")["id"]
    # a rep reads only their own opportunities: not the sample ones
    assert {r["title"] for r in rep.get(records_url("crm", "opportunity")).json()["items"]} == {
        "Spare parts",
        "Plant rollout",
    }


def test_projects_set_up_is_approved_by_the_pmo_then_the_department_head(client: TestClient) -> None:
    install(client, "projects")
    office = Office(client, "projects")
    pm, pmo, head, dev = office.people("pm", "pmo", "head", "dev")
    department = office.department("Delivery", head=head)
    office.move(pm, department_id=department)
    office.add_members("project_manager", pm)
    office.add_members("pmo", pmo)
    office.add_members("member", dev)
    project = create(pm, "projects", "project", name="ERP rollout", budget="350000", start_date="2027-01-04")
    assert project["phase"] == "planning" and project["code"].startswith("PRJ-")
    submit(pm, "projects", "project", project)
    pmo.approve(comment="fits the plan")
    assert status(pm, "projects", "project", project) == "in_review"  # over 200,000: the head decides too
    head.approve()
    assert status(pm, "projects", "project", project) == "approved"

    task = create(
        dev, "projects", "task", title="Data migration", project=project["id"], assignee=dev.id, due_date="2027-02-01"
    )
    assert (task["progress"], task["priority"], task["assignee"]) == ("todo", "normal", dev.id)
    moved = dev.client.patch(f"{records_url('projects', 'task')}/{task['id']}", json={"progress": "doing"})
    assert moved.status_code == 200, moved.text


def test_inventory_a_movement_values_itself_and_a_large_stock_out_needs_the_manager(client: TestClient) -> None:
    install(client, "inventory")
    office = Office(client, "inventory")
    keeper, manager = office.people("keeper", "manager")
    office.add_members("storekeeper", keeper)
    office.add_members("warehouse_manager", manager)
    bolts = first_id(keeper, "inventory", "item")
    incoming = create(
        keeper,
        "inventory",
        "stock_movement",
        item=bolts,
        direction="in",
        quantity=400,
        unit_cost="35.00",
        date="2026-12-01",
    )
    assert Decimal(incoming["value"]) == Decimal("14000.00")
    submit(keeper, "inventory", "stock_movement", incoming)
    assert status(keeper, "inventory", "stock_movement", incoming) == "approved"  # coming in: no approval

    outgoing = create(
        keeper,
        "inventory",
        "stock_movement",
        item=bolts,
        direction="out",
        quantity=300,
        unit_cost="35.00",
        date="2026-12-02",
    )
    submit(keeper, "inventory", "stock_movement", outgoing)
    assert status(keeper, "inventory", "stock_movement", outgoing) == "in_review"
    manager.approve()
    assert status(keeper, "inventory", "stock_movement", outgoing) == "approved"
    assert keeper.client.post(records_url("inventory", "item"), json={"sku": "X-1", "name": "x"}).status_code == 403


def _all(client: TestClient, app: str, form: str) -> list[dict[str, Any]]:
    response = client.get(records_url(app, form), params={"limit": 500})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_the_templates_rollups_sum_and_count_the_linked_sample_records(client: TestClient) -> None:
    install(client, "crm")
    paid: dict[int, Decimal] = {}
    for payment in _all(client, "crm", "payment"):
        paid[payment["contract"]] = paid.get(payment["contract"], Decimal(0)) + Decimal(payment["amount"])
    contracts = _all(client, "crm", "contract")
    assert paid and contracts
    assert {c["id"]: Decimal(c["received"]) for c in contracts} == {c["id"]: paid.get(c["id"], 0) for c in contracts}

    install(client, "projects")
    spent: dict[int, Decimal] = {}
    for cost in _all(client, "projects", "cost"):
        spent[cost["project"]] = spent.get(cost["project"], Decimal(0)) + Decimal(cost["amount"])
    tasks = _all(client, "projects", "task")
    projects = _all(client, "projects", "project")
    assert spent and tasks and projects
    for project in projects:
        assert Decimal(project["actual_cost"]) == spent.get(project["id"], 0)
        mine = [t for t in tasks if t["project"] == project["id"] and t["progress"] != "done"]
        assert project["open_tasks"] == len(mine)
