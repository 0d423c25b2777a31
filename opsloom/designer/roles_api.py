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
IDS = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


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
    summary="Change members: {add, remove: [user ids], add_departments, remove_departments: [department ids], "
    "everyone: true|false}",
    description="A department makes everyone in it and in the departments below it a member, as they are at each "
    "request (people who join later included): a pilot group. `everyone` gives the role to every user; a role "
    "that manages the app cannot be given to everyone. Approval steps that name a role go to its named members.",
    openapi_extra=json_body(
        {
            "type": "object",
            "properties": {
                "add": IDS,
                "remove": IDS,
                "add_departments": IDS,
                "remove_departments": IDS,
                "everyone": {"type": "boolean"},
            },
        },
    ),
)
async def members(app: Key, key: Key, request: Request, db: DB) -> dict[str, Any]:
    change = _member_change(await read_json(request))
    async with db.session(write=True) as session:
        await require_app_admin(session, request.state.principal, app)
        return await roles.set_members(session, context_of(request), app, key, change)


@router.delete("/{app}/{key}", status_code=204, summary="Delete a role")
async def delete_role(app: Key, key: Key, request: Request, db: DB) -> Response:
    async with db.session(write=True) as session:
        await require_app_admin(session, request.state.principal, app)
        await roles.delete_role(session, context_of(request), app, key)
    return Response(status_code=204)


def _member_change(body: Any) -> roles.MemberChange:
    if not isinstance(body, dict):
        raise BadRequest('Send {"add": [user ids], "remove": [user ids]}', [FieldError("", "expected an object")])
    lists = ("add", "remove", "add_departments", "remove_departments")
    problems = [FieldError(name, "expected a list of ids") for name in lists if not _ids(body.get(name, []))]
    if body.get("everyone") is not None and not isinstance(body["everyone"], bool):
        problems.append(FieldError("everyone", "expected true or false"))
    if problems:
        raise BadRequest("Say who joins and leaves the role with lists of ids", problems)
    return roles.MemberChange(**{name: tuple(body.get(name) or ()) for name in lists}, everyone=body.get("everyone"))


def _ids(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_ID for v in value
    )
