"""textarea: several lines of text, of any length unless max_length says otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, tzinfo
from typing import Any

from sqlalchemy import Text as TextColumn
from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import FieldSpec, Invalid, kind, refuse_nul
from opsloom.runtime.fields.text import Text


class Textarea(Text):
    name = "textarea"
    label = {"en": "Long text", "zh-CN": "多行文本"}
    sortable = False
    default_length = 0  # unlimited text column; a max_length is still enforced when given
    widget = "textarea"
    client_kind = "textarea"
    title = False
    dimension = False
    lossless_to = frozenset({"textarea"})

    def example(self, spec: FieldSpec) -> Any:
        return "Two lines\nof text"

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return TextColumn()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, str):
            raise Invalid(f"expected a text, got {kind(value)}")
        refuse_nul(value)
        return value if value.strip() else None

    def column_shape(self, field: Mapping[str, Any]) -> tuple[Any, ...]:
        return ()

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        return None if cell is None else str(cell)
