"""Small helpers for the flow engine's tests: an organisation, flows built node by node, an instance driver.

Flows are built directly (no form, no database). Branch conditions are plain
callables `record -> bool`; the context's `evaluate` calls them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsloom.runtime.flow.directory import Snapshot
from opsloom.runtime.flow.engine import advance_flow
from opsloom.runtime.flow.model import (
    Act,
    Comment,
    Context,
    Directory,
    Effect,
    Event,
    Flow,
    FlowError,
    Log,
    Node,
    Notify,
    Reason,
    RunAction,
    Schedule,
    SetStatus,
    State,
    Submit,
    Task,
    Timeout,
    Urge,
    Withdraw,
)

NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)

# ----------------------------------------------------------------- the organisation

COMPANY, SALES, EAST, FINANCE = 1, 10, 11, 20
CEO, SALES_HEAD, EAST_HEAD, FINANCE_HEAD = 100, 110, 111, 120
ALICE, BOB, CAROL, DAVE, ERIN, GONE, ADMIN, FRANK = 1, 2, 3, 4, 5, 6, 7, 8

# id -> (department, explicit manager, active)
USERS: dict[int, tuple[int | None, int | None, bool]] = {
    CEO: (COMPANY, None, True),
    SALES_HEAD: (SALES, None, True),
    EAST_HEAD: (EAST, None, True),
    FINANCE_HEAD: (FINANCE, None, True),
    ALICE: (EAST, None, True),  # the usual submitter: her manager is the head of East
    BOB: (EAST, DAVE, True),  # an explicit manager outside his department
    CAROL: (FINANCE, None, True),
    DAVE: (FINANCE, None, True),
    ERIN: (FINANCE, None, True),
    GONE: (EAST, None, False),  # inactive
    ADMIN: (None, None, True),
    FRANK: (None, None, True),  # no department, no manager
}
DEPARTMENTS: dict[int, tuple[int | None, int | None]] = {
    COMPANY: (None, CEO),
    SALES: (COMPANY, SALES_HEAD),
    EAST: (SALES, EAST_HEAD),
    FINANCE: (COMPANY, FINANCE_HEAD),
}
ROLES = {"finance": [CAROL, DAVE, ERIN], "vp": [SALES_HEAD], "nobody": [], "leavers": [GONE]}


def org(**changes: Any) -> Snapshot:
    """The test organisation, with some parts replaced (delegations, app_admins...)."""
    values: dict[str, Any] = {
        "users": USERS,
        "departments": DEPARTMENTS,
        "roles": ROLES,
        "delegations": [],
        "app_admins": [ADMIN],
    }
    return Snapshot(**(values | changes))


ORG = org()

# ----------------------------------------------------------------- approver sources


def users(*ids: int) -> dict[str, Any]:
    return {"kind": "users", "users": list(ids)}


def role(name: str) -> dict[str, Any]:
    return {"kind": "role", "role": name}


def department_head(level: int = 1) -> dict[str, Any]:
    return {"kind": "department_head", "level": level}


def managers(levels: int | str = 1) -> dict[str, Any]:
    return {"kind": "managers", "levels": levels}


def from_field(key: str, field_link: str = "user") -> dict[str, Any]:
    return {"kind": "field", "field": key, "field_link": field_link}


def submitter() -> dict[str, Any]:
    return {"kind": "submitter"}


def chosen(**rules: Any) -> dict[str, Any]:
    return {"kind": "chosen", **rules}


# ----------------------------------------------------------------- nodes and flows


def node(node_id: str, type: str, **raw: Any) -> Node:
    return Node(node_id, type, {"id": node_id, "type": type, **raw})


def approval(node_id: str, *approvers: dict[str, Any], **raw: Any) -> Node:
    return node(node_id, "approval", approvers=list(approvers), **raw)


def handler(node_id: str, *approvers: dict[str, Any], **raw: Any) -> Node:
    return node(node_id, "handler", approvers=list(approvers), **raw)


def cc(node_id: str, *recipients: dict[str, Any], **raw: Any) -> Node:
    return node(node_id, "cc", recipients=list(recipients), **raw)


def action(node_id: str, next: str | None = None, **action: Any) -> Node:
    return node(node_id, "action", action=action, **({"next": next} if next else {}))


def flow(
    *nodes: Node,
    settings: Mapping[str, Any] | None = None,
    conditions: Mapping[tuple[str, int], Any] | None = None,
    in_parallel: tuple[str, ...] = (),
) -> Flow:
    start = next(n.id for n in nodes if n.type == "start")
    return Flow(
        key="approve",
        form="request",
        version=1,
        nodes={n.id: n for n in nodes},
        start=start,
        settings=settings or {},
        conditions=conditions or {},
        in_parallel=frozenset(in_parallel),
    )


def line(*steps: Node, **options: Any) -> Flow:
    """start -> each step in turn -> end (a step that names its own next keeps it)."""
    linked = []
    for i, step in enumerate(steps):
        following = steps[i + 1].id if i + 1 < len(steps) else "end"
        linked.append(step if step.next else Node(step.id, step.type, {**step.raw, "next": following}))
    first = steps[0].id if steps else "end"
    return flow(node("start", "start", next=first), *linked, node("end", "end"), **options)


Condition = Callable[[Mapping[str, Any]], bool]


def evaluate_callable(condition: Condition, record: Mapping[str, Any]) -> bool:
    return condition(record)


# ----------------------------------------------------------------- an instance


@dataclass
class Instance:
    """One flow instance driven event by event, as the shell would: the state is stored as JSON between events.

    Every step checks that the engine left its input state untouched and that
    the new state survives `json.dumps` and `State.from_json` unchanged.
    """

    flow: Flow
    record: dict[str, Any] = field(default_factory=dict)
    directory: Directory = ORG
    now: datetime = NOW
    evaluate: Any = evaluate_callable
    state: State | None = None
    effects: list[Effect] = field(default_factory=list)

    @property
    def ctx(self) -> Context:
        return Context(self.now, self.record, self.directory, self.evaluate)

    def apply(self, event: Event) -> list[Effect]:
        before = copy.deepcopy(self.state.as_json()) if self.state is not None else None
        state, effects = advance_flow(self.flow, self.state, event, self.ctx)
        if self.state is not None:
            assert self.state.as_json() == before, "advance_flow changed the state it was given"
        stored = json.loads(json.dumps(state.as_json()))
        assert State.from_json(stored) == state, "the state does not survive a JSON round trip"
        self.state, self.effects = State.from_json(stored), effects
        return effects

    def refused(self, event: Event, reason: Reason, match: str | None = None) -> FlowError:
        """The event raises FlowError for `reason`, and the instance is as it was."""
        before = copy.deepcopy(self.state.as_json()) if self.state is not None else None
        with pytest.raises(FlowError, match=match) as caught:
            advance_flow(self.flow, self.state, event, self.ctx)
        assert caught.value.reason == reason, (caught.value.reason, str(caught.value))
        assert (self.state.as_json() if self.state is not None else None) == before
        return caught.value

    # ------------------------------------------------------------ events

    def submit(self, actor: int = ALICE, **options: Any) -> list[Effect]:
        return self.apply(Submit(actor, **options))

    def act(self, actor: int, action: str = "approve", task: int | None = None, **options: Any) -> list[Effect]:
        """`actor` acts on `task` (by default: their one pending task)."""
        return self.apply(Act(actor, self.task_of(actor).id if task is None else task, action, **options))

    def approve(self, actor: int, **options: Any) -> list[Effect]:
        return self.act(actor, "approve", **options)

    def reject(self, actor: int, **options: Any) -> list[Effect]:
        """A rejection, with the comment every rejection needs unless the test gives its own."""
        return self.act(actor, "reject", **{"comment": "not this time", **options})

    def send_back(self, actor: int, target: str | None = None, **options: Any) -> list[Effect]:
        return self.act(actor, "return", target=target, **options)

    def withdraw(self, actor: int = ALICE) -> list[Effect]:
        return self.apply(Withdraw(actor))

    def urge(self, actor: int = ALICE, comment: str | None = None) -> list[Effect]:
        return self.apply(Urge(actor, comment))

    def comment(self, actor: int, text: str, files: tuple[Any, ...] = ()) -> list[Effect]:
        return self.apply(Comment(actor, text, files))

    def time_out(self, task: int, kind: str = "timeout") -> list[Effect]:
        return self.apply(Timeout(task, kind))

    # ------------------------------------------------------------ reading the state

    @property
    def current(self) -> State:
        assert self.state is not None, "submit first"
        return self.state

    @property
    def status(self) -> str:
        return self.current.status

    def task_of(self, person: int, state: str = "pending") -> Task:
        """The one task of `person` in `state`."""
        found = [t for t in self.current.tasks if t.assignee == person and t.state == state]
        assert len(found) == 1, (person, state, self.tasks())
        return found[0]

    def tasks(self, node: str | None = None) -> list[tuple[str, int, str]]:
        """(node, assignee, state) of every task but CC copies, oldest first."""
        return [(t.node, t.assignee, t.state) for t in self.current.tasks if t.kind != "cc" and node in (None, t.node)]

    def open(self) -> list[tuple[str, int, str]]:
        return [(t.node, t.assignee, t.state) for t in self.current.tasks if t.open]

    def pending(self) -> list[tuple[str, int]]:
        return [(t.node, t.assignee) for t in self.current.tasks if t.state == "pending"]

    def tokens(self) -> list[tuple[str, tuple[str, ...], bool]]:
        """(node, splits, arrived) of every token, sorted."""
        return sorted((t.node, tuple(t.splits), t.arrived) for t in self.current.tokens)

    # ------------------------------------------------------------ reading the effects

    def logs(self) -> list[str]:
        return [e.action for e in self.effects if isinstance(e, Log)]

    def log(self, action: str) -> Log:
        found = [e for e in self.effects if isinstance(e, Log) and e.action == action]
        assert len(found) == 1, (action, self.logs())
        return found[0]

    def statuses(self) -> list[str]:
        return [e.status for e in self.effects if isinstance(e, SetStatus)]

    def notified(self, kind: str | None = None) -> list[tuple[tuple[int, ...], str]]:
        return [(e.users, e.kind) for e in self.effects if isinstance(e, Notify) and kind in (None, e.kind)]

    def notices(self, kind: str) -> list[Notify]:
        return [e for e in self.effects if isinstance(e, Notify) and e.kind == kind]

    def schedules(self) -> list[tuple[int, str, datetime]]:
        return [(e.task, e.kind, e.due) for e in self.effects if isinstance(e, Schedule)]

    def actions(self) -> list[RunAction]:
        return [e for e in self.effects if isinstance(e, RunAction)]


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
