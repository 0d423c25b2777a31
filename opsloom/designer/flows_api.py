"""The designer API for flows: drafts, publishing, versions (as for forms)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from opsloom.designer import definitions
from opsloom.designer.flows import flow_problems, publish_flow
from opsloom.platform.api_document import json_body
from opsloom.platform.http import DB, authenticated, context_of, principal_of, read_json
from opsloom.platform.permissions import require_app_admin
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.forms import FormRegistry

router = APIRouter(prefix="/api/design/apps", tags=["designer"], dependencies=[Depends(authenticated)])

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="An identifier")]


@router.put(
    "/{app}/flows/{flow}",
    summary="Save a flow draft",
    openapi_extra=json_body(description="A flow document (schemas/flow.schema.json)"),
)
async def put_flow(app: Key, flow: Key, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    document = await read_json(request)
    async with db.session(write=True) as session:
        await require_app_admin(session, principal_of(request), app)
        saved = await definitions.save_draft(session, context_of(request), app, "flow", flow, document)
        return await _draft_view(session, forms, saved)


@router.get("/{app}/flows/{flow}", summary="Read a flow draft, its problems and state")
async def get_flow(app: Key, flow: Key, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        found = await definitions.load_definition(session, app, "flow", flow)
        return await _draft_view(session, forms, found)


@router.post("/{app}/flows/{flow}/publish", summary="Publish the flow draft (dry_run: check only)")
async def publish(
    app: Key, flow: Key, request: Request, db: DB, forms: Forms, dry_run: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    async with db.session(write=True) as session:
        await require_app_admin(session, principal_of(request), app)
        return await publish_flow(session, context_of(request), forms, app, flow, dry_run=dry_run)


@router.get("/{app}/flows/{flow}/versions", summary="Published versions of a flow, newest first")
async def versions(app: Key, flow: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        found = await definitions.load_definition(session, app, "flow", flow)
        return {"items": await definitions.list_versions(session, found)}


@router.get("/{app}/flows/{flow}/versions/{version}", summary="One published version of a flow")
async def version(
    app: Key, flow: Key, version: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, db: DB
) -> dict[str, Any]:
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        found = await definitions.load_definition(session, app, "flow", flow)
        return {"version": version, "document": await definitions.published_document(session, found, version)}


async def _draft_view(session: Any, forms: FormRegistry, d: definitions.Definition) -> dict[str, Any]:
    problems = await flow_problems(session, forms, d.app, d.draft) if d.draft is not None else []
    return {
        "key": d.key,
        "draft": d.draft,
        "draft_revision": d.draft_revision,
        "published_version": d.published_version,
        "problems": [e.as_json() for e in problems],
    }
