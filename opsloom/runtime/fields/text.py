"""text: one line of text (255 characters unless max_length says otherwise)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, tzinfo
from typing import Any, ClassVar

import regex
from sqlalchemy import String
from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import (
    COMPARISONS,
    FORMULA_TEXT,
    TEXT_OPERATORS,
    FieldSpec,
    FieldType,
    Invalid,
    Schema,
    Shape,
    kind,
    matches,
    refuse_nul,
)

TEXT_FAMILY = frozenset({"text", "textarea", "email", "phone", "url"})


class Text(FieldType):
    name = "text"
    label = {"en": "Text", "zh-CN": "单行文本"}
    operators = TEXT_OPERATORS | (COMPARISONS - {"in", "not_in"})
    text_like = True
    formula = FORMULA_TEXT
    default_length: ClassVar[int] = 255
    expected: ClassVar[str] = "a text"
    title = True
    dimension = True
    lossless_to = TEXT_FAMILY - {"email", "phone", "url"}
    properties: ClassVar[Schema] = {
        "properties": {
            "min_length": {"type": "integer", "minimum": 0, "maximum": 100000},
            "max_length": {"type": "integer", "minimum": 1, "maximum": 100000},
            "pattern": {"type": "string", "minLength": 1, "maxLength": 500},
        }
    }

    def example(self, spec: FieldSpec) -> Any:
        return "Office chairs"

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return String(spec.get("max_length", self.default_length))

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, str):
            raise Invalid(f"expected {self.expected}, got {kind(value)}")
        refuse_nul(value)
        value = value.strip()
        return value or None

    def check(self, spec: FieldSpec, value: str) -> Iterator[str]:
        max_length = self.max_length(spec)
        if max_length and len(value) > max_length:
            yield f"is {len(value)} characters long; the most allowed is {max_length}"
        min_length = spec.get("min_length")
        if min_length and len(value) < min_length:
            yield f"is {len(value)} characters long; at least {min_length} are needed"
        pattern = spec.get("pattern")
        if pattern and not matches(pattern, value):
            yield f"does not match the pattern {pattern}"

    def max_length(self, spec: FieldSpec) -> int:
        return int(spec.get("max_length", self.default_length) or 0)

    def design_problems(self, field: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if "pattern" in field:
            try:
                regex.compile(field["pattern"])
            except regex.error as error:
                yield "pattern", f"is not a valid regular expression: {error}"

    def storage_kind(self, spec: FieldSpec) -> tuple[Any, ...]:
        return ("text",)

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        schema: Schema = {"type": "string"}
        if max_length := self.max_length(spec):
            schema["maxLength"] = max_length
        if spec.get("min_length"):
            schema["minLength"] = spec.get("min_length")
        if spec.get("pattern"):
            schema["pattern"] = f"^(?:{spec.get('pattern')})$"
        return schema

    def column_shape(self, field: Mapping[str, Any]) -> tuple[Any, ...]:
        return (field.get("max_length", self.default_length if self.name == "text" else None),)

    def reshape(self, raw: Any) -> Any:
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, list):
            return ", ".join(map(str, raw))
        return raw if isinstance(raw, str) else str(raw)

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        if cell is None:
            return None
        return str(cell).strip() or None
