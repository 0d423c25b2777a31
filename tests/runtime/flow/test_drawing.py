"""Where a request stands, drawn from a flow's links and one run's events (runtime/flow/drawing.py): pure."""

from __future__ import annotations

import json
from typing import Any

from opsloom.resources import data_path
from opsloom.runtime.flow.drawing import Step, flow_tree, where_it_stands
from tests.runtime.flow.office import approval, line, node, users

PURCHASE = json.loads((data_path("examples") / "procurement" / "flows" / "purchase_approval.json").read_text())
NODES = {n["id"]: n for n in PURCHASE["nodes"]}


def shape(chain: list[Step]) -> list[Any]:
    return [(s.id, [shape(b.steps) for b in s.branches]) if s.branches else s.id for s in chain]


def test_the_purchase_approval_is_a_line_with_one_condition_whose_branches_meet_at_finance():
    assert shape(flow_tree(NODES)) == ["head", ("amount_check", [["vp"], []]), "finance", "cc_manager"]


def test_a_parallel_region_holds_its_branches_and_names_its_join():
    nodes = line(
        node("split", "parallel", branches=["a", "b"], join="meet"),
        approval("a", users(1), next="meet"),
        approval("b", users(2), next="meet"),
        node("meet", "join", label="All done"),
        approval("last", users(3)),
    )
    tree = flow_tree({n["id"]: n for n in nodes})
    assert shape(tree) == [("split", [["a"], ["b"]]), "last"]
    assert tree[0].join == "All done"


def test_a_run_marks_the_steps_passed_the_branch_taken_and_who_is_waited_for():
    run = {
        "status": "running",
        "events": [
            {"action": "node_entered", "node": "head"},
            {"action": "approved", "node": "head"},
            {"action": "branch", "node": "amount_check", "detail": {"branch": "else", "to": "finance"}},
            {"action": "node_entered", "node": "finance"},
        ],
        "tasks": [
            {"node": "head", "state": "approved", "assignee_id": 5},
            {"node": "finance", "state": "approved", "assignee_id": 7},
            {"node": "finance", "state": "pending", "assignee_id": 8},
        ],
    }
    tree = where_it_stands(NODES, run)
    by_id = {s.id: s for s in tree}
    assert [by_id[k].state for k in ("head", "amount_check", "finance", "cc_manager")] == [
        "done",
        "done",
        "current",
        "ahead",
    ]
    assert by_id["finance"].waiting == [8] and by_id["head"].people == [5]
    assert [b.taken for b in by_id["amount_check"].branches] == [False, True]
    assert by_id["amount_check"].branches[0].steps[0].state == "ahead"  # the vice-president was not asked


def test_an_ended_run_waits_for_nobody():
    run = {
        "status": "rejected",
        "events": [{"action": "node_entered", "node": "head"}],
        "tasks": [{"node": "head", "state": "cancelled", "assignee_id": 5}],
    }
    assert all(s.state != "current" for s in where_it_stands(NODES, run))
