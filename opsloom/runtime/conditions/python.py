"""A condition judged on a record held in Python; the same answers as `sql.py` gives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opsloom.runtime.conditions.ast import AllOf, AnyOf, Condition, EvalContext, FieldRef, Not, Var
from opsloom.runtime.conditions.values import day_range, fold, moment_bounds, resolve
from opsloom.runtime.fields import FieldSpec, unit_of, value_unit


def evaluate(condition: Condition, record: Mapping[str, Any], ctx: EvalContext) -> bool:
    """Does a record (field key -> parsed Python value) match? Same answers as `to_sql`."""
    if isinstance(condition, AllOf):
        return all(evaluate(c, record, ctx) for c in condition.items)
    if isinstance(condition, AnyOf):
        return any(evaluate(c, record, ctx) for c in condition.items)
    if isinstance(condition, Not):
        return not evaluate(condition.item, record, ctx)
    if unit_of(condition.field).title_search and condition.op in ("contains", "starts_with"):
        # Records evaluated in Python carry the linked record's title as "<key>.title".
        title = record.get(f"{condition.field.key}.title")
        return _PY[condition.op](title, condition.value, condition.field, ctx)
    if isinstance(condition.value, FieldRef):
        other = record.get(condition.value.spec.key)
        return _PY_REF[condition.op](record.get(condition.field.key), other)
    aggregate = condition.field.raw.get("rows_aggregate")
    x = _py_aggregate(record, aggregate) if aggregate else record.get(condition.field.key)
    value = resolve(condition.field, condition.value, ctx)
    if isinstance(condition.value, Var) and value is None:
        # A variable with no value (a user without a department) matches nothing, so a
        # row scope such as "department_id = mine" never widens to rows with no department.
        return False
    return _PY[condition.op](x, value, condition.field, ctx)


def _py_aggregate(record: Mapping[str, Any], aggregate: tuple[str, str, str]) -> Any:
    """The same aggregate as `_sql_aggregate`, over the rows a record holds (`record[subform]`)."""
    agg, subform, column = aggregate
    rows = record.get(subform) or []
    if agg == "count":
        return len(rows)
    values = [row.get(column) for row in rows if row.get(column) is not None]
    if agg == "sum":
        return sum(values, start=0)
    return (min if agg == "min" else max)(values) if values else None


def _py_empty(x: Any) -> bool:
    return x is None or x == "" or x == []


def _py_eq(x: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> bool:
    if value_unit(spec).multiple:
        return x is None if v is None else x == [v]
    return x is None if v is None else (x is not None and x == v)


def _py_ne(x: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> bool:
    if v is None:
        return x is not None
    return not _py_eq(x, v, spec, ctx)


def _py_cmp(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def check(x: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> bool:
        return x is not None and v is not None and op(x, v)

    return check


def _py_in(x: Any, v: tuple[Any, ...], spec: FieldSpec, ctx: EvalContext) -> bool:
    if value_unit(spec).multiple:
        return bool(x) and any(option in x for option in v if option is not None)
    return x is not None and x in [y for y in v if y is not None]


def _py_not_in(x: Any, v: tuple[Any, ...], spec: FieldSpec, ctx: EvalContext) -> bool:
    return x is None or x not in [y for y in v if y is not None]


def _py_between(x: Any, v: tuple[Any, Any], spec: FieldSpec, ctx: EvalContext) -> bool:
    low, high = v
    return x is not None and low is not None and high is not None and low <= x <= high


def _py_contains(x: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> bool:
    unit = value_unit(spec)
    if unit.multiple:
        return bool(x) and v in x
    return x is not None and fold(v) in fold(unit.search_text(x))


def _py_starts_with(x: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> bool:
    return x is not None and fold(value_unit(spec).search_text(x)).startswith(fold(v))


def _py_period(op: str) -> Callable[..., bool]:
    def check(x: Any, v: Any, spec: FieldSpec, ctx: EvalContext) -> bool:
        if x is None:
            return False
        first, last = day_range(op, v, ctx)
        if value_unit(spec).temporal == "date":
            return first <= x <= last
        start, end = moment_bounds(first, last, ctx.zone)
        return start <= x < end

    return check


_PY: dict[str, Callable[..., bool]] = {
    "eq": _py_eq,
    "ne": _py_ne,
    "gt": _py_cmp(lambda a, b: a > b),
    "gte": _py_cmp(lambda a, b: a >= b),
    "lt": _py_cmp(lambda a, b: a < b),
    "lte": _py_cmp(lambda a, b: a <= b),
    "in": _py_in,
    "not_in": _py_not_in,
    "between": _py_between,
    "contains": _py_contains,
    "starts_with": _py_starts_with,
    "is_empty": lambda x, v, spec, ctx: _py_empty(x),
    "not_empty": lambda x, v, spec, ctx: not _py_empty(x),
    "today": _py_period("today"),
    "this_week": _py_period("this_week"),
    "this_month": _py_period("this_month"),
    "last_n_days": _py_period("last_n_days"),
}


def _py_ref_eq(x: Any, o: Any) -> bool:
    return (x is None and o is None) or (x is not None and o is not None and x == o)


def _py_ref_cmp(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda x, o: x is not None and o is not None and op(x, o)


_PY_REF: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _py_ref_eq,
    "ne": lambda x, o: not _py_ref_eq(x, o),
    "gt": _py_ref_cmp(lambda a, b: a > b),
    "gte": _py_ref_cmp(lambda a, b: a >= b),
    "lt": _py_ref_cmp(lambda a, b: a < b),
    "lte": _py_ref_cmp(lambda a, b: a <= b),
}
