"""A report plan as one SQL statement (SQLAlchemy Core): GROUP BY, totals, top N and "others".

Subtotals and the grand total come from the same statement: `GROUP BY ROLLUP`
on PostgreSQL, and on SQLite (which has no ROLLUP) a UNION ALL of one GROUP BY
per level.

A dimension on a field holding several values (multiple choice, people) joins
the field's list as rows (`json_each` on SQLite, a lateral
`jsonb_array_elements_text` on PostgreSQL; an empty list gives one empty row),
so a record counts once under each of its values. Such a report takes the
UNION ALL form on both databases: a level that rolls the dimension up reads
the records without that join and so counts each record once.

Every output row carries `level`, the GROUPING() bitmask of the dimensions it
rolled up (0 for a detail row), and `other`, 1 for the row that folds the
groups beyond the top N. Nothing is aggregated in Python.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    nullsfirst,
    nullslast,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.sql import Select

from opsloom.runtime.access import scope_clause
from opsloom.runtime.conditions import Condition, EvalContext, to_sql
from opsloom.runtime.fields import value_unit
from opsloom.runtime.reports.buckets import date_bucket, offset_minutes, zone_name
from opsloom.runtime.reports.plan import Dimension, ReportPlan


def value_rows(d: Dimension, i: int, dialect: str) -> Any:
    """The values of a multi-value dimension's list as a table of one column, `value` (joined per record)."""
    column = d.field.column
    if dialect == "postgresql":
        return func.jsonb_array_elements_text(column).table_valued("value").lateral(f"mv{i}")
    return func.json_each(column).table_valued("value").alias(f"mv{i}")


def multi_value(d: Dimension) -> bool:
    return value_unit(d.field.spec).multiple


def dimension_sql(d: Dimension, ctx: EvalContext, rows: Any = None) -> Any:
    column = d.field.column
    if rows is not None:  # one of a multi-value field's values; a person's id is a number on both databases
        value = rows.c.value
        return cast(value, BigInteger()) if value_unit(d.field.spec).link else value
    unit = value_unit(d.field.spec)
    if d.bucket is not None:
        return date_bucket(
            column,
            d.bucket,
            moment=unit.temporal == "moment",
            zone=zone_name(ctx.zone),
            offset_minutes=offset_minutes(ctx.zone, ctx.now),
        )
    if unit.text_like:
        return func.nullif(column, "")  # "" is empty, as the condition language says
    return column


def measure_columns(plan: ReportPlan) -> list[tuple[str, Any]]:
    """(label, aggregate) of every measure's SQL columns: `m<i>_<j>`."""
    out = []
    for i, m in enumerate(plan.measures):
        if m.aggregate is None:
            continue
        column = m.field.column if m.field else None
        for j, expression in enumerate(m.aggregate.columns(column)):
            out.append((f"m{i}_{j}", expression))
    return out


def _rank_expression(plan: ReportPlan) -> tuple[Any, bool]:
    """What top N ranks the first dimension's groups by: the first sort key, else the first measure."""
    keys = [(by, desc) for by, desc in plan.sort]
    by, desc = keys[0] if keys else (plan.measures[0].key, True)
    for m in plan.measures:
        if m.key == by and m.aggregate is not None:
            column = m.field.column if m.field else None
            expression = func.avg(column) if m.aggregate.name == "avg" else m.aggregate.columns(column)[0]
            return expression, desc
    measure = next(m for m in plan.measures if m.aggregate is not None)
    column = measure.field.column if measure.field else None
    return measure.aggregate.columns(column)[0], True  # type: ignore[union-attr]


def report_statement(
    plan: ReportPlan, ctx: EvalContext, filter_ctx: EvalContext, shared: list[Condition], dialect: str
) -> Select[Any]:
    form = plan.form
    view = form.restricted(plan.access.hidden)
    source: Any = form.table
    if plan.rows is not None:
        source = plan.rows.table.join(form.table, plan.rows.table.c.parent_id == form.table.c.id)
    for join in plan.joins.values():
        on_alias = replace(join.target, table=join.alias)
        source = source.outerjoin(
            join.alias,
            and_(
                join.alias.c.id == form.table.c[join.relation.column],
                join.alias.c.deleted_at.is_(None),
                scope_clause(join.access.scope("read"), on_alias, ctx),  # linked rows the viewer may not read: empty
            ),
        )
    where = [form.table.c.deleted_at.is_(None), scope_clause(plan.access.scope("read"), form, ctx)]
    if plan.filter is not None:
        where.append(to_sql(plan.filter, view, filter_ctx))
    where += [to_sql(c, view, filter_ctx) for c in shared]

    expanded = {i: value_rows(d, i, dialect) for i, d in enumerate(plan.dimensions) if multi_value(d)}
    # the first dimension of a top N stays joined on every level: the ranking keeps its values
    always = {0} & set(expanded) if plan.limit is not None else set()

    def source_keeping(kept: int) -> Any:
        """The rows a level groups: the multi-value dimensions it keeps, joined as rows."""
        out = source
        for i in sorted(expanded):
            if i < kept or i in always:
                out = out.outerjoin(expanded[i], true())
        return out

    dims = [dimension_sql(d, ctx, expanded.get(i)) for i, d in enumerate(plan.dimensions)]
    measures = measure_columns(plan)
    other: Any = literal(0, Integer())
    if plan.limit is not None:
        rank_by, desc = _rank_expression(plan)
        order = rank_by.desc() if desc else rank_by.asc()
        ranked = (
            select(
                dims[0].label("k"), func.row_number().over(order_by=[nullslast(order), nullsfirst(dims[0])]).label("rn")
            )
            .select_from(source_keeping(1))  # ranked by the first dimension's groups alone
            .where(*where)
            .group_by(dims[0])
            .cte("ranked")
        )
        # In the top N: an IN over the ranked keys (hashed by both databases), empty as its own key.
        shown = ranked.c.rn <= plan.limit
        top = or_(
            dims[0].in_(select(ranked.c.k).where(shown, ranked.c.k.is_not(None))),
            and_(dims[0].is_(None), exists().where(shown, ranked.c.k.is_(None))),
        )
        if plan.others:
            other = case((top, 0), else_=1)
            dims[0] = case((top, dims[0]), else_=None)
        else:
            where.append(top)

    def level_select(kept: int, level: Any) -> Select[Any]:
        columns = [(dims[i] if i < kept else null()).label(f"d{i}") for i in range(len(dims))]
        grouped_other = other if kept or not plan.others else literal(0, Integer())
        statement = select(
            *columns,
            *(expression.label(label) for label, expression in measures),
            level.label("level"),
            grouped_other.label("other"),
        ).select_from(source_keeping(kept))
        statement = statement.where(*where)
        group = dims[:kept] + ([other] if plan.others and kept else [])
        return statement.group_by(*group) if group else statement

    n = len(dims)
    statement: Any
    if n == 0:
        statement = level_select(0, literal(0, Integer()))
    elif not plan.totals:
        statement = level_select(n, literal(0, Integer()))
    elif dialect == "postgresql" and not expanded:
        grouped = [tuple_(dims[0], other) if plan.others else dims[0], *dims[1:]]
        statement = select(
            *(d.label(f"d{i}") for i, d in enumerate(dims)),
            *(expression.label(label) for label, expression in measures),
            func.grouping(*dims).label("level"),
            func.coalesce(other, 0).label("other"),  # NULL where the level rolled it up
        ).select_from(source)
        statement = statement.where(*where).group_by(func.rollup(*grouped))
    else:
        statement = union_all(
            *(level_select(kept, literal((1 << (n - kept)) - 1, Integer())) for kept in range(n, -1, -1))
        )
    return _ordered(plan, statement.subquery("report"))


def _ordered(plan: ReportPlan, result: Any) -> Select[Any]:
    order: list[Any] = [result.c.level, result.c.other]
    keys = {d.key: result.c[f"d{i}"] for i, d in enumerate(plan.dimensions)}
    for i, m in enumerate(plan.measures):
        if m.aggregate is not None:
            keys[m.key] = result.c[f"m{i}_0"]
            if m.aggregate.name == "avg":  # sum / count, as a real number, only to order by
                keys[m.key] = result.c[f"m{i}_0"] * 1.0 / func.nullif(result.c[f"m{i}_1"], 0)
    for by, desc in plan.sort:
        if by in keys:
            order.append(nullsfirst(keys[by].desc()) if desc else nullslast(keys[by].asc()))
    order += [nullslast(result.c[f"d{i}"].asc()) for i in range(len(plan.dimensions))]
    return select(result).order_by(*order)
