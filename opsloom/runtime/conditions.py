"""The condition language: one JSON AST, evaluated in SQL and in Python alike.

    {"and": [{"field": "amount", "op": "gt", "value": 100000},
             {"field": "dept", "op": "in", "value": ["sales"]}]}

`parse_condition` checks a document against a compiled form and returns a
small immutable tree whose values are already parsed by the fields' types.
`to_sql` turns the tree into a SQLAlchemy expression (bound parameters only);
`evaluate` answers the same question for a record held in Python. Both use
the same definitions below, operator by operator, so they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    and_,
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

from opsloom.platform.errors import BadRequest, FieldError
from opsloom.runtime.fields import COUNT_TYPE, FieldSpec, FieldType, Invalid, unit_of, value_unit
from opsloom.runtime.forms import CompiledForm

MAX_DEPTH = 16
MAX_NODES = 200
MAX_LIST = 1000
NO_VALUE_OPS = frozenset({"is_empty", "not_empty", "today", "this_week", "this_month"})
VARIABLES = frozenset({"today", "now", "current_user.id", "current_user.department_id", "current_user.email"})


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class LocalTime:
    """A datetime written without an offset: it means the configured zone, known only when evaluated."""

    moment: datetime


@dataclass(frozen=True)
class FieldRef:
    """A value taken from another field of the same record: `{"field": "start_date"}`."""

    spec: FieldSpec


@dataclass(frozen=True)
class Compare:
    field: FieldSpec
    op: str
    value: Any = None


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Compare | AllOf | AnyOf | Not


@dataclass(frozen=True)
class EvalContext:
    """What a condition may refer to besides the record: the clock and the user."""

    now: datetime
    zone: tzinfo = UTC
    user: Mapping[str, Any] = field(default_factory=dict)
    # A caller's own filter may compare a relation by the linked record's title only where
    # the caller may read that record: linked form key -> SQL over its rows (see
    # runtime/link_titles.py). None for the rules an app's designers wrote (row scopes, branches).
    linked_titles: Mapping[str, Any] | None = None

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def variable(self, name: str) -> Any:
        if name == "today":
            return self.today
        if name == "now":
            return self.now
        return self.user.get(name.removeprefix("current_user."))


def fields_of(condition: Condition) -> set[str]:
    """The keys of every field a condition reads."""
    if isinstance(condition, AllOf | AnyOf):
        return set().union(*(fields_of(c) for c in condition.items))
    if isinstance(condition, Not):
        return fields_of(condition.item)
    aggregate = condition.field.raw.get("aggregate")
    keys = {aggregate[1] if aggregate else condition.field.key}
    if isinstance(condition.value, FieldRef):
        keys.add(condition.value.spec.key)
    return keys


# ---------------------------------------------------------------- parsing


def parse_condition(document: Any, form: CompiledForm, path: str = "filter") -> Condition:
    counter = [0]
    return _parse(document, form, path, 0, counter)


def _fail(path: str, message: str) -> BadRequest:
    return BadRequest(f"The condition at {path} is not valid: {message}", [FieldError(path, message)])


def _parse(doc: Any, form: CompiledForm, path: str, depth: int, counter: list[int]) -> Condition:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise _fail(path, f"a condition may have at most {MAX_NODES} parts")
    if depth > MAX_DEPTH:
        raise _fail(path, f"conditions may nest at most {MAX_DEPTH} levels deep")
    if not isinstance(doc, dict):
        raise _fail(path, 'expected an object such as {"field": "amount", "op": "gt", "value": 10}')
    for group, make in (("and", AllOf), ("or", AnyOf)):
        if group in doc:
            if len(doc) != 1:
                raise _fail(path, f"an '{group}' object takes no other keys")
            items = doc[group]
            if not isinstance(items, list) or not items:
                raise _fail(f"{path}.{group}", "expected a non-empty list of conditions")
            return make(
                tuple(_parse(item, form, f"{path}.{group}[{i}]", depth + 1, counter) for i, item in enumerate(items))
            )
    if "not" in doc:
        if len(doc) != 1:
            raise _fail(path, "a 'not' object takes no other keys")
        return Not(_parse(doc["not"], form, f"{path}.not", depth + 1, counter))
    return _parse_compare(doc, form, path)


AGGREGATES = ("count", "sum", "min", "max")
AGGREGATE_OPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between"})


def _aggregate_spec(doc: dict[str, Any], form: CompiledForm, path: str) -> FieldSpec:
    """`{"field": "items", "agg": "count"}` or `{"field": "items.qty", "agg": "sum"}`: a number
    computed from a record's subform rows, compared like a field of the column's type."""
    agg, key = doc["agg"], doc.get("field")
    if agg not in AGGREGATES:
        raise _fail(f"{path}.agg", f"use one of {', '.join(AGGREGATES)}")
    if not isinstance(key, str):
        raise _fail(f"{path}.field", 'name a subform ("items") or a subform column ("items.qty")')
    subform, _, column = key.partition(".")
    child = form.children.get(subform) if subform in form.by_key else None
    if child is None:
        subforms = ", ".join(form.children) or "none"
        raise _fail(f"{path}.field", f"'{subform}' is not a subform of {form.key} (subforms: {subforms})")
    if agg == "count":
        if column:
            raise _fail(f"{path}.field", f'count counts rows: name the subform alone, "{subform}"')
        return FieldSpec(key, f"count({key})", COUNT_TYPE, "", key, raw={"aggregate": (agg, subform, "")})
    spec = child.by_key.get(column)
    if spec is None or not value_unit(spec).numeric:
        numbers = ", ".join(f"{subform}.{s.key}" for s in child.fields if value_unit(s).numeric)
        raise _fail(f"{path}.field", f"{agg} needs a number column of {subform} (e.g. {numbers or 'none'})")
    raw = {**spec.raw, "aggregate": (agg, subform, column)}
    if agg == "sum":
        raw["precision"] = 18  # a total outgrows its column: compare it with any value a decimal can hold
    return FieldSpec(key, f"{agg}({key})", spec.type, "", key, raw=raw)


def _parse_compare(doc: dict[str, Any], form: CompiledForm, path: str) -> Compare:
    extra = set(doc) - {"field", "op", "value", "agg"}
    if extra:
        raise _fail(path, f"unexpected key(s) {', '.join(sorted(extra))}; use field, op, value (and agg)")
    key = doc.get("field")
    if not isinstance(key, str):
        raise _fail(f"{path}.field", 'name the field to compare, e.g. "field": "amount"')
    if "agg" in doc:
        return _parse_aggregate(doc, form, path)
    spec = form.spec(key)
    if spec is not None and unit_of(spec).child_rows:
        raise _fail(
            f"{path}.field", f'compare an aggregate of the rows, e.g. {{"field": "{key}", "agg": "count", ...}}'
        )
    if spec is None:
        known = ", ".join(s.key for s in form.fields)
        raise _fail(f"{path}.field", f"'{key}' is not a field of {form.key} (fields: {known})")
    op = doc.get("op")
    if not isinstance(op, str):
        raise _fail(f"{path}.op", 'name the operator as a text, e.g. "op": "eq"')
    unit = unit_of(spec)
    allowed = unit.operators_for(spec) | {"is_empty", "not_empty"}
    if op not in allowed:
        raise _fail(
            f"{path}.op", f"{op!r} does not apply to {spec.type} fields; use one of " + ", ".join(sorted(allowed))
        )
    if op in NO_VALUE_OPS:
        if doc.get("value") is not None:
            raise _fail(f"{path}.value", f"'{op}' takes no value")
        return Compare(spec, op)
    if "value" not in doc:
        raise _fail(f"{path}.value", f"'{op}' needs a value")
    if isinstance(doc["value"], dict) and "field" in doc["value"]:
        return Compare(spec, op, _field_ref(spec, op, doc["value"], form, f"{path}.value"))
    return Compare(spec, op, _parse_value(spec, op, doc["value"], f"{path}.value"))


def _parse_value(spec: FieldSpec, op: str, raw: Any, path: str) -> Any:
    if op == "last_n_days":
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 36600:
            raise _fail(path, "expected a number of days from 1 to 36600")
        return raw
    if op in ("in", "not_in"):
        if not isinstance(raw, list) or len(raw) > MAX_LIST:
            raise _fail(path, f"expected a list of at most {MAX_LIST} values")
        return tuple(_scalar(spec, item, f"{path}[{i}]") for i, item in enumerate(raw))
    if op == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            raise _fail(path, "expected a list of two values: [low, high]")
        return (_scalar(spec, raw[0], f"{path}[0]"), _scalar(spec, raw[1], f"{path}[1]"))
    if op in ("contains", "starts_with"):
        if value_unit(spec).multiple:  # is this option, this person among them
            return _scalar(spec, raw, path)
        if not isinstance(raw, str) or not raw:
            raise _fail(path, "expected a non-empty text")
        if "\x00" in raw:
            raise _fail(path, "a text cannot hold a NUL character (\\u0000)")
        return value_unit(spec).search_term(raw)
    if raw is None and op in ("eq", "ne"):
        return None
    return _scalar(spec, raw, path)


def _parse_aggregate(doc: dict[str, Any], form: CompiledForm, path: str) -> Compare:
    spec = _aggregate_spec(doc, form, path)
    op = doc.get("op")
    if not isinstance(op, str) or op not in AGGREGATE_OPS:
        raise _fail(f"{path}.op", "an aggregate is compared with one of " + ", ".join(sorted(AGGREGATE_OPS)))
    if "value" not in doc:
        raise _fail(f"{path}.value", f"'{op}' needs a value")
    if isinstance(doc["value"], dict) and "field" in doc["value"]:
        raise _fail(f"{path}.value", "an aggregate is compared with a value, not with another field")
    return Compare(spec, op, _parse_value(spec, op, doc["value"], f"{path}.value"))


REF_OPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte"})


def _field_ref(spec: FieldSpec, op: str, raw: dict[str, Any], form: CompiledForm, path: str) -> FieldRef:
    other = form.spec(raw["field"]) if isinstance(raw.get("field"), str) and len(raw) == 1 else None
    if other is None:
        raise _fail(path, 'compare with another field as {"field": KEY}, KEY a field of this form')
    if op not in REF_OPS:
        raise _fail(path, f"'{op}' cannot compare two fields; use one of {', '.join(sorted(REF_OPS))}")
    # Fields compare with each other when they are stored alike (decimals: same scale).
    if unit_of(spec).storage_kind(spec) != unit_of(other).storage_kind(other):
        raise _fail(path, f"{spec.key} ({spec.type}) and {other.key} ({other.type}) cannot be compared")
    if unit_of(spec).storage_kind(spec) == ("text",) and op not in ("eq", "ne"):
        raise _fail(path, "two text fields can only be compared with eq or ne")
    return FieldRef(other)


def _scalar(spec: FieldSpec, raw: Any, path: str) -> Any:
    if isinstance(raw, dict):
        name = raw.get("var")
        if set(raw) != {"var"} or not isinstance(name, str) or name not in VARIABLES:
            raise _fail(path, 'a variable is written {"var": NAME} with NAME one of ' + ", ".join(sorted(VARIABLES)))
        return Var(name)
    try:
        value = _item_unit(spec).parse(spec, raw)
    except Invalid as problem:
        raise _fail(path, str(problem)) from None
    if isinstance(value, datetime) and isinstance(raw, str) and datetime.fromisoformat(raw.strip()).tzinfo is None:
        return LocalTime(datetime.fromisoformat(raw.strip()))
    return value


# --------------------------------------------------------- shared pieces


_ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_FOLD = str.maketrans(_ASCII_UPPER, _ASCII_UPPER.lower())


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
    return f"translate({arg}, '{_ASCII_UPPER}', '{_ASCII_UPPER.lower()}')"


def fold(text: str) -> str:
    return text.translate(_ASCII_FOLD)


def _day_range(op: str, value: Any, ctx: EvalContext) -> tuple[date, date]:
    """The local days [first, last] that today/this_week/this_month/last_n_days cover."""
    today = ctx.today
    if op == "today":
        return today, today
    if op == "this_week":
        start = today - timedelta(days=today.weekday())
        return start, start + timedelta(days=6)
    if op == "this_month":
        start = today.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)
    return today - timedelta(days=value - 1), today  # last_n_days, today included


def _moment_bounds(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(first, time.min, zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(UTC)
    return start, end


def _resolve(spec: FieldSpec, value: Any, ctx: EvalContext) -> Any:
    if isinstance(value, tuple):
        return tuple(_resolve(spec, v, ctx) for v in value)
    if isinstance(value, LocalTime):
        return value.moment.replace(tzinfo=ctx.zone).astimezone(UTC)
    if not isinstance(value, Var):
        return value
    resolved = ctx.variable(value.name)
    if resolved is None:
        return None
    unit = _item_unit(spec)
    if unit.temporal == "moment" and isinstance(resolved, date) and not isinstance(resolved, datetime):
        return datetime.combine(resolved, time.min, ctx.zone).astimezone(UTC)
    if unit.temporal == "date" and isinstance(resolved, datetime):
        return resolved.astimezone(ctx.zone).date()
    try:
        return unit.parse(spec, resolved, ctx.zone)
    except Invalid:
        return None


def _item_unit(spec: FieldSpec) -> FieldType:
    """The unit a compared value is parsed by: one item of a list (an option, a person), else the field's."""
    unit = value_unit(spec)
    return unit.element(spec)


# ------------------------------------------------------------------- SQL


def to_sql(condition: Condition, form: CompiledForm, ctx: EvalContext) -> ColumnElement[bool]:
    if isinstance(condition, AllOf):
        return and_(*(to_sql(c, form, ctx) for c in condition.items))
    if isinstance(condition, AnyOf):
        return or_(*(to_sql(c, form, ctx) for c in condition.items))
    if isinstance(condition, Not):
        # SQL's NOT keeps NULL (an empty field) unknown; Python's `not` makes it a match.
        return not_(func.coalesce(to_sql(condition.item, form, ctx), false()))
    aggregate = condition.field.raw.get("aggregate")
    column = _sql_aggregate(form, aggregate) if aggregate else form.column(condition.field)
    if unit_of(condition.field).title_search and condition.op in ("contains", "starts_with"):
        return _sql_linked_title(form, condition, column, ctx)
    if isinstance(condition.value, FieldRef):
        return _SQL_REF[condition.op](column, form.column(condition.value.spec))
    value = _resolve(condition.field, condition.value, ctx)
    if isinstance(condition.value, Var) and value is None:
        return false()  # an unknown variable matches nothing (see evaluate)
    return _SQL[condition.op](column, value, condition.field, ctx)


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
        first, last = _day_range(op, v, ctx)
        if value_unit(spec).temporal == "date":
            return and_(c >= first, c <= last)
        start, end = _moment_bounds(first, last, ctx.zone)
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


# ---------------------------------------------------------------- Python


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
    aggregate = condition.field.raw.get("aggregate")
    x = _py_aggregate(record, aggregate) if aggregate else record.get(condition.field.key)
    value = _resolve(condition.field, condition.value, ctx)
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
        first, last = _day_range(op, v, ctx)
        if value_unit(spec).temporal == "date":
            return first <= x <= last
        start, end = _moment_bounds(first, last, ctx.zone)
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


# ------------------------------------------------ field against field
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
