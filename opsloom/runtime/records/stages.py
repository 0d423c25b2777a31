"""The stages of record writes: each a step `async def stage(write: WriteContext)`.

Their order, for every kind of write, is in `write.py`; a stage does one thing to every
record of the write and leaves the rest to the stages after it. The form's own parsing
and computing stay with the compiled form (`forms.py`); the stages call them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import (
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
from opsloom.runtime.conditions.ast import EvalContext
from opsloom.runtime.fields import unit_of
from opsloom.runtime.forms import CompiledForm, StaleForm
from opsloom.runtime.formulas import FormulaContext
from opsloom.runtime.records.history import append_audit, append_audit_batch, append_history
from opsloom.runtime.records.links import check_links, check_row_links, release_links
from opsloom.runtime.records.pipeline import WriteContext, WriteItem
from opsloom.runtime.records.read import live, load
from opsloom.runtime.records.uniqueness import check_unique, readable, store
from opsloom.runtime.rules import check_rules, empty_hidden

LOCKED_STATUSES = ("in_review", "approved")


async def parse_new(write: WriteContext) -> None:
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


async def parse_change(write: WriteContext) -> None:
    """The fields an update sends (only those)."""
    assert write.access is not None
    (item,) = write.items
    _refuse_read_only(item.payload, write.access, "")
    item.sent = write.view.parse_input(item.payload, partial=True, zone=write.ctx.zone)


def parse_item_change(write: WriteContext, item: WriteItem) -> None:
    """One update of a batch: what it sends, or the item refused with the problems at its path."""
    assert write.access is not None
    try:
        _refuse_read_only(item.payload, write.access, item.path)
        item.sent = write.view.parse_input(item.payload, partial=True, zone=write.ctx.zone, prefix=item.path)
    except (PermissionDenied, ValidationFailed) as refused:
        write.refuse(item, refused.errors)


async def fill_defaults(write: WriteContext) -> None:
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


async def load_for_update(write: WriteContext) -> None:
    """The record, locked (FOR NO KEY UPDATE: records linking to it may still be written)."""
    assert write.access is not None and write.record_id is not None
    current = await load(
        write.session, write.form, write.ctx, write.record_id, write.access, action="update", lock=True, keep_key=True
    )
    check_version(current, write.expected_version)
    if not write.options.get("in_flow"):
        _refuse_locked(current)
    write.current = current


async def resolve_files(write: WriteContext) -> None:
    """Files named by attachment fields: uploaded to this field by the caller (or already the
    record's); their ids become the files' metadata."""
    if write.operation == "update":
        rows, paths = [item.sent for item in write.items], [""]
    else:
        rows, paths = [item.values for item in write.items], [item.path for item in write.items]
    await attachments.resolve_attachments(write.session, write.form, write.ctx, rows, paths, record_id=write.record_id)


async def merge_sent(write: WriteContext) -> None:
    """The stored record with the sent values over it; sent subform rows merged into the stored ones."""
    assert write.current is not None and write.record_id is not None
    (item,) = write.items
    loaded = await subforms.load_rows(write.session, write.form, [write.record_id]) if write.form.children else {}
    merge_into(write, item, write.current, loaded)


def merge_into(
    write: WriteContext, item: WriteItem, current: Mapping[str, Any], loaded: Mapping[str, Mapping[int, Any]]
) -> None:
    """One record's merge: `current` its stored row, `loaded` its subform rows (`subforms.load_rows`)."""
    form, view = write.form, write.view
    before = view.dump_row(current)
    stored = {spec.key: current[spec.column] for spec in form.fields if unit_of(spec).has_column}
    for key, child in form.children.items():
        stored[key] = subforms.stored_values(child, loaded[key][current["id"]])
        if key in view.by_key:
            before[key] = subforms.dump_values(child, stored[key])
    merged = stored | item.sent
    for key, child in form.children.items():
        if key in item.sent:
            merged[key] = subforms.merge_rows(child, item.sent[key], stored[key], f"{item.path}{key}")
            item.errors += subforms.missing_required(child, merged[key], f"{item.path}{key}")
        else:  # copies: computing and rules change rows in place, `stored` must stay as stored
            merged[key] = [dict(row) for row in stored[key]]
    item.stored, item.values, item.previous = stored, merged, before


async def compute(write: WriteContext) -> None:
    """Formulas computed (with formula defaults on create), and the fields the rules hide emptied."""
    formulas, evaluation = formula_context(write.ctx), eval_context(write.ctx)  # one write, one clock and user
    for item in write.live():
        _settle(write.form, item.values, formulas, evaluation, creating=write.operation == "create")


async def judge_rules(write: WriteContext) -> None:
    """Field rules and validations, of the record and of each subform row; every problem of
    every record is reported at once, and nothing is written if there is one."""
    evaluation = eval_context(write.ctx)
    for item in write.live():
        problems = _rule_problems(write.form, item.values, item.sent, item.stored, evaluation, item.path)
        if problems or item.errors:
            write.refuse(item, problems)
    write.raise_problems()


async def find_changes(write: WriteContext) -> None:
    """What an update changes; when nothing, the write ends here (the record is answered as is)."""
    (item,) = write.items
    if not changes_of(item):
        write.finished = True


def changes_of(item: WriteItem) -> dict[str, Any]:
    """The values an update changes (none: the record is answered as it was)."""
    assert item.stored is not None
    item.changed = {key: value for key, value in item.values.items() if value != item.stored[key]}
    if not item.changed:
        item.record = item.previous
    return item.changed


async def check_unique_values(write: WriteContext) -> None:
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


async def check_record_links(write: WriteContext) -> None:
    """Every link names an existing person, department or live record (share-locked until commit)."""
    if write.operation == "update":
        rows, paths = [write.items[0].changed], [""]
    else:
        rows, paths = [item.values for item in write.items], [item.path for item in write.items]
    await check_links(write.session, write.form, rows, paths)
    await check_row_links(write.session, write.form, rows, paths)


async def insert_records(write: WriteContext) -> None:
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
    params = [{**system, **columns_of(form, item.values)} for item in write.items]
    # Many rows go in a few multi-row INSERTs. PostgreSQL answers them in the order sent; SQLite
    # does not promise an order for RETURNING (SQLAlchemy would fall back to a statement per row),
    # but it numbers the rows in the order it inserts them, the order sent, and its one writer at
    # a time (BEGIN IMMEDIATE) keeps others from numbering in between: the rows sorted by id are
    # in the order sent.
    ordered = write.session.get_bind().dialect.name != "sqlite" or len(params) == 1
    statement = form.inserts[0] if ordered else form.inserts[1]
    unconfirmed = write.options.get("unconfirmed", False)
    if unconfirmed:  # the form came from the cache unasked: the INSERT confirms it (one row only)
        (one,) = params
        statement = form.confirmed_insert(tuple(one))
    rows, paths = [item.values for item in write.items], [item.path for item in write.items]
    result = await store(write.session, form, statement, params, rows=rows, paths=paths, ctx=ctx, access=write.access)
    stored = result.mappings().all()
    if unconfirmed and not stored:
        raise StaleForm(form.key)
    if not ordered:
        stored = sorted(stored, key=lambda row: row["id"])
    for item, row in zip(write.items, stored, strict=True):
        item.row = row
        item.record = form.dump_row(row)


async def insert_children(write: WriteContext) -> None:
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


async def audit_create(write: WriteContext) -> None:
    """A line per new record; a write that asks for it (an import: `audit_batch`) writes one line
    for all its records, naming them (the history still has an entry per record)."""
    action = write.options.get("history_action", "create")
    ids = [item.record["id"] for item in write.items if item.record is not None]
    batch = write.options.get("audit_batch")
    if batch is not None and len(ids) > 1:
        await append_audit_batch(write.session, write.form, write.ctx, action, ids, dict(batch))
        return
    await append_audit(write.session, write.form, write.ctx, [(record_id, 1, action) for record_id in ids])


async def assign_numbers(write: WriteContext) -> None:
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


async def history_create(write: WriteContext) -> None:
    """One entry per new record: "create", or what the write names it (an import: "import")."""
    action = write.options.get("history_action", "create")
    entries = []
    for item in write.items:
        assert item.record is not None
        changes = {k: {"before": None, "after": item.record[k]} for k, v in item.values.items() if v is not None}
        entries.append((item.record["id"], 1, action, changes))
    await append_history(write.session, write.form, write.ctx, entries, audit=False)


async def update_row(write: WriteContext) -> None:
    form, ctx, current = write.form, write.ctx, write.current
    assert current is not None
    (item,) = write.items
    t = form.table
    statement = (
        update(t)
        .where(t.c.id == write.record_id, t.c.version == current["version"], live(form))
        .values(
            **columns_of(form, item.changed),
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


async def replace_children(write: WriteContext) -> None:
    """The record's subform rows as merged, and its files: new ones attached, dropped ones detached."""
    (item,) = write.items
    await replace_children_of(write, item)


async def replace_children_of(write: WriteContext, item: WriteItem) -> None:
    session, form, view = write.session, write.form, write.view
    assert item.record is not None and item.stored is not None and item.row is not None
    record_id = item.row["id"]
    for key, child in form.children.items():
        if key in item.changed:
            await subforms.replace_rows(session, child, record_id, item.changed[key], item.stored[key])
        if key in view.by_key:
            item.record[key] = subforms.dump_values(child, item.values[key])
    await attachments.link_attachments(session, form, write.ctx, record_id, item.stored, item.changed)


async def history_update(write: WriteContext) -> None:
    (item,) = write.items
    await append_history(write.session, write.form, write.ctx, [update_entry(item)])


def update_entry(item: WriteItem) -> tuple[int, int, str, dict[str, Any]]:
    """The history entry of an update: each changed field, before and after."""
    before, after = item.previous, item.record
    assert before is not None and after is not None and item.row is not None
    diff = {key: {"before": before[key], "after": after[key]} for key in item.changed if key in after}
    return (item.row["id"], item.row["version"], "update", diff)


async def load_for_delete(write: WriteContext) -> None:
    """The record, locked FOR UPDATE: writes that link to it wait, and see it gone."""
    assert write.access is not None and write.record_id is not None
    current = await load(
        write.session, write.form, write.ctx, write.record_id, write.access, action="delete", lock=True
    )
    _refuse_locked(current)
    write.current = current


async def release(write: WriteContext) -> None:
    """Links to the record: emptied where they may be, else the delete is refused."""
    assert write.record_id is not None
    await release_links(write.session, write.ctx, write.record_id, list(write.options.get("referrers", ())))


async def mark_deleted(write: WriteContext) -> None:
    assert write.current is not None
    check_version(write.current, write.expected_version)
    await _set_deleted(write, write.ctx.now)


async def load_deleted(write: WriteContext) -> None:
    assert write.access is not None and write.record_id is not None
    write.current = await load(
        write.session, write.form, write.ctx, write.record_id, write.access, action="delete", deleted=True, lock=True
    )


async def mark_restored(write: WriteContext) -> None:
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


async def history_line(write: WriteContext) -> None:
    """A line of history with no field changes (a delete, a restore)."""
    row = write.items[0].row
    assert row is not None
    await append_history(write.session, write.form, write.ctx, [(row["id"], row["version"], write.operation, {})])


async def change_status(write: WriteContext) -> None:
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


async def history_status(write: WriteContext) -> None:
    (item,) = write.items
    assert item.row is not None
    entry = (item.row["id"], item.row["version"], "status", item.changed)
    await append_history(write.session, write.form, write.ctx, [entry])


# ------------------------------------------------------------------- purge


async def load_for_purge(write: WriteContext) -> None:
    """A deleted record, locked, for people who manage the form (404 for a live one)."""
    assert write.access is not None and write.record_id is not None
    write.current = await load(
        write.session, write.form, write.ctx, write.record_id, write.access, action="manage", deleted=True, lock=True
    )
    write.items[0].row = write.current


async def delete_children(write: WriteContext) -> None:
    for child in write.form.children.values():
        await write.session.execute(delete(child.table).where(child.table.c.parent_id == write.record_id))


async def delete_row(write: WriteContext) -> None:
    t = write.form.table
    await write.session.execute(delete(t).where(t.c.id == write.record_id))


async def erase_history(write: WriteContext) -> None:
    h = tables.record_history
    await write.session.execute(delete(h).where(h.c.form_id == write.form.form_id, h.c.record_id == write.record_id))


async def remove_files(write: WriteContext) -> None:
    """Its files, attached or detached: rows now, content once the write commits."""
    assert write.record_id is not None
    file_store = write.options["store"]
    write.options["files"] = await attachments.purge_record_files(
        write.session, file_store, write.form.form_id, [write.record_id]
    )


async def audit_purge(write: WriteContext) -> None:
    """The audit log keeps that the record was purged, and how many files went with it."""
    form, ctx = write.form, write.ctx
    await write.session.execute(
        insert(tables.audit_log).values(
            at=ctx.now,
            actor_id=ctx.principal.user_id,
            action="record.purge",
            target=f"{form.app}/{form.key}/{write.record_id}",
            ip=ctx.ip,
            detail={"files": write.options.get("files", 0)},
        )
    )


# ------------------------------------------------------------------ shared


def formula_context(ctx: RequestContext) -> FormulaContext:
    p = ctx.principal
    return FormulaContext(now=ctx.now, zone=ctx.zone, user_id=p.user_id, department_id=p.department_id)


def check_version(row: Mapping[str, Any], expected: int | None) -> None:
    if expected is not None and row["version"] != expected:
        raise PreconditionFailed(
            f"Record {row['id']} is at version {row['version']}, not {expected}: someone changed it "
            "after you read it. Reload it and apply your change again.",
            extra={"current_version": row["version"]},
        )


def _refuse_locked(row: Mapping[str, Any]) -> None:
    reason = locked_reason(row)
    if reason is not None:
        raise Conflict(reason)


def locked_reason(row: Mapping[Any, Any]) -> str | None:
    """Why a record in review or approved may not be edited (None when it may)."""
    if row["status"] not in LOCKED_STATUSES:
        return None
    state = "in review" if row["status"] == "in_review" else "approved"
    return (
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


def _settle(
    form: CompiledForm, values: dict[str, Any], formulas: FormulaContext, evaluation: EvalContext, *, creating: bool
) -> None:
    """The record as it will be stored: formulas computed, and the fields its rules hide
    emptied, then formulas again, which may read them. Every pass empties a field for good
    (formulas never fill one again), so this ends."""
    form.compute(values, formulas, creating=creating)
    while empty_hidden(form, values, evaluation):
        form.compute(values, formulas, defaults=False)


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


def columns_of(form: CompiledForm, values: Mapping[str, Any]) -> dict[str, Any]:
    """Column values of a record's fields (subform rows live in their own tables)."""
    return {form.by_key[key].column: value for key, value in values.items() if key not in form.children}
