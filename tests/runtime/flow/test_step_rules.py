"""What a step asks of the person deciding, over HTTP on both databases: a comment to approve or to
reject, and which changes to an editable subform's rows (add, edit, delete) it allows."""

from __future__ import annotations

import pytest

from tests.builders import admin_client, field, problem
from tests.conftest import DATABASES
from tests.runtime.flow.office import Office, approval, handler, line, users

ITEMS = field("items", "subform", fields=[field("item", required=True), field("qty", "integer")])


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("step_rules")) as client:
        yield client


@pytest.fixture
def office(api):
    office = Office(api)
    office.publish_form(field("title", required=True), field("note"), ITEMS)
    return office


def actions(office, record):
    return [e["action"] for e in office.events(record)]


# ------------------------------------------------------------------ comments


def test_a_step_that_requires_a_comment_to_approve_refuses_an_approval_without_one(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), comment={"approve": "required"}))
    record = office.submitted(clerk)
    task = boss.task()
    for body in (None, {}, {"comment": "   "}):
        refused = problem(boss.act("approve", body, task=task), 422, "comment")
        assert "comment" in refused["detail"]
    assert office.status(record) == "in_review"
    shown = boss.get(f"/api/tasks/{task}").json()
    assert shown["comment_required"] == {"approve": True, "reject": True}
    assert boss.act("approve", {"comment": "Fine by me"}, task=task).status_code == 200
    assert office.status(record) == "approved"


def test_a_rejection_needs_a_comment_unless_the_step_makes_it_optional(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    first = office.submitted(clerk)
    problem(boss.act("reject", {}), 422, "comment")
    assert boss.act("approve").status_code == 200  # approving needs none by default
    assert office.status(first) == "approved"

    office.publish_flow(approval("head", users(boss), comment={"approve": "optional", "reject": "optional"}))
    second = office.submitted(clerk)
    assert boss.get(f"/api/tasks/{boss.task()}").json()["comment_required"] == {"approve": False, "reject": False}
    answer = boss.act("reject", {})
    assert answer.status_code == 200, answer.text
    assert office.status(second) == "rejected"


def test_a_handler_step_may_require_a_comment_to_complete(office):
    worker, clerk = office.people("worker", "clerk")
    office.grant(clerk)
    office.publish_flow(handler("fill", users(worker), comment={"approve": "required"}))
    record = office.submitted(clerk)
    problem(worker.act("approve", {"comment": ""}), 422, "comment")
    assert worker.act("approve", {"comment": "Filled in"}).status_code == 200
    assert "completed" in actions(office, record)


def test_a_bad_comment_rule_is_a_problem_at_its_path(office):
    boss = office.person("boss")
    saved = office.save_flow(line(approval("head", users(boss), comment={"approve": "always"})))
    assert any(p["path"].startswith("nodes[1]") for p in saved["problems"]), saved["problems"]


# ------------------------------------------------------------------ subform rows


def _rows_flow(office, boss, **rules):
    office.publish_flow(
        approval("head", users(boss), fields={"items": "editable"}, rows={"items": rules} if rules else {})
    )


def _with_two_rows(office, clerk):
    return office.submitted(clerk, items=[{"item": "Laptop", "qty": 2}, {"item": "Dock", "qty": 2}])


def _approve_rows(boss, rows):
    return boss.act("approve", {"values": {"items": rows}})


@pytest.mark.parametrize("allowed", [True, False])
def test_adding_a_row_at_a_step_follows_the_steps_rule(office, allowed):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    _rows_flow(office, boss, add=allowed)
    record = _with_two_rows(office, clerk)
    stored = office.read(record)["items"]
    rows = [{"id": stored[0]["id"]}, {"id": stored[1]["id"]}, {"item": "Mouse", "qty": 1}]
    answer = _approve_rows(boss, rows)
    if allowed:
        assert answer.status_code == 200, answer.text
        assert [r["item"] for r in office.read(record)["items"]] == ["Laptop", "Dock", "Mouse"]
    else:
        body = problem(answer, 403, "values.items[2]")
        assert [e["path"] for e in body["errors"]] == ["values.items[2]"]
        assert [r["item"] for r in office.read(record)["items"]] == ["Laptop", "Dock"]
        assert office.status(record) == "in_review"


@pytest.mark.parametrize("allowed", [True, False])
def test_editing_a_row_at_a_step_follows_the_steps_rule(office, allowed):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    _rows_flow(office, boss, edit=allowed)
    record = _with_two_rows(office, clerk)
    stored = office.read(record)["items"]
    rows = [{"id": stored[0]["id"]}, {"id": stored[1]["id"], "qty": 5}]
    answer = _approve_rows(boss, rows)
    if allowed:
        assert answer.status_code == 200, answer.text
        assert [r["qty"] for r in office.read(record)["items"]] == [2, 5]
    else:
        problem(answer, 403, "values.items[1]")
        assert [r["qty"] for r in office.read(record)["items"]] == [2, 2]
        # sending a row unchanged is not an edit
        assert _approve_rows(boss, [{"id": stored[0]["id"]}, {"id": stored[1]["id"], "qty": 2}]).status_code == 200


@pytest.mark.parametrize("allowed", [True, False])
def test_deleting_a_row_at_a_step_follows_the_steps_rule(office, allowed):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    _rows_flow(office, boss, delete=allowed)
    record = _with_two_rows(office, clerk)
    stored = office.read(record)["items"]
    answer = _approve_rows(boss, [{"id": stored[0]["id"]}])
    if allowed:
        assert answer.status_code == 200, answer.text
        assert [r["item"] for r in office.read(record)["items"]] == ["Laptop"]
    else:
        body = problem(answer, 403, "values.items")
        assert str(stored[1]["id"]) in body["errors"][0]["message"]
        assert [r["item"] for r in office.read(record)["items"]] == ["Laptop", "Dock"]


def test_the_task_says_what_the_step_allows_with_the_rows(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    _rows_flow(office, boss, add=False, delete=False)
    _with_two_rows(office, clerk)
    shown = boss.get(f"/api/tasks/{boss.task()}").json()
    assert shown["rows"] == {"items": {"add": False, "edit": True, "delete": False}}


def test_row_rules_name_an_editable_subform_of_the_form(office):
    boss = office.person("boss")
    for step, path in (
        (approval("head", users(boss), rows={"items": {"add": False}}), "nodes[1].rows.items"),
        (
            approval("head", users(boss), fields={"note": "editable"}, rows={"note": {"add": False}}),
            "nodes[1].rows.note",
        ),
        (approval("head", users(boss), rows={"items": {"add": "no"}}), None),
    ):
        saved = office.save_flow(line(step))
        paths = [p["path"] for p in saved["problems"]]
        assert (path in paths) if path else any(p.startswith("nodes[1]") for p in paths), paths
