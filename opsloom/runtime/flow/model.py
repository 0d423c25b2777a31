"""What the flow engine works on: a compiled flow, an instance's state, events and effects.

All plain data. The state travels as JSON (`State.as_json` / `State.from_json`)
so the shell can keep it in one column and lock one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from opsloom.platform.locales import label_text, label_translations

# ----------------------------------------------------------------- the flow


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    raw: Mapping[str, Any]

    @property
    def next(self) -> str | None:
        return self.raw.get("next")

    def get(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)

    @property
    def label(self) -> str:
        """The step's name in English, for the engine's own messages (which are English, like API errors)."""
        return label_text(self.raw.get("label") or self.id, "en")

    @property
    def labels(self) -> dict[str, str]:
        """The step's name as each language reads it: what people are shown."""
        return label_translations(self.raw.get("label") or self.id)


@dataclass(frozen=True)
class Flow:
    """A published flow, ready to run: nodes by id, branch conditions parsed against the form."""

    key: str
    form: str
    version: int
    nodes: Mapping[str, Node]
    start: str
    settings: Mapping[str, Any]
    # (condition node id, branch index) -> a parsed condition of runtime/conditions.py
    conditions: Mapping[tuple[str, int], Any] = field(default_factory=dict)
    # Nodes inside a parallel region: a return may not jump into one.
    in_parallel: frozenset[str] = frozenset()

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


# ----------------------------------------------------------------- the state

OPEN = ("pending", "waiting")  # task states that still expect someone


@dataclass
class Task:
    id: int
    node: str
    visit: int  # which visit of the node (a node returned to is visited again)
    assignee: int
    kind: str  # approval | handler | cc
    state: str  # pending | waiting | approved | rejected | returned | transferred | cancelled | cc
    order: int = 0  # sequential approval: the place in the queue
    created_at: str = ""
    acted_at: str | None = None
    due_at: str | None = None
    reminders: int = 0
    on_behalf_of: int | None = None  # delegated: acting for this person
    added: str | None = None  # an added signer: before | after | parallel
    waits_for: list[int] = field(default_factory=list)  # before-signers this task waits on
    after_of: int | None = None  # an after-signer: active once this task approves
    auto: str | None = None  # why the system acted (auto-pass, same approver, timeout)
    comment: str | None = None

    @property
    def open(self) -> bool:
        return self.state in OPEN


@dataclass
class Token:
    """Where the flow stands; a parallel split makes one token per branch."""

    id: int
    node: str
    splits: list[str] = field(default_factory=list)  # parallel nodes this token is inside, innermost last
    arrived: bool = False  # waiting at a join


@dataclass
class State:
    status: str = "running"  # running | returned | approved | rejected | withdrawn
    submitter: int = 0
    tokens: list[Token] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    visits: dict[str, int] = field(default_factory=dict)
    passed: list[str] = field(default_factory=list)  # approval/handler nodes passed, in order
    approvals: dict[str, list[int]] = field(default_factory=dict)  # node -> users who approved it
    chosen: dict[str, list[int]] = field(default_factory=dict)  # approvers the submitter chose
    return_to: str | None = None  # the node that returned the record to the submitter
    acted: bool = False  # someone other than the system acted since the last submission
    next_id: int = 1
    submitted_at: str = ""

    def task(self, task_id: int) -> Task | None:
        return next((t for t in self.tasks if t.id == task_id), None)

    def open_tasks(self, node: str | None = None) -> list[Task]:
        return [t for t in self.tasks if t.open and (node is None or t.node == node)]

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> State:
        values = dict(data)
        values["tokens"] = [Token(**t) for t in data.get("tokens", [])]
        values["tasks"] = [Task(**t) for t in data.get("tasks", [])]
        return cls(**values)


# ----------------------------------------------------------------- events


@dataclass(frozen=True)
class Submit:
    actor: int
    chosen: Mapping[str, list[int]] = field(default_factory=dict)
    comment: str | None = None


@dataclass(frozen=True)
class Act:
    """A person acts on a task: approve, reject, return, transfer, add_signer, delegate."""

    actor: int
    task: int
    action: str
    comment: str | None = None
    target: str | None = None  # return: "submitter", "previous" or a node id
    to: int | None = None  # transfer / delegate: the person
    users: tuple[int, ...] = ()  # add_signer: the people
    position: str = "after"  # add_signer: before | after | parallel
    changes: Mapping[str, Any] = field(default_factory=dict)  # fields the actor changed (for the history)


@dataclass(frozen=True)
class HandOver:
    """An administrator hands someone's open task to another person (a colleague who left, say)."""

    actor: int
    task: int
    to: int
    comment: str | None = None


@dataclass(frozen=True)
class Withdraw:
    actor: int
    comment: str | None = None


@dataclass(frozen=True)
class Urge:
    actor: int
    comment: str | None = None


@dataclass(frozen=True)
class Comment:
    actor: int
    text: str
    files: tuple[Any, ...] = ()
    mentions: tuple[int, ...] = ()  # people named with @ in the comment: told, even if not in the flow


@dataclass(frozen=True)
class Timeout:
    """A timer of a task fell due: `kind` is remind or timeout."""

    task: int
    kind: str


Event = Submit | Act | HandOver | Withdraw | Urge | Comment | Timeout


# ----------------------------------------------------------------- effects


@dataclass(frozen=True)
class Log:
    """One line of the instance's immutable timeline."""

    action: str
    actor: int | None
    node: str | None = None
    task: int | None = None
    comment: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notify:
    users: tuple[int, ...]
    kind: str  # task | cc | urge | remind | approved | rejected | returned | escalated
    task: int | None = None
    text: str = ""


@dataclass(frozen=True)
class SetStatus:
    status: str  # the record's status: draft, in_review, approved, rejected, withdrawn


@dataclass(frozen=True)
class Schedule:
    task: int
    kind: str  # remind | timeout
    due: datetime


@dataclass(frozen=True)
class RunAction:
    """An automatic action node: update this record, or create one in another form."""

    node: str
    action: Mapping[str, Any]


Effect = Log | Notify | SetStatus | Schedule | RunAction


class Reason(StrEnum):
    """Why an event cannot apply; the shell answers each with its own HTTP status."""

    NOT_YOURS = "not_yours"  # the actor may not do this: not the submitter, not the assignee
    NO_SUCH_TASK = "no_such_task"  # the event names a task the instance does not have
    INVALID = "invalid"  # the event names something that cannot be: a person, a step, a choice; a missing comment
    NOT_NOW = "not_now"  # the flow or the task is not in a state that takes it: ended, not your turn, handled
    FLOW_STUCK = "flow_stuck"  # the flow cannot go on from here: no branch matches, a loop, a missing node


class FlowError(Exception):
    """The event cannot apply (wrong person, task already handled, no branch matches...).

    `reason` says why, in words the shell maps to a status; `path` names the part
    of the event that is wrong (`comment`), when one is."""

    def __init__(self, message: str, reason: Reason, path: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.path = path


# ----------------------------------------------------------------- the world


class Directory(Protocol):
    """What the engine may ask about the organisation (a snapshot the shell loads)."""

    def department_of(self, user: int) -> int | None: ...
    def parent_of(self, department: int) -> int | None: ...
    def head_of(self, department: int) -> int | None: ...
    def manager_of(self, user: int) -> int | None: ...
    def role_members(self, role: str) -> list[int]: ...
    def delegate_of(self, user: int, now: datetime) -> int | None: ...
    def admins(self) -> list[int]: ...
    def is_active(self, user: int) -> bool: ...


@dataclass(frozen=True)
class Context:
    now: datetime
    record: Mapping[str, Any]  # the record's values (parsed), for conditions and field approvers
    directory: Directory
    evaluate: Any = None  # (condition, record) -> bool: runtime/conditions.evaluate bound to a clock
