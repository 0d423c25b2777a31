"""Approval flows over HTTP: designing and publishing, submitting, every node, approver, mode, policy and action.

The engine's rules are tested event by event in test_engine*.py; here each one
is seen from where people see it: the record's status, everyone's to-do
boxes and notifications, the task page and the timeline, on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.builders import admin_client, field, form, problem
from tests.conftest import DATABASES
from tests.runtime.flow.office import (
    REQUEST_FIELDS,
    Office,
    approval,
    cc,
    chosen,
    department_head,
    from_field,
    handler,
    line,
    managers,
    node,
    role,
    submitter,
    users,
)


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("flows")) as client:
        yield client


@pytest.fixture
def office(api):
    """A form of this test's own; people and flows are made by the test."""
    office = Office(api)
    office.publish_form()
    return office


def actions(office, record):
    return [a for a, _ in office.story(record)]


# ------------------------------------------------------------------ designing and publishing


def test_a_draft_is_saved_with_its_problems_and_their_json_paths(office):
    boss = office.person("boss")
    broken_link = line(approval("head", users(boss), next="nowhere"))
    saved = office.save_flow(broken_link)
    assert saved["draft"]["nodes"][1]["next"] == "nowhere"
    assert saved["published_version"] is None
    assert {p["path"] for p in saved["problems"]} == {"nodes[1].next"}

    unsound = line(
        approval("head", from_field("title"), fields={"amount": "editable", "ghost": "readonly"}),
        node(
            "check", "condition", branches=[{"condition": {"field": "amount", "op": "gt", "value": "1"}, "next": "end"}]
        ),
    )
    paths = {p["path"] for p in office.save_flow(unsound)["problems"]}
    assert {"nodes[1].approvers[0].field", "nodes[1].fields.ghost", "nodes[2].else"} <= paths

    strangers = line(approval("head", role("no_such_role"), users(99999)))
    problems = office.save_flow(strangers)["problems"]
    assert {p["path"] for p in problems} == {"nodes[1].approvers[0].role", "nodes[1].approvers[1].users[0]"}
    assert all(p["message"] for p in problems)

    by_schema = office.save_flow([node("start", "start", next="end"), node("end", "end"), node("x", "teleport")])
    assert any(p["path"].startswith("nodes[2]") for p in by_schema["problems"])


def test_publishing_a_draft_with_problems_is_refused_with_the_paths(office):
    office.save_flow(line(approval("head", users(office.person("boss")), next="nowhere")))
    refused = office.admin.post(f"{office.flow_url()}/publish")
    problem(refused, 422, "nodes[1].next")
    versions = office.admin.get(f"{office.flow_url()}/versions").json()["items"]
    assert versions == []
    missing = office.admin.post(f"{office.flow_url('no_such_flow')}/publish")
    problem(missing, 404)


def test_a_form_has_one_flow_a_second_is_refused(office):
    boss = office.person("boss")
    office.publish_flow(approval("head", users(boss)))
    second = {**office.flow_document(line(approval("head", users(boss)))), "key": "second"}
    assert office.admin.put(office.flow_url("second"), json=second).status_code == 200
    refused = office.admin.post(f"{office.flow_url('second')}/publish")
    problem(refused, 409, "form")


def test_versions_are_listed_and_an_instance_keeps_the_version_it_started_on(office):
    first, second, clerk = office.person("first"), office.person("second"), office.person("clerk")
    office.grant(clerk)
    dry = office.admin.post(f"{office.flow_url()}/publish", params={"dry_run": "true"})
    assert dry.status_code == 404  # nothing saved yet
    assert office.publish_flow(approval("head", users(first))) == 1
    early = office.submitted(clerk)
    dry = office.admin.post(f"{office.flow_url()}/publish", params={"dry_run": "true"})
    assert dry.status_code == 200 and dry.json()["applied"] is False
    assert office.publish_flow(approval("head", users(second)), approval("again", users(second))) == 2
    late = office.submitted(clerk)

    versions = office.admin.get(f"{office.flow_url()}/versions").json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    assert all(v["published_at"] and v["summary"] for v in versions)
    old = office.admin.get(f"{office.flow_url()}/versions/1").json()["document"]
    assert [n["id"] for n in old["nodes"]] == ["start", "head", "end"]

    assert office.instances(early)[0]["flow_version"] == 1
    assert office.instances(late)[0]["flow_version"] == 2
    assert [t["record_id"] for t in first.tasks()] == [early["id"]]
    assert [t["record_id"] for t in second.tasks()] == [late["id"]]
    first.approve()  # version 1 has one step: the early record is done
    assert office.status(early) == "approved"
    second.approve()
    assert office.status(late) == "in_review"
    assert [t["node"] for t in second.tasks()] == ["again"]


def test_fractional_hours_in_a_flow_are_saved_published_and_run(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), time_limit={"hours": 0.5, "remind_every_hours": 0.25}))
    stored = office.admin.get(f"{office.flow_url()}/versions/1").json()["document"]
    assert stored["nodes"][1]["time_limit"] == {"hours": 0.5, "remind_every_hours": 0.25}
    office.submitted(clerk)
    [task] = boss.tasks()
    created, due = (datetime.fromisoformat(task[k].replace("Z", "+00:00")) for k in ("created_at", "due_at"))
    assert due - created == timedelta(minutes=30)


def test_only_app_admins_design_flows(office):
    clerk = office.person("clerk")
    office.grant(clerk)
    document = office.flow_document(line(approval("head", users(clerk))))
    problem(clerk.client.put(office.flow_url(), json=document), 403)
    problem(clerk.client.post(f"{office.flow_url()}/publish"), 403)


# ------------------------------------------------------------------ submitting


def test_submitting_puts_the_record_in_review_and_the_first_task_in_the_approvers_box(office):
    boss, clerk = office.person("boss"), office.person("clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), label={"en": "Head", "zh-CN": "负责人"}))
    record = office.record(clerk, amount="12.50")
    answer = office.submit(clerk, record, {"comment": "please"})
    assert answer.status_code == 200, answer.text
    instance = answer.json()
    assert (instance["status"], instance["record_id"], instance["submitter_id"]) == ("running", record["id"], clerk.id)
    assert instance["title"] == "Laptops" and instance["flow_version"] == 1
    assert [(t["node"], t["assignee_id"], t["state"]) for t in instance["tasks"]] == [("head", boss.id, "pending")]

    assert office.status(record) == "in_review"
    [task] = boss.tasks()
    assert (task["record_id"], task["node_label"], task["flow_status"], task["submitter_id"]) == (
        record["id"],
        "Head",
        "running",
        clerk.id,
    )
    assert boss.counts() == {"pending": 1, "cc": 0, "done": 0, "submitted": 0}
    assert clerk.counts() == {"pending": 0, "cc": 0, "done": 0, "submitted": 1}
    [mine] = clerk.tasks("submitted")
    assert (mine["record_id"], mine["flow_status"]) == (record["id"], "running")
    assert boss.notified() == ["task"]
    [submitted] = [e for e in office.events(record) if e["action"] == "submitted"]
    assert (submitted["actor_id"], submitted["comment"]) == (clerk.id, "please")


def test_submitting_needs_the_right_to_update_the_record(office):
    boss, clerk, reader, peer = office.people("boss", "clerk", "reader", "peer")
    office.grant(clerk)
    office.grant(reader, read="all")
    office.grant(peer, create="all", read="own", update="own")
    office.publish_flow(approval("head", users(boss)))
    record = office.record(clerk)
    problem(office.submit(reader, record), 403)
    problem(office.submit(boss, record), 403)  # no role on the form at all
    problem(office.submit(peer, record), 404)  # outside their rows: the record does not exist for them
    assert office.status(record) == "draft"
    assert office.instances(record) == []
    assert boss.tasks() == []


def test_a_record_in_review_or_approved_refuses_patch_and_delete(office):
    boss, clerk = office.person("boss"), office.person("clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    url = office.record_url(record)
    for who in (clerk.client, office.admin):
        problem(who.patch(url, json={"title": "changed"}), 409)
        problem(who.delete(url), 409)
    boss.approve()
    assert office.status(record) == "approved"
    problem(clerk.client.patch(url, json={"title": "changed"}), 409)
    problem(clerk.client.delete(url), 409)
    assert office.read(record)["title"] == "Laptops"


def test_submitting_twice_is_a_conflict(office):
    boss, clerk = office.person("boss"), office.person("clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    problem(office.submit(clerk, record), 409)
    boss.approve()
    problem(office.submit(clerk, record), 409)
    assert len(office.instances(record)) == 1
    assert len(boss.tasks("done")) == 1


def test_a_form_without_a_flow_cannot_be_submitted(office):
    clerk = office.person("clerk")
    office.grant(clerk)
    record = office.record(clerk)
    body = problem(office.submit(clerk, record), 404)
    assert "flow" in body["detail"]
    problem(office.submit(clerk, 987654), 404)
    assert office.status(record) == "draft"


def test_bad_submissions_are_refused_as_problems(office):
    boss, clerk = office.person("boss"), office.person("clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.record(clerk)
    url = f"{office.record_url(record)}/submit"
    problem(clerk.client.post(url, content=b"{not json", headers={"content-type": "application/json"}), 400)
    problem(clerk.post(url, [1, 2]), 400)
    problem(clerk.post(url, {"comment": 42}), 400, "comment")
    problem(clerk.post(url, {"comment": "x" * 4001}), 400, "comment")
    problem(clerk.post(url, {"chosen": {"head": ["nine"]}}), 400, "chosen")
    problem(clerk.post(url, {"chosen": {"head": [boss.id]}}), 422)  # head's approvers are not chosen
    problem(clerk.post(url, {}, **{"Idempotency-Key": "k" * 129}), 400, "Idempotency-Key")
    problem(clerk.client.post(f"{office.url}/0/submit"), 400, "record_id")
    assert office.status(record) == "draft"
    assert boss.tasks() == []


# ------------------------------------------------------------------ node types


def test_a_handler_step_fills_in_and_completes_but_cannot_reject(office):
    worker, boss, clerk = office.people("worker", "boss", "clerk")
    office.grant(clerk)
    office.publish_flow(handler("fill", users(worker), fields={"note": "editable"}), approval("head", users(boss)))
    record = office.submitted(clerk)
    task = worker.task("fill")
    page = worker.get(f"/api/tasks/{task}").json()
    assert page["task"]["kind"] == "handler"
    assert "reject" not in page["actions"] and {"approve", "return", "transfer"} <= set(page["actions"])
    problem(worker.act("reject", {"comment": "no"}), 422)
    assert worker.act("approve", {"values": {"note": "filled in"}}).status_code == 200
    assert office.read(record)["note"] == "filled in"
    assert ("completed", "fill") in office.story(record)
    assert boss.task("head")


def test_cc_tells_people_without_waiting_for_them(office):
    watcher, boss, clerk = office.people("watcher", "boss", "clerk")
    office.grant(clerk)
    office.publish_flow(cc("tell", users(watcher)), approval("head", users(boss)))
    record = office.submitted(clerk)
    assert boss.task("head")
    [copy] = watcher.tasks("cc")
    assert (copy["record_id"], copy["kind"], copy["state"]) == (record["id"], "cc", "cc")
    assert watcher.tasks() == [] and watcher.tasks("done") == []
    assert watcher.counts() == {"pending": 0, "cc": 1, "done": 0, "submitted": 0}
    assert watcher.notified() == ["cc"]
    page = watcher.get(f"/api/tasks/{copy['id']}").json()
    assert page["actions"] == [] and page["record"]["id"] == record["id"]
    problem(watcher.act("approve", task=copy["id"]), 409)
    [event] = [e for e in office.events(record) if e["action"] == "cc"]
    assert event["detail"]["recipients"] == [watcher.id]


@pytest.mark.parametrize(("amount", "taken"), [("5000", "huge"), ("500", "big"), ("5", "small"), (None, "small")])
def test_a_condition_takes_the_first_matching_branch_by_priority_else_the_else(office, amount, taken):
    huge, big, small, clerk = office.people("huge", "big", "small", "clerk")
    office.grant(clerk)
    branches = [
        {"condition": {"field": "amount", "op": "gt", "value": "100"}, "next": "big", "priority": 2},
        {"condition": {"field": "amount", "op": "gt", "value": "1000"}, "next": "huge", "priority": 1},
    ]
    office.publish_flow(
        node("start", "start", next="check"),
        node("check", "condition", branches=branches, **{"else": "small"}),
        approval("huge", users(huge), next="end"),
        approval("big", users(big), next="end"),
        approval("small", users(small), next="end"),
        node("end", "end"),
    )
    record = office.submitted(clerk, **({"amount": amount} if amount else {}))
    people = {"huge": huge, "big": big, "small": small}
    assert [t["node"] for t in people[taken].tasks()] == [taken]
    assert all(p.tasks() == [] for key, p in people.items() if key != taken)
    [branch] = [e for e in office.events(record) if e["action"] == "branch"]
    assert branch["detail"]["to"] == taken


def _parallel_flow(office, legal, money, final):
    office.publish_flow(
        node("start", "start", next="split"),
        node("split", "parallel", branches=["legal", "money"], join="meet"),
        approval("legal", users(legal), next="meet"),
        approval("money", users(money), next="meet"),
        node("meet", "join", next="final"),
        approval("final", users(final), next="end"),
        node("end", "end"),
    )


def test_parallel_branches_all_run_and_the_join_waits_for_every_one(office):
    legal, money, final, clerk = office.people("legal", "money", "final", "clerk")
    office.grant(clerk)
    _parallel_flow(office, legal, money, final)
    record = office.submitted(clerk)
    assert legal.task("legal") and money.task("money")
    legal.approve()
    assert final.tasks() == [] and money.task("money")
    assert ("branch_joined", "meet") in office.story(record)
    money.approve()
    assert final.task("final")
    final.approve()
    assert office.status(record) == "approved"


def test_a_rejection_in_one_parallel_branch_ends_the_others(office):
    legal, money, final, clerk = office.people("legal", "money", "final", "clerk")
    office.grant(clerk)
    _parallel_flow(office, legal, money, final)
    record = office.submitted(clerk)
    assert legal.act("reject", {"comment": "not lawful"}).status_code == 200
    assert office.status(record) == "rejected"
    assert money.tasks() == [] and final.tasks() == []
    assert ("money", money.id, "cancelled") in office.task_states(record)
    assert clerk.notified()[-1] == "rejected"


def test_action_steps_update_this_record_and_create_one_in_another_form(office):
    from tests.builders import form, publish_app

    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    log_key = f"log_{office.serial}"
    log_form = form(
        log_key,
        field("title", required=True),
        field("amount", "decimal", precision=12, scale=2),
        field("source", "relation", form=office.form_key),
        field("origin"),
    )
    publish_app(office.admin, office.app, log_form)
    mapping = {"title": "title", "amount": "amount", "source": "id", "origin": {"value": "the flow"}}
    office.publish_flow(
        approval("head", users(boss)),
        node("mark", "action", action={"kind": "update_record", "values": {"note": "checked by the flow"}}),
        node("log", "action", action={"kind": "create_record", "form": log_key, "mapping": mapping}),
    )
    record = office.submitted(clerk, amount="99.90")
    assert office.read(record)["note"] is None
    boss.approve()
    done = office.read(record)
    assert (done["status"], done["note"]) == ("approved", "checked by the flow")
    [entry] = office.admin.get(f"/api/apps/{office.app}/forms/{log_key}/records").json()["items"]
    assert (entry["title"], entry["amount"], entry["source"], entry["origin"]) == (
        "Laptops",
        "99.90",
        record["id"],
        "the flow",
    )
    assert [(a, n) for a, n in office.story(record) if a == "action"] == [("action", "mark"), ("action", "log")]


# ------------------------------------------------------------------ approvers


def test_role_members_approve_and_in_any_mode_the_first_decides(office):
    first, second, clerk = office.people("first", "second", "clerk")
    office.grant(clerk)
    approvers = office.grant(key=f"approvers_{office.serial}", read="all")
    office.add_members(approvers, first, second)
    office.publish_flow(approval("head", role(approvers), mode="any"))
    record = office.submitted(clerk)
    assert first.task() and second.task()
    second.approve()
    assert office.status(record) == "approved"
    assert first.tasks() == [] and first.tasks("done") == []
    assert ("head", first.id, "cancelled") in office.task_states(record)


def test_department_heads_by_level_and_managers_up_the_chain(office):
    ceo, sales_head, lead, clerk = office.people("ceo", "sales_head", "lead", "clerk")
    company = office.department("Company", head=ceo)
    sales = office.department("Sales", parent=company, head=sales_head)
    for person in (sales_head, lead, clerk):
        office.move(person, department_id=sales)
    office.move(ceo, department_id=company)
    office.move(clerk, manager_id=lead.id)
    office.grant(clerk)
    office.publish_flow(
        approval("l1", department_head(1)),
        approval("l2", department_head(2)),
        approval("two_up", managers(2), mode="countersign"),
        approval("to_top", managers("top"), mode="sequential"),
    )
    record = office.submitted(clerk)
    sales_head.approve()
    ceo.approve()
    assert lead.task("two_up") and sales_head.task("two_up")
    assert ceo.tasks() == []
    lead.approve()
    sales_head.approve()
    # the whole chain, nearest first: lead -> the head of Sales -> the head of the company
    lead.approve()
    assert sales_head.task("to_top") and ceo.tasks() == []
    sales_head.approve()
    ceo.approve()
    assert office.status(record) == "approved"
    entered = {e["node"]: e["detail"]["assignees"] for e in office.events(record) if e["action"] == "node_entered"}
    assert entered == {
        "l1": [sales_head.id],
        "l2": [ceo.id],
        "two_up": [lead.id, sales_head.id],
        "to_top": [lead.id, sales_head.id, ceo.id],
    }


def test_field_approvers_read_user_users_and_department_fields(office):
    owner, first, second, team_head, clerk = office.people("owner", "first", "second", "team_head", "clerk")
    team = office.department("Team", head=team_head)
    office.grant(clerk)
    office.publish_flow(
        approval("by_owner", from_field("owner")),
        approval("by_reviewers", from_field("reviewers"), mode="countersign"),
        approval("by_team", from_field("team")),
    )
    record = office.submitted(clerk, owner=owner.id, reviewers=[first.id, second.id], team=team)
    owner.approve()
    first.approve()
    second.approve()
    team_head.approve()
    assert office.status(record) == "approved"


def test_the_submitter_can_be_the_approver(office):
    clerk = office.person("clerk")
    office.grant(clerk)
    office.publish_flow(approval("self", submitter()))
    record = office.submitted(clerk)
    assert clerk.task("self")
    clerk.approve()
    assert office.status(record) == "approved"


def test_chosen_approvers_are_picked_at_submission_within_the_range_and_the_list(office):
    a, b, c, outsider, clerk = office.people("a", "b", "c", "outsider", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("pick", chosen(min=1, max=2, among=[users(a, b, c)]), mode="countersign"))
    record = office.record(clerk)
    missing = problem(office.submit(clerk, record), 422)
    assert "chosen.pick" in missing["detail"]
    problem(office.submit(clerk, record, {"chosen": {"pick": []}}), 422)
    problem(office.submit(clerk, record, {"chosen": {"pick": [a.id, b.id, c.id]}}), 422)
    problem(office.submit(clerk, record, {"chosen": {"pick": [a.id, outsider.id]}}), 422)
    problem(office.submit(clerk, record, {"chosen": {"nowhere": [a.id]}}), 422)
    assert office.status(record) == "draft" and office.instances(record) == []
    assert office.submit(clerk, record, {"chosen": {"pick": [a.id, c.id]}}).status_code == 200
    assert a.task() and c.task() and b.tasks() == [] and outsider.tasks() == []
    a.approve()
    c.approve()
    assert office.status(record) == "approved"


# ------------------------------------------------------------------ modes


def test_countersign_needs_everyone_and_one_rejection_is_a_veto(office):
    a, b, clerk = office.people("a", "b", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("both", users(a, b), mode="countersign"))
    passed = office.submitted(clerk)
    a.approve()
    assert office.status(passed) == "in_review" and b.task()
    b.approve()
    assert office.status(passed) == "approved"

    vetoed = office.submitted(clerk)
    a.approve()
    assert b.act("reject", {"comment": "too dear"}).status_code == 200
    assert office.status(vetoed) == "rejected"
    [rejected] = [e for e in office.events(vetoed) if e["action"] == "rejected" and e["actor_id"]]
    assert (rejected["actor_id"], rejected["comment"]) == (b.id, "too dear")


def test_sequential_approvers_act_one_after_another(office):
    a, b, clerk = office.people("a", "b", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("queue", users(a, b), mode="sequential"))
    record = office.submitted(clerk)
    assert b.tasks() == [] and b.notified() == []
    a.approve()
    assert b.task() and b.notified() == ["task"]
    b.approve()
    assert office.status(record) == "approved"


def test_a_vote_passes_at_its_share_and_fails_once_it_no_longer_can(office):
    a, b, c, clerk = office.people("a", "b", "c", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("vote", users(a, b, c), mode="vote", vote_percent=60))
    passed = office.submitted(clerk)
    a.approve()
    assert b.act("reject", {"comment": "no"}).status_code == 200
    assert office.status(passed) == "in_review"
    c.approve()
    assert office.status(passed) == "approved"

    failed = office.submitted(clerk)
    assert a.act("reject", {"comment": "no"}).status_code == 200
    assert office.status(failed) == "in_review"
    assert b.act("reject", {"comment": "no"}).status_code == 200
    assert office.status(failed) == "rejected"
    assert c.tasks() == []


# ------------------------------------------------------------------ policies


def test_when_nobody_is_found_the_step_passes_goes_to_the_admins_or_to_a_named_user(office):
    helper, clerk = office.people("helper", "clerk")
    office.grant(clerk)
    empty = office.grant(key=f"empty_{office.serial}", read="all")
    office.publish_flow(
        approval("nobody", role(empty), when_empty="auto_pass"),
        approval("to_admin", role(empty), when_empty="admin"),
        approval("to_helper", role(empty), when_empty="user", empty_user=helper.id),
    )
    record = office.submitted(clerk)
    assert ("auto_passed", "nobody") in office.story(record)
    admin = office.admin.get("/api/me").json()["id"]
    [task] = [t for t in office.admin.get("/api/tasks").json()["items"] if t["record_id"] == record["id"]]
    assert (task["node"], task["assignee_id"]) == ("to_admin", admin)
    assert office.admin.post(f"/api/tasks/{task['id']}/approve").status_code == 200
    helper.approve()
    assert office.status(record) == "approved"


def test_when_the_approver_is_the_submitter_the_step_passes_goes_to_their_manager_or_is_theirs(office):
    lead, clerk = office.people("lead", "clerk")
    office.move(clerk, manager_id=lead.id)
    office.grant(clerk)
    office.publish_flow(
        approval("skip", users(clerk), when_submitter="auto_pass"),
        approval("up", users(clerk), when_submitter="manager"),
        approval("own", users(clerk), when_submitter="approve"),
    )
    record = office.submitted(clerk)
    [auto] = [e for e in office.events(record) if e["action"] == "auto_approved"]
    assert (auto["node"], auto["detail"]["reason"]) == ("skip", "the approver is the submitter")
    assert clerk.tasks() == []
    lead.approve()
    clerk.approve()
    assert office.status(record) == "approved"


@pytest.mark.parametrize(
    ("setting", "auto"),
    [("off", []), ("previous_node", ["two"]), ("any_earlier", ["two", "four"])],
)
def test_someone_who_already_approved_is_passed_by_the_flows_setting(office, setting, auto):
    a, b, clerk = office.people("a", "b", "clerk")
    office.grant(clerk)
    steps = [approval("one", users(a)), approval("two", users(a)), approval("three", users(b))]
    office.publish_flow(*steps, approval("four", users(a)), settings={"same_approver": setting})
    record = office.submitted(clerk)
    for node_id, person in (("one", a), ("two", a), ("three", b), ("four", a)):
        if node_id not in auto:
            assert person.task(node_id)
            person.approve()
    assert office.status(record) == "approved"
    assert [e["node"] for e in office.events(record) if e["action"] == "auto_approved"] == auto


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def test_out_of_office_hands_new_tasks_to_the_delegate_on_behalf_of_the_approver(office):
    boss, deputy, clerk = office.people("boss", "deputy", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    now = datetime.now(UTC)
    period = {
        "delegate_id": deputy.id,
        "starts_at": _iso(now - timedelta(hours=1)),
        "ends_at": _iso(now + timedelta(days=3)),
    }
    response = boss.client.put("/api/me/delegation", json=period)
    assert response.status_code == 200, response.text
    [standing] = boss.get("/api/me/delegation").json()["items"]
    assert standing["delegate_id"] == deputy.id

    record = office.submitted(clerk)
    assert boss.tasks() == []
    [task] = deputy.tasks()
    assert (task["assignee_id"], task["on_behalf_of"]) == (deputy.id, boss.id)
    assert boss.get(f"/api/tasks/{task['id']}").status_code == 200  # the approver still sees it
    problem(boss.act("approve", task=task["id"]), 403)
    deputy.approve()
    assert office.status(record) == "approved"
    [approved] = [e for e in office.events(record) if e["action"] == "approved" and e["actor_id"]]
    assert approved["actor_id"] == deputy.id
    [done] = office.instances(record)[0]["tasks"]
    assert (done["assignee_id"], done["on_behalf_of"], done["state"]) == (deputy.id, boss.id, "approved")

    assert boss.client.delete("/api/me/delegation").status_code == 204
    assert boss.get("/api/me/delegation").json()["items"] == []
    office.submitted(clerk)
    assert boss.task() and deputy.tasks() == []


def test_an_out_of_office_period_in_the_future_does_not_apply_yet(office):
    boss, deputy, clerk = office.people("boss", "deputy", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    later = datetime.now(UTC) + timedelta(days=7)
    period = {"delegate_id": deputy.id, "starts_at": _iso(later), "ends_at": _iso(later + timedelta(days=1))}
    assert boss.client.put("/api/me/delegation", json=period).status_code == 200
    office.submitted(clerk)
    assert boss.task() and deputy.tasks() == []


def test_bad_delegations_are_refused_with_the_field_named(office):
    boss, deputy = office.people("boss", "deputy")
    now = datetime.now(UTC)
    start, end = _iso(now), _iso(now + timedelta(days=1))
    put = boss.client.put
    problem(put("/api/me/delegation", json=[1]), 400)
    problem(
        put("/api/me/delegation", json={"delegate_id": boss.id, "starts_at": start, "ends_at": end}), 400, "delegate_id"
    )
    problem(
        put("/api/me/delegation", json={"delegate_id": 999999, "starts_at": start, "ends_at": end}), 400, "delegate_id"
    )
    problem(
        put("/api/me/delegation", json={"delegate_id": "x", "starts_at": start, "ends_at": end}), 400, "delegate_id"
    )
    problem(
        put("/api/me/delegation", json={"delegate_id": 2**70, "starts_at": start, "ends_at": end}), 400, "delegate_id"
    )
    problem(
        put("/api/me/delegation", json={"delegate_id": deputy.id, "starts_at": end, "ends_at": start}), 400, "ends_at"
    )
    problem(
        put("/api/me/delegation", json={"delegate_id": deputy.id, "starts_at": "soon", "ends_at": end}),
        400,
        "starts_at",
    )
    problem(put("/api/me/delegation", json={"delegate_id": deputy.id, "ends_at": end}), 400, "starts_at")
    problem(put("/api/me/delegation", content=b"{", headers={"content-type": "application/json"}), 400)
    assert boss.get("/api/me/delegation").json()["items"] == []


# ------------------------------------------------------------------ approve, reject


def test_approving_saves_the_fields_the_step_makes_editable(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), fields={"note": "editable", "amount": "editable"}))
    record = office.submitted(clerk, amount="10.00")
    answer = boss.act("approve", {"comment": "ok", "values": {"note": "checked", "amount": "12.5"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "approved"
    done = office.read(record)
    assert (done["status"], done["note"], done["amount"]) == ("approved", "checked", "12.50")
    [approved] = [e for e in office.events(record) if e["action"] == "approved" and e["actor_id"]]
    assert (approved["actor_id"], approved["comment"], approved["node"]) == (boss.id, "ok", "head")
    assert approved["detail"]["changes"] == {
        "note": {"before": None, "after": "checked"},
        "amount": {"before": "10.00", "after": "12.50"},
    }
    history = office.admin.get(f"{office.record_url(record)}/history").json()["items"]
    assert any(h.get("changes", {}).get("note") == {"before": None, "after": "checked"} for h in history), history


def test_a_branch_after_a_step_follows_the_values_the_step_filled_in(office):
    worker, big, small, clerk = office.people("worker", "big", "small", "clerk")
    office.grant(clerk)
    branches = [{"condition": {"field": "amount", "op": "gt", "value": "100"}, "next": "big"}]
    office.publish_flow(
        node("start", "start", next="fill"),
        handler("fill", users(worker), fields={"amount": "editable"}, next="check"),
        node("check", "condition", branches=branches, **{"else": "small"}),
        approval("big", users(big), next="end"),
        approval("small", users(small), next="end"),
        node("end", "end"),
    )
    record = office.submitted(clerk, amount="5.00")
    assert worker.act("approve", {"values": {"amount": "500"}}).status_code == 200
    assert big.task("big") and small.tasks() == []
    assert office.read(record)["amount"] == "500.00"
    [completed] = [e for e in office.events(record) if e["action"] == "completed"]
    assert completed["detail"]["changes"] == {"amount": {"before": "5.00", "after": "500.00"}}


def test_values_for_a_field_the_step_does_not_make_editable_are_refused_and_nothing_is_saved(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), fields={"note": "editable", "secret": "hidden"}))
    record = office.submitted(clerk, secret="s3")
    task = boss.task()
    for values, path in (
        ({"note": "ok", "title": "Changed"}, "values.title"),
        ({"secret": "leak"}, "values.secret"),
        ({"amount": "1"}, "values.amount"),
        ({"ghost": "x"}, "values.ghost"),
    ):
        body = problem(boss.act("approve", {"values": values}, task=task), 403, path)
        assert "note" not in {e["path"] for e in body["errors"]}
    problem(boss.act("approve", {"values": {"note": "x" * 5000}}, task=task), 422, "values.note")
    problem(boss.act("approve", {"values": ["note"]}, task=task), 400, "values")
    problem(boss.act("reject", {"values": {"note": "x"}}, task=task), 400, "values")

    unchanged = office.read(record)
    assert (unchanged["status"], unchanged["title"], unchanged["note"], unchanged["secret"]) == (
        "in_review",
        "Laptops",
        None,
        "s3",
    )
    assert boss.tasks()[0]["id"] == task
    assert [a for a in actions(office, record) if a not in ("submitted", "node_entered")] == []


def test_a_rejection_ends_the_flow_and_the_record_may_be_changed_and_submitted_again(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    assert boss.act("reject", {"comment": "too dear"}).status_code == 200
    assert office.status(record) == "rejected"
    assert clerk.notified() == ["rejected"]
    assert [t["state"] for t in boss.tasks("done")] == ["rejected"]
    assert clerk.counts()["submitted"] == 0
    [mine] = clerk.tasks("submitted")
    assert mine["flow_status"] == "rejected"
    changed = clerk.client.patch(office.record_url(record), json={"amount": "5"})
    assert changed.status_code == 200, changed.text
    assert office.submit(clerk, record).status_code == 200
    assert [i["status"] for i in office.instances(record)] == ["rejected", "running"]
    assert boss.task()


def test_a_rejection_can_return_the_record_to_the_submitter(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), on_reject="submitter"))
    record = office.submitted(clerk)
    assert boss.act("reject", {"comment": "add a quote"}).status_code == 200
    assert office.status(record) == "draft"
    assert clerk.notified() == ["returned"]
    [mine] = clerk.tasks("submitted")
    assert mine["flow_status"] == "returned"
    assert clerk.counts()["submitted"] == 1
    assert clerk.client.patch(office.record_url(record), json={"note": "quote attached"}).status_code == 200
    assert office.submit(clerk, record, {"comment": "done"}).status_code == 200
    assert office.status(record) == "in_review"
    assert len(office.instances(record)) == 1
    assert [a for a in actions(office, record) if a in ("rejected", "returned_to_submitter", "resubmitted")] == [
        "rejected",
        "returned_to_submitter",
        "resubmitted",
    ]
    boss.approve()
    assert office.status(record) == "approved"


# ------------------------------------------------------------------ return and resubmit


def _three_steps(office, **settings):
    a, b, c, clerk = office.people("a", "b", "c", "clerk")
    office.grant(clerk)
    extra = {"settings": settings} if settings else {}
    office.publish_flow(approval("one", users(a)), approval("two", users(b)), approval("three", users(c)), **extra)
    return a, b, c, clerk


def test_return_to_the_submitter_then_resubmitting_restarts_the_flow(office):
    a, b, c, clerk = _three_steps(office, resubmit="restart")
    record = office.submitted(clerk)
    a.approve()
    b.approve()
    assert c.act("return", {"target": "submitter", "comment": "fix it"}).status_code == 200
    assert office.status(record) == "draft"
    assert clerk.notified() == ["returned"]
    problem(office.submit(c, record), 403)  # only the submitter submits again (c may not update it)
    assert office.submit(clerk, record).status_code == 200
    assert a.task("one") and c.tasks() == []


def test_return_to_the_submitter_then_resubmitting_jumps_back_to_the_returning_step(office):
    a, b, c, clerk = _three_steps(office, resubmit="jump_back")
    record = office.submitted(clerk)
    a.approve()
    b.approve()
    assert c.act("return", {"target": "submitter"}).status_code == 200
    assert office.submit(clerk, record).status_code == 200
    assert a.tasks() == [] and b.tasks() == [] and c.task("three")
    c.approve()
    assert office.status(record) == "approved"


def test_return_to_the_previous_step_or_any_step_the_record_passed(office):
    a, b, c, clerk = _three_steps(office)
    record = office.submitted(clerk)
    a.approve()
    assert b.act("return", {"target": "previous"}).status_code == 200
    assert office.status(record) == "in_review"
    assert a.task("one") and b.tasks() == []
    a.approve()
    b.approve()
    problem(c.act("return", {"target": "three"}), 422)  # not passed yet
    problem(c.act("return", {"target": "nowhere"}), 422)
    assert c.act("return", {"target": "one", "comment": "again"}).status_code == 200
    assert a.task("one") and c.tasks() == []
    [returned] = [e for e in office.events(record) if e["action"] == "returned" and e["actor_id"] == c.id]
    assert (returned["actor_id"], returned["detail"]["to"], returned["comment"]) == (c.id, "one", "again")
    assert [t["state"] for t in c.tasks("done")] == ["returned"]


# ------------------------------------------------------------------ transfer, delegate, add a signer


def test_transfer_makes_the_task_someone_elses(office):
    boss, other, clerk = office.people("boss", "other", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    task = boss.task()
    problem(boss.act("transfer", {"to": boss.id}, task=task), 422)
    problem(boss.act("transfer", {"to": 999999}, task=task), 422)
    problem(boss.act("transfer", {"to": "other"}, task=task), 400, "to")
    problem(boss.act("transfer", {}, task=task), 422)
    assert boss.act("transfer", {"to": other.id, "comment": "yours"}, task=task).status_code == 200
    assert boss.tasks() == [] and [t["state"] for t in boss.tasks("done")] == ["transferred"]
    assert other.notified() == ["task"]
    other.approve()
    assert office.status(record) == "approved"
    assert ("transferred", "head") in office.story(record)


def test_delegate_lets_someone_act_on_the_approvers_behalf(office):
    boss, deputy, clerk = office.people("boss", "deputy", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    task = boss.task()
    assert boss.act("delegate", {"to": deputy.id}, task=task).status_code == 200
    assert boss.tasks() == []
    [delegated] = deputy.tasks()
    assert (delegated["id"], delegated["on_behalf_of"]) == (task, boss.id)
    assert boss.get(f"/api/tasks/{task}").json()["task"]["assignee_id"] == deputy.id
    deputy.approve()
    assert office.status(record) == "approved"
    assert [a for a in actions(office, record) if a in ("delegated", "approved")] == [
        "delegated",
        "approved",
        "approved",
    ]


def test_a_signer_added_before_acts_first_then_the_task_comes_back(office):
    boss, expert, clerk = office.people("boss", "expert", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    response = boss.act("add_signer", {"users": [expert.id], "position": "before", "comment": "please check"})
    assert response.status_code == 200, response.text
    assert boss.tasks() == [] and expert.task()
    expert.approve()
    assert office.status(record) == "in_review"
    boss.approve()
    assert office.status(record) == "approved"


def test_a_signer_added_after_acts_once_the_task_is_approved(office):
    boss, expert, clerk = office.people("boss", "expert", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    assert boss.act("add_signer", {"users": [expert.id], "position": "after"}).status_code == 200
    assert expert.tasks() == []
    boss.approve()
    assert office.status(record) == "in_review"
    expert.approve()
    assert office.status(record) == "approved"


def test_a_signer_added_in_parallel_acts_alongside_and_both_must_approve(office):
    boss, expert, clerk = office.people("boss", "expert", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    assert boss.act("add_signer", {"users": [expert.id], "position": "parallel"}).status_code == 200
    assert boss.task() and expert.task()
    boss.approve()
    assert office.status(record) == "in_review"
    expert.approve()
    assert office.status(record) == "approved"
    [added] = [e for e in office.events(record) if e["action"] == "signer_added"]
    assert added["detail"] == {"users": [expert.id], "position": "parallel"}


def test_bad_signers_are_refused(office):
    boss, expert, clerk = office.people("boss", "expert", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    office.submitted(clerk)
    task = boss.task()
    problem(boss.act("add_signer", {"users": [expert.id], "position": "sideways"}, task=task), 422)
    problem(boss.act("add_signer", {"users": []}, task=task), 422)
    problem(boss.act("add_signer", {"users": [999999]}, task=task), 422)
    problem(boss.act("add_signer", {"users": [2**70]}, task=task), 422)
    problem(boss.act("transfer", {"to": 2**70}, task=task), 422)
    problem(boss.act("add_signer", {"users": "all"}, task=task), 400, "users")
    problem(boss.act("add_signer", {"users": [True]}, task=task), 400, "users")
    assert expert.tasks() == [] and boss.tasks()[0]["id"] == task


# ------------------------------------------------------------------ withdraw, urge, comment


def test_the_submitter_withdraws_until_someone_acts(office):
    a, b, clerk = office.people("a", "b", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("both", users(a, b), mode="countersign"))
    early = office.submitted(clerk)
    problem(a.post(f"{office.record_url(early)}/withdraw"), 403)  # a has no role on the form
    answer = clerk.post(f"{office.record_url(early)}/withdraw", {"comment": "changed my mind"})
    assert answer.status_code == 200, answer.text
    assert office.status(early) == "withdrawn"
    assert a.tasks() == [] and b.tasks() == [] and a.tasks("done") == []
    assert clerk.counts()["submitted"] == 0
    problem(clerk.post(f"{office.record_url(early)}/withdraw"), 409)
    assert clerk.client.patch(office.record_url(early), json={"note": "cheaper"}).status_code == 200
    assert office.submit(clerk, early).status_code == 200  # a withdrawn record may be submitted again
    assert [i["status"] for i in office.instances(early)] == ["withdrawn", "running"]
    assert clerk.post(f"{office.record_url(early)}/withdraw").status_code == 200

    late = office.submitted(clerk)
    a.approve()
    body = problem(clerk.post(f"{office.record_url(late)}/withdraw"), 409)
    assert "acted" in body["detail"]
    assert office.status(late) == "in_review" and b.task()
    problem(clerk.post(f"{office.record_url(office.record(clerk))}/withdraw"), 404)  # never submitted


def test_only_the_submitter_may_withdraw(office):
    boss, clerk, colleague = office.people("boss", "clerk", "colleague")
    office.grant(clerk, colleague)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    problem(colleague.post(f"{office.record_url(record)}/withdraw"), 403)
    assert office.status(record) == "in_review"


def test_urging_reminds_whoever_has_the_turn(office):
    a, b, clerk = office.people("a", "b", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("queue", users(a, b), mode="sequential"))
    record = office.submitted(clerk)
    assert clerk.post(f"{office.record_url(record)}/urge", {"comment": "today please"}).status_code == 200
    assert a.notified() == ["task", "urge"] and b.notified() == []
    [urged] = [e for e in office.events(record) if e["action"] == "urged"]
    assert (urged["actor_id"], urged["comment"], urged["detail"]["users"]) == (clerk.id, "today please", [a.id])
    problem(office.admin.post(f"{office.record_url(record)}/urge"), 403)


def test_anyone_who_may_read_the_record_comments_and_the_others_are_told(office):
    boss, clerk, stranger = office.people("boss", "clerk", "stranger")
    office.grant(clerk)
    reader = office.person("reader")
    office.grant(reader, read="all")
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    url = f"{office.record_url(record)}/comments"
    assert reader.post(url, {"text": "the quote is attached"}).status_code == 200
    assert boss.notified() == ["task", "comment"] and clerk.notified() == ["comment"]
    [said] = [e for e in office.events(record) if e["action"] == "commented"]
    assert (said["actor_id"], said["comment"], said["detail"]["files"]) == (reader.id, "the quote is attached", [])
    problem(reader.post(url, {}), 400, "text")
    problem(reader.post(url, {"text": "   "}), 400, "text")
    problem(reader.post(url, {"text": "x", "files": "f"}), 400, "files")
    problem(reader.post(url, {"text": "x", "files": [{"id": 1, "blob": "x" * 1000}]}), 400, "files")
    problem(reader.post(url, {"text": "x", "files": list(range(1, 22))}), 400, "files")
    problem(stranger.post(url, {"text": "hello"}), 403)
    assert len([e for e in office.events(record) if e["action"] == "commented"]) == 1


def test_a_comment_carries_uploaded_files_which_then_belong_to_the_record(api):
    office = Office(api)
    office.publish_form(*REQUEST_FIELDS, field("docs", "attachment"))
    boss, clerk, other = office.people("boss", "clerk", "other")
    office.grant(clerk)
    office.grant(other)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    files = f"/api/apps/{office.app}/forms/{office.form_key}/files"
    upload = clerk.client.post(files, params={"field": "docs"}, files={"file": ("报价 Q1.pdf", b"%PDF-1.4", "x")})
    assert upload.status_code == 201, upload.text
    theirs = other.client.post(files, params={"field": "docs"}, files={"file": ("x.pdf", b"%PDF-1.4", "x")}).json()
    url = f"{office.record_url(record)}/comments"
    problem(clerk.post(url, {"text": "see", "files": [theirs["id"]]}), 422, "files[0]")
    problem(clerk.post(url, {"text": "see", "files": [999999]}), 422, "files[0]")
    said = clerk.post(url, {"text": "the quote", "files": [upload.json()["id"]]})
    assert said.status_code == 200, said.text
    [event] = [e for e in office.events(record) if e["action"] == "commented"]
    assert [f["name"] for f in event["detail"]["files"]] == ["报价 Q1.pdf"]
    download = api.get(f"{files}/{upload.json()['id']}")  # a reader of the record may download it
    assert download.status_code == 200 and download.content == b"%PDF-1.4"


# ------------------------------------------------------------------ the task page, boxes, notifications


def test_the_task_page_shows_the_record_as_the_step_does_with_its_permissions_actions_and_timeline(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), fields={"note": "editable", "secret": "hidden"}))
    record = office.submitted(clerk, secret="s3", note="n")
    task = boss.task()
    page = boss.get(f"/api/tasks/{task}").json()
    assert page["task"]["id"] == task and page["task"]["state"] == "pending"
    assert page["record"]["id"] == record["id"] and page["record"]["note"] == "n"
    assert "secret" not in page["record"]
    assert page["fields"]["note"] == "editable" and page["fields"]["title"] == "readonly"
    assert "secret" not in page["fields"]
    assert page["actions"] == ["add_signer", "approve", "delegate", "reject", "return", "transfer"]
    [instance] = page["timeline"]
    assert [e["action"] for e in instance["events"]] == ["submitted", "node_entered"]
    boss.approve()
    after = boss.get(f"/api/tasks/{task}").json()
    assert after["actions"] == [] and after["task"]["state"] == "approved"
    assert after["record"]["status"] == "approved"


def test_a_hidden_fields_earlier_changes_stay_hidden_in_the_timeline(office):
    finance, boss, clerk, reader = office.people("finance", "boss", "clerk", "reader")
    office.grant(clerk)
    office.grant(reader, read="all", fields={"secret": "hidden"})
    office.publish_flow(
        approval("price", users(finance), fields={"secret": "editable", "note": "editable"}),
        approval("head", users(boss), fields={"secret": "hidden"}),
    )
    record = office.submitted(clerk)
    finance.approve(values={"secret": "margin 40%", "note": "priced"})

    def changes(events):
        return [e["detail"]["changes"] for e in events if e["action"] == "approved"]

    page = boss.get(f"/api/tasks/{boss.task()}").json()
    assert "secret" not in page["record"]
    assert changes(page["timeline"][0]["events"]) == [{"note": {"before": None, "after": "priced"}}]
    seen = reader.get(f"{office.record_url(record)}/timeline").json()["items"][0]["events"]
    assert changes(seen) == [{"note": {"before": None, "after": "priced"}}]
    assert changes(office.events(record)) == [
        {"secret": {"before": None, "after": "margin 40%"}, "note": {"before": None, "after": "priced"}}
    ]


def test_someone_elses_task_does_not_exist_for_them(office):
    boss, clerk, stranger = office.people("boss", "clerk", "stranger")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    task = boss.task()
    problem(stranger.get(f"/api/tasks/{task}"), 404)
    problem(clerk.get(f"/api/tasks/{task}"), 404)
    for action in ("approve", "reject", "return", "transfer"):
        problem(stranger.act(action, task=task), 404)
    problem(stranger.get("/api/tasks/987654"), 404)
    problem(office.admin.post(f"/api/tasks/{task}/approve"), 404)  # even an admin acts only on their own tasks
    assert office.status(record) == "in_review" and boss.tasks()[0]["id"] == task


def test_bad_action_requests_are_problems_never_server_errors(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    task = boss.task()
    client = boss.client
    problem(client.post(f"/api/tasks/{task}/explode"), 404)
    problem(client.post(f"/api/tasks/{task}/Approve!"), 400, "action")
    problem(client.post("/api/tasks/0/approve"), 400, "task")
    problem(client.post("/api/tasks/abc/approve"), 400, "task")
    problem(client.post(f"/api/tasks/{task}/approve", content=b"[1", headers={"content-type": "application/json"}), 400)
    problem(client.post(f"/api/tasks/{task}/approve", json="yes"), 400)
    problem(client.post(f"/api/tasks/{task}/approve", json={"comment": ["x"]}), 400, "comment")
    problem(client.post(f"/api/tasks/{task}/return", json={"target": 3}), 400, "target")
    problem(client.post(f"/api/tasks/{task}/approve", json={}, headers={"Idempotency-Key": ""}), 400)
    problem(client.get("/api/tasks", params={"box": "trash"}), 400, "box")
    problem(client.get("/api/tasks", params={"limit": 0}), 400, "limit")
    problem(client.get("/api/tasks", params={"cursor": 2**70}), 400, "cursor")
    assert office.status(record) == "in_review" and boss.tasks()[0]["id"] == task


def test_the_boxes_and_counts_follow_each_person(office):
    boss, watcher, clerk = office.people("boss", "watcher", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)), cc("tell", users(watcher)))
    records = [office.submitted(clerk) for _ in range(3)]
    assert boss.counts() == {"pending": 3, "cc": 0, "done": 0, "submitted": 0}
    pending = boss.tasks()
    assert [t["record_id"] for t in pending] == [r["id"] for r in reversed(records)]  # newest first
    page = boss.client.get("/api/tasks", params={"limit": 2}).json()
    rest = boss.client.get("/api/tasks", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [t["id"] for t in page["items"] + rest["items"]] == [t["id"] for t in pending]
    assert rest["next_cursor"] is None
    boss.act("approve", task=pending[0]["id"])
    boss.act("reject", {"comment": "no"}, task=pending[1]["id"])
    assert boss.counts() == {"pending": 1, "cc": 0, "done": 2, "submitted": 0}
    assert {t["state"] for t in boss.tasks("done")} == {"approved", "rejected"}
    assert watcher.counts() == {"pending": 0, "cc": 1, "done": 0, "submitted": 0}
    assert clerk.counts() == {"pending": 0, "cc": 0, "done": 0, "submitted": 1}
    assert [t["flow_status"] for t in clerk.tasks("submitted")] == ["approved", "rejected", "running"]
    assert clerk.notified() == ["approved", "rejected"]


def test_notifications_are_listed_newest_first_and_can_be_marked_read(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    office.submitted(clerk)
    [notice] = boss.get("/api/notifications").json()["items"]
    assert (notice["kind"], notice["read"], notice["task_id"]) == ("task", False, boss.task())
    assert boss.post("/api/notifications/read").json() == {"marked": 1}
    assert boss.get("/api/notifications", unread="true").json()["items"] == []
    assert boss.get("/api/notifications").json()["items"][0]["read"] is True


def test_a_form_change_that_would_break_its_flow_is_refused(office):
    head = office.person("breakhead")
    branch = {"field": "amount", "op": "gt", "value": "100"}
    nodes = [
        {"id": "start", "type": "start", "next": "check"},
        {"id": "check", "type": "condition", "branches": [{"condition": branch, "next": "head"}], "else": "end"},
        approval("head", users(head), next="end"),
        {"id": "end", "type": "end"},
    ]
    office.publish_flow(*nodes)
    url = f"/api/design/apps/{office.app}/forms/{office.form_key}"
    without_amount = [f for f in REQUEST_FIELDS if f["key"] != "amount"]
    saved = office.admin.put(url, json=form(office.form_key, *without_amount, title_field="title"))
    assert saved.status_code == 200, saved.text
    refused = office.admin.post(f"{url}/publish")
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["path"] == "flow.nodes[1].branches[0].condition.field"
    assert len(office.admin.get(f"{url}/versions").json()["items"]) == 1  # the form is unchanged
