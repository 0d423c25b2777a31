"""rollup: a figure from other records, e.g. the sum of a contract's payments.

On form A it aggregates a field of the records of form B (`form`) whose relation
field `via` links to the A record: count, sum, avg, min or max, optionally over the
B records a condition (`filter`) picks. It has no column: every statement that reads
A's records computes it as a subquery correlated to the record, over B's live rows
(deleted ones do not count), so it is always current. It can be sorted and filtered
like the number it is; it is never sent, and a reader who may not read B does not see it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, tzinfo
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Integer, and_, func, literal_column, select, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine

from opsloom.platform.types import ExactDecimal
from opsloom.runtime.fields.base import FieldSpec, FieldType, Schema, Shape, Translator
from opsloom.runtime.fields.decimal import Decimal_
from opsloom.runtime.fields.integer import Integer as WholeNumber

AGGREGATES = ("count", "sum", "avg", "min", "max")
# An average of whole numbers keeps two decimal places.
AVERAGE_SCALE = 2
COUNTED = WholeNumber()
FIGURE = Decimal_()


class Rollup(FieldType):
    name = "rollup"
    label = {"en": "Rollup", "zh-CN": "汇总"}
    has_column = False
    read_time = True
    entered = False
    leave_out = "is computed from other records as it is read; leave it out"
    widget = "computed"
    title = False
    not_in_rows = "a subform row cannot hold a rollup; put it on the form"
    properties: ClassVar[Schema] = {
        "required": ["form", "via", "aggregate"],
        "properties": {
            "form": {
                "$ref": "opsloom:common#/$defs/identifier",
                "description": "The key of the form whose records are aggregated (same app)",
            },
            "via": {
                "$ref": "opsloom:common#/$defs/identifier",
                "description": "The relation field of that form that links its records to this form",
            },
            "aggregate": {"enum": list(AGGREGATES), "description": "count, sum, avg, min or max"},
            "field": {
                "$ref": "opsloom:common#/$defs/identifier",
                "description": "The number field of that form to aggregate (not for count)",
            },
            "filter": {
                "type": "object",
                "description": "Only the records this condition picks, e.g. approved ones",
            },
        },
    }
    starts_with: ClassVar[Schema] = {"form": "task", "via": "project", "aggregate": "count"}

    # ------------------------------------------------------------ the value it behaves as
    @staticmethod
    def counts(field: FieldSpec | Mapping[str, Any]) -> bool:
        return field.get("aggregate") == "count"

    def shown_as(self, spec: FieldSpec) -> FieldType:
        return COUNTED if self.counts(spec) else FIGURE

    def shown_as_choices(self) -> tuple[str, str, Mapping[str, FieldType]]:
        return ("aggregate", "count", {name: COUNTED if name == "count" else FIGURE for name in AGGREGATES})

    def operators_for(self, spec: FieldSpec) -> frozenset[str]:
        return self.shown_as(spec).operators_for(spec)

    def storage_kind(self, spec: FieldSpec) -> tuple[Any, ...]:
        return ("rollup", spec.id)  # compared with no other field

    def formula_type(self, spec: Mapping[str, Any]) -> str | None:
        return None  # formulas run on save, before a rollup is read

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        raise TypeError("a rollup has no column; it is computed as it is read")

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        return self.shown_as(spec).parse(spec, value, zone)  # filter values and list cursors

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return self.shown_as(spec).dump(spec, value)

    def example(self, spec: FieldSpec) -> Any:
        return 3 if self.counts(spec) else "1200.50"

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        shown = self.shown_as(spec)
        schema = {"type": "integer"} if shown is COUNTED else FIGURE.openapi_schema(spec, shape)
        return {**schema, "readOnly": True}

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return self.shown_as(spec).display(t, zone, spec, value)

    def to_cell(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> Any:
        return self.shown_as(spec).to_cell(t, zone, spec, value)

    # ------------------------------------------------------------ read time
    def sources(self, field: FieldSpec | Mapping[str, Any]) -> frozenset[str]:
        form = field.get("form")
        return frozenset({form}) if isinstance(form, str) else frozenset()

    def read_expression(self, spec: FieldSpec, form: Any) -> Any:
        source = form.related.get(spec.get("form"))
        via = source.by_key.get(spec.get("via")) if source is not None else None
        if via is None or via.get("form") != form.key or not _links(via):
            return None
        b = source.table
        where = [b.c[via.column] == form.table.c.id, b.c.deleted_at.is_(None)]
        if spec.get("filter") is not None:
            condition = _source_condition(spec, source)
            if condition is None:
                return None
            where.append(condition)
        value = self._aggregate(spec, source)
        if value is None:
            return None
        return select(value).where(and_(*where)).correlate(form.table).scalar_subquery()

    def _aggregate(self, spec: FieldSpec, source: Any) -> Any:
        aggregate = spec.get("aggregate")
        if aggregate == "count":
            return func.count(type_=BigInteger())
        field = source.by_key.get(spec.get("field"))
        if field is None or not _numeric(field):
            return None
        column = source.table.c[field.column]
        scale = column.type.scale if isinstance(column.type, ExactDecimal) else 0
        from opsloom.runtime.conditions import exact_sum  # conditions import the field types

        if aggregate == "sum":
            return type_coerce(exact_sum(column), ExactDecimal(18, scale))
        if aggregate in ("min", "max"):
            return type_coerce(getattr(func, aggregate)(column), ExactDecimal(18, scale))
        places = scale if isinstance(column.type, ExactDecimal) else AVERAGE_SCALE
        return type_coerce(exact_average(column, scale, places), ExactDecimal(18, places))

    # ------------------------------------------------------------ design checks
    def design_problems(self, field: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        for rule in ("required", "unique", "default", "index"):
            if field.get(rule):
                yield rule, "a rollup is computed from other records; it takes no such rule"
        if not self.counts(field) and not field.get("field"):
            yield "field", f"name the number field to {field.get('aggregate')} (only count needs none)"

    def source_problems(
        self, field: Mapping[str, Any], form_key: str, sources: Mapping[str, Mapping[str, Any] | None]
    ) -> Iterator[tuple[str, str]]:
        source = sources.get(field["form"])
        if field["form"] == form_key:
            yield "form", "a rollup aggregates another form's records, not its own form's"
            return
        if source is None:
            yield "form", f"'{field['form']}' is not a form of this app"
            return
        fields = {f["key"]: f for f in source["fields"]}
        via = fields.get(field["via"])
        if via is None or not _links(via) or via.get("form") != form_key:
            linking = [k for k, f in fields.items() if _links(f) and f.get("form") == form_key]
            hint = f"; its relation fields that do: {', '.join(linking)}" if linking else ""
            yield "via", f"'{field['via']}' is not a relation field of {field['form']} that links to {form_key}{hint}"
        if not self.counts(field) and field.get("field"):
            target = fields.get(field["field"])
            if target is None or not _numeric_document(target):
                yield "field", f"'{field['field']}' is not a number field of {field['form']}"
        if field.get("filter") is not None:
            yield from _filter_problems(field["filter"], source)


def _filter_problems(condition: Any, source: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """A rollup's filter parsed against its source form, as it will be when read."""
    from opsloom.platform.errors import OpsloomError
    from opsloom.runtime.conditions import parse_condition
    from opsloom.runtime.forms import compile_form, initial_storage  # the compiler imports the field types

    try:
        form = compile_form("source", source, form_id=0, version=0, storage=initial_storage("source", source))
        parse_condition(condition, form, path="filter")
    except OpsloomError as error:
        yield from ((e.path, e.message) for e in error.errors) if error.errors else [("filter", str(error))]


def _links(field: FieldSpec | Mapping[str, Any]) -> bool:
    from opsloom.runtime.fields import links_records

    return links_records(field)


def _numeric(spec: FieldSpec) -> bool:
    from opsloom.runtime.fields import unit_of

    unit = unit_of(spec)
    return unit.has_column and unit.shown_as(spec).numeric


def _numeric_document(field: Mapping[str, Any]) -> bool:
    from opsloom.runtime.fields import FIELD_TYPES

    unit = FIELD_TYPES.get(str(field.get("type")))
    if unit is None or not unit.has_column:
        return False
    choices = unit.shown_as_choices()
    if choices is None:
        return unit.numeric
    name, default, units = choices
    shown = units.get(field.get(name, default))
    return shown is not None and shown.numeric


def _source_condition(spec: FieldSpec, source: Any) -> Any:
    """The rollup's filter as SQL over the source form (constant: no user or clock in it)."""
    from datetime import datetime

    from opsloom.platform.errors import OpsloomError
    from opsloom.runtime.conditions import EvalContext, parse_condition, to_sql

    try:
        condition = parse_condition(spec.get("filter"), source, path="filter")
        return to_sql(condition, source, EvalContext(now=datetime.now(UTC)))
    except OpsloomError:
        return None


def exact_average(column: Any, scale: int, places: int) -> Any:
    """The average of a column rounded half away from zero to `places` decimal places, alike on
    both databases (SQLite keeps decimals as integers of 10**-scale, so the division is done there
    in whole units, after scaling whole numbers up to `places`)."""
    return _ExactAverage(column, literal_column(str(10 ** (places - scale))), literal_column(str(places)))


class _ExactAverage(FunctionElement[Any]):
    inherit_cache = True
    type = Integer()


@compiles(_ExactAverage)
def _average_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    x, factor, _ = (compiler.process(c, **kw) for c in element.clauses)
    units, n = f"(sum({x}) * {factor})", f"count({x})"
    # Integer division truncates toward zero: add half a count away from zero first.
    return (
        f"(CASE WHEN {n} = 0 THEN NULL WHEN {units} >= 0 THEN (2 * {units} + {n}) / (2 * {n}) "
        f"ELSE -((-2 * {units} + {n}) / (2 * {n})) END)"
    )


@compiles(_ExactAverage, "postgresql")
def _average_pg(element: Any, compiler: Any, **kw: Any) -> str:
    x, _, places = (compiler.process(c, **kw) for c in element.clauses)
    return f"round(avg({x}), {places})"
