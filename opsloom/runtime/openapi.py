"""An app's OpenAPI 3.1 document, generated from its published forms as the caller sees them.

Each field type has one small unit in `FIELD_SCHEMAS` that turns a field into the JSON
Schema of its value, as read (`write=False`) or as sent (`write=True`); adding a field
type is adding one unit here, next to its class in `field_types.py`. `form_components`
walks a form's fields and asks the table; `openapi_paths.py` lays out the routes and
assembles the document (`app_document`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opsloom.platform.api_document import MAX_ID
from opsloom.runtime.field_types import FIELD_TYPES, Attachment, FieldSpec, Integer, Users
from opsloom.runtime.forms import MAX_ROWS, RECORD_STATUSES, CompiledForm

Schema = dict[str, Any]
REF = "#/components/schemas/"


@dataclass(frozen=True)
class Shape:
    """What a unit is asked for: the value as read or as sent, and the form's component name."""

    component: str
    write: bool = False
    creating: bool = False


def ref(name: str) -> Schema:
    return {"$ref": REF + name}


# ------------------------------------------------------------------ one unit per field type


def _text(spec: FieldSpec, shape: Shape) -> Schema:
    schema: Schema = {"type": "string"}
    unit = FIELD_TYPES[spec.type]
    max_length = spec.get("max_length", getattr(unit, "default_length", 0))
    if max_length:
        schema["maxLength"] = max_length
    if spec.get("min_length"):
        schema["minLength"] = spec.get("min_length")
    if spec.get("pattern"):
        schema["pattern"] = f"^(?:{spec.get('pattern')})$"
    return schema


def _email(spec: FieldSpec, shape: Shape) -> Schema:
    return {**_text(spec, shape), "format": "email"}


def _phone(spec: FieldSpec, shape: Shape) -> Schema:
    return {**_text(spec, shape), "pattern": r"^\+?[0-9][0-9 ()\-]{2,30}$", "example": "+86 10 1234 5678"}


def _url(spec: FieldSpec, shape: Shape) -> Schema:
    return {**_text(spec, shape), "format": "uri", "pattern": "^https?://"}


def _integer(spec: FieldSpec, shape: Shape) -> Schema:
    low, high = spec.get("min"), spec.get("max")
    return {
        "type": "integer",
        "minimum": -Integer.LIMIT if low is None else low,
        "maximum": Integer.LIMIT if high is None else high,
    }


def _decimal(spec: FieldSpec, shape: Shape) -> Schema:
    scale = min(spec.get("scale", 2), spec.get("precision", 18))
    places = rf"(\.\d{{1,{scale}}})?" if scale else ""
    schema: Schema = {
        "type": ["string", "number"] if shape.write else "string",
        "pattern": rf"^-?\d+{places}$",
        "example": "1200.50" if scale >= 2 else "1200",
        "description": "A decimal number as a string, exact to its scale",
    }
    bounds = [f"{word} {spec.get(key)}" for key, word in (("min", "at least"), ("max", "at most")) if spec.get(key)]
    if bounds:
        schema["description"] += " (" + ", ".join(bounds) + ")"
    return schema


def _boolean(spec: FieldSpec, shape: Shape) -> Schema:
    return {"type": "boolean"}


def _date(spec: FieldSpec, shape: Shape) -> Schema:
    return {"type": "string", "format": "date", "example": "2026-01-31"}


def _datetime(spec: FieldSpec, shape: Shape) -> Schema:
    return {"type": "string", "format": "date-time", "example": "2026-01-31T09:30:00Z"}


def _select(spec: FieldSpec, shape: Shape) -> Schema:
    return {"type": "string", "enum": list(spec.option_values())}


def _multiselect(spec: FieldSpec, shape: Shape) -> Schema:
    schema: Schema = {"type": "array", "items": {"type": "string", "enum": list(spec.option_values())}}
    return _counted(spec, schema, unique=True)


def _link(label_key: str) -> Callable[[FieldSpec, Shape], Schema]:
    """relation, user, department: an id; as read with `expand`, {id, title, access} or {id, name}."""

    def unit(spec: FieldSpec, shape: Shape) -> Schema:
        target = spec.get("form") if spec.type == "relation" else spec.type
        the_id: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": f"The id of a {target}"}
        if shape.write:
            return the_id
        return {"anyOf": [the_id, ref("RecordLink" if label_key == "title" else "NamedLink")]}

    return unit


def _users(spec: FieldSpec, shape: Shape) -> Schema:
    person: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    items = person if shape.write else {"anyOf": [person, ref("NamedLink")]}
    schema = {"type": "array", "items": items, "maxItems": Users.MAX, "description": "User ids"}
    return _counted(spec, schema, unique=shape.write)


def _subform(spec: FieldSpec, shape: Shape) -> Schema:
    suffix = ("RowCreate" if shape.creating else "RowInput") if shape.write else "Row"
    schema: Schema = {"type": "array", "items": ref(row_component(shape.component, spec.key, suffix))}
    schema["maxItems"] = min(spec.get("max_rows", MAX_ROWS), MAX_ROWS)
    if spec.get("min_rows"):
        schema["minItems"] = spec.get("min_rows")
    return schema


def _attachment(spec: FieldSpec, shape: Shape) -> Schema:
    file_id: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": "An id from the upload route"}
    items = {"anyOf": [file_id, ref("File")]} if shape.write else ref("File")
    return {"type": "array", "items": items, "maxItems": spec.get("max_files", Attachment.MAX_FILES)}


def _formula(spec: FieldSpec, shape: Shape) -> Schema:
    produced = {"number": _decimal, "text": _plain_text, "date": _date, "datetime": _datetime, "boolean": _boolean}
    return {**produced[spec.get("result", "number")](spec, shape), "readOnly": True}


def _autonumber(spec: FieldSpec, shape: Shape) -> Schema:
    return {"type": "string", "readOnly": True, "example": "PR-202611-0042"}


def _plain_text(spec: FieldSpec, shape: Shape) -> Schema:
    return {"type": "string"}


def _counted(spec: FieldSpec, schema: Schema, *, unique: bool) -> Schema:
    if unique:
        schema["uniqueItems"] = True
    if spec.get("min_items") is not None:
        schema["minItems"] = spec.get("min_items")
    if spec.get("max_items") is not None:
        schema["maxItems"] = min(spec.get("max_items"), schema.get("maxItems", spec.get("max_items")))
    return schema


FIELD_SCHEMAS: dict[str, Callable[[FieldSpec, Shape], Schema]] = {
    "text": _text,
    "textarea": _text,
    "email": _email,
    "phone": _phone,
    "url": _url,
    "integer": _integer,
    "decimal": _decimal,
    "boolean": _boolean,
    "date": _date,
    "datetime": _datetime,
    "select": _select,
    "multiselect": _multiselect,
    "formula": _formula,
    "autonumber": _autonumber,
    "relation": _link("title"),
    "user": _link("name"),
    "department": _link("name"),
    "users": _users,
    "subform": _subform,
    "attachment": _attachment,
}
COMPUTED = frozenset({"formula", "autonumber"})


# ------------------------------------------------------------------ forms -> schemas


def text_of(label: Any, fallback: str = "") -> str:
    """A label as one string: English if the translations have it, else the first one."""
    if isinstance(label, Mapping):
        return str(label.get("en") or next(iter(label.values()), fallback))
    return str(label) if label else fallback


def pascal(key: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in key.split("_") if part)


def row_component(component: str, key: str, suffix: str) -> str:
    return f"{component}_{pascal(key)}{suffix}"


def field_schema(spec: FieldSpec, shape: Shape) -> Schema:
    schema = FIELD_SCHEMAS[spec.type](spec, shape)
    about = {"title": text_of(spec.label, spec.key)}
    if spec.get("description"):
        about["description"] = text_of(spec.get("description"))
    elif "description" not in schema:
        about["description"] = about["title"]
    if spec.type == "subform" and not shape.write:
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
    fields = [s for s in form.fields if s.type not in COMPUTED and s.key not in read_only]
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
