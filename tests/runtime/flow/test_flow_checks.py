"""A flow document is checked against its form before it is published: every problem, with its path."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from opsloom.runtime.conditions import Compare
from opsloom.runtime.flow.definition import check_flow, compile_flow
from opsloom.runtime.forms import CompiledForm, compile_form

FIELDS = [
    {"id": "fld_title", "key": "title", "type": "text", "required": True},
    {"id": "fld_amount", "key": "amount", "type": "decimal", "precision": 12, "scale": 2},
    {
        "id": "fld_category",
        "key": "category",
        "type": "select",
        "required": True,
        "options": [{"value": v, "label": v} for v in ("it", "office", "travel")],
    },
    {
        "id": "fld_kind",
        "key": "kind",
        "type": "select",
        "options": [{"value": v, "label": v} for v in ("a", "b")],
    },
    {"id": "fld_urgent", "key": "urgent", "type": "boolean", "required": True},
    {"id": "fld_owner", "key": "owner", "type": "user"},
    {"id": "fld_reviewers", "key": "reviewers", "type": "users"},
    {"id": "fld_dept", "key": "dept", "type": "department"},
    {"id": "fld_double", "key": "double", "type": "formula", "formula": "amount * 2"},
    {"id": "fld_number", "key": "number", "type": "autonumber", "pattern": "R-{seq:4}"},
]
FORM: CompiledForm = compile_form(
    "shop", {"key": "request", "fields": FIELDS}, form_id=1, version=1, storage={"table": "shop__r", "columns": {}}
)
BIG = {"field": "amount", "op": "gt", "value": "1000"}


def document(*nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"key": "approve", "label": "Approve", "form": "request", "nodes": list(nodes), **extra}


def start(next: str = "head") -> dict[str, Any]:
    return {"id": "start", "type": "start", "next": next}


def step(node_id: str, next: str = "end", **raw: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "approval", "approvers": [{"kind": "users", "users": [2]}], "next": next, **raw}


END = {"id": "end", "type": "end"}


def problems(doc: dict[str, Any]) -> dict[str, str]:
    return {e.path: e.message for e in check_flow(doc, FORM)}


def good() -> dict[str, Any]:
    """start -> head -> check (big: vp; else: split) -> parallel (legal | it) -> join -> cc -> action -> end."""
    return document(
        start(),
        step("head", next="check", fields={"title": "editable", "amount": "readonly", "owner": "hidden"}),
        {"id": "check", "type": "condition", "branches": [{"condition": BIG, "next": "vp"}], "else": "split"},
        step("vp", next="split"),
        {"id": "split", "type": "parallel", "branches": ["legal", "it"], "join": "join"},
        step("legal", next="join"),
        step("it", next="join"),
        {"id": "join", "type": "join", "next": "tell"},
        {"id": "tell", "type": "cc", "recipients": [{"kind": "field", "field": "owner"}], "next": "mark"},
        {"id": "mark", "type": "action", "action": {"kind": "update_record", "values": {"kind": "a"}}, "next": "end"},
        END,
    )


def test_a_sound_flow_has_no_problems():
    assert problems(good()) == {}


def test_the_shipped_example_has_no_problems():
    examples = Path(__file__).resolve().parents[3] / "examples" / "procurement"
    form_document = json.loads((examples / "forms" / "purchase_request.json").read_text())
    form = compile_form("p", form_document, form_id=1, version=1, storage={"table": "p__r", "columns": {}})
    assert check_flow(json.loads((examples / "flows" / "purchase_approval.json").read_text()), form) == []


# ----------------------------------------------------------------- the graph


def test_a_flow_without_a_start_is_refused():
    assert problems(document(step("head"), END)) == {"nodes": "a flow has exactly one start node; this one has 0"}


def test_a_flow_with_two_starts_is_refused():
    found = problems(document(start(), {"id": "again", "type": "start", "next": "head"}, step("head"), END))
    assert found == {"nodes": "a flow has exactly one start node; this one has 2"}


def test_a_flow_without_an_end_is_refused():
    assert problems(document(start(), step("head", next="start"))) == {"nodes": "a flow needs an end node"}


def test_node_ids_are_unique():
    found = problems(document(start(), step("head"), step("head"), END))
    assert found == {"nodes[2].id": "'head' is already used by nodes[1]"}


def test_an_unknown_next_is_refused_with_its_path():
    assert problems(document(start(), step("head", next="nowhere"), END)) == {
        "nodes[1].next": "'nowhere' is not a node of this flow"
    }


@pytest.mark.parametrize(
    "index, change, path",
    [
        (2, {"branches": [{"condition": BIG, "next": "nowhere"}]}, "nodes[2].branches[0].next"),
        (2, {"else": "nowhere"}, "nodes[2].else"),
        (4, {"branches": ["legal", "nowhere"]}, "nodes[4].branches[1]"),
        (4, {"join": "nowhere"}, "nodes[4].join"),
    ],
)
def test_unknown_targets_of_branches_else_and_join_are_refused(index, change, path):
    doc = good()
    doc["nodes"][index].update(change)
    assert problems(doc) == {path: "'nowhere' is not a node of this flow"}


def test_an_end_node_has_no_next():
    assert problems(document(start(), step("head"), {"id": "end", "type": "end", "next": "head"})) == {
        "nodes[2].next": "an end node has no next"
    }


def test_an_orphan_node_is_refused():
    found = problems(document(start(), step("head"), step("orphan"), END))
    assert found == {"nodes[2]": "'orphan' cannot be reached from the start; link it or remove it"}


def test_a_node_that_cannot_reach_an_end_is_refused():
    found = problems(document(start(), step("head", next="loop"), step("loop", next="head"), END))
    assert found["nodes[1]"] == "no path from 'head' reaches an end node"
    assert found["nodes[2]"] == "no path from 'loop' reaches an end node"
    assert "nodes[0]" in found  # the start cannot reach one either
    assert "nodes[3]" in found  # and the end is not reachable


def test_a_cycle_is_refused_even_when_it_has_a_way_out():
    found = problems(
        document(
            start(),
            step("head", next="check"),
            {"id": "check", "type": "condition", "branches": [{"condition": BIG, "next": "head"}], "else": "end"},
            END,
        )
    )
    assert found == {
        "nodes[1]": "'head' leads back to itself; a flow goes forward (use return)",
        "nodes[2]": "'check' leads back to itself; a flow goes forward (use return)",
    }


def test_the_graph_checks_wait_for_sound_references():
    found = problems(document(start(), step("head", next="nowhere"), step("orphan"), END))
    assert list(found) == ["nodes[1].next"], "an unreachable node is not reported before the links are right"


# ----------------------------------------------------------------- parallel and join


def test_a_parallel_branch_that_ends_before_the_join_is_refused():
    doc = good()
    doc["nodes"][5]["next"] = "end"  # legal -> end, skipping the join
    assert problems(doc) == {"nodes[4].branches[0]": "the branch from 'legal' ends before 'join'"}


def test_a_join_without_a_parallel_is_refused():
    found = problems(document(start(), step("head", next="join"), {"id": "join", "type": "join", "next": "end"}, END))
    assert found == {"nodes[2]": "'join' joins no parallel node; name it as a parallel's join"}


def test_a_parallel_must_name_a_join_node_as_its_join():
    doc = good()
    doc["nodes"][4]["join"] = "tell"
    found = problems(doc)
    assert found["nodes[4].join"] == "'tell' is a cc node, not a join"
    assert found["nodes[7]"] == "'join' joins no parallel node; name it as a parallel's join"


def test_two_parallels_cannot_share_a_join():
    found = problems(
        document(
            start("p1"),
            {"id": "p1", "type": "parallel", "branches": ["a", "p2"], "join": "join"},
            step("a", next="join"),
            {"id": "p2", "type": "parallel", "branches": ["b", "c"], "join": "join"},
            step("b", next="join"),
            step("c", next="join"),
            {"id": "join", "type": "join", "next": "end"},
            END,
        )
    )
    assert found["nodes[3].join"] == "'join' already joins 'p1'"


# ----------------------------------------------------------------- conditions


def condition_flow(*branches: dict[str, Any], otherwise: str | None = None) -> dict[str, Any]:
    check: dict[str, Any] = {"id": "check", "type": "condition", "branches": list(branches)}
    if otherwise:
        check["else"] = otherwise
    return document(start("check"), check, step("a"), step("b"), step("c"), END)


def test_a_condition_without_else_is_refused():
    found = problems(condition_flow({"condition": BIG, "next": "a"}))
    assert found == {
        "nodes[1].else": "add an else branch: when no branch matches, the record would have nowhere to go",
        "nodes[3]": "'b' cannot be reached from the start; link it or remove it",
        "nodes[4]": "'c' cannot be reached from the start; link it or remove it",
    }


def test_a_condition_that_covers_every_option_of_a_required_select_needs_no_else():
    doc = condition_flow(
        {"condition": {"field": "category", "op": "eq", "value": "it"}, "next": "a"},
        {"condition": {"field": "category", "op": "in", "value": ["office", "travel"]}, "next": "b"},
        {"condition": {"field": "category", "op": "eq", "value": "office"}, "next": "c"},
    )
    assert problems(doc) == {}


def test_a_condition_that_misses_an_option_needs_an_else():
    doc = condition_flow(
        {"condition": {"field": "category", "op": "eq", "value": "it"}, "next": "a"},
        {"condition": {"field": "category", "op": "eq", "value": "office"}, "next": "b"},
        otherwise=None,
    )
    assert "nodes[1].else" in problems(doc)


def test_a_condition_on_an_optional_select_needs_an_else_even_when_it_names_every_option():
    doc = condition_flow(
        {"condition": {"field": "kind", "op": "eq", "value": "a"}, "next": "a"},
        {"condition": {"field": "kind", "op": "eq", "value": "b"}, "next": "b"},
    )
    assert "nodes[1].else" in problems(doc)


def test_a_condition_that_covers_both_values_of_a_required_boolean_needs_no_else():
    yes = {"condition": {"field": "urgent", "op": "eq", "value": True}, "next": "a"}
    no = {"condition": {"field": "urgent", "op": "eq", "value": False}, "next": "b"}
    doc = condition_flow(yes, no, {"condition": {"field": "urgent", "op": "eq", "value": True}, "next": "c"})
    assert problems(doc) == {}


def test_a_condition_over_several_fields_needs_an_else():
    doc = condition_flow(
        {"condition": {"field": "urgent", "op": "eq", "value": True}, "next": "a"},
        {"condition": {"field": "urgent", "op": "eq", "value": False}, "next": "b"},
        {"condition": BIG, "next": "c"},
    )
    assert "nodes[1].else" in problems(doc)


def test_a_condition_that_cannot_be_parsed_is_refused_with_its_path():
    found = problems(
        condition_flow({"condition": {"field": "price", "op": "gt", "value": 1}, "next": "a"}, otherwise="b")
    )
    assert set(found) == {"nodes[1].branches[0].condition.field", "nodes[4]"}  # nodes[4]: 'c' is unlinked
    assert "'price' is not a field of request" in found["nodes[1].branches[0].condition.field"]


# ----------------------------------------------------------------- people and fields


def with_head(**raw: Any) -> dict[str, Any]:
    doc = good()
    doc["nodes"][1].update(raw)
    return doc


def test_field_permissions_must_name_fields_of_the_form():
    found = problems(with_head(fields={"title": "editable", "nope": "readonly"}))
    assert found == {"nodes[1].fields.nope": "'nope' is not a field of request"}


@pytest.mark.parametrize("key", ["double", "number"])
def test_a_computed_field_cannot_be_editable(key):
    assert problems(with_head(fields={key: "editable"})) == {
        f"nodes[1].fields.{key}": f"{key} is computed by the system; it cannot be editable"
    }
    assert problems(with_head(fields={key: "readonly"})) == {}


@pytest.mark.parametrize("key", ["owner", "reviewers", "dept"])
def test_a_field_approver_may_name_a_user_users_or_department_field(key):
    assert problems(with_head(approvers=[{"kind": "field", "field": key}])) == {}


@pytest.mark.parametrize("key", ["title", "amount", "missing"])
def test_a_field_approver_must_name_a_person_field(key):
    assert problems(with_head(approvers=[{"kind": "users", "users": [2]}, {"kind": "field", "field": key}])) == {
        "nodes[1].approvers[1].field": f"'{key}' is not a user, users or department field of request"
    }


def test_a_cc_recipient_field_must_name_a_person_field():
    doc = good()
    doc["nodes"][8]["recipients"] = [{"kind": "field", "field": "title"}]
    assert list(problems(doc)) == ["nodes[8].recipients[0].field"]


def test_cc_recipients_cannot_be_chosen_at_submission():
    doc = good()
    doc["nodes"][8]["recipients"] = [{"kind": "chosen"}]
    assert problems(doc) == {"nodes[8].recipients[0].kind": "CC recipients cannot be chosen at submission"}


def test_a_chosen_range_must_be_a_range():
    found = problems(with_head(approvers=[{"kind": "chosen", "min": 3, "max": 2}]))
    assert found == {"nodes[1].approvers[0].min": "is larger than max"}


def test_when_empty_user_must_name_the_user():
    assert problems(with_head(when_empty="user")) == {
        "nodes[1].empty_user": "name the user who takes the step when nobody else is found"
    }
    assert problems(with_head(when_empty="user", empty_user=5)) == {}


@pytest.mark.parametrize(
    "values, path",
    [
        ({"nope": 1}, "nodes[9].action.values.nope"),
        ({"double": "3"}, "nodes[9].action.values.double"),
        ({"kind": "zzz"}, "nodes[9].action.values.kind"),
    ],
)
def test_an_update_action_must_set_settable_fields_to_valid_values(values, path):
    doc = good()
    doc["nodes"][9]["action"]["values"] = values
    assert list(problems(doc)) == [path]


# ----------------------------------------------------------------- compiling


def test_compiling_a_flow_parses_its_conditions_and_marks_parallel_regions():
    compiled = compile_flow(good(), 7, FORM)

    assert (compiled.key, compiled.form, compiled.version, compiled.start) == ("approve", "request", 7, "start")
    assert set(compiled.nodes) == {n["id"] for n in good()["nodes"]}
    assert list(compiled.conditions) == [("check", 0)]
    assert isinstance(compiled.conditions[("check", 0)], Compare)
    assert compiled.in_parallel == frozenset({"legal", "it"})
    assert compiled.node("tell").get("recipients") == [{"kind": "field", "field": "owner", "field_link": "user"}]


def test_compiling_does_not_change_the_document():
    doc = good()
    kept = copy.deepcopy(doc)
    compile_flow(doc, 1, FORM)
    assert doc == kept
