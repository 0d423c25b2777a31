"""integer: a whole number that fits in 64 bits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from sqlalchemy import BigInteger
from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import (
    COMPARISONS,
    FORMULA_NUMBER,
    FieldSpec,
    FieldType,
    Invalid,
    Schema,
    Shape,
    Translator,
    in_range,
    is_whole,
    kind,
)
from opsloom.runtime.fields.formatting import number_text

LIMIT = 2**63 - 1
_PLAIN_NUMBER = re.compile(r"\s*-?[0-9]+(\.[0-9]+)?\s*")


class Integer(FieldType):
    name = "integer"
    label = {"en": "Whole number", "zh-CN": "整数"}
    operators = COMPARISONS
    numeric = True
    integral = True
    formula = FORMULA_NUMBER
    widget = "integer"
    client_kind = "integer"
    filter_input = "number"
    title = True
    dimension = True
    measure = True
    lossless_to = frozenset({"integer", "text", "textarea"})
    LIMIT: ClassVar[int] = LIMIT
    properties: ClassVar[Schema] = {"properties": {"min": {"type": "integer"}, "max": {"type": "integer"}}}

    def example(self, spec: FieldSpec) -> Any:
        return 12

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return BigInteger()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, bool):
            raise Invalid("expected a whole number, got true/false")
        if isinstance(value, int):
            number = value
        elif isinstance(value, Decimal | float) and is_whole(value, LIMIT):
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,19}\s*", value):
            number = int(value.strip())
        else:
            raise Invalid(f"expected a whole number, got {kind(value)}")
        if abs(number) > LIMIT:
            raise Invalid(f"{number} is too large; numbers up to {LIMIT} fit")
        return number

    def check(self, spec: FieldSpec, value: int) -> Iterator[str]:
        yield from in_range(spec, value)

    def fit(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, Decimal):
            value = value.to_integral_value(rounding=ROUND_HALF_UP)
        return self.parse(spec, value, zone)

    def filter_value(self, text: str) -> Any:
        return int(text) if re.fullmatch(r"-?\d{1,18}", text) else text

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        low, high = spec.get("min"), spec.get("max")
        return {
            "type": "integer",
            "minimum": -LIMIT if low is None else low,
            "maximum": LIMIT if high is None else high,
        }

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return number_text(value, t.locale, 0)

    def to_cell(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> Any:
        return Decimal(str(value))

    def reshape(self, raw: Any) -> Any:
        # Plain notation only ("12", "12.00"), as the field itself reads text; not "1e3", "+5" or "1_000".
        if isinstance(raw, str) and _PLAIN_NUMBER.fullmatch(raw):
            return Decimal(raw.strip())
        return raw

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        return self.reshape(super().from_cell(spec, cell))
