"""The flow engine: `(flow, state, event, context) -> (new state, effects)`. Pure.

No database, no clock (the context carries `now`), no I/O: the shell in
`runtime/flow/instances.py` loads and locks an instance, calls `advance_flow`,
stores the new state and carries out the effects, all in one transaction.

A state holds tokens (where the flow stands; a parallel split makes one per
branch) and tasks (who must act). Entering a node is one small unit per node
type (`nodes.py`); acting on a task is one unit per action (`ACTIONS`). After
every change a node with tasks is *settled*: by its mode (any, countersign,
sequential, vote) it passes, fails, or waits.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from opsloom.runtime.flow.approvers import check_choice
from opsloom.runtime.flow.model import (
    Act,
    Comment,
    Context,
    Effect,
    Event,
    Flow,
    FlowError,
    HandOver,
    Log,
    Node,
    Notify,
    Reason,
    Schedule,
    SetStatus,
    State,
    Submit,
    Task,
    Timeout,
    Token,
    Urge,
    Withdraw,
)
from opsloom.runtime.flow.nodes import node_type
from opsloom.runtime.flow.step_rules import comment_required

MAX_STEPS = 500  # nodes entered by one event: a guard against a loop in a bad flow


def advance_flow(flow: Flow, state: State | None, event: Event, ctx: Context) -> tuple[State, list[Effect]]:
    """Apply one event to an instance (None: a new submission). Raises FlowError if it cannot apply."""
    run = Run(flow, copy.deepcopy(state) if state is not None else State(), ctx)
    handler = EVENTS.get(type(event))
    if handler is None:
        raise FlowError(f"unknown event {type(event).__name__}", Reason.FLOW_STUCK)
    handler(run, event)
    return run.state, run.effects


class Run:
    """One event being applied: the flow, the state being changed, the effects so far."""

    def __init__(self, flow: Flow, state: State, ctx: Context) -> None:
        self.flow, self.state, self.ctx = flow, state, ctx
        self.record = dict(ctx.record)
        self.effects: list[Effect] = []
        self.steps = 0

    @property
    def now(self) -> str:
        return self.ctx.now.isoformat()

    def log(self, action: str, actor: int | None, **detail: Any) -> None:
        node, task, comment = detail.pop("node", None), detail.pop("task", None), detail.pop("comment", None)
        self.effects.append(Log(action, actor, node, task, comment, detail))

    def notify(self, users: list[int], kind: str, task: int | None = None, text: str = "") -> None:
        if users:
            self.effects.append(Notify(tuple(dict.fromkeys(users)), kind, task, text))

    # ---------------------------------------------------------------- tokens

    def enter(self, token: Token, node_id: str) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise FlowError("the flow goes round in a loop; check its branches", Reason.FLOW_STUCK)
        if node_id not in self.flow.nodes:
            raise FlowError(f"the flow has no node '{node_id}'", Reason.FLOW_STUCK)
        token.node = node_id
        node = self.flow.node(node_id)
        node_type(node).enter(self, token, node)

    def leave(self, token: Token, node: Node, target: str | None = None) -> None:
        target = target or node.next
        if target is None:
            raise FlowError(f"node '{node.id}' does not say where to go next", Reason.FLOW_STUCK)
        self.enter(token, target)

    def token_at(self, node_id: str) -> Token | None:
        return next((t for t in self.state.tokens if t.node == node_id and not t.arrived), None)

    # ----------------------------------------------------------------- tasks

    def activate(self, task: Task) -> None:
        """A task becomes actionable: its assignee is told, its timers start."""
        task.state = "pending"
        node = self.flow.node(task.node)
        limit = node.get("time_limit") or {}
        if limit.get("hours"):
            due = self.ctx.now + timedelta(hours=limit["hours"])
            task.due_at = due.isoformat()
            self.effects.append(Schedule(task.id, "timeout", due))
        if every := limit.get("remind_every_hours"):
            self.effects.append(Schedule(task.id, "remind", self.ctx.now + timedelta(hours=every)))
        self.notify([task.assignee], "task", task.id, f"{node.label} waits for you")

    def new_task(self, node: Node, assignee: int, kind: str, **fields: Any) -> Task:
        task = Task(
            id=self.state.new_id(),
            node=node.id,
            visit=self.state.visits.get(node.id, 0),
            assignee=assignee,
            kind=kind,
            state="waiting",
            created_at=self.now,
            **fields,
        )
        self.state.tasks.append(task)
        return task

    def node_tasks(self, node_id: str) -> list[Task]:
        visit = self.state.visits.get(node_id, 0)
        return [t for t in self.state.tasks if t.node == node_id and t.visit == visit and t.kind != "cc"]

    def cancel_open(self, node_id: str | None = None) -> None:
        for task in self.state.open_tasks(node_id):
            task.state = "cancelled"

    def replace_task(self, old: Task, new: Task) -> None:
        """`new` takes over from `old` (transfer, escalation): tasks that waited on `old` now wait on `new`."""
        for task in self.state.tasks:
            task.waits_for = [new.id if i == old.id else i for i in task.waits_for]
            if task.after_of == old.id:
                task.after_of = new.id

    def auto_approve(self, task: Task, reason: str) -> None:
        """The system approves a task for its assignee (`reason`: why)."""
        task.state, task.acted_at, task.auto = "approved", self.now, reason
        self.log("auto_approved", None, node=task.node, task=task.id, reason=reason, assignee=task.assignee)

    def keep_passed(self, passed: list[str]) -> None:
        """Only steps still passed keep their approvals (a step run again is approved again)."""
        self.state.passed = passed
        self.state.approvals = {k: v for k, v in self.state.approvals.items() if k in passed}

    # ------------------------------------------------------------- settling

    def settle(self, node: Node) -> None:
        """After a change at a task node: pass it, fail it, or wake the tasks whose turn it is."""
        verdict = outcome(node, self.node_tasks(node.id))
        token = self.token_at(node.id)
        if verdict == "pass" and token is not None:
            self.cancel_open(node.id)
            approvers = [t.assignee for t in self.node_tasks(node.id) if t.state == "approved"]
            self.state.approvals[node.id] = approvers
            self.state.passed.append(node.id)
            self.log("node_passed", None, node=node.id)
            self.leave(token, node)
        elif verdict == "fail":
            self.cancel_open(node.id)
            self.fail(node)
        else:
            self.wake(node)

    def wake(self, node: Node) -> None:
        tasks = self.node_tasks(node.id)
        done = {t.id for t in tasks if t.state == "approved"}
        for task in tasks:
            if task.state != "waiting":
                continue
            if task.waits_for:  # before-signers first, even for an after-signer whose turn has come
                if set(task.waits_for) <= done:
                    task.waits_for = []
                    self.activate(task)
            elif task.after_of is not None and task.after_of in done:
                self.activate(task)
        own = [t for t in tasks if not t.added]
        busy = any(t.state == "pending" or (t.state == "waiting" and t.waits_for) for t in own)
        if node.get("mode") == "sequential" and not busy:
            queue = sorted((t for t in own if t.state == "waiting"), key=lambda t: t.order)
            if queue:
                self.activate(queue[0])

    def fail(self, node: Node) -> None:
        """A rejection: the flow ends rejected, or the record goes back to the submitter."""
        if node.get("on_reject", "end") == "submitter":
            self.return_to_submitter(node)
            return
        self.finish("rejected")

    def finish(self, status: str) -> None:
        self.cancel_open()
        self.state.tokens = []
        self.state.status = status
        self.effects.append(SetStatus(status))
        self.log(status, None)
        self.notify([self.state.submitter], status)

    def return_to_submitter(self, node: Node) -> None:
        self.cancel_open()
        self.state.tokens = []
        self.state.status = "returned"
        self.state.return_to = node.id
        self.effects.append(SetStatus("draft"))
        self.log("returned_to_submitter", None, node=node.id)
        self.notify([self.state.submitter], "returned")


def outcome(node: Node, tasks: list[Task]) -> str | None:
    """pass, fail, or None (wait) for a task node's current visit, by its mode."""
    live = [t for t in tasks if t.state not in ("transferred", "cancelled")]
    added = [t for t in live if t.added]
    own = [t for t in live if not t.added]
    if any(t.state in ("rejected", "returned") for t in added):
        return "fail"
    approved = sum(t.state == "approved" for t in own)
    rejected = sum(t.state == "rejected" for t in own)
    mode = node.get("mode", "any")
    if mode == "any":
        verdict = "fail" if rejected else ("pass" if approved or not own else None)
    elif mode == "vote":
        share = node.get("vote_percent", 50)
        total = len(own)
        if not total or approved * 100 >= share * total:
            verdict = "pass"
        elif (total - rejected) * 100 < share * total:
            verdict = "fail"
        else:
            verdict = None
    else:  # countersign and sequential: everyone approves; one rejection is a veto
        verdict = "fail" if rejected else ("pass" if approved == len(own) else None)
    if verdict == "pass" and any(t.open for t in added):
        return None  # added signers still have to approve
    return verdict


# ------------------------------------------------------------------ events


def _submit(run: Run, event: Submit) -> None:
    state, flow = run.state, run.flow
    resubmitted = state.status == "returned"
    if (state.tasks or state.submitted_at) and not resubmitted:
        ended = f"the flow has ended ({state.status})"
        raise FlowError("the record is already in review" if state.status == "running" else ended, Reason.NOT_NOW)
    if not resubmitted:
        state.submitter = event.actor
    elif event.actor != state.submitter:
        raise FlowError("only the submitter can submit the record again", Reason.NOT_YOURS)
    for node_id, people in event.chosen.items():
        node = flow.nodes.get(node_id)
        if node is None or not any(s["kind"] == "chosen" for s in node.get("approvers", [])):
            raise FlowError(f"'{node_id}' is not a node whose approvers are chosen when submitting", Reason.INVALID)
        check_choice(list(node.get("approvers", [])), node_id, list(people), state, run.ctx)
    for node in flow.nodes.values():
        wants = any(s["kind"] == "chosen" for s in node.get("approvers", []))
        if wants and node.id not in event.chosen and node.id not in state.chosen:
            raise FlowError(
                f"choose the approvers of '{node.label}' when submitting (chosen.{node.id})", Reason.INVALID
            )
    state.chosen.update({k: list(v) for k, v in event.chosen.items()})
    state.status, state.acted, state.submitted_at = "running", False, run.now
    run.effects.append(SetStatus("in_review"))
    run.log("resubmitted" if resubmitted else "submitted", event.actor, comment=event.comment)
    token = Token(state.new_id(), flow.start)
    state.tokens = [token]
    target = state.return_to if resubmitted and flow.settings.get("resubmit") == "jump_back" else None
    if target in flow.in_parallel:
        target = None  # a token cannot land inside parallel branches without their split: run it all again
    state.return_to = None
    if target:
        run.keep_passed(state.passed[: state.passed.index(target)] if target in state.passed else state.passed)
        run.enter(token, target)
    else:
        run.keep_passed([])
        run.enter(token, flow.start)


def _act(run: Run, event: Act) -> None:
    state = run.state
    task = state.task(event.task)
    if task is None:
        raise FlowError(f"there is no task {event.task} in this flow", Reason.NO_SUCH_TASK)
    if state.status != "running":
        raise FlowError(f"the flow is not running ({state.status})", Reason.NOT_NOW)
    if task.state == "waiting":
        raise FlowError("this task is not your turn yet", Reason.NOT_NOW)
    if task.state != "pending":
        raise FlowError(f"this task is already {task.state}", Reason.NOT_NOW)
    if event.actor != task.assignee:
        raise FlowError("this task is not yours", Reason.NOT_YOURS)
    action = ACTIONS.get(event.action)
    if action is None:
        raise FlowError(f"unknown action '{event.action}'; use one of {', '.join(sorted(ACTIONS))}", Reason.INVALID)
    action(run, task, event)


def _refuse_without_comment(run: Run, task: Task, event: Act) -> None:
    """A decision the step asks a comment for, made without one (a rejection, unless the step says optional)."""
    if comment_required(run.flow.node(task.node).raw, event.action) and not (event.comment or "").strip():
        word = "a rejection" if event.action == "reject" else "approving at this step"
        why = " saying why" if event.action == "reject" else ""
        raise FlowError(f"{word} needs a comment{why}; write one in comment", Reason.INVALID, path="comment")


def _approve(run: Run, task: Task, event: Act) -> None:
    _refuse_without_comment(run, task, event)
    task.state, task.acted_at, task.comment = "approved", run.now, event.comment
    run.state.acted = True
    verb = "approved" if node_type(run.flow.node(task.node)).decides else "completed"
    run.log(verb, event.actor, node=task.node, task=task.id, comment=event.comment, changes=dict(event.changes))
    run.settle(run.flow.node(task.node))


def _reject(run: Run, task: Task, event: Act) -> None:
    node = run.flow.node(task.node)
    if not node_type(node).decides:
        raise FlowError(f"a {node.type} step cannot be rejected; return it instead", Reason.INVALID)
    _refuse_without_comment(run, task, event)
    task.state, task.acted_at, task.comment = "rejected", run.now, event.comment
    run.state.acted = True
    run.log("rejected", event.actor, node=task.node, task=task.id, comment=event.comment)
    run.settle(node)


def _return(run: Run, task: Task, event: Act) -> None:
    state, flow = run.state, run.flow
    node = flow.node(task.node)
    target = event.target or "submitter"
    if target == "previous":
        target = state.passed[-1] if state.passed else "submitter"
    task.state, task.acted_at, task.comment = "returned", run.now, event.comment
    state.acted = True
    run.log("returned", event.actor, node=node.id, task=task.id, comment=event.comment, to=target)
    if target == "submitter":
        run.return_to_submitter(node)
        return
    if target not in state.passed:
        raise FlowError(
            f"'{target}' is not a step this record has passed; return to one of: "
            + ", ".join(["submitter", "previous", *state.passed]),
            Reason.INVALID,
        )
    if target in flow.in_parallel:
        raise FlowError(
            f"'{target}' lies inside parallel branches; return to the submitter or an earlier step", Reason.INVALID
        )
    run.cancel_open()
    run.keep_passed(state.passed[: state.passed.index(target)])
    token = Token(state.new_id(), target)
    state.tokens = [token]
    run.enter(token, target)


def _transfer(run: Run, task: Task, event: Act) -> None:
    _hand_over(run, task, event, delegate=False)


def _delegate(run: Run, task: Task, event: Act) -> None:
    _hand_over(run, task, event, delegate=True)


def _hand_over(run: Run, task: Task, event: Act, *, delegate: bool) -> None:
    to = event.to
    if to is None or not run.ctx.directory.is_active(to):
        raise FlowError("name an active person to hand the task to (to)", Reason.INVALID)
    if to == task.assignee or any(t.assignee == to and t.open for t in run.node_tasks(task.node)):
        raise FlowError(f"user {to} already has this step", Reason.INVALID)
    run.state.acted = True  # someone handled the record: the submitter can no longer withdraw it
    if delegate:
        task.on_behalf_of = task.on_behalf_of or task.assignee
        task.assignee = to
        run.log("delegated", event.actor, node=task.node, task=task.id, comment=event.comment, to=to)
        run.notify([to], "task", task.id, "a task was delegated to you")
        return
    task.state, task.acted_at, task.comment = "transferred", run.now, event.comment
    copy_ = run.new_task(
        run.flow.node(task.node), to, task.kind, order=task.order, added=task.added, after_of=task.after_of
    )
    run.replace_task(task, copy_)
    run.log("transferred", event.actor, node=task.node, task=task.id, comment=event.comment, to=to)
    run.activate(copy_)


def _handed_over(run: Run, event: HandOver) -> None:
    """An administrator gives someone's open task to another person: the step stays, only who acts changes.

    Unlike a transfer it counts as no one's action on the record (the submitter may still withdraw),
    and a task still waiting (for its turn, or for signers added before it) keeps waiting."""
    state, task = run.state, run.state.task(event.task)
    if task is None:
        raise FlowError(f"there is no task {event.task} in this flow", Reason.NO_SUCH_TASK)
    if state.status != "running" or not task.open:
        raise FlowError(f"this task is already {task.state}", Reason.NOT_NOW)
    if not run.ctx.directory.is_active(event.to):
        raise FlowError("name an active person to hand the task to (to)", Reason.INVALID, path="to")
    if event.to == task.assignee or any(t.assignee == event.to and t.open for t in run.node_tasks(task.node)):
        raise FlowError(f"user {event.to} already has this step", Reason.INVALID, path="to")
    waiting = task.state == "waiting"
    task.state, task.acted_at, task.comment = "transferred", run.now, event.comment
    successor = run.new_task(
        run.flow.node(task.node),
        event.to,
        task.kind,
        order=task.order,
        added=task.added,
        after_of=task.after_of,
        waits_for=list(task.waits_for),
        on_behalf_of=task.on_behalf_of,
    )
    run.replace_task(task, successor)
    run.log(
        "handed_over",
        event.actor,
        node=task.node,
        task=task.id,
        comment=event.comment,
        to=event.to,
        **{"from": task.assignee},
    )
    if not waiting:
        run.activate(successor)


def _add_signer(run: Run, task: Task, event: Act) -> None:
    people = list(dict.fromkeys(event.users))
    if not people or not all(run.ctx.directory.is_active(p) for p in people):
        raise FlowError("name one or more active people to add (users)", Reason.INVALID)
    if event.position not in ("before", "after", "parallel"):
        raise FlowError("position is before, after or parallel", Reason.INVALID)
    run.state.acted = True
    node = run.flow.node(task.node)
    added = [run.new_task(node, person, task.kind, added=event.position) for person in people]
    if event.position == "before":
        task.state, task.waits_for = "waiting", [t.id for t in added]
        for t in added:
            run.activate(t)
    elif event.position == "after":
        for t in added:
            t.after_of = task.id
    else:
        for t in added:
            run.activate(t)
    run.log(
        "signer_added",
        event.actor,
        node=node.id,
        task=task.id,
        comment=event.comment,
        users=people,
        position=event.position,
    )


ACTIONS: dict[str, Callable[[Run, Task, Act], None]] = {
    "approve": _approve,
    "reject": _reject,
    "return": _return,
    "transfer": _transfer,
    "delegate": _delegate,
    "add_signer": _add_signer,
}


def _withdraw(run: Run, event: Withdraw) -> None:
    state = run.state
    if event.actor != state.submitter:
        raise FlowError("only the submitter can withdraw", Reason.NOT_YOURS)
    if state.status not in ("running", "returned"):
        raise FlowError(f"the flow has ended ({state.status})", Reason.NOT_NOW)
    if state.acted and state.status == "running":
        raise FlowError("someone has already acted on it; ask them to return it to you", Reason.NOT_NOW)
    run.log("withdrawn", event.actor, comment=event.comment)
    run.cancel_open()
    run.state.tokens = []
    run.state.status = "withdrawn"
    run.effects.append(SetStatus("withdrawn"))


def _urge(run: Run, event: Urge) -> None:
    if event.actor != run.state.submitter:
        raise FlowError("only the submitter can urge", Reason.NOT_YOURS)
    if run.state.status != "running":
        raise FlowError(f"the flow is not running ({run.state.status})", Reason.NOT_NOW)
    waiting = [t for t in run.state.tasks if t.state == "pending"]
    run.log("urged", event.actor, comment=event.comment, users=[t.assignee for t in waiting])
    for task in waiting:
        run.notify([task.assignee], "urge", task.id, event.comment or "")


def _comment(run: Run, event: Comment) -> None:
    detail: dict[str, Any] = {"comment": event.text, "files": list(event.files)}
    if event.mentions:
        detail["mentions"] = list(event.mentions)
    run.log("commented", event.actor, **detail)
    mentioned = [p for p in event.mentions if p != event.actor]
    others = [t.assignee for t in run.state.tasks if t.state == "pending"] + [run.state.submitter]
    run.notify([p for p in others if p != event.actor and p not in mentioned], "comment")
    run.notify(mentioned, "mention")


def _timeout(run: Run, event: Timeout) -> None:
    task = run.state.task(event.task)
    if task is None or task.state != "pending" or run.state.status != "running":
        return  # the task was handled meanwhile: the timer is stale
    node = run.flow.node(task.node)
    limit = node.get("time_limit") or {}
    if event.kind == "remind":
        task.reminders += 1
        run.notify([task.assignee], "remind", task.id, f"{node.label} is still waiting for you")
        run.log("reminded", None, node=node.id, task=task.id, count=task.reminders)
        every = limit.get("remind_every_hours")
        if every and task.reminders < limit.get("max_reminders", 3):
            run.effects.append(Schedule(task.id, "remind", run.ctx.now + timedelta(hours=every)))
        return
    action = limit.get("on_timeout", "remind")
    run.log("timed_out", None, node=node.id, task=task.id, then=action)
    if action == "approve":
        run.auto_approve(task, "the time limit passed")
        run.settle(node)
    elif action == "reject":
        task.state, task.acted_at, task.auto = "rejected", run.now, "the time limit passed"
        run.settle(node)
    elif action == "escalate":
        manager = run.ctx.directory.manager_of(task.on_behalf_of or task.assignee)
        if manager is None or manager == task.assignee or not run.ctx.directory.is_active(manager):
            run.notify([task.assignee], "remind", task.id, f"{node.label} is overdue")
            return
        task.state, task.acted_at, task.auto = "transferred", run.now, "escalated"
        escalated = run.new_task(node, manager, task.kind, order=task.order, added=task.added)
        run.replace_task(task, escalated)
        run.log("escalated", None, node=node.id, task=task.id, to=manager)
        run.activate(escalated)
    else:
        run.notify([task.assignee], "remind", task.id, f"{node.label} is overdue")


EVENTS: dict[type, Callable[[Run, Any], None]] = {
    Submit: _submit,
    Act: _act,
    HandOver: _handed_over,
    Withdraw: _withdraw,
    Urge: _urge,
    Comment: _comment,
    Timeout: _timeout,
}
