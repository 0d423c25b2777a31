"""The shell around the planner: gather facts from the data, apply a plan's steps.

Everything runs on the caller's transaction, so a failure anywhere leaves the
table and the definition exactly as they were (DDL is transactional on both
PostgreSQL and SQLite as Opsloom drives it). Schema changes go through
Alembic operations; values are converted by the fields' own parsers. When the
state carries a `Stage` (see `staging`), conversions and formulas computed
before the transaction are copied from it, and only rows changed since are
computed here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Table,
    bindparam,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer.conversions import convert_value, drop_options
from opsloom.designer.migration_plan import (
    SAMPLE,
    BadValue,
    Facts,
    FactsNeeded,
    Plan,
    Step,
    facts_needed,
    kept_subforms,
)
from opsloom.runtime import subforms
from opsloom.runtime.fields import FieldSpec, Invalid, unit_of
from opsloom.runtime.forms import (
    child_columns,
    compile_form,
    index_name,
    indexed,
    joint_index_columns,
    joint_index_name,
    joint_indexes,
    live_index_columns,
    subform_document,
    system_columns,
)
from opsloom.runtime.formulas import FormulaContext

if TYPE_CHECKING:
    from opsloom.designer.staging import Stage

BATCH = 2000


def _spec(f: Mapping[str, Any], column: str) -> FieldSpec:
    return FieldSpec(
        id=f["id"],
        key=f["key"],
        type=f["type"],
        column=column,
        label=f.get("label", f["key"]),
        required=bool(f.get("required")),
        unique=bool(f.get("unique")),
        raw=f,
    )


def scratch_table(name: str, *specs: FieldSpec, child: bool = False) -> Table:
    """A throw-away Table holding the system columns and the given columns, typed."""
    columns = [Column(s.column, unit_of(s).column_type(s)) for s in specs]
    return Table(name, MetaData(), *(child_columns() if child else system_columns()), *columns)


class FormState:
    """The fields of the published version and of the new document, with their columns."""

    def __init__(
        self,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        storage: Mapping[str, Any],
        target_storage: Mapping[str, Any] | None = None,
        child: bool = False,
    ):
        self.table = storage["table"]
        self.storage = storage
        self.target_storage = target_storage or storage
        self.old_document, self.new_document = old, new
        self.old = {f["id"]: f for f in old["fields"]}
        self.new = {f["id"]: f for f in new["fields"]}
        self.archived = storage.get("archived", {})
        self.child = child
        # Values computed before the final transaction (`staging.Stage`), for the form's own table.
        self.stage: Stage | None = None

    def subforms(self) -> list[tuple[str, FormState]]:
        """The states of the subforms kept by this change (their rows' fields are migrated)."""
        out = []
        for fid, before, after, storage in kept_subforms(self.old_document, self.new_document, self.storage):
            target = self.target_storage.get("subforms", {}).get(fid, storage)
            out.append((fid, FormState(before, after, storage, target, child=True)))
        return out

    def stored_spec(self, fid: str) -> FieldSpec:
        """The field as its values are stored now (published or archived)."""
        if fid in self.old:
            return _spec(self.old[fid], self.storage["columns"][fid])
        entry = self.archived[fid]
        return _spec(entry["field"], entry["column"])

    def new_spec(self, fid: str, column: str | None = None) -> FieldSpec:
        f = self.new[fid]
        return _spec(f, column or f["key"])


# ------------------------------------------------------------------ facts


async def gather_facts(session: AsyncSession, state: FormState, needed: FactsNeeded, zone: Any) -> Facts:
    """Facts about the form's columns, and about the columns of its subforms' rows."""
    facts = await _gather(session, state, needed, zone)
    for _, child in state.subforms():
        more = await _gather(session, child, facts_needed(child.old_document, child.new_document, child.storage), zone)
        facts = Facts(
            *(
                {**getattr(facts, name), **getattr(more, name)}
                for name in ("invalid", "invalid_count", "empty", "empty_count", "duplicates", "duplicate_count")
            )
        )
    return facts


async def _gather(session: AsyncSession, state: FormState, needed: FactsNeeded, zone: Any) -> Facts:
    invalid: dict[str, tuple[BadValue, ...]] = {}
    invalid_count: dict[str, int] = {}
    for fid in needed.convert:
        old, new = state.stored_spec(fid), state.new_spec(fid)
        sample: list[BadValue] = []
        count = 0
        async for record_id, value in _stream(session, state.table, old):
            try:
                convert_value(old, new, value, zone)
            except Invalid as problem:
                count += 1
                if len(sample) < SAMPLE:
                    sample.append(BadValue(record_id, unit_of(old).dump(old, value), str(problem)))
        invalid[fid], invalid_count[fid] = tuple(sample), count
    empty: dict[str, tuple[int, ...]] = {}
    empty_count: dict[str, int] = {}
    for fid in needed.empty:
        spec = state.stored_spec(fid)
        t = scratch_table(state.table, spec, child=state.child)
        where = t.c[spec.column].is_(None)
        empty_count[fid] = (await session.execute(select(func.count()).where(where))).scalar_one()
        ids = await session.execute(select(t.c.id).where(where).order_by(t.c.id).limit(SAMPLE))
        empty[fid] = tuple(ids.scalars())
    duplicates: dict[str, tuple[int, ...]] = {}
    duplicate_count: dict[str, int] = {}
    for fid in needed.duplicates:
        spec = state.stored_spec(fid)
        t = scratch_table(state.table, spec)
        column = t.c[spec.column]
        repeated = (
            select(column)
            .where(column.is_not(None), t.c.deleted_at.is_(None))
            .group_by(column)
            .having(func.count() > 1)
            .subquery()
        )
        holders = select(t.c.id).where(column.in_(select(repeated.c[0])), t.c.deleted_at.is_(None))
        duplicate_count[fid] = (
            await session.execute(select(func.count()).select_from(holders.subquery()))
        ).scalar_one()
        holding = await session.execute(holders.order_by(t.c.id).limit(SAMPLE))
        duplicates[fid] = tuple(holding.scalars())
    for fid in needed.no_rows:
        empty[fid], empty_count[fid] = await _records_without_rows(
            session, state.table, state.storage["subforms"][fid]["table"]
        )
    return Facts(invalid, invalid_count, empty, empty_count, duplicates, duplicate_count)


async def _records_without_rows(session: AsyncSession, table: str, child_table: str) -> tuple[tuple[int, ...], int]:
    """Live records with no row in a subform's child table: a sample of ids, and how many."""
    t = scratch_table(table)
    rows = Table(child_table, MetaData(), Column("parent_id"))
    where = (t.c.deleted_at.is_(None), ~exists().where(rows.c.parent_id == t.c.id))
    count = (await session.execute(select(func.count()).select_from(t).where(*where))).scalar_one()
    ids = await session.execute(select(t.c.id).where(*where).order_by(t.c.id).limit(SAMPLE))
    return tuple(ids.scalars()), count


async def _stream(session: AsyncSession, table: str, spec: FieldSpec, pending: Pending | None = None) -> Any:
    """(id, value) of every row holding a value (or only the `pending` ones), read in keyset batches.

    Plain batched reads rather than a server-side cursor: PostgreSQL refuses
    DDL on a table while a cursor on it is open in the same transaction.
    """
    t = Table(
        table,
        MetaData(),
        Column("id", BigInteger, primary_key=True),
        Column("version", Integer),
        Column(spec.column, unit_of(spec).column_type(spec)),
    )  # only id and the column are read; version only by `pending`
    column = t.c[spec.column]
    where = [column.is_not(None)] + ([pending(t)] if pending is not None else [])
    last = 0
    while True:
        rows = (
            await session.execute(select(t.c.id, column).where(*where, t.c.id > last).order_by(t.c.id).limit(BATCH))
        ).all()
        for row in rows:
            yield row[0], row[1]
        if len(rows) < BATCH:
            return
        last = rows[-1][0]


Pending = Callable[[Table], ColumnElement[bool]]


# ------------------------------------------------------------------ apply


async def apply_plan(session: AsyncSession, plan: Plan, state: FormState, zone: Any) -> None:
    """The form's own steps, then each kept subform's steps on its child table, then the
    recomputation of formulas (which may total the rows)."""
    own = [s for s in plan.steps if "subform" not in s.details and s.action != "recompute_formulas"]
    await _apply_steps(session, own, state, zone)
    for fid, child in state.subforms():
        steps = [s for s in plan.steps if s.details.get("subform") == fid]
        if steps:
            await _apply_steps(session, steps, child, zone)
    for step in plan.steps:
        if "subform" not in step.details and step.action == "recompute_formulas":
            await _recompute_formulas(session, None, step, state, zone)


async def _apply_steps(session: AsyncSession, steps: list[Step], state: FormState, zone: Any) -> None:
    connection = await session.connection()

    def ddl(work: Callable[[Operations], None]) -> Any:
        return connection.run_sync(lambda sync: work(Operations(MigrationContext.configure(sync))))

    moves = [s for s in steps if s.action in ("rename_column", "archive_column", "restore_column")]
    sources = {s.details["from"] for s in moves}
    if not any(s.details["to"] in sources for s in moves):
        # No name is both freed and taken: one rename per column is enough.
        for step in moves:
            await ddl(_rename(state.table, step.details["from"], step.details["to"]))
        moves = []
    # Two phases, so that names can be swapped (a -> b while b -> a).
    for i, step in enumerate(moves):
        await ddl(_rename(state.table, step.details["from"], f"_tmp_{i}"))
    for i, step in enumerate(moves):
        await ddl(_rename(state.table, f"_tmp_{i}", step.details["to"]))
    for step in steps:
        handler = _HANDLERS.get(step.action)
        if handler is not None:
            await handler(session, ddl, step, state, zone)


async def _create_child_table(session: AsyncSession, ddl: Any, step: Step, state: FormState, zone: Any) -> None:
    fid = step.details["field_id"]
    rows = compile_form(
        "",
        subform_document(state.new[fid]),
        form_id=0,
        version=0,
        storage=state.target_storage["subforms"][fid],
        child=True,
    )
    connection = await session.connection()
    await connection.run_sync(lambda sync: rows.table.create(sync))


async def _add_column(session: AsyncSession, ddl: Any, step: Step, state: FormState, zone: Any) -> None:
    spec = state.new_spec(step.details["field_id"])
    column = Column(spec.column, unit_of(spec).column_type(spec), nullable=True)
    await ddl(lambda op: op.add_column(state.table, column))
    await _ensure_indexes(ddl, state, spec)


def converter(step: Step, state: FormState, zone: Any) -> Callable[[int, Any], Any]:
    """`(record id, stored value) -> new value` of a convert step, as its resolution says."""
    fid = step.details["field_id"]
    new, old = state.new_spec(fid), state.stored_spec(fid)
    on_invalid, replacement = step.details.get("on_invalid"), step.details.get("value")
    fallback = None
    keeps_options = unit_of(new).options and unit_of(new).multiple
    if on_invalid == "set_value" and not keeps_options:
        fallback = unit_of(new).parse(new, replacement, zone)

    def convert(record_id: int, value: Any) -> Any:
        if keeps_options and old.type == new.type:
            return drop_options(new, value, replacement if on_invalid == "set_value" else None)
        try:
            return convert_value(old, new, value, zone)
        except Invalid as problem:
            if on_invalid in ("set_empty", "set_value"):
                return fallback
            raise Invalid(f"record {record_id}: {new.key} {problem}") from None

    return convert


async def _convert_column(session: AsyncSession, ddl: Any, step: Step, state: FormState, zone: Any) -> None:
    fid = step.details["field_id"]
    new = state.new_spec(fid)
    old = _spec(state.stored_spec(fid).raw, new.column)  # renames already ran: the column has its new name
    rewrite = bool(step.details.get("rewrite"))
    # A rewrite fills a new column of the new type, which then takes the old one's place.
    into = _spec(new.raw, "_converting") if rewrite else new
    target = scratch_table(state.table, into).c[into.column]
    if rewrite:
        await _drop_indexes(ddl, state, fid, joint=True)
        await ddl(lambda op: op.add_column(state.table, Column(into.column, unit_of(into).column_type(into))))
    stage = state.stage if state.stage is not None and fid in state.stage.columns else None
    if stage is not None:
        await stage.copy(session, target.table, {into.column: stage.columns[fid]})
    pending = stage.pending if stage is not None else None
    convert = converter(step, state, zone)
    await _rewrite(session, state.table, old, target, convert, only_changed=not rewrite, pending=pending)
    if rewrite:
        keep = step.details.get("keep")
        if keep:  # every value as it was stays, in an archived field's column
            await ddl(lambda op: op.alter_column(state.table, new.column, new_column_name=keep))
        else:
            await ddl(lambda op: op.drop_column(state.table, new.column))
        await ddl(lambda op: op.alter_column(state.table, into.column, new_column_name=new.column))
        await _ensure_indexes(ddl, state, new)
        for fids in _joint_indexes_with(state, fid):
            await _ensure_joint_index(ddl, state, fids)


async def _rewrite(
    session: AsyncSession,
    table: str,
    old: FieldSpec,
    target: Any,
    convert: Callable[[int, Any], Any],
    *,
    only_changed: bool,
    pending: Pending | None = None,
) -> None:
    rows = [(record_id, value) async for record_id, value in _stream(session, table, old, pending)]
    t = target.table
    updates = []
    for record_id, value in rows:
        converted = convert(record_id, value)
        if only_changed and converted == value:
            continue
        updates.append({"rid": record_id, "val": converted})
    statement = update(t).where(t.c.id == bindparam("rid")).values({target.name: bindparam("val", type_=target.type)})
    for start in range(0, len(updates), BATCH):
        await session.execute(
            statement,
            updates[start : start + BATCH],
            execution_options={"synchronize_session": False},
        )


async def _fill_empty(session: AsyncSession, ddl: Any, step: Step, state: FormState, zone: Any) -> None:
    spec = state.new_spec(step.details["field_id"])
    value = unit_of(spec).parse(spec, step.details["value"], zone)
    t = scratch_table(state.table, spec, child=state.child)
    await session.execute(update(t).where(t.c[spec.column].is_(None)).values({spec.column: value}))


async def _add_unique_index(session: AsyncSession, ddl: Any, step: Step, state: FormState, zone: Any) -> None:
    await _ensure_indexes(ddl, state, state.new_spec(step.details["field_id"]))


async def _add_index(session: AsyncSession, ddl: Any, step: Step, state: FormState, zone: Any) -> None:
    if "field_ids" in step.details:
        await _ensure_joint_index(ddl, state, tuple(step.details["field_ids"]))
    else:
        await _add_unique_index(session, ddl, step, state, zone)


async def _drop_index(session: AsyncSession, ddl: Any, step: Step, state: FormState, zone: Any) -> None:
    fid = step.details["field_id"]
    await _drop_indexes(ddl, state, fid)
    if fid in state.new:
        await _ensure_indexes(ddl, state, state.new_spec(fid))


async def _drop_indexes(ddl: Any, state: FormState, fid: str, joint: bool = False) -> None:
    """Drop the field's own indexes and, with `joint`, those of several fields it is in (before its
    column is dropped: SQLite drops no column that an index holds)."""
    names = [index_name(state.table, fid, kind) for kind in ("uq", "ix")]
    if joint:
        names += [joint_index_name(state.table, fids) for fids in _joint_indexes_with(state, fid)]
    for name in names:
        await ddl(lambda op, name=name: op.drop_index(name, table_name=state.table, if_exists=True))


def _joint_indexes_with(state: FormState, fid: str) -> list[tuple[str, ...]]:
    """The indexes of several fields that hold the field, as stored now or as the publish leaves them."""
    entries = [*state.storage.get("indexes", ()), *state.target_storage.get("indexes", ())]
    return list(dict.fromkeys(fids for fids in joint_indexes(entries) if fid in fids))


async def _ensure_indexes(ddl: Any, state: FormState, spec: FieldSpec) -> None:
    """Create the field's index if it should have one (and has none yet: asked for, a link, or one the
    saved views need), as the form's compiled table declares it (`forms.live_index_columns`); a
    subform's rows have no `deleted_at`: a plain index there."""
    if not (spec.unique or indexed(spec, state.target_storage.get("indexes", ()))):
        return
    name = index_name(state.table, spec.id, "uq" if spec.unique else "ix")
    live = Table(state.table, MetaData(), Column("deleted_at")).c.deleted_at.is_(None)

    def create(op: Operations) -> None:
        dialect = op.get_context().dialect.name
        where: dict[str, Any] = {} if state.child else {f"{dialect}_where": live}
        columns = [spec.column] if state.child or spec.unique else live_index_columns(dialect, spec.column)
        op.create_index(name, state.table, columns, unique=spec.unique, if_not_exists=True, **where)

    await ddl(create)


async def _ensure_joint_index(ddl: Any, state: FormState, fids: tuple[str, ...]) -> None:
    """Create an index of several fields together (one the saved views need), as the compiled table
    declares it, if the publish keeps it and each of its fields is in the new form."""
    columns = joint_index_columns(fids, {fid: state.new_spec(fid).column for fid in state.new})
    if fids not in joint_indexes(state.target_storage.get("indexes", ())) or columns is None:
        return
    live = Table(state.table, MetaData(), Column("deleted_at")).c.deleted_at.is_(None)

    def create(op: Operations) -> None:
        dialect = op.get_context().dialect.name
        where: dict[str, Any] = {f"{dialect}_where": live}
        name = joint_index_name(state.table, fids)
        op.create_index(name, state.table, live_index_columns(dialect, *columns), if_not_exists=True, **where)

    await ddl(create)


async def _recompute_formulas(session: AsyncSession, ddl: Any, step: Step, state: FormState, zone: Any) -> None:
    """Compute the formula fields of every record (deleted ones too) with the new definition;
    totals over subform rows read the rows as they are now."""
    form = compile_form(
        "",
        {"key": "_", "fields": list(state.new.values())},
        form_id=0,
        version=0,
        storage=state.target_storage,
        child=state.child,
    )
    t = form.table
    context = FormulaContext(now=datetime.now(UTC), zone=zone)
    keys = [spec.key for spec, _ in form.formulas]
    where = []
    if state.stage is not None and state.stage.formulas:
        # Computed before this transaction: copied, then only rows changed since are computed here.
        await state.stage.copy(session, t, state.stage.formulas)
        where.append(state.stage.pending(t))
    last = 0
    while True:
        query = select(t).where(*where, t.c.id > last).order_by(t.c.id).limit(BATCH)
        rows = (await session.execute(query)).mappings().all()
        children = await subforms.load_rows(session, form, [row["id"] for row in rows]) if form.children else {}
        updates = []
        for row in rows:
            values = {spec.key: row[spec.column] for spec in form.fields if unit_of(spec).has_column}
            for key, child in form.children.items():
                values[key] = subforms.stored_values(child, children[key][row["id"]])
            form.compute(values, context)
            changed = {k: values[k] for k in keys if values[k] != row[form.by_key[k].column]}
            if changed:
                updates.append({"rid": row["id"], **{form.by_key[k].column: v for k, v in changed.items()}})
        for update_row in updates:  # rows differ in which formulas changed
            rid = update_row.pop("rid")
            await session.execute(update(t).where(t.c.id == rid).values(**update_row))
        if len(rows) < BATCH:
            return
        last = rows[-1]["id"]


_HANDLERS = {
    "create_child_table": _create_child_table,
    "add_column": _add_column,
    "convert_column": _convert_column,
    "fill_empty": _fill_empty,
    "add_unique_index": _add_unique_index,
    "add_index": _add_index,
    "drop_unique_index": _drop_index,
    "drop_index": _drop_index,
    "recompute_formulas": _recompute_formulas,
}


def _rename(table: str, old: str, new: str) -> Callable[[Any], Any]:
    """A column rename, as the DDL runner takes it."""
    return lambda op: op.alter_column(table, old, new_column_name=new)
