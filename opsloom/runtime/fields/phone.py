"""phone: a phone number (digits, spaces, +, -, parentheses)."""

from __future__ import annotations

import re
from datetime import UTC, tzinfo
from typing import Any

from opsloom.runtime.fields.base import FieldSpec, Invalid, Schema, Shape
from opsloom.runtime.fields.text import TEXT_FAMILY, Text

SHAPE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")


class Phone(Text):
    name = "phone"
    label = {"en": "Phone", "zh-CN": "电话"}
    default_length = 32
    expected = "a phone number"
    widget = "phone"
    client_kind = "phone"
    lossless_to = TEXT_FAMILY - {"email", "url"}

    def example(self, spec: FieldSpec) -> Any:
        return "+86 138 0013 8000"

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        text = super().parse(spec, value)
        if text is not None and not SHAPE.match(text):
            raise Invalid(f"{text!r} is not a phone number (digits, spaces, +, -, parentheses)")
        return text

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {**super().openapi_schema(spec, shape), "pattern": SHAPE.pattern, "example": "+86 10 1234 5678"}

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        if isinstance(cell, int | float) and not isinstance(cell, bool) and float(cell).is_integer():
            return str(int(cell))  # a spreadsheet keeps 13800138000 as a number
        return super().from_cell(spec, cell)
