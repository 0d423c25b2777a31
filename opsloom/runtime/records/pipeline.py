"""A record write as a named pipeline of stages, with hooks before and after each stage.

Every write of a record (create, update, delete, restore, a status the flow sets, a purge)
is one `WritePipeline`: a fixed order of named stages that each take the same
`WriteContext`. `write.py` defines the stages and the order of each kind of
write; nothing else decides in which order a record is parsed, computed, judged,
checked and stored.

Other features plug in with hooks, registered per database (`write_hooks(db)`):

    hooks = write_hooks(app.state.db)
    hooks.after("history", write_events)   # e.g. an outbox, after every write

A hook is `async def hook(write: WriteContext) -> None`. It runs inside the
write's transaction, on the write's session: what it writes commits with the
record, and an exception it raises rolls the whole write back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import RequestContext
from opsloom.platform.errors import FieldError, ValidationFailed
from opsloom.platform.log_rows import together
from opsloom.platform.permissions import FormAccess
from opsloom.platform.types import StoredRow
from opsloom.runtime.forms import CompiledForm

HOOKS_KEY = "opsloom.write_hooks"  # where a database's sessions carry its hooks (`session.info`)


@dataclass
class WriteItem:
    """One record of a write (a bulk create or an update of many has many, every other write one)."""

    index: int
    path: str  # the prefix of its error paths: "" or "records[3]."
    payload: Any = None  # as the caller sent it
    target: int | None = None  # the record this item changes, in an update of many (`UPDATE_MANY`)
    sent: dict[str, Any] = field(default_factory=dict)  # the parsed values the caller sent
    values: dict[str, Any] = field(default_factory=dict)  # the record's values as they will be stored
    stored: dict[str, Any] | None = None  # the values stored before this write (update)
    changed: dict[str, Any] = field(default_factory=dict)  # what an update changes
    previous: dict[str, Any] | None = None  # the record before this write, as the caller sees it (update)
    row: StoredRow | None = None  # the table row after the write
    record: dict[str, Any] | None = None  # the record as the write answers it
    errors: list[FieldError] = field(default_factory=list)

    @property
    def record_id(self) -> int | None:
        return None if self.row is None else self.row["id"]


@dataclass
class WriteContext:
    """What every stage and every hook of one write sees."""

    operation: str  # "create", "update", "delete", "restore", "status" or "purge"
    session: AsyncSession
    form: CompiledForm
    ctx: RequestContext
    access: FormAccess | None  # None: the system writes (the flow setting a status)
    items: list[WriteItem]
    record_id: int | None = None  # the record an update, delete, restore or status change is about
    expected_version: int | None = None
    options: dict[str, Any] = field(default_factory=dict)  # what one kind of write needs besides
    current: StoredRow | None = None  # the stored row, locked (update, delete, restore)
    finished: bool = False  # a stage found nothing left to do (an update that changes nothing)
    failed: list[WriteItem] = field(default_factory=list)  # items refused by a stage, kept for their errors
    view: CompiledForm = field(init=False)  # the form as the caller sees it (hidden fields left out)

    def __post_init__(self) -> None:
        self.view = self.form if self.access is None else self.form.restricted(self.access.hidden)

    def live(self) -> list[WriteItem]:
        """The items no stage refused yet."""
        return list(self.items)

    def refuse(self, item: WriteItem, errors: list[FieldError]) -> None:
        """An item with problems leaves the write; `raise_problems` reports them all together."""
        item.errors.extend(errors)
        self.items.remove(item)
        self.failed.append(item)

    def raise_problems(self) -> None:
        """Every problem found so far, in the order of the records sent, as one 422."""
        if self.failed:
            errors = [e for item in sorted(self.failed, key=lambda i: i.index) for e in item.errors]
            raise ValidationFailed.of(errors)


Hook = Callable[[WriteContext], Awaitable[None]]
Stage = Callable[[WriteContext], Awaitable[None]]


class WriteHooks:
    """Hooks by stage name, before and after it, run in the order they were registered."""

    def __init__(self) -> None:
        self._before: dict[str, list[Hook]] = {}
        self._after: dict[str, list[Hook]] = {}

    def before(self, stage: str, hook: Hook) -> Hook:
        self._before.setdefault(_known(stage), []).append(hook)
        return hook

    def after(self, stage: str, hook: Hook) -> Hook:
        self._after.setdefault(_known(stage), []).append(hook)
        return hook

    def remove(self, hook: Hook) -> None:
        """Take a hook out wherever it was registered."""
        for hooks in (*self._before.values(), *self._after.values()):
            while hook in hooks:
                hooks.remove(hook)

    async def run_before(self, stage: str, write: WriteContext) -> None:
        for hook in self._before.get(stage, ()):
            await hook(write)

    async def run_after(self, stage: str, write: WriteContext) -> None:
        for hook in self._after.get(stage, ()):
            await hook(write)


NO_HOOKS = WriteHooks()
STAGE_NAMES: set[str] = set()  # every stage of every pipeline, filled as pipelines are defined


def _known(stage: str) -> str:
    if stage not in STAGE_NAMES:
        raise ValueError(f"no write has a stage {stage!r}; stages: {', '.join(sorted(STAGE_NAMES))}")
    return stage


def write_hooks(db: Any) -> WriteHooks:
    """The write hooks of a database (`opsloom.platform.database.Database`), made on first use."""
    hooks = db.session_info.get(HOOKS_KEY)
    if hooks is None:
        hooks = db.session_info[HOOKS_KEY] = WriteHooks()
    return hooks


def hooks_of(session: AsyncSession) -> WriteHooks:
    return session.info.get(HOOKS_KEY) or NO_HOOKS


class WritePipeline:
    """One kind of write: its stages in order, each a named step."""

    def __init__(self, operation: str, stages: tuple[tuple[str, Stage], ...]) -> None:
        self.operation = operation
        self.stages = stages
        STAGE_NAMES.update(name for name, _ in stages)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.stages)

    async def run(self, write: WriteContext, *, after: str | None = None, until: str | None = None) -> WriteContext:
        """Run the stages in order; `after`/`until` run a part (a write judged first, stored later)."""
        hooks = hooks_of(write.session)
        names = self.stage_names
        first = names.index(_known(after)) + 1 if after is not None else 0
        last = names.index(_known(until)) + 1 if until is not None else len(names)
        async with together(write.session):  # its history, audit and outbox rows: one statement at the end
            for name, stage in self.stages[first:last]:
                await hooks.run_before(name, write)
                await stage(write)
                await hooks.run_after(name, write)
                if write.failed and not write.items:  # every record refused: nothing further to judge
                    write.raise_problems()
                if write.finished:
                    break
        return write
