"""boolean: yes or no."""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any

from sqlalchemy import Boolean as BooleanColumn
from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import FORMULA_BOOLEAN, FieldSpec, FieldType, Invalid, Schema, Shape, Translator, kind

TRUE_WORDS = frozenset({"true", "yes", "1", "是", "y"})
FALSE_WORDS = frozenset({"false", "no", "0", "否", "n"})


class Boolean(FieldType):
    name = "boolean"
    label = {"en": "Yes / no", "zh-CN": "是/否"}
    operators = frozenset({"eq", "ne"})
    formula = FORMULA_BOOLEAN
    widget = "boolean"
    client_kind = "boolean"
    filter_input = "boolean"
    dimension = True
    lossless_to = frozenset({"text", "textarea"})

    def example(self, spec: FieldSpec) -> Any:
        return True

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return BooleanColumn()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, bool):
            raise Invalid(f"expected true or false, got {kind(value)}")
        return value

    def filter_value(self, text: str) -> Any:
        return text == "true" if text in ("true", "false") else text

    def choices(self, spec: FieldSpec) -> frozenset[Any] | None:
        return frozenset({True, False})

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {"type": "boolean"}

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return t("value.yes") if value else t("value.no")

    def reshape(self, raw: Any) -> Any:
        if isinstance(raw, str):
            lowered = raw.strip().lower()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
        if isinstance(raw, int) and not isinstance(raw, bool) and raw in (0, 1):
            return bool(raw)
        return raw

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        if isinstance(cell, str):
            word = cell.strip().lower()
            if not word:
                return None
            return True if word in TRUE_WORDS else False if word in FALSE_WORDS else cell
        return self.reshape(cell)
