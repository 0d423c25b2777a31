"""The bundled projects and procurement templates over HTTP, each along its main journey: installed through
the import API, used by the members of the app's roles, its reports and dashboards run on what they entered."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

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

    yesterday = (date.today() - timedelta(days=1)).isoformat()
    late = create(
        pm, "projects", "task", title="Data migration", project=project["id"], assignee=dev.id, due_date=yesterday
    )
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
        due_date=yesterday,
        progress="done",
    )

    # members log their own hours: the person is whoever logs them, the cost hours x hourly cost
    first = create(
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
    assert (first["person"], first["cost"]) == (dev.id, "3200.00")
    create(
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
    create(
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
    other = row_of(board["project_other_costs"], project=project["id"])
    assert (other["other"], other["budget_used"]) == ("14200.00", "14.2")
    actual = Decimal(labour["labour"]) + Decimal(other["other"])
    assert actual == Decimal("20900.00") and actual / Decimal(labour["budget"]) == Decimal("0.209")
    overdue = board["overdue_tasks_by_owner"]
    assert [r["values"]["assignee"] for r in overdue["rows"]] == [dev.id]  # done and future tasks are not overdue
    assert row_of(overdue, assignee=dev.id)["tasks"] == 1
    months = {r["values"]["work_date__month"]: r["values"]["hours"] for r in board["hours_by_project_month"]["rows"]}
    assert months == {"2026-11": "8.00", "2026-12": "9.50"}
    categories = {r["values"]["category"]: r["values"]["amount"] for r in board["costs_by_category"]["rows"]}
    assert categories == {"software": "10000.00", "travel": "4200.00"}

    # without the filter the sample projects are there too, each against its own budget
    sample = run_report(pm, "projects", "project_other_costs")
    assert {r["labels"]["project"] for r in sample["rows"]} == {"ERP rollout", "官网改版", "Warehouse move"}
