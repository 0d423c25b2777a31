"""Judging and storing a batch of spreadsheet rows through the record write pipelines.

Every row becomes a create or an update of the records service (`CREATE`,
`UPDATE` in `records/write.py`): parsed, defaulted, computed, judged by the
form's rules, checked for unique values and links, numbered and given its
history, exactly as the API would. Nothing here writes a form's table itself.

The creates of a batch go through one pipeline run, in a savepoint, and so do
its updates (upsert, update only: `UPDATE_MANY`); the pipeline reports every
refused row with a path `rows[N].field`, so refused rows are set aside and the
rest run again. Should the updates fail as a whole (a unique value another
write took meanwhile), they run again one by one, each in its own savepoint,
so each row gets its own answer. A dry run stops before the first stage that
writes (`links` is the last that only reads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import RequestContext
from opsloom.platform.errors import FieldError, OpsloomError
from opsloom.platform.permissions import FormAccess
from opsloom.runtime.fields import FieldSpec, Invalid, unit_of
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.records.pipeline import WriteContext, WriteItem, WritePipeline
from opsloom.runtime.records.read import live
from opsloom.runtime.records.write import CREATE, UPDATE, UPDATE_MANY

MODES = ("insert", "upsert", "update_only", "skip_existing")
POLICIES = ("all_or_nothing", "skip_bad_rows")
_ROW_PATH = re.compile(r"^rows\[(\d+)\]\.?(.*)$")
_ROW_IN_TEXT = re.compile(r"\brows\[(\d+)\]\.")


@dataclass
class RowPlan:
    """One data row of the file, on its way to becoming a record."""

    number: int
    cells: list[Any]
    payload: dict[str, Any]
    action: str = "insert"  # insert, update, skip
    existing_id: int | None = None
    record_id: int | None = None
    errors: list[FieldError] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.errors:
            return "failed"
        return {"insert": "inserted", "update": "updated", "skip": "skipped"}[self.action]


def import_access(access: FormAccess) -> FormAccess:
    """What an import may do: create and update within the scope of its `import` right."""
    access.require("import")
    scope = access.scope("import")
    return replace(access, scopes={**access.scopes, "create": scope, "update": scope})


async def plan_actions(
    session: AsyncSession, form: CompiledForm, ctx: RequestContext, plans: list[RowPlan], mode: str, key: str | None
) -> None:
    """Insert, update or skip each row, as the mode says, by the key field's value."""
    if mode == "insert" or key is None:
        return
    spec = form.by_key[key]
    values: dict[int, Any] = {}
    for plan in plans:
        value = _key_value(spec, plan.payload.get(key), ctx)
        if value is None:
            plan.errors.append(FieldError(key, f"is the key of this import ({mode}): give it a value"))
        else:
            values[plan.number] = value
    existing: dict[Any, int] = {}
    wanted = list(set(values.values()))
    column, t = form.column(spec), form.table
    for start in range(0, len(wanted), 500):
        rows = await session.execute(select(column, t.c.id).where(column.in_(wanted[start : start + 500]), live(form)))
        existing.update({value: ident for value, ident in rows.all()})
    for plan in plans:
        if plan.errors or plan.number not in values:
            continue
        found = existing.get(values[plan.number])
        if found is None:
            if mode == "update_only":
                plan.errors.append(FieldError(key, f"no record has {plan.payload.get(key)!r}: nothing to update"))
            continue
        plan.existing_id = found
        plan.action = "skip" if mode == "skip_existing" else "update"


def _key_value(spec: FieldSpec, raw: Any, ctx: RequestContext) -> Any:
    if raw is None or raw == "":
        return None
    try:
        return unit_of(spec).parse(spec, raw, ctx.zone)
    except (Invalid, ValueError, TypeError):
        return None


async def run_batch(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    access: FormAccess,
    plans: list[RowPlan],
    *,
    store: bool,
    audit: dict[str, Any] | None = None,
) -> None:
    """Judge (and with `store`, write) the rows; each refused row keeps its problems. The
    creates of the batch make one line in the audit log, with `audit` in its detail, and so
    do its updates."""
    creates = [p for p in plans if p.action == "insert" and not p.errors]
    updates = [p for p in plans if p.action == "update" and not p.errors]
    options = {"audit_batch": audit or {}}
    await _write(
        session, form, ctx, access, CREATE, creates, store=store, options=options | {"history_action": "import"}
    )
    for updating in _rounds(updates):
        if not await _write(session, form, ctx, access, UPDATE_MANY, updating, store=store, options=options):
            for plan in updating:  # a problem of the whole batch (a value taken meanwhile): row by row
                plan.errors.clear()
                await _update(session, form, ctx, access, plan, store=store)


def _rounds(updates: list[RowPlan]) -> list[list[RowPlan]]:
    """The updates in rounds that change each record once: rows naming one record apply in file order."""
    rounds: list[list[RowPlan]] = []
    seen: dict[int | None, int] = {}
    for plan in updates:
        n = seen[plan.existing_id] = seen.get(plan.existing_id, -1) + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(plan)
    return rounds


async def _write(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    access: FormAccess,
    pipeline: WritePipeline,
    plans: list[RowPlan],
    *,
    store: bool,
    options: dict[str, Any],
) -> bool:
    """The rows through one pipeline run, in a savepoint; a refused row leaves and the rest run
    again. False (each row told) when a problem names no row."""
    pending = list(plans)
    while pending:
        by_number = {p.number: p for p in pending}
        items = [WriteItem(i, f"rows[{p.number}].", _sent(p), target=p.existing_id) for i, p in enumerate(pending)]
        write = WriteContext(pipeline.operation, session, form, ctx, access, items, options=dict(options))
        try:
            async with session.begin_nested():
                await pipeline.run(write, until=None if store else "links")
        except OpsloomError as error:
            refused = _assign(error, by_number)
            if not refused:  # a problem of the whole batch: each row is told
                for plan in pending:
                    plan.errors.append(FieldError("", error.detail))
                return False
            pending = [p for p in pending if p.number not in refused]
            continue
        for plan, item in zip(pending, write.items, strict=True):
            plan.record_id = item.record_id if item.target is None else item.target
        return True
    return True


def _sent(plan: RowPlan) -> dict[str, Any]:
    if plan.action == "insert":
        return plan.payload
    return {k: v for k, v in plan.payload.items() if v is not None}  # an empty cell keeps the value


def _assign(error: OpsloomError, plans: dict[int, RowPlan]) -> set[int]:
    """Give each row the problems whose paths name it; answer the rows named."""
    named: set[int] = set()
    for problem in error.errors:
        match = _ROW_PATH.match(problem.path)
        if match is None or int(match.group(1)) not in plans:
            continue
        number = int(match.group(1))
        message = _ROW_IN_TEXT.sub(r"row \1's ", problem.message)  # "repeats the value of row 2's code"
        plans[number].errors.append(FieldError(match.group(2), message))
        named.add(number)
    return named


async def _update(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    access: FormAccess,
    plan: RowPlan,
    *,
    store: bool,
) -> None:
    item = WriteItem(0, "", _sent(plan))
    write = WriteContext("update", session, form, ctx, access, [item], record_id=plan.existing_id)
    try:
        async with session.begin_nested():
            await UPDATE.run(write, until=None if store else "links")
    except OpsloomError as error:
        plan.errors.extend(error.errors or [FieldError("", error.detail)])
        return
    plan.record_id = plan.existing_id
