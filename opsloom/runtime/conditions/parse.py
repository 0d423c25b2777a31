"""A condition document checked against a compiled form, into the tree of `ast.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsloom.platform.errors import BadRequest, FieldError
from opsloom.runtime.conditions.ast import (
    NO_VALUE_OPS,
    VARIABLES,
    AllOf,
    AnyOf,
    Compare,
    Condition,
    FieldRef,
    LocalTime,
    Not,
    Var,
)
from opsloom.runtime.conditions.values import item_unit
from opsloom.runtime.fields import COUNT_TYPE, FieldSpec, Invalid, unit_of, value_unit
from opsloom.runtime.forms import CompiledForm

MAX_DEPTH = 16
MAX_NODES = 200
MAX_LIST = 1000


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
        return FieldSpec(key, f"count({key})", COUNT_TYPE, "", key, raw={"rows_aggregate": (agg, subform, "")})
    spec = child.by_key.get(column)
    if spec is None or not value_unit(spec).numeric:
        numbers = ", ".join(f"{subform}.{s.key}" for s in child.fields if value_unit(s).numeric)
        raise _fail(f"{path}.field", f"{agg} needs a number column of {subform} (e.g. {numbers or 'none'})")
    raw = {**spec.raw, "rows_aggregate": (agg, subform, column)}
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
        value = item_unit(spec).parse(spec, raw)
    except Invalid as problem:
        raise _fail(path, str(problem)) from None
    if isinstance(value, datetime) and isinstance(raw, str) and datetime.fromisoformat(raw.strip()).tzinfo is None:
        return LocalTime(datetime.fromisoformat(raw.strip()))
    return value


# --------------------------------------------------------- shared pieces
