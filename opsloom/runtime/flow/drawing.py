"""Where a request stands: its flow drawn as the designer draws it (a vertical tree), with the path taken.

Pure: a compiled flow's nodes and one instance's timeline and tasks in, a tree of steps out, each
marked `done` (the request passed it), `current` (someone is waited for, named in `waiting`) or
`ahead` (not reached); a branch says whether the request took it. The pages draw it (flow_standing.html).
The tree is read from the links as the designer reads them (static/js/flow_designer/tree.js): a
condition's branches meet again at the first node all of them reach; a parallel's branches end at its join.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsloom.runtime.flow.nodes import node_type

Raw = Mapping[str, Any]
OPEN = ("pending", "waiting")


@dataclass
class Branch:
    label: Any
    taken: bool
    steps: list[Step]
    index: Any = None  # as the engine logs the branch taken: its place in the node's list, or "else"


@dataclass
class Step:
    id: str
    type: str
    label: Any
    state: str = "ahead"  # done | current | ahead
    waiting: list[int] = field(default_factory=list)
    people: list[int] = field(default_factory=list)  # who acted or was told (done steps)
    branches: list[Branch] = field(default_factory=list)
    join: Any = None


def _reachable(nodes: Mapping[str, Raw], start: str | None) -> list[str]:
    order: list[str] = []
    todo = [start]
    while todo:
        current = todo.pop(0)
        if current is None or current in order or current not in nodes:
            continue
        order.append(current)
        todo += node_type(nodes[current]).successors(nodes[current])
    return order


def _meeting(nodes: Mapping[str, Raw], targets: list[str]) -> str | None:
    sets = [set(_reachable(nodes, t)) for t in targets]
    return next((n for n in _reachable(nodes, targets[0]) if all(n in s for s in sets)), None)


def flow_tree(nodes: Mapping[str, Raw]) -> list[Step]:
    """The steps between start and end, branches nested (start and end themselves left out)."""
    start = next((n for n in nodes.values() if node_type(n).starts), None)
    budget = [len(nodes) * 4 + 10]

    def read(first: str | None, stop: str | None) -> list[Step]:
        chain: list[Step] = []
        current = first
        while current is not None and current != stop and current in nodes and budget[0] > 0:
            budget[0] -= 1
            n = nodes[current]
            kind = node_type(n)
            if kind.ends or kind.starts:
                break
            step = Step(n["id"], n["type"], n.get("label") or n["id"])
            if kind.by_condition:
                ordered = sorted(enumerate(n.get("branches", [])), key=lambda ib: (ib[1].get("priority", ib[0]), ib[0]))
                targets = [b["next"] for _, b in ordered] + ([n["else"]] if n.get("else") else [])
                meet = _meeting(nodes, targets) if targets else None
                step.branches = [Branch(b.get("label"), False, read(b["next"], meet), j) for j, b in ordered]
                if n.get("else"):
                    step.branches.append(Branch(None, False, read(n["else"], meet), "else"))
                chain.append(step)
                current = meet
            elif (region := kind.region(n)) is not None:
                starts, join = region
                step.branches = [Branch(None, False, read(s, join)) for s in starts]
                step.join = (nodes.get(join or "") or {}).get("label") or join
                chain.append(step)
                current = (nodes.get(join or "") or {}).get("next")
            else:
                if n["type"] != "join":
                    chain.append(step)
                current = n.get("next")
        return chain

    return read(start.get("next") if start else None, None)


def where_it_stands(nodes: Mapping[str, Raw], instance: Mapping[str, Any]) -> list[Step]:
    """The tree with the path one instance took: its events say which nodes it entered and which branch."""
    events = instance.get("events", [])
    tasks = instance.get("tasks", [])
    entered = {e["node"] for e in events if e.get("node")} | {t["node"] for t in tasks}
    chosen: dict[str, Any] = {}
    for e in events:
        if e.get("action") == "branch" and e.get("node"):
            chosen[e["node"]] = (e.get("detail") or {}).get("branch")
    waiting: dict[str, list[int]] = {}
    people: dict[str, list[int]] = {}
    for t in tasks:
        if t["state"] in OPEN:
            waiting.setdefault(t["node"], []).append(t["assignee_id"])
        elif t["state"] not in ("cancelled", "transferred"):
            people.setdefault(t["node"], []).append(t["assignee_id"])
    running = instance.get("status") in ("running", "returned")

    def mark(chain: list[Step]) -> None:
        for step in chain:
            if step.id in waiting and running:
                step.state, step.waiting = "current", waiting[step.id]
            elif step.id in entered:
                step.state = "done"
            step.people = people.get(step.id, [])
            for branch in step.branches:
                if step.type == "parallel":
                    branch.taken = step.id in entered
                else:
                    branch.taken = step.id in chosen and chosen[step.id] == branch.index
                mark(branch.steps)

    tree = flow_tree(nodes)
    mark(tree)
    return tree
