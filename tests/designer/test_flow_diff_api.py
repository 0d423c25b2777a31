"""What changed between two versions of a flow, node by node, in words, over HTTP on both databases:
`GET /api/design/apps/{app}/flows/{flow}/diff?from=N&to=M|draft`."""

from __future__ import annotations

import pytest

from tests.builders import admin_client, field, problem
from tests.conftest import DATABASES
from tests.runtime.flow.office import Office, approval, cc, line, node, role, users

ITEMS = field("items", "subform", label={"en": "Line items", "zh-CN": "明细"}, fields=[field("item")])


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("flow_diff")) as client:
        yield client


@pytest.fixture
def office(api):
    office = Office(api)
    office.publish_form(field("title", required=True), field("note", label={"en": "Note", "zh-CN": "备注"}), ITEMS)
    return office


def diff(office, locale="en", **params):
    response = office.admin.get(f"{office.flow_url()}/diff", params=params, headers={"Accept-Language": locale})
    assert response.status_code == 200, response.text
    return response.json()


def label(en, zh):
    return {"en": en, "zh-CN": zh}


@pytest.fixture
def two_versions(office):
    boss, chief, clerk = office.people("boss", "chief", "clerk")
    office.grant(clerk, key=f"staff_{office.serial}")
    head = approval("head", users(boss), label=label("Head", "主管"))
    money = approval("money", users(chief), label=label("Finance", "财务"))
    tell = cc("tell", users(clerk), label=label("Tell", "知会"))
    office.publish_flow(head, money, tell)
    office.publish_flow(
        approval(
            "money",
            users(chief, boss),
            label=label("Finance", "财务"),
            mode="countersign",
            fields={"note": "editable", "items": "editable"},
            rows={"items": {"delete": False}},
            comment={"approve": "required"},
            on_reject="submitter",
        ),
        approval("head", users(boss), label=label("Head", "主管")),
        approval("legal", users(chief), label=label("Legal", "法务")),
    )
    return boss, chief, clerk


def test_changes_between_two_versions_are_told_node_by_node(office, two_versions):
    boss, chief, clerk = two_versions
    answer = diff(office, **{"from": "1", "to": "2"})
    assert (answer["from"], answer["to"]) == ("1", "2")
    by_kind = {}
    for change in answer["changes"]:
        by_kind.setdefault(change["kind"], []).append(change)
        assert change["text"], change
    assert {(c["node"]) for c in by_kind["node_added"]} == {"legal"}
    assert {(c["node"]) for c in by_kind["node_removed"]} == {"tell"}
    assert {c["node"] for c in by_kind["node_moved"]} >= {"money"}
    texts = " | ".join(c["text"] for c in answer["changes"])
    assert "Approval “Legal” was added, after “Head”." in texts
    assert "CC “Tell” was removed." in texts
    assert (
        "“Finance” was moved: it now comes after “Submit”" in texts
        or "“Finance” was moved: it now comes after “start”" in texts
    )
    assert "“Finance” — how they decide: Any one decides → Countersign: all must approve." in texts
    assert "“Finance” — field “Note”: Read → Edit." in texts
    assert "“Finance” — rows of “Line items”: Add rows, Edit rows, Delete rows → Add rows, Edit rows." in texts
    assert "“Finance” — Comment to approve: Optional → Required." in texts
    assert "“Finance” — When rejected: The request ends, rejected → Back to the submitter to change." in texts
    [approvers] = by_kind["approvers"]
    assert approvers["node"] == "money" and approvers["text"].startswith("“Finance” — who acts: ")


def test_the_draft_is_compared_with_the_version_in_use_in_chinese(office, two_versions):
    boss, chief, _ = two_versions
    same = diff(office, to="draft")
    assert same == {"from": "2", "to": "draft", "changes": []}
    document = office.admin.get(office.flow_url()).json()["draft"]
    for n in document["nodes"]:
        if n["id"] == "legal":
            n["approvers"] = [role(f"staff_{office.serial}")]
            n["label"] = label("Legal team", "法务部")
    office.save_flow(document["nodes"])
    answer = diff(office, "zh-CN", to="draft")
    texts = [c["text"] for c in answer["changes"]]
    assert "“法务”改名为“法务部”。" in texts, texts
    assert any(t.startswith("“法务部” — 处理人：") for t in texts), texts


def test_conditions_changed_are_told_by_branch(office):
    boss, chief = office.people("boss", "chief")
    branch = {"condition": {"field": "note", "op": "eq", "value": "big"}, "next": "big"}
    steps = [
        node("start", "start", next="check"),
        node("check", "condition", label=label("Check", "检查"), branches=[branch], **{"else": "small"}),
        approval("big", users(chief), next="end"),
        approval("small", users(boss), next="end"),
        node("end", "end"),
    ]
    office.publish_flow(*steps)
    steps[1] = {**steps[1], "branches": [{**branch, "condition": {"field": "note", "op": "eq", "value": "huge"}}]}
    office.publish_flow(*steps)
    answer = diff(office, **{"from": "1", "to": "2"})
    assert [(c["kind"], c["node"], c["text"]) for c in answer["changes"]] == [
        ("conditions", "check", "“Check” — the condition of branch 1 changed.")
    ]


def test_bad_versions_are_problems_at_their_parameter(office):
    boss = office.person("boss")
    office.publish_flow(approval("head", users(boss)))
    problem(office.admin.get(f"{office.flow_url()}/diff", params={"from": "9", "to": "1"}), 422, "from")
    problem(office.admin.get(f"{office.flow_url()}/diff", params={"from": "1", "to": "x"}), 400, "to")
    missing = office.admin.get(f"/api/design/apps/{office.app}/flows/no_such_flow/diff", params={"from": "1"})
    problem(missing, 404)
    denied = boss.client.get(f"{office.flow_url()}/diff", params={"from": "1", "to": "1"})
    assert denied.status_code == 403, denied.text


def test_a_draft_never_saved_as_a_line_is_compared_without_error(office):
    boss = office.person("boss")
    office.publish_flow(approval("head", users(boss)))
    saved = office.admin.put(
        office.flow_url(), json=office.flow_document(line(approval("head", users(boss), rows="x")))
    )
    assert saved.status_code == 200 and saved.json()["problems"], saved.text
    answer = diff(office, **{"from": "1", "to": "draft"})
    assert answer["changes"] == [], answer
