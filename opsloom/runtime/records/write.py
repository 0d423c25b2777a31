"""Writing records: the stages of each kind of write, their order, and the functions callers use.

The order of a create, in one place (`CREATE`):

    parse -> defaults -> compute -> rules -> unique -> links -> files
          -> insert -> child_rows -> audit -> numbers -> history

Nothing is written before every record of the request passed `rules` (a bulk create
is all or nothing). Autonumbers come after the rows are stored: a form's counter stays
locked until commit and every create of the form waits for it, so a create takes it
as late as it can, just before the history that shows the numbers. An update
(`UPDATE`) loads and locks the record first and merges what was sent into it;
delete, restore and a status the flow sets are short pipelines of their own. The
form's own parsing and computing stay with the compiled form (`forms.py`); the
stages call them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import (
    BadRequest,
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ValidationFailed,
)
from opsloom.platform.permissions import FormAccess
from opsloom.runtime import attachments, autonumbers, subforms
from opsloom.runtime.access import eval_context
from opsloom.runtime.fields import FieldSpec, unit_of
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.formulas import FormulaContext
from opsloom.runtime.records.history import append_audit, append_history
from opsloom.runtime.records.links import check_links, check_row_links, release_links
from opsloom.runtime.records.pipeline import WriteContext, WriteItem, WritePipeline
from opsloom.runtime.records.read import attach_rows, live, load
from opsloom.runtime.records.uniqueness import check_unique, readable, store
from opsloom.runtime.rules import check_rules, empty_hidden

MAX_BULK = 1000
LOCKED_STATUSES = ("in_review", "approved")


# ------------------------------------------------------------------ stages


async def _parse_new(write: WriteContext) -> None:
    """Each record as the caller sees the form; a visible field left out takes its literal
    default, checked as if sent."""
    form, view, access = write.form, write.view, write.access
    assert access is not None
    for item in write.live():
        _refuse_read_only(item.payload, access, item.path)
        payload = item.payload
        if isinstance(payload, dict):
            payload = {**view.literal_defaults(exclude=payload), **payload}
        try:
            parsed = view.parse_input(payload, partial=False, zone=write.ctx.zone, prefix=item.path)
        except ValidationFailed as failed:
            write.refuse(item, failed.errors)
            continue
        item.sent = _given(form, parsed, item.payload)
        item.values = dict(parsed)
        for key in form.children:  # rows get computed values and may be emptied; `sent` keeps what was sent
            if parsed.get(key) is not None:
                item.values[key] = [dict(row) for row in parsed[key]]


async def _parse_change(write: WriteContext) -> None:
    """The fields an update sends (only those)."""
    assert write.access is not None
    (item,) = write.items
    _refuse_read_only(item.payload, write.access, "")
    item.sent = write.view.parse_input(item.payload, partial=True, zone=write.ctx.zone)


async def _defaults(write: WriteContext) -> None:
    """The literal defaults of the fields the caller cannot see; every other field starts empty.
    (Formula defaults are computed with the formulas.)"""
    form, zone = write.form, write.ctx.zone
    for item in write.live():
        values = item.values
        for key, default in form.literal_defaults(exclude=values).items():
            spec = form.by_key[key]
            values[key] = form.unit(spec).parse(spec, default, zone)
        for spec in form.fields:
            values.setdefault(spec.key, None)


async def _load_for_update(write: WriteContext) -> None:
    """The record, locked (FOR NO KEY UPDATE: records linking to it may still be written)."""
    assert write.access is not None and write.record_id is not None
    current = await load(
        write.session, write.form, write.ctx, write.record_id, write.access, action="update", lock=True, keep_key=True
    )
    check_version(current, write.expected_version)
    if not write.options.get("in_flow"):
        _refuse_locked(current)
    write.current = current


async def _resolve_files(write: WriteContext) -> None:
    """Files named by attachment fields: uploaded to this field by the caller (or already the
    record's); their ids become the files' metadata."""
    if write.operation == "update":
        rows, paths = [item.sent for item in write.items], [""]
    else:
        rows, paths = [item.values for item in write.items], [item.path for item in write.items]
    await attachments.resolve_attachments(write.session, write.form, write.ctx, rows, paths, record_id=write.record_id)


async def _merge(write: WriteContext) -> None:
    """The stored record with the sent values over it; sent subform rows merged into the stored ones."""
    session, form, view, current = write.session, write.form, write.view, write.current
    assert current is not None and write.record_id is not None
    (item,) = write.items
    before = view.dump_row(current)
    stored = {spec.key: current[spec.column] for spec in form.fields if unit_of(spec).has_column}
    if form.children:
        loaded = await subforms.load_rows(session, form, [write.record_id])
        for key, child in form.children.items():
            stored[key] = subforms.stored_values(child, loaded[key][write.record_id])
            if key in view.by_key:
                before[key] = subforms.dump_values(child, stored[key])
    merged = stored | item.sent
    for key, child in form.children.items():
        if key in item.sent:
            merged[key] = subforms.merge_rows(child, item.sent[key], stored[key], key)
            item.errors += subforms.missing_required(child, merged[key], key)
        else:  # copies: computing and rules change rows in place, `stored` must stay as stored
            merged[key] = [dict(row) for row in stored[key]]
    item.stored, item.values, item.previous = stored, merged, before


async def _compute(write: WriteContext) -> None:
    """Formulas computed (with formula defaults on create), and the fields the rules hide emptied."""
    for item in write.live():
        _settle(write.form, item.values, write.ctx, creating=write.operation == "create")


async def _rules(write: WriteContext) -> None:
    """Field rules and validations, of the record and of each subform row; every problem of
    every record is reported at once, and nothing is written if there is one."""
    evaluation = eval_context(write.ctx)
    for item in write.live():
        problems = _rule_problems(write.form, item.values, item.sent, item.stored, evaluation, item.path)
        if problems or item.errors:
            write.refuse(item, problems)
    write.raise_problems()


async def _diff(write: WriteContext) -> None:
    """What an update changes; when nothing, the write ends here (the record is answered as is)."""
    (item,) = write.items
    assert item.stored is not None
    item.changed = {key: value for key, value in item.values.items() if value != item.stored[key]}
    if not item.changed:
        item.record = item.previous
        write.finished = True


async def _unique(write: WriteContext) -> None:
    assert write.access is not None
    scope = readable(write.form, write.ctx, write.access)
    if write.operation == "update":
        rows, paths = [write.items[0].changed], [""]
    elif write.operation == "restore":
        assert write.current is not None
        rows, paths = [{s.key: write.current[s.column] for s in write.form.fields if s.unique}], [""]
    else:
        rows, paths = [item.values for item in write.items], [item.path for item in write.items]
    await check_unique(write.session, write.form, rows, paths, exclude_id=write.record_id, readable=scope)


async def _links(write: WriteContext) -> None:
    """Every link names an existing person, department or live record (share-locked until commit)."""
    if write.operation == "update":
        rows, paths = [write.items[0].changed], [""]
    else:
        rows, paths = [item.values for item in write.items], [item.path for item in write.items]
    await check_links(write.session, write.form, rows, paths)
    await check_row_links(write.session, write.form, rows, paths)


async def _insert(write: WriteContext) -> None:
    form, ctx = write.form, write.ctx
    actor = ctx.principal.user_id
    system = {
        "version": 1,
        "status": "draft",
        "created_at": ctx.now,
        "created_by": actor,
        "updated_at": ctx.now,
        "updated_by": actor,
        "owner_id": actor,
        "department_id": ctx.principal.department_id,
    }
    table = form.table
    params = [{**system, **_columns(form, item.values)} for item in write.items]
    statement = insert(table).returning(*table.c, sort_by_parameter_order=True)
    rows, paths = [item.values for item in write.items], [item.path for item in write.items]
    result = await store(write.session, form, statement, params, rows=rows, paths=paths, ctx=ctx, access=write.access)
    for item, row in zip(write.items, result.mappings().all(), strict=True):
        item.row = row
        item.record = form.dump_row(row)


async def _insert_children(write: WriteContext) -> None:
    """What hangs off the new records: their files, and their subform rows."""
    session, form = write.session, write.form
    for item in write.items:
        assert item.row is not None
        await attachments.link_attachments(session, form, write.ctx, item.row["id"], None, item.values)
    for key, child in form.children.items():
        pairs = [(item.row["id"], item.values[key] or []) for item in write.items if item.row is not None]
        await subforms.insert_rows(session, child, pairs)
        for item in write.items:
            assert item.record is not None
            item.record[key] = subforms.dump_values(child, item.values[key] or [])


async def _audit_create(write: WriteContext) -> None:
    entries = [(item.record["id"], 1, "create") for item in write.items if item.record is not None]
    await append_audit(write.session, write.form, write.ctx, entries)


async def _numbers(write: WriteContext) -> None:
    """Number the records just inserted (their autonumber columns still empty)."""
    form, ctx = write.form, write.ctx
    specs = [spec for spec in form.fields if unit_of(spec).numbered]
    if not specs:
        return
    items = write.items
    for spec in specs:
        period = autonumbers.period_of(autonumbers.reset_of(spec.raw), ctx.now, ctx.zone)
        numbers = await autonumbers.take_numbers(write.session, form.form_id, spec.id, period, len(items))
        for item, seq in zip(items, numbers, strict=True):
            assert item.record is not None
            item.values[spec.key] = autonumbers.render(spec.raw["pattern"], seq, ctx.now, ctx.zone, item.values)
            item.record[spec.key] = form.dump_value(spec.key, item.values[spec.key])
    t = form.table  # bind names in capitals: no column (a lower-case field key) has them
    statement = (
        update(t)
        .where(t.c.id == bindparam("Record"))
        .values({spec.column: bindparam(f"Number{i}") for i, spec in enumerate(specs)})
    )
    params = [
        {"Record": item.record_id, **{f"Number{i}": item.values[spec.key] for i, spec in enumerate(specs)}}
        for item in items
    ]
    await write.session.execute(statement, params, execution_options={"synchronize_session": False})


async def _history_create(write: WriteContext) -> None:
    entries = []
    for item in write.items:
        assert item.record is not None
        changes = {k: {"before": None, "after": item.record[k]} for k, v in item.values.items() if v is not None}
        entries.append((item.record["id"], 1, "create", changes))
    await append_history(write.session, write.form, write.ctx, entries, audit=False)


async def _update(write: WriteContext) -> None:
    form, ctx, current = write.form, write.ctx, write.current
    assert current is not None
    (item,) = write.items
    t = form.table
    statement = (
        update(t)
        .where(t.c.id == write.record_id, t.c.version == current["version"], live(form))
        .values(
            **_columns(form, item.changed),
            version=current["version"] + 1,
            updated_at=ctx.now,
            updated_by=ctx.principal.user_id,
        )
        .returning(*t.c)
    )
    result = await store(
        write.session,
        form,
        statement,
        None,
        rows=[item.changed],
        paths=[""],
        ctx=ctx,
        access=write.access,
        exclude_id=write.record_id,
    )
    row = result.mappings().first()
    if row is None:  # a concurrent writer got there first
        raise PreconditionFailed(
            f"Record {write.record_id} was changed by someone else; reload it and apply your change again"
        )
    item.row = row
    item.record = write.view.dump_row(row)


async def _replace_children(write: WriteContext) -> None:
    """The record's subform rows as merged, and its files: new ones attached, dropped ones detached."""
    session, form, view = write.session, write.form, write.view
    (item,) = write.items
    assert item.record is not None and item.stored is not None and write.record_id is not None
    for key, child in form.children.items():
        if key in item.changed:
            await subforms.replace_rows(session, child, write.record_id, item.changed[key], item.stored[key])
        if key in view.by_key:
            item.record[key] = subforms.dump_values(child, item.values[key])
    await attachments.link_attachments(session, form, write.ctx, write.record_id, item.stored, item.changed)


async def _history_update(write: WriteContext) -> None:
    (item,) = write.items
    before, after = item.previous, item.record
    assert before is not None and after is not None and item.row is not None
    diff = {key: {"before": before[key], "after": after[key]} for key in item.changed if key in after}
    await append_history(write.session, write.form, write.ctx, [(item.row["id"], item.row["version"], "update", diff)])


async def _load_for_delete(write: WriteContext) -> None:
    """The record, locked FOR UPDATE: writes that link to it wait, and see it gone."""
    assert write.access is not None and write.record_id is not None
    current = await load(
        write.session, write.form, write.ctx, write.record_id, write.access, action="delete", lock=True
    )
    _refuse_locked(current)
    write.current = current


async def _release(write: WriteContext) -> None:
    """Links to the record: emptied where they may be, else the delete is refused."""
    assert write.record_id is not None
    await release_links(write.session, write.ctx, write.record_id, list(write.options.get("referrers", ())))


async def _mark_deleted(write: WriteContext) -> None:
    assert write.current is not None
    check_version(write.current, write.expected_version)
    await _set_deleted(write, write.ctx.now)


async def _load_deleted(write: WriteContext) -> None:
    assert write.access is not None and write.record_id is not None
    write.current = await load(
        write.session, write.form, write.ctx, write.record_id, write.access, action="delete", deleted=True, lock=True
    )


async def _mark_restored(write: WriteContext) -> None:
    await _set_deleted(write, None)


async def _set_deleted(write: WriteContext, deleted_at: Any) -> None:
    form, ctx, current = write.form, write.ctx, write.current
    assert current is not None
    t = form.table
    statement = (
        update(t)
        .where(t.c.id == current["id"], t.c.version == current["version"])
        .values(
            deleted_at=deleted_at, version=current["version"] + 1, updated_at=ctx.now, updated_by=ctx.principal.user_id
        )
        .returning(*t.c)
    )
    if deleted_at is None:  # live again: its unique values may have been taken meanwhile
        values = {spec.key: current[spec.column] for spec in form.fields if spec.unique}
        result = await store(
            write.session,
            form,
            statement,
            None,
            rows=[values],
            paths=[""],
            ctx=ctx,
            access=write.access,
            exclude_id=current["id"],
        )
    else:
        result = await write.session.execute(statement)
    row = result.mappings().first()
    if row is None:
        raise PreconditionFailed(f"Record {current['id']} was changed by someone else; try again")
    write.items[0].row = row


async def _history_line(write: WriteContext) -> None:
    """A line of history with no field changes (a delete, a restore)."""
    row = write.items[0].row
    assert row is not None
    await append_history(write.session, write.form, write.ctx, [(row["id"], row["version"], write.operation, {})])


async def _set_status(write: WriteContext) -> None:
    form, ctx = write.form, write.ctx
    (item,) = write.items
    t = form.table
    before = (await write.session.execute(select(t.c.status).where(t.c.id == write.record_id))).scalar()
    status = write.options["status"]
    row = (
        (
            await write.session.execute(
                update(t)
                .where(t.c.id == write.record_id)
                .values(status=status, version=t.c.version + 1, updated_at=ctx.now, updated_by=ctx.principal.user_id)
                .returning(t.c.id, t.c.version)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"{form.key} has no record {write.record_id}")
    item.row = row
    item.changed = {"status": {"before": before, "after": status}}


async def _history_status(write: WriteContext) -> None:
    (item,) = write.items
    assert item.row is not None
    entry = (item.row["id"], item.row["version"], "status", item.changed)
    await append_history(write.session, write.form, write.ctx, [entry])


# --------------------------------------------------------------- pipelines


CREATE = WritePipeline(
    "create",
    (
        ("parse", _parse_new),
        ("defaults", _defaults),
        ("compute", _compute),
        ("rules", _rules),
        ("unique", _unique),
        ("links", _links),
        ("files", _resolve_files),
        ("insert", _insert),
        ("child_rows", _insert_children),
        ("audit", _audit_create),
        ("numbers", _numbers),
        ("history", _history_create),
    ),
)
UPDATE = WritePipeline(
    "update",
    (
        ("parse", _parse_change),
        ("load", _load_for_update),
        ("files", _resolve_files),
        ("merge", _merge),
        ("compute", _compute),
        ("rules", _rules),
        ("diff", _diff),
        ("unique", _unique),
        ("links", _links),
        ("update", _update),
        ("child_rows", _replace_children),
        ("history", _history_update),
    ),
)
DELETE = WritePipeline(
    "delete",
    (
        ("load", _load_for_delete),
        ("links", _release),
        ("delete", _mark_deleted),
        ("history", _history_line),
    ),
)
RESTORE = WritePipeline(
    "restore",
    (
        ("load", _load_deleted),
        ("unique", _unique),
        ("restore", _mark_restored),
        ("history", _history_line),
    ),
)
STATUS = WritePipeline("status", (("status", _set_status), ("history", _history_status)))
PIPELINES = {p.operation: p for p in (CREATE, UPDATE, DELETE, RESTORE, STATUS)}


# ------------------------------------------------------------ the writes


async def create_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    payload: Any,
    access: FormAccess,
) -> dict[str, Any]:
    access.require("create")
    write = WriteContext("create", session, form, ctx, access, [WriteItem(0, "", payload)])
    await CREATE.run(write)
    return _answer(write)[0]


async def create_records(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    payloads: Any,
    access: FormAccess,
) -> list[dict[str, Any]]:
    """All or nothing: every record is validated before any is written."""
    access.require("create")
    if not isinstance(payloads, list) or not payloads:
        raise BadRequest(
            "Send the records to create as a non-empty list",
            [FieldError("records", 'expected {"records": [{...}, ...]}')],
        )
    if len(payloads) > MAX_BULK:
        raise BadRequest(
            f"Too many records in one request ({len(payloads)})",
            [FieldError("records", f"send at most {MAX_BULK} records per request")],
        )
    items = [WriteItem(i, f"records[{i}].", payload) for i, payload in enumerate(payloads)]
    write = WriteContext("create", session, form, ctx, access, items)
    await CREATE.run(write)
    return _answer(write)


def _answer(write: WriteContext) -> list[dict[str, Any]]:
    """The new records as the caller sees them (the history holds every field)."""
    records = [item.record for item in write.items if item.record is not None]
    view, form = write.view, write.form
    if view is form:
        return records
    return [{k: v for k, v in record.items() if k in view.by_key or k not in form.by_key} for record in records]


async def update_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    payload: Any,
    expected_version: int | None,
    access: FormAccess,
    *,
    in_flow: bool = False,
) -> dict[str, Any]:
    """Change a record. One in review or approved changes only through its flow (`in_flow`)."""
    access.require("update")
    write = WriteContext(
        "update",
        session,
        form,
        ctx,
        access,
        [WriteItem(0, "", payload)],
        record_id=record_id,
        expected_version=expected_version,
        options={"in_flow": in_flow},
    )
    await UPDATE.run(write)
    record = write.items[0].record
    assert record is not None
    return record


async def delete_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    expected_version: int | None,
    access: FormAccess,
    referrers: Sequence[tuple[CompiledForm, FieldSpec]] = (),
) -> None:
    access.require("delete")
    write = WriteContext(
        "delete",
        session,
        form,
        ctx,
        access,
        [WriteItem(0, "")],
        record_id=record_id,
        expected_version=expected_version,
        options={"referrers": referrers},
    )
    await DELETE.run(write)


async def restore_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
) -> dict[str, Any]:
    access.require("delete")
    write = WriteContext("restore", session, form, ctx, access, [WriteItem(0, "")], record_id=record_id)
    await RESTORE.run(write)
    row = write.items[0].row
    assert row is not None
    record = write.view.dump_row(row)
    await attach_rows(session, write.view, [record])  # answered as a read would show it, rows included
    return record


async def set_status(
    session: AsyncSession, form: CompiledForm, ctx: RequestContext, record_id: int, status: str
) -> None:
    """The flow moved the record: its status changes, with a line of history."""
    write = WriteContext("status", session, form, ctx, None, [WriteItem(0, "")], record_id=record_id)
    write.options["status"] = status
    await STATUS.run(write)


async def purge_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
    store: Any,
) -> None:
    """Remove a deleted record for good: its row, subform rows, history and files.

    Only records already deleted (and so restorable until now) can be purged, by
    people who manage the form; the audit log keeps that it happened."""
    access.require("manage")
    await load(session, form, ctx, record_id, access, action="manage", deleted=True, lock=True)
    for child in form.children.values():
        await session.execute(delete(child.table).where(child.table.c.parent_id == record_id))
    await session.execute(delete(form.table).where(form.table.c.id == record_id))
    h = tables.record_history
    await session.execute(delete(h).where(h.c.form_id == form.form_id, h.c.record_id == record_id))
    files = await attachments.purge_record_files(session, store, form.form_id, [record_id])
    await session.execute(
        insert(tables.audit_log).values(
            at=ctx.now,
            actor_id=ctx.principal.user_id,
            action="record.purge",
            target=f"{form.app}/{form.key}/{record_id}",
            ip=ctx.ip,
            detail={"files": files},
        )
    )


async def lock_for_flow(
    session: AsyncSession, form: CompiledForm, ctx: RequestContext, record_id: int, access: FormAccess
) -> Mapping[str, Any]:
    """The record being submitted to its flow, locked; submitting takes the right to update it."""
    access.require("update")
    return await load(session, form, ctx, record_id, access, action="update", lock=True)


# ------------------------------------------------------------------ shared


def formula_context(ctx: RequestContext) -> FormulaContext:
    return FormulaContext(now=ctx.now, zone=ctx.zone, user_id=ctx.principal.user_id)


def check_version(row: Mapping[str, Any], expected: int | None) -> None:
    if expected is not None and row["version"] != expected:
        raise PreconditionFailed(
            f"Record {row['id']} is at version {row['version']}, not {expected}: someone changed it "
            "after you read it. Reload it and apply your change again.",
            extra={"current_version": row["version"]},
        )


def _refuse_locked(row: Mapping[str, Any]) -> None:
    if row["status"] in LOCKED_STATUSES:
        state = "in review" if row["status"] == "in_review" else "approved"
        raise Conflict(
            f"Record {row['id']} is {state}: it changes only through its approval flow "
            "(the step's editable fields), or after it is returned, withdrawn or rejected"
        )


def _refuse_read_only(payload: Any, access: FormAccess, prefix: str) -> None:
    if not isinstance(payload, dict) or not access.read_only:
        return
    locked = [k for k in payload if k in access.read_only]
    if locked:
        raise PermissionDenied(
            "You may not set " + ", ".join(locked) + "; your role makes them read-only",
            [FieldError(f"{prefix}{k}", "is read-only for you") for k in locked],
        )


def _given(form: CompiledForm, parsed: dict[str, Any], payload: Any) -> dict[str, Any]:
    """The parsed values the caller sent, without the literal defaults that filled the rest
    (a default of a field the rules hide is emptied, not refused as if sent)."""
    given = {key: value for key, value in parsed.items() if key in payload}
    for key in form.children:
        if given.get(key):
            given[key] = [
                {k: v for k, v in row.items() if k == "id" or k in raw}
                for row, raw in zip(given[key], payload[key], strict=True)
            ]
    return given


def _settle(form: CompiledForm, values: dict[str, Any], ctx: RequestContext, *, creating: bool) -> None:
    """The record as it will be stored: formulas computed, and the fields its rules hide
    emptied, then formulas again, which may read them. Every pass empties a field for good
    (formulas never fill one again), so this ends."""
    form.compute(values, formula_context(ctx), creating=creating)
    while empty_hidden(form, values, eval_context(ctx)):
        form.compute(values, formula_context(ctx), defaults=False)


def _rule_problems(
    form: CompiledForm,
    record: Mapping[str, Any],
    sent: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    ctx: Any,
    prefix: str = "",
) -> list[FieldError]:
    """Field rules and validations of the record, then of each of its subform rows."""
    problems = check_rules(form.rules, record, sent, before, ctx, prefix)
    for key, child in form.children.items():
        if key not in sent:
            continue
        stored = {row["id"]: row for row in (before or {}).get(key) or []}
        sent_rows = sent[key] or []
        for i, row in enumerate(record.get(key) or []):
            row_prefix = f"{prefix}{key}[{i}]."
            problems += check_rules(child.rules, row, sent_rows[i], stored.get(row["id"]), ctx, row_prefix)
    return problems


def _columns(form: CompiledForm, values: Mapping[str, Any]) -> dict[str, Any]:
    """Column values of a record's fields (subform rows live in their own tables)."""
    return {form.by_key[key].column: value for key, value in values.items() if key not in form.children}
