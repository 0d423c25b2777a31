"""Checking one formula against a form draft while it is typed: its type, or what is wrong and where.

The designer's formula editor asks after every pause in typing; the answer comes from the very parser
and type checker that judge the form at publish (`runtime/formulas.py`), so what the editor accepts,
publishing accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from opsloom.designer import definitions
from opsloom.designer.api import _require_designer
from opsloom.platform.api_document import json_body
from opsloom.platform.errors import BadRequest, FieldError
from opsloom.platform.http import DB, authenticated, read_json
from opsloom.runtime import formulas
from opsloom.runtime.fields import FIELD_TYPES
from opsloom.runtime.forms import formula_environment, row_environment

router = APIRouter(prefix="/api/design/apps", tags=["designer"], dependencies=[Depends(authenticated)])

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="An identifier")]

REQUEST_SCHEMA = {
    "type": "object",
    "required": ["formula"],
    "properties": {
        "formula": {"type": "string", "maxLength": formulas.MAX_LENGTH},
        "field": {"type": "string", "description": "Key of the field the formula belongs to (it may not read itself)"},
        "subform": {"type": "string", "description": "Key of the subform whose row the formula computes"},
        "document": {"type": "object", "description": "The draft as edited, when not yet saved (default: saved)"},
    },
}


@router.post(
    "/{app}/forms/{form}/formula-check",
    summary="Check a formula against the form draft: its type, or the problem and its position",
    openapi_extra=json_body(REQUEST_SCHEMA, description="The formula and where it belongs"),
)
async def formula_check(app: Key, form: Key, request: Request, db: DB) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("formula"), str):
        raise BadRequest("Send the formula to check", [FieldError("formula", "expected a string")])
    async with db.session() as session:
        await _require_designer(session, request, app)
        document = body.get("document")
        if not isinstance(document, Mapping):
            document = (await definitions.load_definition(session, app, "form", form)).draft or {}
    env = readable_fields(document, _text(body.get("field")), _text(body.get("subform")))
    return check_formula(body["formula"], env)


def check_formula(text: str, env: Mapping[str, str]) -> dict[str, Any]:
    """`{"valid": true, "type": ...}` or `{"valid": false, "message": ..., "column": N}` (1-based, or null)."""
    try:
        produced = formulas.check(formulas.parse_formula(text), env)
    except formulas.FormulaError as error:
        message = str(error.args[0]) if error.args else str(error)
        if error.column is not None:
            message = message.removesuffix(f" (at character {error.column})")
        return {"valid": False, "message": message, "column": error.column}
    return {"valid": True, "type": produced}


def readable_fields(document: Mapping[str, Any], field: str | None, subform: str | None) -> dict[str, str]:
    """The fields a formula of `field` may read (in `subform`'s row when given), each with its type.

    Fields whose definition is still half-made (unknown type, no key) are left out, not an error."""
    fields = [f for f in _list(document.get("fields")) if _usable(f)]
    if subform is not None:
        parent = next((f for f in fields if f.get("key") == subform), None)
        columns = [c for c in _list(parent.get("fields") if parent else None) if _usable(c)]
        env = row_environment(columns)
    else:
        env = formula_environment(fields)
    return {k: v for k, v in env.items() if k != field}


def _usable(f: Any) -> bool:
    return isinstance(f, Mapping) and isinstance(f.get("key"), str) and f.get("type") in FIELD_TYPES


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
