"""Records of a published form: create, read, update, delete, restore, list, history.

Every write runs in the caller's transaction and appends field-level history
in the same transaction, so a record and its history never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Text,
    bindparam,
    cast,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    table,
    update,
)
from sqlalchemy.exc import IntegrityError
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
from opsloom.platform.http import decode_json
from opsloom.platform.permissions import FormAccess
from opsloom.runtime import attachments, autonumbers, subforms
from opsloom.runtime.access import eval_context, scope_clause
from opsloom.runtime.conditions import ascii_lower, fold, parse_condition, to_sql
from opsloom.runtime.fields import FieldSpec, dump_datetime, unit_of
from opsloom.runtime.forms import CompiledForm, confirm_current, published_probe
from opsloom.runtime.formulas import FormulaContext
from opsloom.runtime.link_titles import (
    expand_links,
    filter_context,
    is_link,
    link_target,
    linked_ids,
    parse_expand,
)
from opsloom.runtime.listing import (
    after_cursor,
    decode_cursor,
    encode_cursor,
    order_by,
    parse_limit,
    parse_sort,
)
from opsloom.runtime.rules import check_rules, empty_hidden

MAX_BULK = 1000


# ------------------------------------------------------------------ create


async def create_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    payload: Any,
    access: FormAccess,
) -> dict[str, Any]:
    access.require("create")
    values = _parse_new(form, ctx, payload, access, prefix="")
    (record,) = await _insert(session, form, ctx, [values], paths=[""], access=access)
    return record


def _parse_new(
    form: CompiledForm, ctx: RequestContext, payload: Any, access: FormAccess, prefix: str
) -> dict[str, Any]:
    """Validate a new record as the caller sees the form; defaults fill what is left out."""
    view = form.restricted(access.hidden)
    _refuse_read_only(payload, access, prefix)
    given = payload
    if isinstance(payload, dict):
        payload = {**view.literal_defaults(exclude=payload), **payload}
    parsed = view.parse_input(payload, partial=False, zone=ctx.zone, prefix=prefix)
    sent = _given(form, parsed, given)
    values = dict(parsed)
    for key in form.children:  # rows get computed values and may be emptied; `sent` keeps what the caller sent
        if parsed.get(key) is not None:
            values[key] = [dict(row) for row in parsed[key]]
    for key, default in form.literal_defaults(exclude=values).items():  # also fields the caller cannot see
        spec = form.by_key[key]
        values[key] = form.unit(spec).parse(spec, default, ctx.zone)
    for spec in form.fields:
        values.setdefault(spec.key, None)
    _settle(form, values, ctx, creating=True)
    problems = _rule_problems(form, values, sent, None, eval_context(ctx), prefix)
    if problems:
        raise ValidationFailed.of(problems)
    return values


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


def formula_context(ctx: RequestContext) -> FormulaContext:
    return FormulaContext(now=ctx.now, zone=ctx.zone, user_id=ctx.principal.user_id)


def _refuse_read_only(payload: Any, access: FormAccess, prefix: str) -> None:
    if not isinstance(payload, dict) or not access.read_only:
        return
    locked = [k for k in payload if k in access.read_only]
    if locked:
        raise PermissionDenied(
            "You may not set " + ", ".join(locked) + "; your role makes them read-only",
            [FieldError(f"{prefix}{k}", "is read-only for you") for k in locked],
        )


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
    errors: list[FieldError] = []
    rows: list[dict[str, Any]] = []
    for i, payload in enumerate(payloads):
        try:
            rows.append(_parse_new(form, ctx, payload, access, prefix=f"records[{i}]."))
        except ValidationFailed as failed:
            errors.extend(failed.errors)
    if errors:
        raise ValidationFailed.of(errors)
    paths = [f"records[{i}]." for i in range(len(rows))]
    return await _insert(session, form, ctx, rows, paths=paths, access=access)


async def _insert(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    rows: list[dict[str, Any]],
    paths: list[str],
    access: FormAccess,
) -> list[dict[str, Any]]:
    await _check_unique(session, form, rows, paths, readable=_readable(form, ctx, access))
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
    await _check_links(session, form, rows, paths)
    await _check_row_links(session, form, rows, paths)
    await attachments.resolve_attachments(session, form, ctx, rows, paths)
    table = form.table
    params = [{**system, **_columns(form, values)} for values in rows]
    statement = insert(table).returning(*table.c, sort_by_parameter_order=True)
    try:
        result = await session.execute(statement, params)
    except IntegrityError as error:
        raise _conflict(form, error) from None
    created = result.mappings().all()
    for row, values in zip(created, rows, strict=True):
        await attachments.link_attachments(session, form, ctx, row["id"], None, values)
    records = [form.dump_row(row) for row in created]
    for key, child in form.children.items():
        pairs = [(row["id"], values[key] or []) for row, values in zip(created, rows, strict=True)]
        await subforms.insert_rows(session, child, pairs)
        for record, values in zip(records, rows, strict=True):
            record[key] = subforms.dump_values(child, values[key] or [])
    await _append_audit(session, form, ctx, [(record["id"], 1, "create") for record in records])
    await _assign_numbers(session, form, ctx, rows, records)  # the history shows the numbers
    view = form.restricted(access.hidden)
    await _append_history(
        session,
        form,
        ctx,
        [
            (
                record["id"],
                1,
                "create",
                {k: {"before": None, "after": record[k]} for k, v in values.items() if v is not None},
            )
            for record, values in zip(records, rows, strict=True)
        ],
        audit=False,
    )
    if view is form:  # nothing hidden: the records dumped for the history are the answer
        return records
    return [{k: v for k, v in record.items() if k in view.by_key or k not in form.by_key} for record in records]


async def _assign_numbers(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    rows: list[dict[str, Any]],
    records: list[dict[str, Any]],
) -> None:
    """Number the records just inserted (their autonumber columns still empty).

    A counter stays locked until commit, and every create of the form waits for it, so
    this is the write's last step but the history: checks, rows and files come first."""
    specs = [spec for spec in form.fields if unit_of(spec).numbered]
    if not specs:
        return
    for spec in specs:
        period = autonumbers.period_of(autonumbers.reset_of(spec.raw), ctx.now, ctx.zone)
        numbers = await autonumbers.take_numbers(session, form.form_id, spec.id, period, len(rows))
        for values, record, seq in zip(rows, records, numbers, strict=True):
            values[spec.key] = autonumbers.render(spec.raw["pattern"], seq, ctx.now, ctx.zone, values)
            record[spec.key] = form.dump_value(spec.key, values[spec.key])
    t = form.table  # bind names in capitals: no column (a lower-case field key) has them
    statement = (
        update(t)
        .where(t.c.id == bindparam("Record"))
        .values({spec.column: bindparam(f"Number{i}") for i, spec in enumerate(specs)})
    )
    params = [
        {"Record": record["id"], **{f"Number{i}": values[spec.key] for i, spec in enumerate(specs)}}
        for values, record in zip(rows, records, strict=True)
    ]
    await session.execute(statement, params, execution_options={"synchronize_session": False})


# -------------------------------------------------------------------- read


def _live(form: CompiledForm) -> Any:
    return form.table.c.deleted_at.is_(None)


async def _load(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
    *,
    action: str = "read",
    deleted: bool = False,
    lock: bool = False,
    keep_key: bool = False,
    probe: bool = False,
) -> Mapping[str, Any]:
    """A record the caller may read, or 404; then 403 if `action` is not allowed on it.

    Rows outside the read scope are reported exactly like rows that do not exist.
    `lock` locks the row FOR UPDATE, which waits for writes that link to it (they hold
    FOR KEY SHARE); with `keep_key` (an edit, not a delete) FOR NO KEY UPDATE, which does not.
    """
    t = form.table
    evaluation = eval_context(ctx)
    statement = select(t).where(t.c.id == record_id, scope_clause(access.scope("read"), form, evaluation))
    statement = statement.where(t.c.deleted_at.is_not(None) if deleted else _live(form))
    if lock:
        statement = statement.with_for_update(key_share=keep_key)
    if probe:
        statement = statement.add_columns(published_probe(form))
    row = (await session.execute(statement)).mappings().first()
    if probe:
        confirm_current(form, row)
    if row is None:
        state = "deleted " if deleted else ""
        raise NotFound(f"{form.key} has no {state}record {record_id}")
    if action != "read":
        access.require(action)
        if access.scope(action) != access.scope("read"):
            allowed = select(t.c.id).where(t.c.id == record_id, scope_clause(access.scope(action), form, evaluation))
            if (await session.execute(allowed)).first() is None:
                raise PermissionDenied(f"You may read record {record_id} but not {action} it")
    return row


async def get_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
    expand: str | None = None,
    *,
    probe: bool = False,
) -> dict[str, Any]:
    access.require("read")
    view = form.restricted(access.hidden)
    specs = parse_expand(expand, view)
    record = view.dump_row(await _load(session, form, ctx, record_id, access, probe=probe))
    await attach_rows(session, view, [record])
    await expand_links(session, ctx, view, [record], specs)
    return record


async def attach_rows(session: AsyncSession, form: CompiledForm, records: list[dict[str, Any]]) -> None:
    """Put each record's subform rows into it (one query per subform for all the records)."""
    keys = [s.key for s in form.fields if unit_of(s).child_rows]
    if not keys or not records:
        return
    loaded = await subforms.load_rows(session, form, [r["id"] for r in records], keys)
    for key in keys:
        child = form.children[key]
        for record in records:
            record[key] = subforms.dump_rows(child, loaded[key][record["id"]])


@dataclass(frozen=True)
class ListRequest:
    filter: str | None = None
    sort: str | None = None
    limit: str | None = None
    cursor: str | None = None
    q: str | None = None
    count: str | None = None
    expand: str | None = None
    with_rows: bool = True  # subform rows; a page that shows no subform columns skips loading them


async def list_records(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    request: ListRequest,
    access: FormAccess,
    *,
    exact_count_limit: int = 10_000,
    probe: bool = False,
) -> dict[str, Any]:
    access.require("read")
    full, form = form, form.restricted(access.hidden)
    t = form.table
    where = [_live(form), scope_clause(access.scope("read"), full, eval_context(ctx))]
    if request.filter:
        try:
            document = decode_json(request.filter)
        except ValueError:
            raise BadRequest(
                "The filter is not valid JSON",
                [
                    FieldError(
                        "filter",
                        'send a condition such as {"field": "amount", "op": "gt", "value": 10}',
                    )
                ],
            ) from None
        condition = parse_condition(document, form)
        where.append(to_sql(condition, form, await filter_context(session, ctx, form, condition)))
    if request.q and "\x00" in request.q:
        raise BadRequest("The search text holds a NUL character", [FieldError("q", "remove the \\u0000")])
    if request.q:
        if form.title_field not in form.by_key:  # none, or hidden from this caller
            raise BadRequest("This form has no title field to search", [FieldError("q", "remove q")])
        title = form.column(form.by_key[form.title_field])
        where.append(ascii_lower(title).contains(fold(request.q), autoescape=True))
    keys = parse_sort(request.sort, form)
    limit = parse_limit(request.limit)
    page = select(t).where(*where)
    if request.cursor:
        page = page.where(after_cursor(keys, decode_cursor(request.cursor, keys, request.filter), form))
    page = page.order_by(*order_by(keys, form)).limit(limit + 1)
    if probe:
        page = page.add_columns(published_probe(full))
    rows = (await session.execute(page)).mappings().all()
    if probe:
        confirm_current(full, rows[0] if rows else None)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(keys, rows[-1], form, request.filter)
    items = [form.dump_row(r) for r in rows]
    if request.with_rows:
        await attach_rows(session, form, items)
    await expand_links(session, ctx, form, items, parse_expand(request.expand, form))
    answer: dict[str, Any] = {"items": items, "next_cursor": next_cursor}
    if request.count != "none":
        cap = None if request.count == "exact" else exact_count_limit
        unfiltered = access.scope("read").all and not request.filter and not request.q
        answer["total"], answer["total_exact"] = await _count(session, form, where, cap, unfiltered)
    return answer


async def _count(
    session: AsyncSession, form: CompiledForm, where: Sequence[Any], cap: int | None, unfiltered: bool
) -> tuple[int, bool]:
    """Exact up to `cap` rows; beyond it an estimate, so huge tables stay fast."""
    t = form.table
    if cap is None:
        return (await session.execute(select(func.count()).select_from(t).where(*where))).scalar_one(), True
    bounded = select(t.c.id).where(*where).limit(cap + 1).subquery()
    n = (await session.execute(select(func.count()).select_from(bounded))).scalar_one()
    if n <= cap:
        return n, True
    if session.bind.dialect.name == "postgresql" and unfiltered:
        estimate = (
            await session.execute(select(func.greatest(cast(func.coalesce(_reltuples(t.name), 0), BigInteger()), cap)))
        ).scalar_one()
        return int(estimate), False
    return cap, False


def _reltuples(name: str) -> Any:
    """PostgreSQL's own estimate of a table's rows, kept by ANALYZE and autovacuum."""
    pg_class = table("pg_class", column("reltuples"), column("oid"))
    return (
        select(pg_class.c.reltuples)
        .where(pg_class.c.oid == func.to_regclass(cast(literal(name), Text())))
        .scalar_subquery()
    )


# ------------------------------------------------------------------ update


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
    change = await plan_update(session, form, ctx, record_id, payload, expected_version, access, in_flow=in_flow)
    return await apply_update(session, ctx, change)


@dataclass(frozen=True)
class PlannedUpdate:
    """A change checked and worked out, not yet written: the record is locked, its new values known."""

    form: CompiledForm
    view: CompiledForm  # the form as the writer sees it
    record_id: int
    current: Mapping[str, Any]  # the row as it is
    stored: dict[str, Any]  # its values by key as stored (subform rows included)
    merged: dict[str, Any]  # ... and as they will be
    changed: dict[str, Any]  # the values that change
    before: dict[str, Any]  # the record as the writer reads it now

    def after(self) -> dict[str, Any]:
        """The record as the writer will read it once written (system columns aside)."""
        after = self.view.dump_row({**self.current, **_columns(self.form, self.changed)})
        for key, child in self.form.children.items():
            if key in self.view.by_key:
                after[key] = subforms.dump_values(child, self.merged[key])
        return after


async def plan_update(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    payload: Any,
    expected_version: int | None,
    access: FormAccess,
    *,
    in_flow: bool = False,
) -> PlannedUpdate:
    """Lock the record and check a change to it (parse, compute, rules, uniqueness, links); write nothing."""
    access.require("update")
    view = form.restricted(access.hidden)
    _refuse_read_only(payload, access, "")
    values = view.parse_input(payload, partial=True, zone=ctx.zone)
    current = await _load(session, form, ctx, record_id, access, action="update", lock=True, keep_key=True)
    _check_version(form, current, expected_version)
    if not in_flow:
        _refuse_locked(current)
    await attachments.resolve_attachments(session, form, ctx, [values], [""], record_id=record_id)
    before = view.dump_row(current)
    stored = {spec.key: current[spec.column] for spec in form.fields if unit_of(spec).has_column}
    if form.children:
        loaded = await subforms.load_rows(session, form, [record_id])
        for key, child in form.children.items():
            stored[key] = subforms.stored_values(child, loaded[key][record_id])
            if key in view.by_key:
                before[key] = subforms.dump_values(child, stored[key])
    merged = stored | values
    problems = []
    for key, child in form.children.items():
        if key in values:
            merged[key] = subforms.merge_rows(child, values[key], stored[key], key)
            problems += subforms.missing_required(child, merged[key], key)
        else:  # copies: computing and rules change rows in place, `stored` must stay as stored
            merged[key] = [dict(row) for row in stored[key]]
    _settle(form, merged, ctx, creating=False)
    problems += _rule_problems(form, merged, values, stored, eval_context(ctx))
    if problems:
        raise ValidationFailed.of(problems)
    changed = {key: value for key, value in merged.items() if value != stored[key]}
    if changed:
        await _check_unique(session, form, [changed], [""], exclude_id=record_id, readable=_readable(form, ctx, access))
        await _check_links(session, form, [changed], [""])
        await _check_row_links(session, form, [changed], [""])
    return PlannedUpdate(form, view, record_id, current, stored, merged, changed, before)


async def apply_update(session: AsyncSession, ctx: RequestContext, change: PlannedUpdate) -> dict[str, Any]:
    """Write a planned change, its subform rows, files and history; answer the record as it now is."""
    form, view, record_id, current, changed = change.form, change.view, change.record_id, change.current, change.changed
    stored, merged, before = change.stored, change.merged, change.before
    if not changed:
        return change.before
    t = form.table
    statement = (
        update(t)
        .where(t.c.id == record_id, t.c.version == current["version"], _live(form))
        .values(
            **_columns(form, changed),
            version=current["version"] + 1,
            updated_at=ctx.now,
            updated_by=ctx.principal.user_id,
        )
        .returning(*t.c)
    )
    try:
        row = (await session.execute(statement)).mappings().first()
    except IntegrityError as error:
        raise _conflict(form, error) from None
    if row is None:  # a concurrent writer got there first
        raise PreconditionFailed(
            f"Record {record_id} was changed by someone else; reload it and apply your change again"
        )
    after = view.dump_row(row)
    for key, child in form.children.items():
        if key in changed:
            await subforms.replace_rows(session, child, record_id, changed[key], stored[key])
        if key in view.by_key:
            after[key] = subforms.dump_values(child, merged[key])
    await attachments.link_attachments(session, form, ctx, record_id, stored, changed)
    diff = {key: {"before": before[key], "after": after[key]} for key in changed if key in after}
    await _append_history(session, form, ctx, [(record_id, row["version"], "update", diff)])
    return after


LOCKED_STATUSES = ("in_review", "approved")


async def read_row(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
    *,
    action: str = "read",
    lock: bool = False,
) -> Mapping[str, Any]:
    """The record's row, if the caller may `action` it (404 unless they may read it); `lock`: FOR UPDATE."""
    access.require(action)
    return await _load(session, form, ctx, record_id, access, action=action, lock=lock)


def _refuse_locked(row: Mapping[str, Any]) -> None:
    if row["status"] in LOCKED_STATUSES:
        state = "in review" if row["status"] == "in_review" else "approved"
        raise Conflict(
            f"Record {row['id']} is {state}: it changes only through its approval flow "
            "(the step's editable fields), or after it is returned, withdrawn or rejected"
        )


async def set_status(
    session: AsyncSession, form: CompiledForm, ctx: RequestContext, record_id: int, status: str
) -> None:
    """The flow moved the record: its status changes, with a line of history."""
    t = form.table
    before = (await session.execute(select(t.c.status).where(t.c.id == record_id))).scalar()
    row = (
        await session.execute(
            update(t)
            .where(t.c.id == record_id)
            .values(status=status, version=t.c.version + 1, updated_at=ctx.now, updated_by=ctx.principal.user_id)
            .returning(t.c.version)
        )
    ).first()
    if row is None:
        raise NotFound(f"{form.key} has no record {record_id}")
    change = {"status": {"before": before, "after": status}}
    await _append_history(session, form, ctx, [(record_id, row.version, "status", change)])


def _check_version(form: CompiledForm, row: Mapping[str, Any], expected: int | None) -> None:
    if expected is not None and row["version"] != expected:
        raise PreconditionFailed(
            f"Record {row['id']} is at version {row['version']}, not {expected}: someone changed it "
            "after you read it. Reload it and apply your change again.",
            extra={"current_version": row["version"]},
        )


# ---------------------------------------------------------- delete/restore


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
    current = await _load(session, form, ctx, record_id, access, action="delete", lock=True)
    _refuse_locked(current)
    await _release_links(session, ctx, record_id, list(referrers))
    _check_version(form, current, expected_version)
    await _set_deleted(session, form, ctx, current, ctx.now, "delete")


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
    await _load(session, form, ctx, record_id, access, action="manage", deleted=True, lock=True)
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


async def restore_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
) -> dict[str, Any]:
    access.require("delete")
    current = await _load(session, form, ctx, record_id, access, action="delete", deleted=True, lock=True)
    live_values = {s.key: current[s.column] for s in form.fields if s.unique}
    await _check_unique(session, form, [live_values], [""], exclude_id=record_id, readable=_readable(form, ctx, access))
    row = await _set_deleted(session, form, ctx, current, None, "restore")
    view = form.restricted(access.hidden)
    record = view.dump_row(row)
    await attach_rows(session, view, [record])  # answered as a read would show it, rows included
    return record


async def _set_deleted(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    current: Mapping[str, Any],
    deleted_at: Any,
    action: str,
) -> Mapping[str, Any]:
    t = form.table
    version = current["version"] + 1
    row = (
        (
            await session.execute(
                update(t)
                .where(t.c.id == current["id"], t.c.version == current["version"])
                .values(
                    deleted_at=deleted_at,
                    version=version,
                    updated_at=ctx.now,
                    updated_by=ctx.principal.user_id,
                )
                .returning(*t.c)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise PreconditionFailed(f"Record {current['id']} was changed by someone else; try again")
    await _append_history(session, form, ctx, [(current["id"], version, action, {})])
    return row


# ----------------------------------------------------------------- history


async def record_history(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
) -> list[dict[str, Any]]:
    access.require("read")
    t = form.table
    visible = scope_clause(access.scope("read"), form, eval_context(ctx))
    known = (await session.execute(select(exists().where(t.c.id == record_id, visible)))).scalar()
    if not known:
        raise NotFound(f"{form.key} has no record {record_id}")
    shown = set(form.restricted(access.hidden).by_key) | {"status"}  # the flow's moves, seen by every reader
    h = tables.record_history
    rows = await session.execute(
        select(h).where(h.c.form_id == form.form_id, h.c.record_id == record_id).order_by(h.c.id)
    )
    return [
        {
            "version": r.record_version,
            "action": r.action,
            "actor_id": r.actor_id,
            "at": dump_datetime(r.at),
            "changes": {k: v for k, v in r.changes.items() if k in shown},
        }
        for r in rows
    ]


async def _append_history(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    entries: list[tuple[int, int, str, dict[str, Any]]],
    *,
    audit: bool = True,
) -> None:
    """Field-level history of each change, and its line in the audit log (unless written already)."""
    await session.execute(
        insert(tables.record_history),
        [
            {
                "form_id": form.form_id,
                "record_id": record_id,
                "record_version": version,
                "action": action,
                "actor_id": ctx.principal.user_id,
                "at": ctx.now,
                "changes": changes,
            }
            for record_id, version, action, changes in entries
        ],
    )
    if audit:
        await _append_audit(
            session, form, ctx, [(record_id, version, action) for record_id, version, action, _ in entries]
        )


async def _append_audit(
    session: AsyncSession, form: CompiledForm, ctx: RequestContext, entries: list[tuple[int, int, str]]
) -> None:
    await session.execute(
        insert(tables.audit_log),
        [
            {
                "at": ctx.now,
                "actor_id": ctx.principal.user_id,
                "action": f"record.{action}",
                "target": f"{form.app}/{form.key}/{record_id}",
                "ip": ctx.ip,
                "detail": {"version": version},
            }
            for record_id, version, action in entries
        ],
    )


# ------------------------------------------------------------------ links


async def _check_links(session: AsyncSession, form: CompiledForm, rows: list[dict[str, Any]], paths: list[str]) -> None:
    """Every link names an existing user, department, or live record of the linked form.

    A linked record is share-locked until the write commits (PostgreSQL; SQLite runs one
    writer at a time): a delete of it, which locks it first (`_load`), then waits and
    finds the new link, or went first and the record is no longer live here."""
    errors: list[FieldError] = []
    for spec in form.fields:
        if not is_link(spec):
            continue
        wanted = {i for values in rows for i in linked_ids(spec, values.get(spec.key))}
        if not wanted:
            continue
        target = link_target(form, spec)
        live = select(target.table.c.id).where(target.table.c.id.in_(wanted), target.live)
        if target.deletable:  # FOR KEY SHARE: edits of the linked record go on meanwhile
            live = live.order_by(target.table.c.id).with_for_update(read=True, key_share=True)
        found = set((await session.execute(live)).scalars())
        for values, path in zip(rows, paths, strict=True):
            for linked in linked_ids(spec, values.get(spec.key)):
                if linked not in found:
                    errors.append(FieldError(f"{path}{spec.key}", f"there is no {target.describe} {linked}"))
    if errors:
        raise ValidationFailed.of(errors)


async def _release_links(
    session: AsyncSession,
    ctx: RequestContext,
    record_id: int,
    referrers: list[tuple[CompiledForm, FieldSpec]],
) -> None:
    """Before a record is deleted: empty the links that may be emptied, refuse if others remain."""
    blocking: list[FieldError] = []
    for source, spec in referrers:
        if source.is_child:
            blocking += await _release_row_links(session, record_id, source, spec)
            continue
        t, column = source.table, source.column(spec)
        live = (t.c.deleted_at.is_(None), column == record_id)
        if spec.raw.get("on_delete") == "set_empty":
            changes = {spec.column: None, "version": t.c.version + 1, "updated_at": ctx.now}
            changes["updated_by"] = ctx.principal.user_id
            emptied = await session.execute(update(t).where(*live).values(changes).returning(t.c.id, t.c.version))
            entries = [
                (rid, version, "update", {spec.key: {"before": record_id, "after": None}}) for rid, version in emptied
            ]
            if entries:
                await _append_history(session, source, ctx, entries)
            continue
        ids = list((await session.execute(select(t.c.id).where(*live).order_by(t.c.id).limit(20))).scalars())
        if ids:
            shown = ", ".join(map(str, ids))
            blocking.append(FieldError(f"{source.key}.{spec.key}", f"{source.key} records {shown} link to it"))
    if blocking:
        raise Conflict("The record is still linked from other records; change or delete those first", blocking)


async def _release_row_links(
    session: AsyncSession, record_id: int, rows: CompiledForm, spec: FieldSpec
) -> list[FieldError]:
    """Subform rows of live records that link to a record being deleted: emptied, or blocking."""
    t, column, parent = rows.table, rows.column(spec), rows.parent_table
    assert parent is not None
    live = (column == record_id, t.c.parent_id.in_(select(parent.c.id).where(parent.c.deleted_at.is_(None))))
    if spec.raw.get("on_delete") == "set_empty":
        await session.execute(update(t).where(*live).values({spec.column: None}))
        return []
    holders = select(t.c.parent_id).where(*live).distinct().order_by(t.c.parent_id).limit(20)
    ids = list((await session.execute(holders)).scalars())
    if not ids:
        return []
    path = f"{rows.parent_key}.{rows.key}.{spec.key}"
    return [FieldError(path, f"rows of {rows.parent_key} records {', '.join(map(str, ids))} link to it")]


# ------------------------------------------------------------------ shared


def _columns(form: CompiledForm, values: Mapping[str, Any]) -> dict[str, Any]:
    """Column values of a record's fields (subform rows live in their own tables)."""
    return {form.by_key[key].column: value for key, value in values.items() if key not in form.children}


async def _check_row_links(
    session: AsyncSession, form: CompiledForm, records: list[dict[str, Any]], paths: list[str]
) -> None:
    """Links held by subform rows name existing targets, like the record's own links."""
    for key, child in form.children.items():
        if any(is_link(s) for s in child.fields):
            rows, row_paths = [], []
            for values, path in zip(records, paths, strict=True):
                for i, row in enumerate(values.get(key) or []):
                    rows.append(row)
                    row_paths.append(f"{path}{key}[{i}].")
            await _check_links(session, child, rows, row_paths)


async def _check_unique(
    session: AsyncSession,
    form: CompiledForm,
    rows: list[dict[str, Any]],
    paths: list[str],
    exclude_id: int | None = None,
    readable: Any = None,
) -> None:
    """Name the field, and the record that already holds a unique value if the caller may read it."""
    errors: list[FieldError] = []
    t = form.table
    for spec in form.fields:
        if not spec.unique:
            continue
        seen: dict[Any, str] = {}
        for values, path in zip(rows, paths, strict=True):
            value = values.get(spec.key)
            if value is None:
                continue
            if value in seen:
                errors.append(FieldError(f"{path}{spec.key}", f"repeats the value of {seen[value]}{spec.key}"))
                continue
            seen[value] = path
            column = form.column(spec)
            query = select(t.c.id).where(column == value, _live(form))
            if exclude_id is not None:
                query = query.where(t.c.id != exclude_id)
            holder = (await session.execute(query.limit(1))).scalar()
            if holder is not None:
                shown = (
                    readable is None
                    or (await session.execute(select(t.c.id).where(t.c.id == holder, readable))).first()
                )
                who = f"record {holder}" if shown else "another record"
                errors.append(
                    FieldError(
                        f"{path}{spec.key}",
                        f"must be unique; {who} already has {form.dump_value(spec.key, value)!r}",
                    )
                )
    if errors:
        raise Conflict(errors[0].message if len(errors) == 1 else "Some values must be unique", errors)


def _readable(form: CompiledForm, ctx: RequestContext, access: FormAccess) -> Any:
    """The caller's read scope as SQL: errors may name only records the caller can read."""
    return scope_clause(access.scope("read"), form, eval_context(ctx))


def _conflict(form: CompiledForm, error: IntegrityError) -> Conflict:
    text = str(error.orig)
    for spec in form.fields:
        if spec.unique and spec.column in text:
            return Conflict(
                f"{spec.key} must be unique; another record took this value just now",
                [FieldError(spec.key, "must be unique")],
            )
    return Conflict("The change conflicts with another record; reload and try again")
