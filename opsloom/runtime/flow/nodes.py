"""Node types: one unit per type, registered in one table (`NODE_TYPES`).

A unit answers everything about its kind of step: where it leads
(`successors`), which nodes it names (`references`), the checks of a flow
document that concern it (`check_links` with the graph's soundness, `check`
once the graph is sound), and what happens when a token enters it (`enter`,
the engine's behaviour; pure, like the rest of the engine). The rest of the
flow code asks the unit; a type is named only in this table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from opsloom.platform.errors import FieldError
from opsloom.runtime.flow.approvers import resolve_approvers
from opsloom.runtime.flow.model import FlowError, Node, Reason, RunAction, Task, Token

if TYPE_CHECKING:
    from opsloom.runtime.flow.engine import Run

Document = Mapping[str, Any]


class NodeType:
    name = ""
    starts = False  # the flow begins here (one per flow)
    ends = False  # a token that gets here is done (a flow needs one)
    has_tasks = False  # people act here, one task each
    decides = False  # its tasks approve or reject (an approval); a handler's only complete
    by_condition = False  # it picks its way by the record's values

    def successors(self, raw: Document) -> list[str]:
        """The nodes a token may go to from here."""
        return [raw["next"]] if raw.get("next") else []

    def references(self, raw: Document) -> list[tuple[str, Any]]:
        """(path within the node, node id) of every node it names."""
        return [("next", raw.get("next")), ("else", raw.get("else")), ("join", raw.get("join"))]

    def check_links(self, path: str, raw: Document) -> Iterator[FieldError]:
        """Problems with how the node links, checked with the graph (before anything needs it sound)."""
        return iter(())

    def check(self, path: str, raw: Document, nodes: Mapping[str, Document]) -> Iterator[FieldError]:
        """Problems of the node within a sound graph (`nodes`: the flow's nodes by id)."""
        return iter(())

    def branch_conditions(self, raw: Document) -> list[Document]:
        """The conditions it tests, in branch order."""
        return []

    def action(self, raw: Document) -> Mapping[str, Any] | None:
        """The automatic action it runs, if it runs one."""
        return None

    def region(self, raw: Document) -> tuple[list[str], str | None] | None:
        """The parallel branches it splits into and the node that joins them, if it splits."""
        return None

    def enter(self, run: Run, token: Token, node: Node) -> None:
        raise NotImplementedError


class Start(NodeType):
    name, starts = "start", True

    def enter(self, run: Run, token: Token, node: Node) -> None:
        run.leave(token, node)


class End(NodeType):
    name, ends = "end", True

    def check_links(self, path: str, raw: Document) -> Iterator[FieldError]:
        if raw.get("next"):
            yield FieldError(f"{path}.next", "an end node has no next")

    def enter(self, run: Run, token: Token, node: Node) -> None:
        run.state.tokens.remove(token)
        if not run.state.tokens:
            run.finish("approved")


class Approval(NodeType):
    """People approve or reject; by its mode one, all, in turn or a share of them must approve."""

    name, has_tasks, decides = "approval", True, True

    def enter(self, run: Run, token: Token, node: Node) -> None:
        state = run.state
        state.visits[node.id] = state.visits.get(node.id, 0) + 1
        people = resolve_approvers(list(node.get("approvers", [])), node.id, state, run.ctx)
        if not people:
            people = _when_empty(run, node)
        sequential = node.get("mode") == "sequential"
        for order, person in enumerate(people):
            task = run.new_task(node, person, self.name, order=order)
            self.assign(run, node, task)
            if task.state == "waiting" and (not sequential or order == 0):
                run.activate(task)
        run.log("node_entered", None, node=node.id, assignees=[t.assignee for t in run.node_tasks(node.id)])
        run.settle(node)

    def assign(self, run: Run, node: Node, task: Task) -> None:
        """Out-of-office delegation, the approver-is-submitter rule, and the same-approver rule."""
        state, directory = run.state, run.ctx.directory
        if task.assignee == state.submitter and self.decides:
            policy = node.get("when_submitter", "approve")
            if policy == "auto_pass":
                run.auto_approve(task, "the approver is the submitter")
                return
            if policy == "manager":
                manager = directory.manager_of(state.submitter)
                if manager is None:
                    run.auto_approve(task, "the submitter has no manager")
                    return
                task.assignee = manager
        delegate = directory.delegate_of(task.assignee, run.ctx.now)
        if delegate is not None and delegate != task.assignee:
            task.on_behalf_of, task.assignee = task.assignee, delegate
        repeat = run.flow.settings.get("same_approver", "off")
        person = task.on_behalf_of or task.assignee
        if self.decides and repeat != "off":
            earlier = state.approvals.get(state.passed[-1], []) if state.passed and repeat == "previous_node" else []
            if repeat == "any_earlier":
                earlier = [p for people in state.approvals.values() for p in people]
            if person in earlier:
                run.auto_approve(task, "already approved earlier in this flow")


class Handler(Approval):
    """People fill in the fields the step makes editable and complete it; they cannot reject it."""

    name, decides = "handler", False


def _when_empty(run: Run, node: Node) -> list[int]:
    policy = node.get("when_empty", "auto_pass")
    if policy == "admin":
        people = run.ctx.directory.admins()
    elif policy == "user":
        people = [node.get("empty_user")] if node.get("empty_user") else []
    else:
        people = []
    if not people:
        run.log("auto_passed", None, node=node.id, reason="nobody to approve")
    return people


class Cc(NodeType):
    """People are told, without waiting for them."""

    name = "cc"

    def check(self, path: str, raw: Document, nodes: Mapping[str, Document]) -> Iterator[FieldError]:
        for j, source in enumerate(raw.get("recipients", [])):
            if source["kind"] == "chosen":
                yield FieldError(f"{path}.recipients[{j}].kind", "CC recipients cannot be chosen at submission")

    def enter(self, run: Run, token: Token, node: Node) -> None:
        run.state.visits[node.id] = run.state.visits.get(node.id, 0) + 1
        people = resolve_approvers(list(node.get("recipients", [])), node.id, run.state, run.ctx)
        for person in people:
            task = run.new_task(node, person, self.name)
            task.state = "cc"
        run.notify(people, "cc")
        run.log("cc", None, node=node.id, recipients=people)
        run.leave(token, node)


class Condition(NodeType):
    """The first branch, by priority, whose condition the record meets; else the else branch."""

    name, by_condition = "condition", True

    def successors(self, raw: Document) -> list[str]:
        branches = [b["next"] for b in raw.get("branches", [])]
        return super().successors(raw) + branches + ([raw["else"]] if raw.get("else") else [])

    def references(self, raw: Document) -> list[tuple[str, Any]]:
        branches = [(f"branches[{j}].next", b["next"]) for j, b in enumerate(raw.get("branches", []))]
        return super().references(raw) + branches

    def branch_conditions(self, raw: Document) -> list[Document]:
        return [branch["condition"] for branch in raw.get("branches", [])]

    def enter(self, run: Run, token: Token, node: Node) -> None:
        branches = sorted(enumerate(node.get("branches", [])), key=lambda ib: (ib[1].get("priority", ib[0]), ib[0]))
        for index, branch in branches:
            if run.ctx.evaluate(run.flow.conditions[(node.id, index)], run.record):
                run.log("branch", None, node=node.id, branch=index, to=branch["next"])
                run.leave(token, node, branch["next"])
                return
        if node.get("else"):
            run.log("branch", None, node=node.id, branch="else", to=node.get("else"))
            run.leave(token, node, node.get("else"))
            return
        raise FlowError(
            f"no branch of '{node.label}' matches this record, and it has no else branch", Reason.FLOW_STUCK
        )


class Parallel(NodeType):
    """Every branch at once; its join waits for them all."""

    name = "parallel"

    def successors(self, raw: Document) -> list[str]:
        return super().successors(raw) + list(raw.get("branches", []))

    def references(self, raw: Document) -> list[tuple[str, Any]]:
        return super().references(raw) + [(f"branches[{j}]", b) for j, b in enumerate(raw.get("branches", []))]

    def region(self, raw: Document) -> tuple[list[str], str | None] | None:
        return list(raw.get("branches", [])), raw.get("join")

    def check(self, path: str, raw: Document, nodes: Mapping[str, Document]) -> Iterator[FieldError]:
        join: str | None = raw.get("join")
        if join is not None and join in nodes and nodes[join]["type"] != Join.name:
            yield FieldError(f"{path}.join", f"'{join}' is a {nodes[join]['type']} node, not a join")
            return
        earlier = []  # parallel nodes before this one that name the same join
        for other in nodes.values():
            if other["id"] == raw["id"]:
                break
            if NODE_TYPES[other["type"]].region(other) is not None and _joined_by(other) == join:
                earlier.append(other["id"])
        if earlier:
            yield FieldError(f"{path}.join", f"'{join}' already joins '{earlier[-1]}'")
        for j, start in enumerate(raw.get("branches", [])):
            region = walk_until(nodes, start, join)
            if any(NODE_TYPES[nodes[x]["type"]].ends for x in region if x in nodes):
                yield FieldError(f"{path}.branches[{j}]", f"the branch from '{start}' ends before '{join}'")

    def enter(self, run: Run, token: Token, node: Node) -> None:
        run.state.tokens.remove(token)
        branches = [Token(run.state.new_id(), node.id, token.splits + [node.id]) for _ in node.get("branches", [])]
        run.state.tokens.extend(branches)
        for branch, start in zip(branches, node.get("branches", []), strict=True):
            run.enter(branch, start)


class Join(NodeType):
    """Waits until every branch of its parallel node has arrived, then goes on as one."""

    name = "join"

    def check(self, path: str, raw: Document, nodes: Mapping[str, Document]) -> Iterator[FieldError]:
        if not any(_joined_by(n) == raw["id"] for n in nodes.values()):
            yield FieldError(path, f"'{raw['id']}' joins no parallel node; name it as a parallel's join")

    def enter(self, run: Run, token: Token, node: Node) -> None:
        token.arrived = True
        split = token.splits[-1] if token.splits else None
        parallel = run.flow.nodes.get(split) if split else None
        if parallel is None or parallel.get("join") != node.id:
            raise FlowError(f"'{node.id}' joins branches that were never split", Reason.FLOW_STUCK)
        here = [t for t in run.state.tokens if t.arrived and t.node == node.id and t.splits and t.splits[-1] == split]
        if len(here) < len(parallel.get("branches", [])):
            run.log("branch_joined", None, node=node.id, waiting=len(parallel.get("branches", [])) - len(here))
            return
        for t in here:
            run.state.tokens.remove(t)
        merged = Token(run.state.new_id(), node.id, token.splits[:-1])
        run.state.tokens.append(merged)
        run.leave(merged, node)


def _joined_by(raw: Document) -> Any:
    """The join a parallel node names (None for other nodes)."""
    region = NODE_TYPES[raw["type"]].region(raw)
    return region[1] if region else None


class Action(NodeType):
    """An automatic action: update this record, or create one in another form."""

    name = "action"

    def action(self, raw: Document) -> Mapping[str, Any] | None:
        return raw.get("action")

    def enter(self, run: Run, token: Token, node: Node) -> None:
        action = node.get("action", {})
        run.effects.append(RunAction(node.id, action))
        if action.get("kind") == "update_record":
            run.record.update(action.get("values", {}))  # later branches see the new values
        run.log("action", None, node=node.id, kind=action.get("kind"))
        run.leave(token, node)


NODE_TYPES: dict[str, NodeType] = {
    unit.name: unit for unit in (Start(), Approval(), Handler(), Cc(), Condition(), Parallel(), Join(), Action(), End())
}


def node_type(raw: Document | Node) -> NodeType:
    """The unit of a node (as written in a document, or compiled)."""
    return NODE_TYPES[raw.type if isinstance(raw, Node) else raw["type"]]


# ------------------------------------------------------------------ the graph


def successors(raw: Document) -> list[str]:
    return node_type(raw).successors(raw)


def walk_until(nodes: Mapping[str, Document], start: str, stop: str | None) -> set[str]:
    """The nodes reachable from `start` without passing `stop`."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        if current in seen or current == stop or current not in nodes:
            continue
        seen.add(current)
        todo += successors(nodes[current])
    return seen
