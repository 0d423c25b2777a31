"""autonumber: a running number such as PR-202611-0042, given by the system on create."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from sqlalchemy import String
from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import FieldSpec, Schema, Shape
from opsloom.runtime.fields.text import Text


class Autonumber(Text):
    name = "autonumber"
    label = {"en": "Running number", "zh-CN": "流水号"}
    default_length = 64
    entered = False
    numbered = True
    leave_out = "is numbered by the system when the record is created; leave it out"
    widget = "computed"
    not_in_rows = "rows are not numbered; use an autonumber on the form itself"
    dimension = False
    lossless_to = frozenset({"text", "textarea"})
    properties: ClassVar[Schema] = {
        "required": ["pattern"],
        "properties": {
            "pattern": {
                "type": "string",
                "minLength": 1,
                "maxLength": 60,
                "description": "e.g. PR-{YYYY}{MM}-{seq:4}; tokens {YYYY} {YY} {MM} {DD} {seq:N} {field_key}",
            },
            "reset": {
                "enum": ["year", "month", "day", "never"],
                "description": "When the running number restarts (default: the finest date token of the pattern)",
            },
        },
    }

    starts_with: ClassVar[Schema] = {"pattern": "NO-{seq:4}"}

    def example(self, spec: FieldSpec) -> Any:
        return "PR-202611-0042"

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return String(64)

    def check(self, spec: FieldSpec, value: str) -> Iterator[str]:
        return iter(())

    def design_problems(self, field: Any) -> Iterator[tuple[str, str]]:
        return iter(())  # its pattern is a numbering pattern (runtime/autonumbers.py checks it)

    def column_shape(self, field: Any) -> tuple[Any, ...]:
        return ()

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {"type": "string", "readOnly": True, "example": "PR-202611-0042"}
