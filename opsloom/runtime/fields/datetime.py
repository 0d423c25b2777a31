"""datetime: a point in time, stored in UTC; a time without an offset means the configured zone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, tzinfo
from typing import Any, ClassVar

from sqlalchemy.types import TypeEngine

from opsloom.platform.types import UTCDateTime
from opsloom.runtime.fields.base import (
    DATE_OPERATORS,
    FORMULA_DATETIME,
    FieldSpec,
    FieldType,
    Invalid,
    Schema,
    Shape,
    Translator,
    dump_datetime,
    in_range,
    kind,
)
from opsloom.runtime.fields.date import DAY_RANGE
from opsloom.runtime.fields.formatting import as_moment, datetime_text


class DateTime(FieldType):
    name = "datetime"
    label = {"en": "Date and time", "zh-CN": "日期时间"}
    operators = DATE_OPERATORS
    temporal = "moment"
    formula = FORMULA_DATETIME
    widget = "datetime"
    client_kind = "datetime"
    filter_input = "datetime-local"
    dimension = True
    lossless_to = frozenset({"datetime", "text", "textarea"})
    properties: ClassVar[Schema] = DAY_RANGE

    def example(self, spec: FieldSpec) -> Any:
        return "2026-01-31T09:30:00Z"

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return UTCDateTime()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                raise Invalid(f'expected a date and time like "2026-01-31T09:30:00+08:00", got {value!r}') from None
        else:
            raise Invalid(f"expected a date and time in ISO 8601, got {kind(value)}")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        try:
            return moment.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the last UTC day
            raise Invalid(f"{value!r} is outside the years 0001 to 9999 in UTC") from None

    def check(self, spec: FieldSpec, value: datetime) -> Iterator[str]:
        yield from in_range(spec, value, lambda s: self.parse(spec, s))

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return None if value is None else dump_datetime(value)

    def value_dump(self, spec: FieldSpec) -> Callable[[Any], Any]:
        return dump_datetime

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {"type": "string", "format": "date-time", "example": "2026-01-31T09:30:00Z"}

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return datetime_text(value, t.locale, zone)

    def to_cell(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> Any:
        return as_moment(value).astimezone(zone)

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        if isinstance(cell, datetime):
            return cell.isoformat()  # a naive cell means the configured zone, as parse reads it
        if isinstance(cell, date):
            return datetime.combine(cell, datetime.min.time()).isoformat()
        return super().from_cell(spec, cell)
