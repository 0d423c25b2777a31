"""rating: one to `max` stars (5 unless the field says, at most 10), stored as a whole number.

Conditions compare it as a number, formulas read it as one, reports group by it
and average it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import tzinfo
from typing import Any, ClassVar

from sqlalchemy import SmallInteger
from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import FieldSpec, Schema, Shape, Translator
from opsloom.runtime.fields.integer import Integer

MOST_STARS = 10
STARS = 5


class Rating(Integer):
    name = "rating"
    label = {"en": "Rating", "zh-CN": "评分"}
    widget = "rating"
    title = False
    dimension = True
    measure = True
    lossless_to = frozenset({"integer", "text", "textarea"})
    properties: ClassVar[Schema] = {
        "properties": {
            "max": {
                "type": "integer",
                "minimum": 1,
                "maximum": MOST_STARS,
                "description": f"How many stars (default {STARS})",
            },
        }
    }

    @staticmethod
    def stars(spec: FieldSpec | Mapping[str, Any]) -> int:
        return int(spec.get("max") or STARS)

    def example(self, spec: FieldSpec) -> Any:
        return min(4, self.stars(spec))

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return SmallInteger()

    def check(self, spec: FieldSpec, value: int) -> Iterator[str]:
        if not 1 <= value <= self.stars(spec):
            yield f"must be from 1 to {self.stars(spec)} stars"

    def storage_kind(self, spec: FieldSpec) -> tuple[Any, ...]:
        return (Integer.name,)  # compares with whole numbers

    def filter_value(self, text: str) -> Any:
        return int(text) if text.isascii() and text.isdigit() and len(text) < 3 else text

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {
            "type": "integer",
            "minimum": 1,
            "maximum": self.stars(spec),
            "description": f"Stars, from 1 to {self.stars(spec)}",
        }

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return f"{value}/{self.stars(spec)}"

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        if isinstance(cell, str) and "/" in cell:  # "4/5", as the field shows it
            cell = cell.split("/", 1)[0]
        return super().from_cell(spec, cell)
