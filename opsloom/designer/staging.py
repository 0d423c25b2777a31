"""Staging a publish's slow work before its short final transaction.

Converting every value of a column, or computing a formula for every record,
takes Python time per row. Done inside the publish's transaction, it would hold
SQLite's write lock (every other write waits) and, on PostgreSQL, the table's
ACCESS EXCLUSIVE lock (every reader of the form waits) for as long as it runs.

So the new values are computed first, in batches: each batch reads rows in a
read transaction, computes outside any transaction, and writes them in one
short write transaction into a staging table keyed by the row's `id` and the
`version` it had when read. The final transaction (`migration_apply`) copies
them with one set-based UPDATE and computes again only the rows whose version
changed since they were staged, or that are new. Nothing but the publish reads
the staging table, so a crash at any point leaves the form as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Table,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer.migration_apply import FormState, converter, scratch_table
from opsloom.designer.migration_plan import Plan
from opsloom.platform.database import Database
from opsloom.runtime import subforms
from opsloom.runtime.fields import unit_of
from opsloom.runtime.forms import CompiledForm, compile_form
from opsloom.runtime.formulas import FormulaContext

BATCH = 500

# Steps on the form's own table that leave each row's new values computable from
# the row as it is now; any other step (a subform's) keeps formulas in the final transaction.
_PLAIN_STEPS = frozenset(
    {
        "rename_column",
        "archive_column",
        "restore_column",
        "add_column",
        "convert_column",
        "fill_empty",
        "add_unique_index",
        "add_index",
        "drop_unique_index",
        "drop_index",
        "recompute_formulas",
    }
)


@dataclass(frozen=True)
class Layout:
    """What a plan stages: the converted fields (by id), and whether the formulas are."""

    converts: tuple[str, ...]
    formulas: bool

    @property
    def empty(self) -> bool:
        return not self.converts and not self.formulas


def stage_layout(plan: Plan) -> Layout:
    own = [s for s in plan.steps if "subform" not in s.details]
    converts = tuple(s.details["field_id"] for s in own if s.action == "convert_column")
    plain = all(s.action in _PLAIN_STEPS and "subform" not in s.details for s in plan.steps)
    formulas = plain and any(s.action == "recompute_formulas" for s in own)
    return Layout(converts, formulas)


def stage_table_name(job_id: int) -> str:
    return f"opsloom_stage_{job_id}"


def new_form(state: FormState) -> CompiledForm:
    """The form as the plan leaves it (its formulas, its columns)."""
    document = {"key": "_", "fields": list(state.new.values())}
    return compile_form("", document, form_id=0, version=0, storage=state.target_storage, child=state.child)


class Stage:
    """The staging table of one publish: `id`, `version`, then one column per staged value."""

    def __init__(self, name: str, layout: Layout, state: FormState) -> None:
        self.name, self.layout = name, layout
        self.columns: dict[str, str] = {}  # field id -> staging column
        columns: list[Column[Any]] = []
        for i, fid in enumerate(layout.converts):
            spec = state.new_spec(fid)
            self.columns[fid] = f"v_{i}"
            columns.append(Column(f"v_{i}", unit_of(spec).column_type(spec)))
        self.formulas: dict[str, str] = {}  # formula column of the table -> staging column
        if layout.formulas:
            form = new_form(state)
            for j, (spec, _) in enumerate(form.formulas):
                self.formulas[spec.column] = f"f_{j}"
                columns.append(Column(f"f_{j}", form.table.c[spec.column].type))
        self.table = Table(
            name,
            MetaData(),
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("version", Integer, nullable=False),
            *columns,
        )

    def pending(self, t: Table) -> ColumnElement[bool]:
        """Rows of `t` whose staged values are missing or stale."""
        s = self.table
        return ~exists().where(s.c.id == t.c.id, s.c.version == t.c.version)

    async def copy(self, session: AsyncSession, t: Table, pairs: Mapping[str, str]) -> None:
        """Set `t`'s columns from the staging columns (`pairs`) where the row is unchanged
        (and the values differ: a row left as it is costs PostgreSQL no new row version)."""
        s = self.table
        matched = and_(t.c.id == s.c.id, t.c.version == s.c.version)
        differ = or_(*(t.c[target].is_distinct_from(s.c[source]) for target, source in pairs.items()))
        values = {target: s.c[source] for target, source in pairs.items()}
        statement = update(t).where(matched, differ).values(values)
        await session.execute(statement, execution_options={"synchronize_session": False})

    async def create(self, db: Database) -> None:
        async with db.session(write=True) as session:
            connection = await session.connection()
            await connection.run_sync(lambda sync: self.table.drop(sync, checkfirst=True))
            await connection.run_sync(lambda sync: self.table.create(sync))


async def drop_stage_table(session: AsyncSession, name: str) -> None:
    table = Table(name, MetaData(), Column("id", BigInteger))
    connection = await session.connection()
    await connection.run_sync(lambda sync: table.drop(sync, checkfirst=True))


Progress = Callable[[AsyncSession, int], Awaitable[None]]


async def count_rows(db: Database, state: FormState) -> int:
    t = scratch_table(state.table)
    async with db.session() as session:
        return int((await session.execute(select(func.count()).select_from(t))).scalar_one())


async def fill_stage(db: Database, stage: Stage, state: FormState, plan: Plan, zone: Any, progress: Progress) -> None:
    """Compute the staged values of every row, one batch per short write transaction."""
    sources = {
        fid: state.stored_spec(fid)
        for fid, f in state.new.items()
        if unit_of(f).has_column and (fid in state.old or "column" in state.archived.get(fid, {}))
    }
    old = scratch_table(state.table, *sources.values())
    steps = {s.details["field_id"]: s for s in plan.steps if "subform" not in s.details and "field_id" in s.details}
    converts = {fid: converter(steps[fid], state, zone) for fid in stage.layout.converts}
    fills = {
        s.details["field_id"]: unit_of(state.new[s.details["field_id"]]).parse(
            state.new_spec(s.details["field_id"]), s.details["value"], zone
        )
        for s in plan.steps
        if s.action == "fill_empty" and "subform" not in s.details
    }
    form = new_form(state) if stage.layout.formulas else None
    context = FormulaContext(now=datetime.now(UTC), zone=zone)
    done, last = 0, 0
    while True:
        async with db.session() as session:
            rows = list(
                (await session.execute(select(old).where(old.c.id > last).order_by(old.c.id).limit(BATCH))).mappings()
            )
            children = {}
            if form is not None and form.children:
                children = await subforms.load_rows(session, form, [row["id"] for row in rows])
        staged = []
        for row in rows:
            values = {fid: row[spec.column] for fid, spec in sources.items()}
            out: dict[str, Any] = {"id": row["id"], "version": row["version"]}
            for fid, convert in converts.items():
                if values.get(fid) is not None:
                    values[fid] = convert(row["id"], values[fid])
                out[stage.columns[fid]] = values.get(fid)
            if form is not None:
                _compute(form, row["id"], values, fills, children, context, stage, out)
            staged.append(out)
        done += len(rows)
        async with db.session(write=True) as session:
            if staged:
                await session.execute(insert(stage.table), staged)
            await progress(session, done)
        if len(rows) < BATCH:
            return
        last = rows[-1]["id"]
        await between_batches(done)


async def between_batches(done: int) -> None:
    """Other requests of this process run between two batches (the conversion is CPU work)."""
    await asyncio.sleep(0)


def _compute(
    form: CompiledForm,
    record_id: int,
    by_id: Mapping[str, Any],
    fills: Mapping[str, Any],
    children: Mapping[str, Mapping[int, list[Any]]],
    context: FormulaContext,
    stage: Stage,
    out: dict[str, Any],
) -> None:
    """The record's formulas, computed from its values as the plan leaves them."""
    values: dict[str, Any] = {}
    for spec in form.fields:
        if unit_of(spec).child_rows:
            continue
        value = by_id.get(spec.id)
        values[spec.key] = fills.get(spec.id) if value is None else value
    for key, child in form.children.items():
        values[key] = subforms.stored_values(child, children[key][record_id])
    form.compute(values, context)
    for spec, _ in form.formulas:
        out[stage.formulas[spec.column]] = values[spec.key]
