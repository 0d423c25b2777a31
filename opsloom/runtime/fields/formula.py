"""formula: a value computed on save from the record (runtime/formulas.py) and stored, so it
can be filtered, sorted and reported. It behaves as the type it produces (`result`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, tzinfo
from typing import Any, ClassVar

from sqlalchemy import Text as TextColumn
from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import FieldSpec, FieldType, Schema, Shape, Translator
from opsloom.runtime.fields.boolean import Boolean
from opsloom.runtime.fields.date import Date
from opsloom.runtime.fields.datetime import DateTime
from opsloom.runtime.fields.decimal import Decimal_
from opsloom.runtime.fields.text import Text


class ComputedText(Text):
    """Text a formula produced: any length, sortable."""

    name = "formula"
    default_length = 0

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return TextColumn()

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {"type": "string"}


RESULTS: dict[str, FieldType] = {
    "number": Decimal_(),
    "text": ComputedText(),
    "date": Date(),
    "datetime": DateTime(),
    "boolean": Boolean(),
}


class Formula(FieldType):
    name = "formula"
    label = {"en": "Formula", "zh-CN": "公式"}
    entered = False
    computed = True
    leave_out = "is computed from its formula; leave it out"
    widget = "computed"
    title = True
    properties: ClassVar[Schema] = {
        "required": ["formula"],
        "properties": {
            "formula": {
                "type": "string",
                "minLength": 1,
                "maxLength": 2000,
                "description": "An expression such as qty * price or SUM(items.line_total)",
            },
            "result": {"enum": list(RESULTS), "description": "What the formula produces (default number)"},
            "precision": {"type": "integer", "minimum": 1, "maximum": 18},
            "scale": {"type": "integer", "minimum": 0, "maximum": 12},
        },
    }

    starts_with: ClassVar[Schema] = {"formula": "1 + 1", "result": "number"}

    def example(self, spec: FieldSpec) -> Any:
        return self.result(spec).example(spec)

    @staticmethod
    def result_name(field: FieldSpec | Mapping[str, Any]) -> str:
        return str(field.get("result", "number"))

    def result(self, spec: FieldSpec | Mapping[str, Any]) -> FieldType:
        return RESULTS[self.result_name(spec)]

    def shown_as(self, spec: FieldSpec) -> FieldType:
        return self.result(spec)

    def shown_as_choices(self) -> tuple[str, str, Mapping[str, FieldType]]:
        return ("result", "number", RESULTS)

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return self.result(spec).column_type(spec)

    def operators_for(self, spec: FieldSpec) -> frozenset[str]:
        return self.result(spec).operators_for(spec)

    def sortable_for(self, spec: FieldSpec) -> bool:
        return self.result(spec).sortable_for(spec)

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        return self.result(spec).parse(spec, value, zone)

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return self.result(spec).dump(spec, value)

    def fit(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        return self.result(spec).fit(spec, value, zone)

    def storage_kind(self, spec: FieldSpec) -> tuple[Any, ...]:
        return self.result(spec).storage_kind(spec)

    def formula_type(self, spec: Mapping[str, Any]) -> str | None:
        return self.result_name(spec)

    def column_shape(self, field: Mapping[str, Any]) -> tuple[Any, ...]:
        return (self.result_name(field), field.get("precision", 18), field.get("scale", 2))

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {**self.result(spec).openapi_schema(spec, shape), "readOnly": True}

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return self.result(spec).display(t, zone, spec, value)

    def to_cell(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> Any:
        return self.result(spec).to_cell(t, zone, spec, value)
