"""decimal: an exact decimal number (money, quantities) with a precision and a scale."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, tzinfo
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar

from sqlalchemy.types import TypeEngine

from opsloom.platform.types import ExactDecimal
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
    kind,
)
from opsloom.runtime.fields.formatting import number_text


class Decimal_(FieldType):
    name = "decimal"
    label = {"en": "Number", "zh-CN": "数字"}
    operators = COMPARISONS
    numeric = True
    formula = FORMULA_NUMBER
    widget = "decimal"
    client_kind = "decimal"
    filter_input = "number"
    dimension = True
    measure = True
    lossless_to = frozenset({"text", "textarea"})
    properties: ClassVar[Schema] = {
        "properties": {
            "precision": {"type": "integer", "minimum": 1, "maximum": 18},
            "scale": {"type": "integer", "minimum": 0, "maximum": 12},
            "min": {"$ref": "#/$defs/decimal_literal"},
            "max": {"$ref": "#/$defs/decimal_literal"},
        }
    }

    def example(self, spec: FieldSpec) -> Any:
        return "1200.50" if self.shape(spec)[1] >= 2 else "1200"

    @staticmethod
    def shape(spec: FieldSpec | Mapping[str, Any]) -> tuple[int, int]:
        precision = spec.get("precision", 18)
        return precision, min(spec.get("scale", 2), precision)

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return ExactDecimal(*self.shape(spec))

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise Invalid(f'expected a decimal number such as "1200.50", got {kind(value)}')
        try:
            number = Decimal(value.strip() if isinstance(value, str) else str(value))
        except InvalidOperation:
            raise Invalid(f'{value!r} is not a decimal number such as "1200.50"') from None
        if not number.is_finite():
            raise Invalid("expected a finite decimal number")
        precision, scale = self.shape(spec)
        # Size first: quantize() of a huge number overflows the decimal context.
        if number and number.adjusted() >= precision - scale:
            raise Invalid(f"is too large; at most {precision - scale} digits before the point fit")
        if number != number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_DOWN):
            raise Invalid(f"has more than {scale} decimal places")
        return number.quantize(Decimal(1).scaleb(-scale))

    def check(self, spec: FieldSpec, value: Decimal) -> Iterator[str]:
        yield from in_range(spec, value, Decimal)

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return None if value is None else str(value)

    def value_dump(self, spec: FieldSpec) -> Callable[[Any], Any]:
        return str

    def fit(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, Decimal):
            value = value.quantize(Decimal(1).scaleb(-self.shape(spec)[1]), rounding=ROUND_HALF_UP)
            if value.is_zero():
                value = abs(value)  # never store or show "-0.00"
        return self.parse(spec, value, zone)

    def storage_kind(self, spec: FieldSpec) -> tuple[Any, ...]:
        return ("decimal", spec.get("scale", 2))

    def browser_meta(self, spec: FieldSpec) -> dict[str, Any]:
        return {"scale": self.storage_kind(spec)[1]}  # the browser compares fields of one scale

    def column_shape(self, field: Mapping[str, Any]) -> tuple[Any, ...]:
        return (field.get("precision", 18), field.get("scale", 2))

    def design_problems(self, field: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if field.get("scale", 2) > field.get("precision", 18):
            yield "scale", "cannot be larger than precision"

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        scale = self.shape(spec)[1]
        places = rf"(\.\d{{1,{scale}}})?" if scale else ""
        schema: Schema = {
            "type": ["string", "number"] if shape.write else "string",
            "pattern": rf"^-?\d+{places}$",
            "example": "1200.50" if scale >= 2 else "1200",
            "description": "A decimal number as a string, exact to its scale",
        }
        bounds = [f"{word} {spec.get(key)}" for key, word in (("min", "at least"), ("max", "at most")) if spec.get(key)]
        if bounds:
            schema["description"] += " (" + ", ".join(bounds) + ")"
        return schema

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return number_text(value, t.locale, int(spec.get("scale", 2)))

    def to_cell(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> Any:
        return Decimal(str(value))

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        if isinstance(cell, float):
            return repr(cell)  # the shortest text that reads back as the same float
        return super().from_cell(spec, cell)
