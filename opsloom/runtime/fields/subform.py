"""subform: child rows (order lines) kept in a real child table with `parent_id` and `position`.

The parent's table has no column for it; `runtime/subforms.py` reads and writes the rows.
Conditions reach it through aggregates: `{"field": "items.qty", "agg": "sum", ...}`."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import FieldSpec, FieldType, Schema, Shape, Translator, ref, row_component

MAX_ROWS = 1000


class Subform(FieldType):
    name = "subform"
    label = {"en": "Line items", "zh-CN": "子表单"}
    has_column = False
    child_rows = True
    multiple = True
    sortable = False
    operators = frozenset()
    missing = "needs at least one row"
    widget = "subform"
    client_kind = "rows"
    not_in_rows = "a subform cannot hold another subform"
    properties: ClassVar[Schema] = {
        "required": ["fields"],
        "properties": {
            "fields": {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "items": {"$ref": "#/$defs/field"},
                "description": (
                    "The columns of each row; a subform holds no subform, autonumber, attachment or unique field"
                ),
            },
            "min_rows": {"type": "integer", "minimum": 0, "maximum": MAX_ROWS},
            "max_rows": {"type": "integer", "minimum": 1, "maximum": MAX_ROWS},
            "validations": {"$ref": "#/properties/validations"},
        },
    }

    starts_with: ClassVar[Schema] = {"fields": [{"id": "f_item", "key": "item", "type": "text", "label": "Item"}]}

    def example(self, spec: FieldSpec) -> Any:
        return [{"item": "Office chairs"}]

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        raise TypeError("a subform has no column of its own")

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        suffix = ("RowCreate" if shape.creating else "RowInput") if shape.write else "Row"
        schema: Schema = {"type": "array", "items": ref(row_component(shape.component, spec.key, suffix))}
        schema["maxItems"] = min(spec.get("max_rows", MAX_ROWS), MAX_ROWS)
        if spec.get("min_rows"):
            schema["minItems"] = spec.get("min_rows")
        return schema

    def display(self, t: Translator, zone: Any, spec: FieldSpec, value: Any) -> str:
        return t("value.rows", count=len(value) if isinstance(value, list) else 0)
