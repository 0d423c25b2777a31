"""The designer API for automations: drafts, publishing, versions (as for forms)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from opsloom.designer import definitions
from opsloom.designer.automations import automation_problems, publish_automation
from opsloom.platform.api_document import json_body
from opsloom.platform.http import DB, authenticated, context_of, principal_of, read_json
from opsloom.platform.permissions import require_app_admin
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.forms import FormRegistry

router = APIRouter(prefix="/api/design/apps", tags=["designer"], dependencies=[Depends(authenticated)])

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="An identifier")]


@router.put(
    "/{app}/automations/{automation}",
    summary="Save an automation draft",
    openapi_extra=json_body(description="A automation document (schemas/automation.schema.json)"),
)
async def put_automation(app: Key, automation: Key, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    document = await read_json(request)
    async with db.session(write=True) as session:
        await require_app_admin(session, principal_of(request), app)
        saved = await definitions.save_draft(session, context_of(request), app, "automation", automation, document)
        return await _draft_view(session, forms, saved)


@router.get("/{app}/automations/{automation}", summary="Read an automation draft, its problems and state")
async def get_automation(app: Key, automation: Key, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        found = await definitions.load_definition(session, app, "automation", automation)
        return await _draft_view(session, forms, found)


@router.post("/{app}/automations/{automation}/publish", summary="Publish the automation draft (dry_run: check only)")
async def publish(
    app: Key, automation: Key, request: Request, db: DB, forms: Forms, dry_run: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    async with db.session(write=True) as session:
        await require_app_admin(session, principal_of(request), app)
        return await publish_automation(session, context_of(request), forms, app, automation, dry_run=dry_run)


@router.get("/{app}/automations/{automation}/versions", summary="Published versions of an automation, newest first")
async def versions(app: Key, automation: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        found = await definitions.load_definition(session, app, "automation", automation)
        return {"items": await definitions.list_versions(session, found)}


@router.get("/{app}/automations/{automation}/versions/{version}", summary="One published version of an automation")
async def version(
    app: Key, automation: Key, version: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, db: DB
) -> dict[str, Any]:
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        found = await definitions.load_definition(session, app, "automation", automation)
        return {"version": version, "document": await definitions.published_document(session, found, version)}


async def _draft_view(session: Any, forms: FormRegistry, d: definitions.Definition) -> dict[str, Any]:
    problems = await automation_problems(session, forms, d.app, d.draft) if d.draft is not None else []
    return {
        "key": d.key,
        "draft": d.draft,
        "draft_revision": d.draft_revision,
        "published_version": d.published_version,
        "problems": [e.as_json() for e in problems],
    }
