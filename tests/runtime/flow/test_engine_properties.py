"""Rules that hold for every run: the state survives JSON at every step, and no sequence of events,
by the right people or the wrong ones, leaves an instance inconsistent. Plus the shipped example, end to end."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloom.runtime.conditions import EvalContext, evaluate
from opsloom.runtime.flow.definition import check_flow, compile_flow
from opsloom.runtime.flow.directory import Snapshot
from opsloom.runtime.flow.engine import advance_flow
from opsloom.runtime.flow.model import (
    Act,
    Context,
    Flow,
    FlowError,
    Node,
    Notify,
    Reason,
    RunAction,
    State,
    Submit,
    Timeout,
    Urge,
    Withdraw,
)
from opsloom.runtime.flow.nodes import NODE_TYPES
from opsloom.runtime.forms import compile_form
from tests.runtime.flow.builders import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    DAVE,
    EAST_HEAD,
    ERIN,
    NOW,
    SALES_HEAD,
    Instance,
    action,
    approval,
    cc,
    department_head,
    flow,
    hours,
    managers,
    node,
    org,
    role,
    users,
)

TASK_NODES = tuple(name for name, unit in NODE_TYPES.items() if unit.has_tasks)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "procurement"


def consistent(flow: Flow, state: State) -> None:
    """What must be true of any state the engine hands back."""
    ids = [t.id for t in state.tasks] + [t.id for t in state.tokens]
    assert len(set(ids)) == len(ids), "ids are unique"
    assert all(i < state.next_id for i in ids), "ids come from next_id"
    opened = state.open_tasks()
    assert set(state.approvals) <= set(state.passed), "only steps passed keep approvals"
    if state.status != "running":
        assert opened == [] and state.tokens == [], f"a {state.status} flow has no open task and no token"
    if state.status == "returned":
        assert state.return_to in flow.nodes
    if state.status == "running":
        standing = {t.node for t in state.tokens if not t.arrived}
        assert standing, "a running flow has a token that is not waiting at a join"
        for token in state.tokens:
            kinds = ("join",) if token.arrived else TASK_NODES
            assert flow.node(token.node).type in kinds, token
            for split in token.splits:
                assert flow.node(split).type == "parallel"
        for task in opened:
            assert task.node in standing, f"task {task.id} is open at {task.node}, where no token stands"
            assert task.visit == state.visits[task.node], "open tasks belong to the current visit"
            assert task.node not in state.passed
        for where in standing:
            pending = [t for t in state.open_tasks(where) if t.state == "pending"]
            assert pending, f"nobody can act at '{where}': the flow is stuck"
        for task in opened:
            if task.state == "pending":
                assert task.waits_for == []
            for other in task.waits_for:
                assert state.task(other) is not None and state.task(other).node == task.node


# ----------------------------------------------------------------- JSON at every step


def test_the_state_round_trips_through_json_at_every_step_of_a_long_run():
    steps = (
        cc("tell", managers(1), next="head"),
        approval(
            "head",
            department_head(1),
            time_limit={"hours": 24, "remind_every_hours": 8, "on_timeout": "escalate"},
            next="split",
        ),
        node("split", "parallel", branches=["legal", "it"], join="join"),
        approval("legal", users(BOB), mode="sequential", next="join"),
        approval("it", users(CAROL, DAVE), mode="vote", vote_percent=50, next="join"),
        node("join", "join", next="finance"),
        approval("finance", role("finance"), mode="countersign", next="order"),
        action("order", next="end", kind="create_record", form="order", mapping={"request": "id"}),
    )
    instance = Instance(
        flow(node("start", "start", next="tell"), *steps, node("end", "end"), in_parallel=("legal", "it"))
    )
    seen: list[dict[str, Any]] = []

    def step(effect_of_event) -> None:
        effect_of_event()
        data = instance.current.as_json()
        text = json.dumps(data, sort_keys=True)
        again = State.from_json(json.loads(text))
        assert again == instance.current
        assert json.dumps(again.as_json(), sort_keys=True) == text
        consistent(instance.flow, again)
        seen.append(data)

    step(lambda: instance.submit(ALICE))
    head = instance.task_of(EAST_HEAD).id
    step(lambda: instance.time_out(head, "remind"))
    step(lambda: instance.act(EAST_HEAD, "add_signer", users=(ERIN,), position="before"))
    step(lambda: instance.act(ERIN, "delegate", to=SALES_HEAD))
    step(lambda: instance.approve(SALES_HEAD))
    step(lambda: instance.approve(EAST_HEAD, comment="ok"))
    step(lambda: instance.act(BOB, "transfer", to=ADMIN))
    step(lambda: instance.reject(CAROL))
    step(lambda: instance.comment(ALICE, "see the quote", files=({"id": 1},)))
    step(lambda: instance.urge(ALICE))
    step(lambda: instance.approve(DAVE))
    step(lambda: instance.approve(ADMIN))
    step(lambda: instance.send_back(CAROL, "submitter"))
    step(lambda: instance.submit(ALICE, comment="again"))
    step(lambda: instance.approve(EAST_HEAD))
    step(lambda: instance.approve(BOB))
    step(lambda: instance.approve(CAROL))
    for person in (CAROL, DAVE, ERIN):
        step(lambda person=person: instance.approve(person))

    assert instance.status == "approved"
    assert len(seen) == 20
    assert seen[0]["status"] == "running" and seen[12]["status"] == "returned" and seen[-1]["status"] == "approved"


# ----------------------------------------------------------------- the shipped example


def purchase_instance(amount: Decimal, **record: Any) -> Instance:
    form_document = json.loads((EXAMPLES / "forms" / "purchase_request.json").read_text())
    flow_document = json.loads((EXAMPLES / "flows" / "purchase_approval.json").read_text())
    form = compile_form(
        "procurement", form_document, form_id=1, version=1, storage={"table": "procurement__pr", "columns": {}}
    )
    assert check_flow(flow_document, form) == []
    directory = org(roles={"vice_president": [SALES_HEAD], "finance": [CAROL, DAVE]})
    clock = EvalContext(NOW)
    return Instance(
        compile_flow(flow_document, 3, form),
        record={"amount": amount, **record},
        directory=directory,
        evaluate=lambda condition, values: evaluate(condition, values, clock),
    )


def test_the_purchase_example_takes_a_large_request_through_the_vice_president_and_finance():
    instance = purchase_instance(Decimal("150000.00"))
    instance.submit(ALICE)
    head = instance.task_of(EAST_HEAD)
    assert instance.schedules() == [(head.id, "timeout", NOW + hours(48)), (head.id, "remind", NOW + hours(24))]

    instance.approve(EAST_HEAD)
    assert instance.pending() == [("vp", SALES_HEAD)]
    instance.approve(SALES_HEAD)
    assert instance.pending() == [("finance", CAROL), ("finance", DAVE)]
    instance.approve(CAROL)
    instance.approve(DAVE)

    assert instance.status == "approved"
    assert Notify((EAST_HEAD,), "cc") in instance.effects
    assert instance.actions() == []  # the purchase order is the app's automation's, on flow.approved
    assert instance.statuses() == ["approved"]


def test_the_purchase_example_sends_a_small_request_straight_to_finance():
    instance = purchase_instance(Decimal("99.50"))
    instance.submit(ALICE)
    instance.approve(EAST_HEAD)
    assert instance.pending() == [("finance", CAROL), ("finance", DAVE)]


def test_the_purchase_example_hands_a_head_s_own_request_to_their_manager_and_skips_a_repeat():
    instance = purchase_instance(Decimal("200000"))
    instance.submit(EAST_HEAD)
    assert instance.pending() == [("head", SALES_HEAD)]
    instance.approve(SALES_HEAD)
    assert instance.pending() == [("finance", CAROL), ("finance", DAVE)], "the vice-president already approved"


def test_the_purchase_example_returns_a_rejection_and_jumps_back_after_resubmission():
    instance = purchase_instance(Decimal("500"))
    instance.submit(ALICE)
    instance.reject(EAST_HEAD, comment="which supplier?")
    assert instance.status == "returned" and instance.statuses() == ["draft"]
    instance.submit(ALICE)
    assert instance.pending() == [("head", EAST_HEAD)]


def test_the_purchase_example_escalates_an_overdue_head_to_their_manager():
    instance = purchase_instance(Decimal("500"))
    instance.submit(ALICE)
    instance.now = NOW + hours(48)
    instance.time_out(instance.task_of(EAST_HEAD).id)
    assert instance.pending() == [("head", SALES_HEAD)]


# ----------------------------------------------------------------- any sequence of events

PEOPLE = [1, 2, 3, 4, 5]
SMALL_ORG = Snapshot(
    users={1: (1, 2, True), 2: (1, 3, True), 3: (1, 4, True), 4: (1, 5, True), 5: (1, None, True)},
    departments={1: (None, None)},
    roles={},
    delegations=[(4, 5, NOW - timedelta(days=1), NOW + timedelta(days=1))],
    app_admins=[5],
)
# A few seconds in the suite; OPSLOOM_FLOW_EXAMPLES=5000 for a longer hunt (about three minutes).
EXAMPLES_TO_TRY = int(os.environ.get("OPSLOOM_FLOW_EXAMPLES", "400"))
ACTIONS = ["approve"] * 3 + [
    "reject",
    "return",
    "transfer",
    "transfer",
    "delegate",
    "add_signer",
    "add_signer",
    "shrug",
]


@st.composite
def task_steps(draw, step_id: str) -> Node:
    mode = draw(st.sampled_from(["any", "countersign", "sequential", "vote"]))
    raw: dict[str, Any] = {
        "mode": mode,
        "on_reject": draw(st.sampled_from(["end", "submitter"])),
        "when_submitter": draw(st.sampled_from(["approve", "auto_pass", "manager"])),
        "when_empty": draw(st.sampled_from(["auto_pass", "admin", "user"])),
        "empty_user": 3,
        "time_limit": {
            "hours": 1,
            "remind_every_hours": 1,
            "max_reminders": 2,
            "on_timeout": draw(st.sampled_from(["remind", "escalate", "approve", "reject"])),
        },
    }
    if mode == "vote":
        raw["vote_percent"] = draw(st.integers(1, 100))
    people = draw(st.lists(st.sampled_from(PEOPLE), max_size=3, unique=True))
    kind = draw(st.sampled_from(["approval", "approval", "handler"]))
    return node(step_id, kind, approvers=[users(*people)], **raw)


def linked(step: Node, following: str) -> Node:
    return Node(step.id, step.type, {**step.raw, "next": following})


@st.composite
def small_flows(draw) -> Flow:
    """start -> 1..3 steps, with a parallel block (a two-step and a one-step branch) somewhere -> end."""
    count = draw(st.integers(1, 3))
    steps = [draw(task_steps(f"s{i}")) for i in range(count)]
    block_at = draw(st.one_of(st.none(), st.integers(0, count)))
    sequence: list[str] = [s.id for s in steps]
    nodes: list[Node] = []
    inside: tuple[str, ...] = ()
    if block_at is not None:
        sequence.insert(block_at, "split")
        p0, p0b, p1 = draw(task_steps("p0")), draw(task_steps("p0b")), draw(task_steps("p1"))
        nodes += [linked(p0, "p0b"), linked(p0b, "join"), linked(p1, "join")]
        inside = ("p0", "p0b", "p1")
    sequence.append("end")
    by_id = {s.id: s for s in steps}
    for here, following in zip(sequence, sequence[1:], strict=False):
        if here == "split":
            nodes.append(node("split", "parallel", branches=["p0", "p1"], join="join"))
            nodes.append(node("join", "join", next=following))
        else:
            nodes.append(linked(by_id[here], following))
    settings_ = {
        "same_approver": draw(st.sampled_from(["off", "any_earlier", "previous_node"])),
        "resubmit": draw(st.sampled_from(["restart", "jump_back"])),
    }
    return flow(
        node("start", "start", next=sequence[0]), *nodes, node("end", "end"), settings=settings_, in_parallel=inside
    )


@dataclass(frozen=True)
class Move:
    kind: str  # act | withdraw | urge | submit | timeout
    action: str
    pick: int  # which task (modulo the tasks there are); a large number: a task that does not exist
    rightful: bool  # a pending task by its assignee (or the submitter), or any task by anyone
    who: int
    target: str
    people: tuple[int, ...]
    position: str


moves = st.builds(
    Move,
    kind=st.sampled_from(["act"] * 16 + ["withdraw", "urge", "submit", "submit", "timeout", "timeout", "timeout"]),
    action=st.sampled_from(ACTIONS),
    pick=st.integers(0, 30).map(lambda i: 10_000 if i == 30 else i),
    rightful=st.sampled_from([True, True, True, False]),
    who=st.sampled_from(PEOPLE),
    target=st.sampled_from(["submitter", "previous", "s0", "s1", "s2", "p0", "p0b", "p1", "nowhere"]),
    people=st.lists(st.sampled_from(PEOPLE), max_size=2).map(tuple),
    position=st.sampled_from(["before", "after", "parallel"]),
)


def event_for(move: Move, state: State) -> Any:
    submitter = state.submitter if move.rightful else move.who
    if move.kind == "withdraw":
        return Withdraw(submitter)
    if move.kind == "urge":
        return Urge(submitter)
    if move.kind == "submit":
        return Submit(submitter)
    pending = [t for t in state.tasks if t.state == "pending"]
    choices = pending if move.rightful and pending else state.tasks
    task = choices[move.pick % len(choices)] if choices and move.pick < 10_000 else None
    task_id = task.id if task is not None else 10_000
    if move.kind == "timeout":
        return Timeout(task_id, "remind" if move.rightful else "timeout")
    actor = task.assignee if task is not None and move.rightful else move.who
    return Act(
        actor,
        task_id,
        move.action,
        comment="a reason",  # a rejection needs one
        target=move.target,
        to=move.who,
        users=move.people,
        position=move.position,
    )


@settings(
    max_examples=EXAMPLES_TO_TRY,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(flow_=small_flows(), submitter=st.sampled_from(PEOPLE), script=st.lists(moves, max_size=25))
def test_no_sequence_of_events_leaves_an_inconsistent_state(flow_, submitter, script):
    ctx = Context(NOW, {}, SMALL_ORG)
    state, _ = advance_flow(flow_, None, Submit(submitter), ctx)
    consistent(flow_, state)
    for move in script:
        before = copy.deepcopy(state.as_json())
        try:
            state, effects = advance_flow(flow_, state, event_for(move, state), ctx)
        except FlowError as error:
            assert error.reason in Reason
            assert state.as_json() == before, "a refused event changes nothing"
            continue
        state = State.from_json(json.loads(json.dumps(state.as_json())))
        consistent(flow_, state)
        assert all(isinstance(e.users, tuple) and e.users for e in effects if isinstance(e, Notify))
        assert all(e.node in flow_.nodes for e in effects if isinstance(e, RunAction))
