"""Field types: one unit per type (one module each), registered in one table.

`FIELD_TYPES` maps a type's name to its unit; `unit_of(spec)` is the unit of a
field and `value_unit(spec)` the unit its values behave as (a formula's result).
Adding a field type is adding one module here and one line below; the README's
"Adding a field type" says what else (its widget, its translations).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsloom.runtime.fields.address import Address
from opsloom.runtime.fields.attachment import Attachment
from opsloom.runtime.fields.autonumber import Autonumber
from opsloom.runtime.fields.base import FieldSpec, FieldType, Invalid, Schema, Shape, dump_datetime
from opsloom.runtime.fields.boolean import Boolean
from opsloom.runtime.fields.date import Date
from opsloom.runtime.fields.datetime import DateTime
from opsloom.runtime.fields.decimal import Decimal_
from opsloom.runtime.fields.department import Department
from opsloom.runtime.fields.email import Email
from opsloom.runtime.fields.formula import Formula
from opsloom.runtime.fields.image import Image
from opsloom.runtime.fields.integer import Integer
from opsloom.runtime.fields.multiselect import MultiSelect
from opsloom.runtime.fields.percent import Percent
from opsloom.runtime.fields.phone import Phone
from opsloom.runtime.fields.rating import Rating
from opsloom.runtime.fields.relation import Relation
from opsloom.runtime.fields.rich_text import RichText
from opsloom.runtime.fields.rollup import Rollup
from opsloom.runtime.fields.select import Select
from opsloom.runtime.fields.signature import Signature
from opsloom.runtime.fields.subform import Subform
from opsloom.runtime.fields.text import Text
from opsloom.runtime.fields.textarea import Textarea
from opsloom.runtime.fields.url import Url
from opsloom.runtime.fields.user import User
from opsloom.runtime.fields.users import Users

FIELD_TYPES: dict[str, FieldType] = {
    unit.name: unit
    for unit in (
        Text(),
        Textarea(),
        Email(),
        Phone(),
        Url(),
        Integer(),
        Decimal_(),
        Boolean(),
        Date(),
        DateTime(),
        Select(),
        MultiSelect(),
        Formula(),
        Autonumber(),
        Relation(),
        User(),
        Users(),
        Department(),
        Subform(),
        Attachment(),
        Rating(),
        Percent(),
        RichText(),
        Address(),
        Image(),
        Signature(),
        Rollup(),
    )
}


# Every record's system fields, with the type each behaves as.
SYSTEM_FIELDS: dict[str, str] = {
    "id": "integer",
    "version": "integer",
    "status": "text",
    "created_at": "datetime",
    "created_by": "integer",
    "updated_at": "datetime",
    "updated_by": "integer",
    "owner_id": "integer",
    "department_id": "integer",
}

# The type a count of rows behaves as in conditions and reports.
COUNT_TYPE = Integer.name


def unit_of(spec: FieldSpec | Mapping[str, Any]) -> FieldType:
    """The unit of a field (a compiled spec or a field document)."""
    return FIELD_TYPES[spec.type if isinstance(spec, FieldSpec) else spec["type"]]


def value_unit(spec: FieldSpec) -> FieldType:
    """The unit a field's values behave as: a formula's result type, else the field's own."""
    return unit_of(spec).shown_as(spec)


def links_records(spec: FieldSpec | Mapping[str, Any]) -> bool:
    """Does the field link to records of another form (whose key is `spec["form"]`)?"""
    unit = FIELD_TYPES.get(str(spec.type if isinstance(spec, FieldSpec) else spec.get("type")))
    return unit is not None and unit.link == "record"


def sources_of(spec: FieldSpec | Mapping[str, Any]) -> frozenset[str]:
    """Forms whose records a field's value is read from at read time (a rollup's form)."""
    unit = FIELD_TYPES.get(str(spec.type if isinstance(spec, FieldSpec) else spec.get("type")))
    return unit.sources(spec) if unit is not None else frozenset()


def field_schema_parts() -> dict[str, Any]:
    """The per-type part of schemas/form.schema.json, generated from the units."""
    return {
        "enum": list(FIELD_TYPES),
        "allOf": [
            {"if": {"properties": {"type": {"const": name}}}, "then": unit.properties}
            for name, unit in FIELD_TYPES.items()
            if unit.properties
        ],
    }


__all__ = [
    "COUNT_TYPE",
    "FIELD_TYPES",
    "SYSTEM_FIELDS",
    "FieldSpec",
    "FieldType",
    "Invalid",
    "Schema",
    "Shape",
    "dump_datetime",
    "field_schema_parts",
    "links_records",
    "sources_of",
    "unit_of",
    "value_unit",
]
