"""A form's process analytics on a manager's own dashboard: an item `{"process": form, "view": ...}`, checked when
saved, answered like a report, over only the instances the viewer may manage, on both databases."""

from __future__ import annotations

import pytest

from tests.builders import admin_client
from tests.conftest import DATABASES
from tests.runtime.flow.office import Office, approval, users

VIEWS = ("backlog_by_step", "time_by_step", "time_by_approver", "by_status", "by_month", "rates")


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("process_items")) as client:
        yield client


class Flowing:
    def __init__(self, api) -> None:
        self.api = api
        office = Office(api, "flowing")
        self.office = office
        office.publish_form()
        self.sales, self.ops = office.department("Sales"), office.department("Ops")
        self.boss, self.ann, self.bob, self.lead = office.people("boss", "ann", "bob", "lead")
        office.move(self.ann, department_id=self.sales)
        office.move(self.lead, department_id=self.sales)
        office.move(self.bob, department_id=self.ops)
        office.grant(self.ann, self.bob)
        office.grant(self.lead, read="all", manage="department")  # manages the requests of Sales
        office.publish_flow(approval("head", users(self.boss)))
        for person in (self.ann, self.ann, self.bob):
            office.submitted(person)
        first = self.boss.tasks()[0]["id"]
        assert self.boss.act("approve", task=first).status_code == 200
        plain = Office(api, "flowing")
        self.plain = plain.publish_form(key="plain") and plain.form_key
        self.items = [
            {"process": office.form_key, "view": view, "x": 0, "y": 4 * i, "w": 6, "h": 4}
            | ({"display": {"type": "kpi"}} if view == "rates" else {"display": {"type": "bar"}})
            for i, view in enumerate(VIEWS)
        ]
        saved = api.put(
            "/api/design/apps/flowing/dashboards/process",
            json={"key": "process", "label": "Process", "items": self.items, "filters": [{"kind": "department"}]},
        )
        assert saved.status_code == 200 and saved.json()["problems"] == [], saved.text
        published = api.post("/api/design/apps/flowing/dashboards/process/publish")
        assert published.status_code == 200, published.text

    def run(self, client, shared=None) -> dict:
        response = client.post("/api/apps/flowing/dashboards/process/run", json=shared)
        assert response.status_code == 200, response.text
        return {item["view"]: item for item in response.json()["items"]}


@pytest.fixture(scope="module")
def flowing(api):
    return Flowing(api)


def values(answer: dict, key: str) -> dict:
    return {row["values"][key]: row["values"] for row in answer["rows"]}


def test_every_view_answers_like_a_report_for_an_admin(flowing, api):
    items = flowing.run(api)
    assert set(items) == set(VIEWS)
    status = items["by_status"]["result"]
    assert {k: v["count"] for k, v in values(status, "status").items()} == {"approved": 1, "running": 2}
    assert status["total"]["values"] == {"count": 3}
    assert [c["kind"] for c in status["columns"]] == ["dimension", "measure"]
    backlog = items["backlog_by_step"]["result"]
    assert values(backlog, "node")["head"]["open"] == 2
    assert backlog["rows"][0]["labels"]["node"]
    steps = items["time_by_step"]["result"]
    assert values(steps, "node")["head"]["tasks"] == 1
    approvers = items["time_by_approver"]["result"]
    assert values(approvers, "user_id")[flowing.boss.id]["tasks"] == 1
    assert approvers["rows"][0]["labels"]["user_id"].startswith("boss")
    months = items["by_month"]["result"]
    assert months["total"]["values"] == {"submitted": 3, "approved": 1, "rejected": 0}
    rates = items["rates"]["result"]
    assert rates["total"]["values"]["approval_rate"] == "1.0000"
    assert rates["total"]["values"]["submitted"] == 3
    assert items["rates"]["display"] == {"type": "kpi"}


def test_a_manager_sees_only_the_instances_they_may_manage_and_others_get_an_item_error(flowing):
    items = flowing.run(flowing.lead.client)
    status = items["by_status"]["result"]
    assert status["total"]["values"] == {"count": 2}  # ann's two requests (Sales), not bob's
    running = values(status, "status").get("running", {"count": 0})["count"]
    assert values(items["backlog_by_step"]["result"], "node")["head"]["open"] == running
    refused = flowing.run(flowing.ann.client)  # may read, may not manage: each item says why
    assert all(item["error"]["status"] == 403 for item in refused.values())


def test_shared_filters_apply_to_the_records_behind_a_process_item(flowing, api):
    items = flowing.run(api, {"department": flowing.ops})
    assert items["by_status"]["result"]["total"]["values"] == {"count": 1}
    items = flowing.run(api, {"filter": {"field": "no_such_field", "op": "eq", "value": 1}})
    assert items["by_status"]["result"]["ignored_filters"] == ["filter"]
    assert items["by_status"]["result"]["total"]["values"] == {"count": 3}


def test_a_process_item_is_checked_when_saved(flowing, api):
    def problems(item: dict) -> list:
        body = {"key": "bad", "label": "Bad", "items": [{"x": 0, "y": 0, "w": 4, "h": 4, **item}]}
        saved = api.put("/api/design/apps/flowing/dashboards/bad", json=body)
        assert saved.status_code == 200, saved.text
        return [(p["path"], p["message"]) for p in saved.json()["problems"]]

    no_flow = problems({"process": flowing.plain, "view": "rates"})
    assert no_flow[0][0] == "items[0].process" and "no published flow" in no_flow[0][1]
    assert problems({"process": "nowhere", "view": "rates"})[0][0] == "items[0].process"
    assert problems({"process": flowing.office.form_key, "view": "by_week"})  # not a view
    assert problems({"process": flowing.office.form_key})  # a view is required
    assert problems({"report": "x", "process": flowing.office.form_key, "view": "rates"})  # one kind per item
    assert problems({"report": "x", "display": {"type": "bar"}})  # a report draws as its report says
    assert problems({"process": flowing.office.form_key, "view": "rates", "display": {"type": "kpi"}}) == []
    published = api.post("/api/design/apps/flowing/dashboards/bad/publish")
    assert published.status_code == 200, published.text


def test_the_dashboard_page_draws_a_process_item(flowing, api):
    page = api.get("/apps/flowing/dashboards/process")
    assert page.status_code == 200, page.text
    assert f"/apps/flowing/forms/{flowing.office.form_key}/process/by_status/fragment" in page.text
    fragment = api.get(f"/apps/flowing/forms/{flowing.office.form_key}/process/by_status/fragment?display=bar")
    assert fragment.status_code == 200, fragment.text
    assert "chart-boot" in fragment.text
    kpi = api.get(f"/apps/flowing/forms/{flowing.office.form_key}/process/rates/fragment?display=kpi")
    assert "report-kpi" in kpi.text and "100" in kpi.text
    assert (
        "cannot be shown"
        in flowing.ann.client.get(
            f"/apps/flowing/forms/{flowing.office.form_key}/process/rates/fragment", headers={"Accept-Language": "en"}
        ).text
    )
