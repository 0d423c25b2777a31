"""An app's OpenAPI 3.1 document, generated from its published forms as the caller sees them.

Each field type's unit (`runtime/fields/`) gives the JSON Schema of its value, as read
(`write=False`) or as sent (`write=True`). `form_components` walks a form's fields and
asks them; `openapi_paths.py` lays out the routes and assembles the document (`app_document`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsloom.platform.api_document import MAX_ID
from opsloom.runtime.fields import FieldSpec, Schema, Shape, unit_of
from opsloom.runtime.fields.base import pascal, ref, row_component
from opsloom.runtime.forms import RECORD_STATUSES, CompiledForm

__all__ = ["Schema", "Shape", "form_components", "pascal", "ref", "row_component", "text_of"]


# ------------------------------------------------------------------ forms -> schemas


def text_of(label: Any, fallback: str = "") -> str:
    """A label as one string: English if the translations have it, else the first one."""
    if isinstance(label, Mapping):
        return str(label.get("en") or next(iter(label.values()), fallback))
    return str(label) if label else fallback


def field_schema(spec: FieldSpec, shape: Shape) -> Schema:
    unit = unit_of(spec)
    schema = unit.openapi_schema(spec, shape)
    about = {"title": text_of(spec.label, spec.key)}
    if spec.get("description"):
        about["description"] = text_of(spec.get("description"))
    elif "description" not in schema:
        about["description"] = about["title"]
    if unit.child_rows and not shape.write:
        return {**about, **schema}  # read back as a list, [] when there are no rows
    return {**about, **_nullable(schema)}


def _nullable(schema: Schema) -> Schema:
    kind = schema.get("type")
    if isinstance(kind, str | list) and "$ref" not in schema:
        out = {**schema, "type": [*([kind] if isinstance(kind, str) else kind), "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


SYSTEM_SCHEMAS: dict[str, Schema] = {
    "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID, "readOnly": True},
    "version": {"type": "integer", "minimum": 1, "readOnly": True, "description": "Send it back in If-Match"},
    "status": {"type": "string", "readOnly": True, "examples": list(RECORD_STATUSES)},
    "created_at": {"type": "string", "format": "date-time", "readOnly": True},
    "created_by": {"type": ["integer", "null"], "readOnly": True},
    "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
    "updated_by": {"type": ["integer", "null"], "readOnly": True},
    "owner_id": {"type": ["integer", "null"], "readOnly": True},
    "department_id": {"type": ["integer", "null"], "readOnly": True},
}


def record_schema(form: CompiledForm, component: str) -> Schema:
    """A record (or a subform row) as the API answers it."""
    system = {"id": SYSTEM_SCHEMAS["id"]} if form.is_child else SYSTEM_SCHEMAS
    shape = Shape(component)
    properties = {**system, **{s.key: field_schema(s, shape) for s in form.fields}}
    return {
        "type": "object",
        "title": text_of(form.label, form.key),
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def input_schema(form: CompiledForm, component: str, *, creating: bool, read_only: frozenset[str]) -> Schema:
    """A create body (required fields listed) or a PATCH body (every field optional)."""
    shape = Shape(component, write=True, creating=creating)
    fields = [s for s in form.fields if unit_of(s).entered and s.key not in read_only]
    properties = {s.key: field_schema(s, shape) for s in fields}
    if form.is_child and not creating:
        properties = {"id": {"type": ["integer", "null"], "description": "A stored row to change; none for a new row"}}
        properties |= {s.key: field_schema(s, shape) for s in fields}
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [s.key for s in fields if creating and _required_on_create(s)]
    if required:
        schema["required"] = required
    return schema


def _required_on_create(spec: FieldSpec) -> bool:
    # A field with a default is filled by it; one shown only under a condition is required only then.
    return spec.required and spec.get("default") is None and spec.get("visible_when") is None


def form_components(form: CompiledForm, read_only: frozenset[str]) -> dict[str, Schema]:
    name = pascal(form.key)
    components = {
        name: record_schema(form, name),
        f"{name}Create": input_schema(form, name, creating=True, read_only=read_only),
        f"{name}Update": input_schema(form, name, creating=False, read_only=read_only),
        f"{name}List": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": ref(name)},
                "next_cursor": {"type": ["string", "null"], "description": "Pass as cursor for the next page"},
                "total": {"type": "integer", "minimum": 0},
                "total_exact": {"type": "boolean", "description": "false when total is an estimate"},
            },
        },
    }
    for key, child in form.children.items():
        if key not in form.by_key:
            continue  # a hidden subform
        components[row_component(name, key, "Row")] = record_schema(child, name)
        components[row_component(name, key, "RowCreate")] = input_schema(
            child, name, creating=True, read_only=frozenset()
        )
        components[row_component(name, key, "RowInput")] = input_schema(
            child, name, creating=False, read_only=frozenset()
        )
    return components
