"""A condition as a SQLAlchemy expression (bound parameters only), and the SQL functions
it needs, each compiled for SQLite and PostgreSQL so that both answer as `python.py` does."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    and_,
    bindparam,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

from opsloom.runtime.conditions.ast import (
    AllOf,
    AnyOf,
    Compare,
    Condition,
    EvalContext,
    FieldRef,
    LocalTime,
    Not,
    Var,
)
from opsloom.runtime.conditions.values import ASCII_UPPER, day_range, fold, moment_bounds, resolve
from opsloom.runtime.fields import FieldSpec, unit_of, value_unit
from opsloom.runtime.forms import CompiledForm


class ascii_lower(FunctionElement[str]):
    """Lower-case A-Z only, identically in SQLite, PostgreSQL and Python."""

    type = String()
    inherit_cache = True


@compiles(ascii_lower)
def _ascii_lower_default(element: Any, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(ascii_lower, "postgresql")
def _ascii_lower_pg(element: Any, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"translate({arg}, '{ASCII_UPPER}', '{ASCII_UPPER.lower()}')"


def to_sql(condition: Condition, form: CompiledForm, ctx: EvalContext) -> ColumnElement[bool]:
    if isinstance(condition, AllOf):
        return and_(*(to_sql(c, form, ctx) for c in condition.items))
    if isinstance(condition, AnyOf):
        return or_(*(to_sql(c, form, ctx) for c in condition.items))
    if isinstance(condition, Not):
        # SQL's NOT keeps NULL (an empty field) unknown; Python's `not` makes it a match.
        return not_(func.coalesce(to_sql(condition.item, form, ctx), false()))
    aggregate = condition.field.raw.get("rows_aggregate")
    column = _sql_aggregate(form, aggregate) if aggregate else form.column(condition.field)
    if unit_of(condition.field).title_search and condition.op in ("contains", "starts_with"):
        return _sql_linked_title(form, condition, column, ctx)
    if isinstance(condition.value, FieldRef):
        return _SQL_REF[condition.op](column, form.column(condition.value.spec))
    value = resolve(condition.field, condition.value, ctx)
    if isinstance(condition.value, Var) and value is None:
        return false()  # an unknown variable matches nothing (see evaluate)
    return _SQL[condition.op](column, value, condition.field, ctx)


# Comparisons whose SQL is the same whatever value they hold (`column > :value`), once a value is there.
PLAIN_OPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte"})
BOUND = "_opsloom_v"  # the names of a template's bound values: _opsloom_v0, _opsloom_v1, ...


@dataclass(frozen=True)
class Template:
    """A condition whose SQL holds its values as bound parameters only: what it compares (`shape`,
    the same for every condition that differs in values alone), the condition with each value a
    named bind parameter (`to_sql` of it is the SQL of them all), and the values by those names."""

    shape: Hashable
    condition: Condition
    values: dict[str, Any]


def template(condition: Condition) -> Template | None:
    """The condition as a template, when each of its comparisons is plain: `eq`, `ne`, `gt`, `gte`,
    `lt` or `lte` of a field stored in the record, with a value written in it (not empty, not true
    or false). None for any other: the SQL of an empty value, a variable, another field, a list, a
    period, a text search, a rows aggregate or a multiple choice depends on the value itself."""
    values: dict[str, Any] = {}

    def walk(c: Condition) -> tuple[Hashable, Condition] | None:
        if isinstance(c, AllOf | AnyOf):
            found = [item for item in map(walk, c.items) if item is not None]
            if len(found) < len(c.items):
                return None
            return (type(c).__name__, *(shape for shape, _ in found)), type(c)(tuple(node for _, node in found))
        if isinstance(c, Not):
            inner = walk(c.item)
            return None if inner is None else (("not", inner[0]), Not(inner[1]))
        if not _plain(c):
            return None
        name = f"{BOUND}{len(values)}"
        values[name] = c.value
        return (c.field.key, c.op), replace(c, value=bindparam(name))  # typed as the column it meets

    found = walk(condition)
    return None if found is None else Template(found[0], found[1], values)


def _plain(c: Compare) -> bool:
    value = c.value
    if c.op not in PLAIN_OPS or value is None or isinstance(value, bool | Var | FieldRef | LocalTime | tuple):
        return False
    return not (c.field.raw.get("rows_aggregate") or unit_of(c.field).read_time or value_unit(c.field).multiple)


def _sql_aggregate(form: CompiledForm, aggregate: tuple[str, str, str]) -> Any:
    """The aggregate of a record's rows, as a subquery correlated to the record."""
    agg, subform, column = aggregate
    child = form.children[subform]
    t = child.table
    if agg == "count":
        value: Any = func.count(type_=BigInteger())  # bound as BIGINT: a count compares with any integer
    else:
        c = child.column(child.by_key[column])
        value = exact_sum(c) if agg == "sum" else getattr(func, agg)(c)
        value = type_coerce(value, c.type)  # read and bound like the column (exact decimals on SQLite)
    return select(value).where(t.c.parent_id == form.table.c.id).scalar_subquery()


class exact_sum(FunctionElement[Any]):
    """The sum of a column's values (0 for no rows), exact however large, as Python's sum().

    SQLite's sum() fails with "integer overflow" past 64 bits (decimals are stored there
    as integers too), so the high and low 32 bits are summed apart and put together: exact
    when the total fits in 64 bits, else a REAL beyond every value a condition can hold."""

    inherit_cache = True


@compiles(exact_sum)
def _exact_sum_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    high, low = f"coalesce(sum(({x}) >> 32), 0)", f"coalesce(sum(({x}) & 4294967295), 0)"
    return f"(({high} + ({low} >> 32)) * 4294967296 + ({low} & 4294967295))"


@compiles(exact_sum, "postgresql")
def _exact_sum_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"coalesce(sum({compiler.process(element.clauses, **kw)}), 0)"


def _sql_eq(c: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> Any:
    if value_unit(spec).multiple:
        return _sql_eq_set(c, v)
    return c.is_(None) if v is None else c == v


def _sql_ne(c: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> Any:
    if v is None:
        return c.is_not(None)
    if value_unit(spec).multiple:
        return or_(c.is_(None), not_(_sql_eq_set(c, v)))
    return or_(c.is_(None), c != v)


def _sql_eq_set(c: Any, v: Any) -> Any:
    # A multiselect equals a single option when that option is all it holds.
    if v is None:
        return c.is_(None)
    return and_(_sql_has(c, v), option_count(c) == 1)


def _ordered(c: Any, spec: FieldSpec) -> Any:
    # Text compares by code point everywhere, as Python compares str.
    return code_point_order(c) if value_unit(spec).text_like else c


class code_point_order(FunctionElement[str]):
    """Text compared by code point: SQLite's default BINARY, PostgreSQL's "C" collation."""

    type = String()
    inherit_cache = True


@compiles(code_point_order)
def _code_point_order_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(code_point_order, "postgresql")
def _code_point_order_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)} COLLATE "C")'


def _cmp(op: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def build(c: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> Any:
        if v is None:
            return false()
        return op(_ordered(c, spec), v)

    return build


def _sql_in(c: Any, v: tuple[Any, ...], spec: FieldSpec, ctx: EvalContext) -> Any:
    values = [x for x in v if x is not None]
    if value_unit(spec).multiple:
        return or_(false(), *(_sql_has(c, x) for x in values))
    return c.in_(values) if values else false()


def _sql_not_in(c: Any, v: tuple[Any, ...], spec: FieldSpec, ctx: EvalContext) -> Any:
    values = [x for x in v if x is not None]
    return or_(c.is_(None), c.not_in(values)) if values else true()


def _sql_between(c: Any, v: tuple[Any, Any], spec: FieldSpec, ctx: EvalContext) -> Any:
    low, high = v
    if low is None or high is None:
        return false()
    c = _ordered(c, spec)
    return and_(c >= low, c <= high)


def _sql_has(c: Any, v: Any) -> Any:
    """A multiselect (a JSON list) holds option v; a users field (a JSON list of ids) holds id v."""
    if isinstance(v, int):
        return has_option(c, cast(literal(v), BigInteger()))
    return has_option(c, cast(literal(v), String()))


class has_option(FunctionElement[bool]):
    type = Boolean()
    inherit_cache = True


@compiles(has_option)
def _has_option_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})"


@compiles(has_option, "postgresql")
def _has_option_pg(element: Any, compiler: Any, **kw: Any) -> str:
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"({column} @> jsonb_build_array({value}))"


class option_count(FunctionElement[int]):
    type = Integer()
    inherit_cache = True


@compiles(option_count)
def _option_count_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_array_length({compiler.process(element.clauses, **kw)})"


@compiles(option_count, "postgresql")
def _option_count_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"jsonb_array_length({compiler.process(element.clauses, **kw)})"


def _sql_linked_title(form: CompiledForm, condition: Compare, column: Any, ctx: EvalContext) -> Any:
    """A relation filtered by the title of the record it links to (one the reader may read)."""
    target = form.target(condition.field)
    readable = true() if ctx.linked_titles is None else ctx.linked_titles.get(target.key, false())
    title = ascii_lower(target.title_column())
    pattern = fold(condition.value)
    match = (
        title.contains(pattern, autoescape=True)
        if condition.op == "contains"
        else title.startswith(pattern, autoescape=True)
    )
    t = target.table
    # never correlated: a form that links to itself filters its own table in the subquery
    return column.in_(select(t.c.id).where(match, t.c.deleted_at.is_(None), readable).correlate(None))


def _sql_contains(c: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> Any:
    unit = value_unit(spec)
    if unit.multiple:
        return _sql_has(c, v)
    return ascii_lower(unit.searched(c)).contains(fold(v), autoescape=True)


def _sql_starts_with(c: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> Any:
    return ascii_lower(value_unit(spec).searched(c)).startswith(fold(v), autoescape=True)


def _sql_is_empty(c: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> Any:
    if value_unit(spec).text_like:
        return or_(c.is_(None), c == "")
    return c.is_(None)


def _sql_not_empty(c: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> Any:
    return not_(_sql_is_empty(c, v, spec, ctx))


def _sql_period(op: str) -> Callable[..., Any]:
    def build(c: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> Any:
        first, last = day_range(op, v, ctx)
        if value_unit(spec).temporal == "date":
            return and_(c >= first, c <= last)
        start, end = moment_bounds(first, last, ctx.zone)
        return and_(c >= start, c < end)

    return build


_SQL: dict[str, Callable[..., Any]] = {
    "eq": _sql_eq,
    "ne": _sql_ne,
    "gt": _cmp(lambda a, b: a > b),
    "gte": _cmp(lambda a, b: a >= b),
    "lt": _cmp(lambda a, b: a < b),
    "lte": _cmp(lambda a, b: a <= b),
    "in": _sql_in,
    "not_in": _sql_not_in,
    "between": _sql_between,
    "contains": _sql_contains,
    "starts_with": _sql_starts_with,
    "is_empty": _sql_is_empty,
    "not_empty": _sql_not_empty,
    "today": _sql_period("today"),
    "this_week": _sql_period("this_week"),
    "this_month": _sql_period("this_month"),
    "last_n_days": _sql_period("last_n_days"),
}


# Both empty counts as equal; an empty side is never larger or smaller.


def _sql_ref_eq(c: Any, o: Any) -> Any:
    return or_(and_(c.is_(None), o.is_(None)), and_(c.is_not(None), o.is_not(None), c == o))


def _sql_ref_cmp(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda c, o: and_(c.is_not(None), o.is_not(None), op(c, o))


_SQL_REF: dict[str, Callable[[Any, Any], Any]] = {
    "eq": _sql_ref_eq,
    "ne": lambda c, o: not_(_sql_ref_eq(c, o)),
    "gt": _sql_ref_cmp(lambda a, b: a > b),
    "gte": _sql_ref_cmp(lambda a, b: a >= b),
    "lt": _sql_ref_cmp(lambda a, b: a < b),
    "lte": _sql_ref_cmp(lambda a, b: a <= b),
}
