"""percent: a percentage, kept exactly as its decimal fraction (12.5% is stored and sent as "0.125").

The fraction is what a formula multiplies by (`amount * discount`) and what a
spreadsheet holds under a percent format; people see `12.5%` in both languages.
The API writes the fraction as a decimal string and reads a number, a decimal
string or a text with a percent sign ("12.5%"). `places` is how many decimal
places the percentage has (default 1, so the fraction has three).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    kind,
)
from opsloom.runtime.fields.formatting import number_text

PRECISION = 15  # digits of the fraction: percentages up to about a trillion per cent
PLACES = 1
MOST_PLACES = 6


class Percent(FieldType):
    name = "percent"
    label = {"en": "Percentage", "zh-CN": "百分比"}
    operators = COMPARISONS
    numeric = True
    formula = FORMULA_NUMBER
    widget = "percent"
    client_kind = "percent"
    filter_input = "text"  # "12.5" or "12.5%"
    measure = True
    lossless_to = frozenset({"percent", "text", "textarea"})
    properties: ClassVar[Schema] = {
        "properties": {
            "places": {
                "type": "integer",
                "minimum": 0,
                "maximum": MOST_PLACES,
                "description": f"Decimal places of the percentage: 12.5% has 1 (default {PLACES})",
            },
        }
    }

    @staticmethod
    def shape(spec: FieldSpec | Mapping[str, Any]) -> tuple[int, int]:
        """(precision, scale) of the stored fraction."""
        return int(spec.get("precision", PRECISION)), int(spec.get("places", PLACES)) + 2

    def example(self, spec: FieldSpec) -> Any:
        return "0.125" if self.shape(spec)[1] >= 3 else "0.12"

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return ExactDecimal(*self.shape(spec))

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise Invalid(f'expected a percentage such as "12.5%" or its fraction "0.125", got {kind(value)}')
        text = value.strip() if isinstance(value, str) else str(value)
        if text == "":
            return None
        scaled = text.endswith("%")
        try:
            number = Decimal(text.removesuffix("%").strip())
        except InvalidOperation:
            raise Invalid(f'{value!r} is not a percentage such as "12.5%" or its fraction "0.125"') from None
        if not number.is_finite():
            raise Invalid("expected a finite percentage")
        if scaled:
            number = number.scaleb(-2)
        precision, scale = self.shape(spec)
        if number and number.adjusted() >= precision - scale:
            raise Invalid("is too large a percentage")
        if number != number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_DOWN):
            raise Invalid(f"has more than {scale - 2} decimal places as a percentage (12.5% is 0.125)")
        return number.quantize(Decimal(1).scaleb(-scale)) + 0  # + 0: never "-0.000"

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return None if value is None else str(value)

    def value_dump(self, spec: FieldSpec) -> Callable[[Any], Any]:
        return str

    def fit(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, Decimal) and value.is_finite():
            value = value.quantize(Decimal(1).scaleb(-self.shape(spec)[1]), rounding=ROUND_HALF_UP)
        return self.parse(spec, value, zone)

    def filter_value(self, text: str) -> Any:
        # a filter bar is typed in percent, as the list shows it: "12.5" is 12.5%
        text = text.strip()
        return text if not text or text.endswith("%") else text + "%"

    def storage_kind(self, spec: FieldSpec) -> tuple[Any, ...]:
        return ("decimal", self.shape(spec)[1])  # compares with a decimal of the same scale

    def column_shape(self, field: Mapping[str, Any]) -> tuple[Any, ...]:
        return (field.get("places", PLACES),)

    def browser_meta(self, spec: FieldSpec) -> dict[str, Any]:
        return {"places": self.shape(spec)[1] - 2}

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        scale = self.shape(spec)[1]
        if shape.write:
            return {
                "type": ["string", "number"],
                "pattern": r"^\s*-?\d+(\.\d+)?\s*%?\s*$",
                "example": self.example(spec),
                "description": 'A percentage: its fraction ("0.125" or 0.125) or the percentage with a sign ("12.5%")',
            }
        return {
            "type": "string",
            "pattern": rf"^-?\d+(\.\d{{1,{scale}}})?$",
            "example": self.example(spec),
            "description": 'A percentage as its exact decimal fraction: "0.125" is 12.5%',
        }

    def percentage(self, spec: FieldSpec, value: Any) -> Decimal:
        return Decimal(str(value)).scaleb(2).quantize(Decimal(1).scaleb(-(self.shape(spec)[1] - 2)))

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return number_text(self.percentage(spec, value), t.locale, self.shape(spec)[1] - 2) + "%"

    def to_cell(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> Any:
        return format(self.percentage(spec, value), "f") + "%"  # a spreadsheet reads "12.5%" as 0.125

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        if isinstance(cell, float):
            return repr(cell)  # a percent-formatted cell holds the fraction
        return super().from_cell(spec, cell)
