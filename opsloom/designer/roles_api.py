"""Roles over HTTP: /api/roles (as in the contract) and per app."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from opsloom.designer import roles
from opsloom.designer.definitions import load_app
from opsloom.platform.api_document import MAX_ID, json_body
from opsloom.platform.errors import BadRequest, FieldError
from opsloom.platform.http import DB, authenticated, context_of, read_json
from opsloom.platform.permissions import require_app_admin
from opsloom.runtime.dependencies import Forms

router = APIRouter(prefix="/api/roles", tags=["roles"], dependencies=[Depends(authenticated)])
Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
USER_IDS = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


@router.get("", summary="Roles of an app, with members")
async def list_roles(
    request: Request, app: Annotated[str, Query(pattern=r"^[a-z][a-z0-9_]{0,62}$")], db: DB
) -> dict[str, Any]:
    async with db.session() as session:
        await load_app(session, app)
        await require_app_admin(session, request.state.principal, app)
        return {"items": await roles.list_roles(session, app)}


@router.post(
    "",
    summary="Create or replace a role: {app, key, label, permissions, app_admin}",
    openapi_extra=json_body(description="A role document (schemas/role.schema.json) with its app"),
)
async def save_role(request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("app"), str):
        raise BadRequest("Say which app the role belongs to", [FieldError("app", "is required")])
    app = body["app"]
    document = {k: v for k, v in body.items() if k != "app"}
    async with db.session(write=True) as session:
        await load_app(session, app)
        await require_app_admin(session, request.state.principal, app)
        return await roles.save_role(session, context_of(request), forms, app, document)


@router.post(
    "/{app}/{key}/members",
    summary="Add or remove members: {add: [user ids], remove: [...]}",
    openapi_extra=json_body(
        {"type": "object", "properties": {"add": USER_IDS, "remove": USER_IDS}},
    ),
)
async def members(app: Key, key: Key, request: Request, db: DB) -> dict[str, Any]:
    body = await read_json(request)
    add, remove = (body.get("add") or [], body.get("remove") or []) if isinstance(body, dict) else (None, None)
    if add is None or remove is None or not _ids(add) or not _ids(remove):
        raise BadRequest('Send {"add": [user ids], "remove": [user ids]}', [FieldError("add", "expected lists of ids")])
    async with db.session(write=True) as session:
        await require_app_admin(session, request.state.principal, app)
        return await roles.set_members(session, context_of(request), app, key, add, remove)


@router.delete("/{app}/{key}", status_code=204, summary="Delete a role")
async def delete_role(app: Key, key: Key, request: Request, db: DB) -> Response:
    async with db.session(write=True) as session:
        await require_app_admin(session, request.state.principal, app)
        await roles.delete_role(session, context_of(request), app, key)
    return Response(status_code=204)


def _ids(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
