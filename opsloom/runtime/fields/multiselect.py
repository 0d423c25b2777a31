"""multiselect: several options of a list the form defines, kept in the options' order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, tzinfo
from typing import Any, ClassVar

from sqlalchemy.types import TypeEngine

from opsloom.platform.types import Json
from opsloom.runtime.fields.base import (
    FieldSpec,
    FieldType,
    Invalid,
    Schema,
    Shape,
    Translator,
    count_problems,
    counted,
    kind,
)
from opsloom.runtime.fields.select import OPTIONS, Select, option_by_label, option_labels


class OptionOf(Select):
    """One option of a multiselect, as `contains` and `in` name it."""

    name = "multiselect"

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if value not in spec.option_values():
            raise Invalid(f"{value!r} is not an option of {spec.key}")
        return value


class MultiSelect(FieldType):
    name = "multiselect"
    label = {"en": "Multiple choice", "zh-CN": "多选"}
    sortable = False
    multiple = True
    options = True
    operators = frozenset({"contains", "in", "eq", "ne"})
    widget = "multiselect"
    client_kind = "multiselect"
    filter_input = "select"
    dimension = True
    lossless_to = frozenset({"multiselect", "text", "textarea"})
    properties: ClassVar[Schema] = OPTIONS
    _option = OptionOf()

    starts_with: ClassVar[Schema] = {"options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]}

    def example(self, spec: FieldSpec) -> Any:
        return list(spec.option_values()[:1])

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Json

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, list):
            raise Invalid(f"expected a list of options, got {kind(value)}")
        allowed = spec.option_values()
        wrong = [v for v in value if not isinstance(v, str) or v not in allowed]
        if wrong:
            raise Invalid(f"{wrong[0]!r} is not an option; choose from {', '.join(allowed)}")
        # Keep the options' own order, without repeats, so equal choices compare equal.
        chosen = [v for v in allowed if v in value]
        return chosen or None

    def check(self, spec: FieldSpec, value: list[str]) -> Iterator[str]:
        yield from count_problems(spec, value, "choices")

    def element(self, spec: FieldSpec) -> FieldType:
        return self._option

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        schema: Schema = {"type": "array", "items": {"type": "string", "enum": list(spec.option_values())}}
        return counted(spec, schema, unique=True)

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return option_labels(t, spec, list(value))

    def reshape(self, raw: Any) -> Any:
        return [raw] if isinstance(raw, str) else raw

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        if cell is None or not str(cell).strip():
            return None
        parts = [p.strip() for p in re.split(r"[,，;；、\n]", str(cell)) if p.strip()]
        return [option_by_label(spec, p) for p in parts]
