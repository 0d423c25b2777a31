"""The filter bar of the record list: rows of (field, operator, value) <-> the condition language.

The bar is a plain GET form with repeated `f_field`, `f_op` and `f_value`
parameters, so it works without JavaScript; the server turns the rows into
one condition (`{"and": [...]}` when there are several) and the list takes it
as `filter=`, exactly as the records API does. Going back, the parts of a
filter that are simple comparisons become rows again and removable chips.
Values are checked by `parse_condition` when the list runs, not here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from opsloom.runtime.conditions import NO_VALUE_OPS
from opsloom.runtime.fields import FieldSpec, unit_of, value_unit
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.pages.display import value_text
from opsloom.runtime.pages.i18n import Translator

# The order operators are offered in; a field offers those its type answers.
OPERATORS = (
    "eq",
    "ne",
    "contains",
    "starts_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "in",
    "not_in",
    "today",
    "this_week",
    "this_month",
    "last_n_days",
    "is_empty",
    "not_empty",
)
LIST_OPS = frozenset({"in", "not_in", "between"})  # values written "a, b, c"
MAX_ROWS = 20


def operators_of(spec: FieldSpec) -> tuple[str, ...]:
    allowed = unit_of(spec).operators_for(spec) | {"is_empty", "not_empty"}
    return tuple(op for op in OPERATORS if op in allowed)


def input_of(spec: FieldSpec, op: str) -> str:
    """The input a value of `op` on this field needs: none, select, boolean, number, date, datetime-local or text."""
    if op in NO_VALUE_OPS:
        return "none"
    if op == "last_n_days":
        return "number"
    if op in LIST_OPS:
        return "text"
    return value_unit(spec).filter_input_for(op)


@dataclass(frozen=True)
class FilterField:
    """A field the bar offers, with what the browser needs to follow a change of field."""

    key: str
    label: str
    ops: tuple[str, ...]
    inputs: dict[str, str]  # operator -> input kind
    options: tuple[tuple[str, str], ...]

    @property
    def data(self) -> str:
        return json.dumps({"ops": self.ops, "inputs": self.inputs, "options": self.options}, ensure_ascii=False)


def filter_fields(visible: CompiledForm, t: Translator) -> list[FilterField]:
    fields = []
    for spec in visible.fields:
        ops = operators_of(spec)
        if unit_of(spec).child_rows or not ops:
            continue
        options = tuple((str(o.get("value")), t.label(o.get("label"))) for o in spec.get("options") or ())
        fields.append(FilterField(spec.key, t.label(spec.label), ops, {op: input_of(spec, op) for op in ops}, options))
    return fields


# ------------------------------------------------------------------ rows -> condition


@dataclass(frozen=True)
class FilterRow:
    field: str
    op: str
    value: str = ""


def rows_from_params(fields: list[str], ops: list[str], values: list[str]) -> list[FilterRow]:
    """The rows a filter form sent; rows without a field are the bar's empty row, and skipped."""
    rows = []
    for i, key in enumerate(fields[:MAX_ROWS]):
        op = ops[i] if i < len(ops) else ""
        value = values[i] if i < len(values) else ""
        if key.strip():
            rows.append(FilterRow(key.strip(), op.strip(), value.strip()))
    return rows


def condition_of(row: FilterRow, visible: CompiledForm) -> dict[str, Any]:
    """One row as a comparison; values typed as the field wants them, left for the parser to judge."""
    spec = visible.by_key.get(row.field)
    condition: dict[str, Any] = {"field": row.field, "op": row.op}
    if row.op in NO_VALUE_OPS:
        return condition
    if row.op == "last_n_days":
        condition["value"] = int(row.value) if row.value.isdigit() else row.value
    elif row.op in LIST_OPS:
        condition["value"] = [_scalar(spec, part.strip()) for part in row.value.split(",") if part.strip()]
    elif row.op in ("contains", "starts_with") or (spec is not None and value_unit(spec).multiple):
        condition["value"] = row.value
    elif row.value or row.op not in ("eq", "ne"):
        condition["value"] = _scalar(spec, row.value)
    else:
        condition["value"] = None  # eq/ne with no value: is empty / is not empty
    return condition


def _scalar(spec: FieldSpec | None, text: str) -> Any:
    return value_unit(spec).filter_value(text) if spec is not None else text


def combine(parts: list[Any]) -> Any:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"and": parts}


def conjuncts(document: Any) -> list[Any]:
    """The parts of a filter that must all hold: the items of a top-level `and`, or the filter itself."""
    if document is None:
        return []
    if isinstance(document, dict) and set(document) == {"and"} and isinstance(document["and"], list):
        return list(document["and"])
    return [document]


def as_filter_text(document: Any) -> str:
    return "" if document is None else json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)


# ------------------------------------------------------------------ condition -> rows and chips


def row_of(part: Any, visible: CompiledForm) -> FilterRow | None:
    """A comparison the bar can show as a row, or None (groups, aggregates, variables, field refs)."""
    if not isinstance(part, dict) or set(part) - {"field", "op", "value"}:
        return None
    key = part.get("field")
    spec = visible.by_key.get(key) if isinstance(key, str) else None
    op, value = part.get("op"), part.get("value")
    if spec is None or op not in operators_of(spec):
        return None
    if isinstance(value, list) and op in LIST_OPS:
        if not all(_plain(v) for v in value):
            return None
        return FilterRow(spec.key, op, ", ".join(_text(v) for v in value))
    if not _plain(value):
        return None
    return FilterRow(spec.key, op, _text(value))


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Chip:
    text: str
    remove_filter: str  # the filter without this part, as `filter=` text


def chips_of(parts: list[Any], visible: CompiledForm, t: Translator, zone: tzinfo) -> list[Chip]:
    chips = []
    for i, part in enumerate(parts):
        rest = as_filter_text(combine(parts[:i] + parts[i + 1 :]))
        row = row_of(part, visible)
        chips.append(Chip(_chip_text(row, visible, t, zone) if row else t("list.filter.custom"), rest))
    return chips


def _chip_text(row: FilterRow, visible: CompiledForm, t: Translator, zone: tzinfo) -> str:
    spec = visible.by_key[row.field]
    words = [t.label(spec.label), t(f"list.op.{row.op}")]
    if row.op not in NO_VALUE_OPS and row.value:
        if input_of(spec, row.op) in ("select", "boolean", "date"):
            value = _scalar(spec, row.value)
            # a condition on a list names one of its items
            words.append(value_text(t, zone, spec, [value] if value_unit(spec).multiple else value))
        else:
            words.append(row.value)
    return " ".join(words)
