"""JSON Schema validation of metadata documents, with errors that name the JSON path."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from opsloom.platform.errors import FieldError
from opsloom.resources import data_path
from opsloom.runtime.fields import field_schema_parts

KINDS = ("app", "form", "role", "package")


@cache
def _registry() -> Registry:
    resources = []
    for path in sorted(data_path("schemas").glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if schema["$id"] == "opsloom:form":
            schema = form_schema(schema)
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def form_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The form schema with its per-type part taken from the field types (`runtime/fields/`).

    The file in schemas/ is the published copy; `python -m opsloom.designer.documents`
    brings it up to date after a field type changed."""
    parts = field_schema_parts()
    field = {**schema["$defs"]["field"], "allOf": parts["allOf"]}
    field["properties"] = {**field["properties"], "type": {"enum": parts["enum"]}}
    return {**schema, "$defs": {**schema["$defs"], "field": field}}


def write_form_schema() -> None:
    path = data_path("schemas") / "form.schema.json"
    schema = form_schema(json.loads(path.read_text(encoding="utf-8")))
    path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def has_schema(kind: str) -> bool:
    """Is there a schema for this kind of document (`schemas/<kind>.schema.json`)?"""
    return (data_path("schemas") / f"{kind}.schema.json").exists()


@cache
def validator_for(kind: str) -> Draft202012Validator:
    schema = _registry().contents(f"opsloom:{kind}")
    return Draft202012Validator(schema, registry=_registry())


def json_path(parts: Any, prefix: str = "") -> str:
    """`["fields", 2, "key"]` -> `fields[2].key`."""
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def schema_errors(kind: str, document: Any, prefix: str = "") -> list[FieldError]:
    """Every schema violation, most specific first within a path, one per path."""
    by_path: dict[str, ValidationError] = {}
    for error in validator_for(kind).iter_errors(document):
        chosen = best_match(error.context) if error.context else error
        path = json_path(chosen.absolute_path, prefix)
        by_path.setdefault(path, chosen)
    return [FieldError(path or prefix or "$", _message(err)) for path, err in by_path.items()]


def _message(error: ValidationError) -> str:
    schema: Any = error.schema
    if error.validator == "pattern" and isinstance(error.instance, str):
        expected = schema.get("description") or error.validator_value
        return f"{error.instance!r} does not have the expected form ({expected})"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)  # type: ignore[union-attr]
        return f"{error.instance!r} is not one of {allowed}"
    return error.message


if __name__ == "__main__":
    write_form_schema()
