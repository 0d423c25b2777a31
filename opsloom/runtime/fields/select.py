"""select: one option of a list the form defines."""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any, ClassVar

from sqlalchemy import String
from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import FORMULA_TEXT, FieldSpec, FieldType, Invalid, Schema, Shape, Translator

OPTIONS: Schema = {
    "required": ["options"],
    "properties": {
        "options": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"$ref": "#/$defs/option"}},
        "min_items": {"type": "integer", "minimum": 0},
        "max_items": {"type": "integer", "minimum": 1},
    },
}


def option_labels(t: Translator, spec: FieldSpec, chosen: list[Any]) -> str:
    labels = {o.get("value"): o.get("label") for o in spec.get("options") or ()}
    return ", ".join(t.label(labels.get(v, v)) for v in chosen)


def option_by_label(spec: FieldSpec, text: str) -> str:
    """An option named by its value or by its label in any language (a spreadsheet's cell)."""
    for option in spec.get("options") or ():
        label = option.get("label")
        names = label.values() if isinstance(label, dict) else [label]
        if text == option.get("value") or text in names:
            return str(option["value"])
    return text


class Select(FieldType):
    name = "select"
    label = {"en": "Single choice", "zh-CN": "单选"}
    options = True
    groupable = True
    operators = frozenset({"eq", "ne", "in", "not_in"})
    formula = FORMULA_TEXT
    widget = "select"
    client_kind = "select"
    filter_input = "select"
    title = True
    dimension = True
    lossless_to = frozenset({"select", "multiselect", "text", "textarea"})
    properties: ClassVar[Schema] = OPTIONS

    starts_with: ClassVar[Schema] = {"options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]}

    def example(self, spec: FieldSpec) -> Any:
        return spec.option_values()[0]

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return String(64)

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if value == "":
            return None
        allowed = spec.option_values()
        if not isinstance(value, str) or value not in allowed:
            raise Invalid(f"{value!r} is not an option; choose one of {', '.join(allowed)}")
        return value

    def choices(self, spec: FieldSpec) -> frozenset[Any] | None:
        return frozenset(spec.option_values())

    def storage_kind(self, spec: FieldSpec) -> tuple[Any, ...]:
        return ("text",)

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {"type": "string", "enum": list(spec.option_values())}

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return option_labels(t, spec, [value])

    def reshape(self, raw: Any) -> Any:
        if isinstance(raw, list):
            if len(raw) == 1:
                return raw[0]
            raise Invalid("holds several options; a single choice can keep only one")
        return raw

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        text = super().from_cell(spec, cell)
        return option_by_label(spec, str(text)) if text is not None else None
