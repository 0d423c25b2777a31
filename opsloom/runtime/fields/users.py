"""users: several people of the organisation, stored as a list of user ids.

`contains` asks whether a given person is among them (`{"var": "current_user.id"}` works)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, tzinfo
from typing import Any, ClassVar

from sqlalchemy.types import TypeEngine

from opsloom.platform.api_document import MAX_ID
from opsloom.platform.types import Json
from opsloom.runtime.fields.base import (
    FieldSpec,
    FieldType,
    Invalid,
    Schema,
    Shape,
    count_problems,
    counted,
    kind,
    ref,
)
from opsloom.runtime.fields.user import User


class Users(FieldType):
    name = "users"
    label = {"en": "People", "zh-CN": "多成员"}
    sortable = False
    multiple = True
    link = "user"
    dimension = True  # a report counts a record under each of its people
    operators = frozenset({"contains"})
    widget = "picker"
    client_kind = "users"
    lossless_to = frozenset({"users"})
    MAX: ClassVar[int] = 200
    properties: ClassVar[Schema] = {
        "properties": {"min_items": {"type": "integer", "minimum": 0}, "max_items": {"type": "integer", "minimum": 1}}
    }
    _person = User()

    def example(self, spec: FieldSpec) -> Any:
        return [1]

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Json

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, list):
            raise Invalid(f"expected a list of user ids, got {kind(value)}")
        if len(value) > self.MAX:
            raise Invalid(f"holds {len(value)} people; at most {self.MAX} fit")
        ids: list[int] = []
        for item in value:
            number = self._person.parse(spec, item, zone)
            if number not in ids:  # the same person twice is once
                ids.append(number)
        return ids or None

    def check(self, spec: FieldSpec, value: list[int]) -> Iterator[str]:
        yield from count_problems(spec, value, "people")

    def element(self, spec: FieldSpec) -> FieldType:
        return self._person

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        """A cell naming several people ("李娜、王强", "a@x.com; b@x.com"): one item each, to be looked up."""
        if isinstance(cell, str):
            parts = [p.strip() for p in re.split(r"[,，;；、\n]", cell) if p.strip()]
            return parts or None
        return super().from_cell(spec, cell)

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        person: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        items = person if shape.write else {"anyOf": [person, ref("NamedLink")]}
        schema = {"type": "array", "items": items, "maxItems": self.MAX, "description": "User ids"}
        return counted(spec, schema, unique=shape.write)

    def reshape(self, raw: Any) -> Any:
        return [raw] if isinstance(raw, int) and not isinstance(raw, bool) else raw
