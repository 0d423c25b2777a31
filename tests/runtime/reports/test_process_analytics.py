"""Process analytics of a flow, with no design: statuses, months, time per step and approver, backlog, rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from opsloom.platform import tables
from tests.builders import admin_client, problem
from tests.conftest import DATABASES
from tests.runtime.flow.office import Office, approval, users


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("process")) as client:
        yield client


def test_requests_steps_approvers_backlog_and_rates(api):
    office = Office(api, "purchasing")
    office.publish_form()
    boss, vp, clerk = office.people("boss", "vp", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)), approval("top", users(vp)))
    for _ in range(4):
        office.submitted(clerk)
    tasks = [t["id"] for t in boss.tasks()]
    assert boss.act("approve", task=tasks[0]).status_code == 200
    assert vp.act("approve").status_code == 200
    assert boss.act("reject", {"comment": "too dear"}, task=tasks[1]).status_code == 200
    assert boss.act("return", {"comment": "add a quote"}, task=tasks[2]).status_code == 200
    url = f"/api/apps/purchasing/forms/{office.form_key}/process"
    response = api.get(url, headers={"Accept-Language": "en"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {r["status"]: r["count"] for r in body["requests_by_status"]} == {
        "approved": 1,
        "rejected": 1,
        "returned": 1,
        "running": 1,
    }
    month = datetime.now(UTC).strftime("%Y-%m")
    assert sum(r["count"] for r in body["requests_by_month"]) == 4
    assert {r["month"] for r in body["requests_by_month"]} <= {
        month,
        f"{month[:4]}-{int(month[5:]) % 12 + 1:02d}",
        f"{int(month[:4]) + 1}-01",
    }
    steps = {s["node"]: s for s in body["steps"]}
    assert (
        steps["head"]["tasks"],
        steps["head"]["approved"],
        steps["head"]["rejected"],
        steps["head"]["returned"],
    ) == (
        3,
        1,
        1,
        1,
    )
    assert steps["head"]["approval_rate"] == "0.3333" and steps["head"]["return_rate"] == "0.3333"
    assert steps["top"]["tasks"] == 1
    for name in ("avg_hours", "median_hours", "p90_hours"):
        assert steps["head"][name] == "0.00"  # decided within the test's seconds
    approvers = {a["user_id"]: a for a in body["approvers"]}
    assert approvers[boss.id]["tasks"] == 3 and approvers[vp.id]["tasks"] == 1
    assert approvers[boss.id]["label"].startswith("boss")
    backlog = {b["node"]: b for b in body["backlog"]}
    assert backlog["head"]["open"] == 1 and backlog["head"]["overdue"] == 0
    assert backlog["head"]["oldest_hours"] == "0.00"
    assert body["rates"] == {
        "submitted": 4,
        "approved": 1,
        "rejected": 1,
        "returned": 1,
        "approval_rate": "0.5000",
        "return_rate": "0.2500",
    }
    # with known durations: 1, 2 and 10 hours at the head step
    _took(api, tasks[:3], [1, 2, 10])
    steps = {s["node"]: s for s in api.get(url).json()["steps"]}
    assert (steps["head"]["avg_hours"], steps["head"]["median_hours"], steps["head"]["p90_hours"]) == (
        "4.33",
        "2.00",
        "10.00",
    )
    # only those who may manage the form see it; a form without a flow has no process
    problem(clerk.client.get(url), 403)
    other = Office(api, "purchasing")
    other.publish_form(key="plain")
    problem(api.get(f"/api/apps/purchasing/forms/{other.form_key}/process"), 404)


def _took(api, task_ids: list[int], hours: list[int]) -> None:
    """Make each task have been decided `hours` after it was created."""
    t = tables.flow_tasks

    async def run() -> None:
        async with api.app.state.db.session(write=True) as session:
            for task_id, h in zip(task_ids, hours, strict=True):
                created = (await session.execute(select(t.c.created_at).where(t.c.id == task_id))).scalar_one()
                await session.execute(update(t).where(t.c.id == task_id).values(acted_at=created + timedelta(hours=h)))

    api.portal.call(run)
