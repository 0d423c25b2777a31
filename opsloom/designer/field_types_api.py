"""The field types a designer can use, as the field-type units describe themselves.

The designer's palette and properties panel are built from this catalogue, so a new
field type appears in the browser the moment its unit is registered."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from opsloom.platform.http import authenticated
from opsloom.runtime.fields import FIELD_TYPES, FieldType

router = APIRouter(prefix="/api/design", tags=["designer"], dependencies=[Depends(authenticated)])


@router.get("/field-types", summary="Every field type: its name, labels, properties and where it may be used")
async def field_types() -> dict[str, Any]:
    return {"items": [describe(unit) for unit in FIELD_TYPES.values()]}


def describe(unit: FieldType) -> dict[str, Any]:
    return {
        "type": unit.name,
        "label": dict(unit.label),
        "properties": unit.properties,
        "starts_with": unit.starts_with,
        "widget": unit.widget,
        "entered": unit.entered,
        "computed": unit.computed,
        "link": unit.link,
        "multiple": unit.multiple,
        "operators": sorted(unit.operators | {"is_empty", "not_empty"}),
        "may_be": {
            "title": unit.title,
            "in_rows": not unit.not_in_rows,
            "dimension": unit.dimension,
            "measure": unit.measure,
            "sorted": unit.sortable,
            "summary": unit.has_column,
        },
        "not_in_rows": unit.not_in_rows or None,
        "shown_as": _shown_as(unit),
    }


def _shown_as(unit: FieldType) -> dict[str, Any] | None:
    """What a field of this type behaves as in a condition, by the value of one of its properties (a
    formula: by its `result`): each value's operators and widget."""
    choices = unit.shown_as_choices()
    if choices is None:
        return None
    name, default, units = choices
    behaves = {
        value: {"operators": sorted(u.operators | {"is_empty", "not_empty"}), "widget": u.widget}
        for value, u in units.items()
    }
    return {"property": name, "default": default, "as": behaves}
