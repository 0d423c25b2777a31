"""relation: a link to a record of another form of the same app, stored as that record's id.

Filters may compare the id (eq, in, ...) or the linked record's title (contains, starts_with)."""

from __future__ import annotations

import re
from datetime import UTC, tzinfo
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import BigInteger
from sqlalchemy.types import TypeEngine

from opsloom.platform.api_document import MAX_ID
from opsloom.runtime.fields.base import FieldSpec, FieldType, Invalid, Schema, Shape, kind, ref


class Relation(FieldType):
    name = "relation"
    label = {"en": "Linked record", "zh-CN": "关联记录"}
    operators = frozenset({"eq", "ne", "in", "not_in", "contains", "starts_with"})
    link = "record"
    title_search = True
    widget = "picker"
    client_kind = "id"
    dimension = True
    lossless_to = frozenset({"relation"})
    starts_with: ClassVar[Schema] = {"form": "customer"}
    # How a link is shown when read with `expand`: {id, title, access} for records, {id, name} for people.
    expanded: ClassVar[str] = "RecordLink"
    properties: ClassVar[Schema] = {
        "required": ["form"],
        "properties": {
            "form": {
                "$ref": "opsloom:common#/$defs/identifier",
                "description": "The key of the linked form (same app)",
            },
            "on_delete": {
                "enum": ["restrict", "set_empty"],
                "description": "When the linked record is deleted: refuse (default), or empty this field",
            },
        },
    }

    def example(self, spec: FieldSpec) -> Any:
        return 1

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return BigInteger()

    def filter_input_for(self, op: str) -> str:
        return "number" if op in ("eq", "ne") else "text"

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, dict) and set(value) <= {"id", "title", "name"} and "id" in value:
            value = value["id"]  # an expanded link sent back as it was read
        if isinstance(value, Decimal) and value == value.to_integral_value() and value.is_finite():
            value = int(value)  # e.g. a CURRENT_USER() default
        shaped = isinstance(value, int | str) and not isinstance(value, bool)
        if not shaped or not re.fullmatch(r"\s*\d{1,18}\s*", str(value)):
            raise Invalid(f"expected the id of {self.target_name(spec)}, got {kind(value)}")
        number = int(str(value).strip())
        if number < 1:
            raise Invalid(f"expected the id of {self.target_name(spec)}")
        return number

    def target_name(self, spec: FieldSpec) -> str:
        return f"a {spec.get('form')} record"

    def target(self, spec: FieldSpec) -> str:
        """What the id names, for people reading the API document."""
        return str(spec.get("form"))

    def filter_value(self, text: str) -> Any:
        return int(text) if re.fullmatch(r"-?\d{1,18}", text) else text

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        the_id: Schema = {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_ID,
            "description": f"The id of a {self.target(spec)}",
        }
        return the_id if shape.write else {"anyOf": [the_id, ref(self.expanded)]}
