"""Node types: every type is one unit in one table, and every unit answers every question."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsloom.runtime.flow.nodes import NODE_TYPES, NodeType, node_type

SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "flow.schema.json"
SAMPLE = {
    "next": "after",
    "branches": [{"condition": {"field": "amount", "op": "gt", "value": "1"}, "next": "big"}],
    "else": "small",
    "join": "join",
    "action": {"kind": "update_record", "values": {"note": "done"}},
    "recipients": [{"kind": "users", "users": [1]}],
}


def test_the_table_names_exactly_the_types_the_schema_allows():
    schema = json.loads(SCHEMA.read_text())
    assert set(schema["$defs"]["node"]["properties"]["type"]["enum"]) == set(NODE_TYPES)
    assert all(unit.name == name for name, unit in NODE_TYPES.items())


@pytest.mark.parametrize("name", sorted(NODE_TYPES))
def test_every_unit_answers_every_question(name):
    unit = node_type({"id": "n", "type": name})
    raw = {"id": "n", "type": name, **SAMPLE, **({"branches": ["b1"]} if name == "parallel" else {})}
    assert type(unit).enter is not NodeType.enter, f"{name} does not say what entering it does"
    assert set(unit.successors(raw)) <= {"after", "big", "small", "b1"}
    assert {path for path, _ in unit.references(raw)} >= {"next", "else", "join"}
    assert all(f.path.startswith("nodes[0]") for f in unit.check_links("nodes[0]", raw))
    assert all(f.path.startswith("nodes[0]") for f in unit.check("nodes[0]", raw, {"n": raw}))
    assert isinstance(unit.branch_conditions(raw), list)
    assert unit.action(raw) is None or unit.action(raw) == SAMPLE["action"]
    assert unit.region(raw) is None or unit.region(raw)[1] == "join"
    assert not (unit.decides and not unit.has_tasks), "only a step with tasks can decide"


def test_one_start_kind_one_end_kind_and_the_task_steps():
    assert [n for n, u in NODE_TYPES.items() if u.starts] == ["start"]
    assert [n for n, u in NODE_TYPES.items() if u.ends] == ["end"]
    assert sorted(n for n, u in NODE_TYPES.items() if u.has_tasks) == ["approval", "handler"]
    assert [n for n, u in NODE_TYPES.items() if u.decides] == ["approval"]
