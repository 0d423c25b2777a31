"""date: a calendar day."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, tzinfo
from typing import Any, ClassVar

from sqlalchemy import Date as DateColumn
from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import (
    DATE_OPERATORS,
    FORMULA_DATE,
    FieldSpec,
    FieldType,
    Invalid,
    Schema,
    Shape,
    Translator,
    in_range,
    kind,
)
from opsloom.runtime.fields.formatting import date_text

DAY_RANGE: Schema = {
    "properties": {"min": {"type": "string", "maxLength": 40}, "max": {"type": "string", "maxLength": 40}}
}


class Date(FieldType):
    name = "date"
    label = {"en": "Date", "zh-CN": "日期"}
    operators = DATE_OPERATORS
    temporal = "date"
    formula = FORMULA_DATE
    widget = "date"
    client_kind = "date"
    filter_input = "date"
    title = True
    dimension = True
    lossless_to = frozenset({"date", "datetime", "text", "textarea"})
    properties: ClassVar[Schema] = DAY_RANGE

    def example(self, spec: FieldSpec) -> Any:
        return "2026-01-31"

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return DateColumn()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, datetime):
            pass
        elif isinstance(value, date):
            return value
        elif isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise Invalid(f'expected a date like "2026-01-31", got {kind(value)}')

    def check(self, spec: FieldSpec, value: date) -> Iterator[str]:
        yield from in_range(spec, value, date.fromisoformat)

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return None if value is None else value.isoformat()

    def value_dump(self, spec: FieldSpec) -> Callable[[Any], Any]:
        return date.isoformat

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {"type": "string", "format": "date", "example": "2026-01-31"}

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return date_text(value, t.locale)

    def to_cell(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> Any:
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        if isinstance(cell, datetime):
            return cell.date().isoformat()
        if isinstance(cell, date):
            return cell.isoformat()
        return super().from_cell(spec, cell)
