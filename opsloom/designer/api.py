"""The designer API: app documents, form drafts, publishing and versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from opsloom.designer import definitions
from opsloom.designer.publishing import form_problems, publish_form
from opsloom.platform.http import context_of, read_json

router = APIRouter(prefix="/api/design/apps", tags=["designer"])

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="An identifier")]


@router.put("/{app}", summary="Create or replace an app document")
async def put_app(app: Key, request: Request) -> dict[str, Any]:
    document = await read_json(request)
    if isinstance(document, dict):
        document.setdefault("key", app)
    if isinstance(document, dict) and document["key"] != app:
        from opsloom.platform.errors import FieldError, ValidationFailed

        raise ValidationFailed.of([FieldError("key", f"must be '{app}', as in the address")])
    async with request.app.state.db.session(write=True) as session:
        return await definitions.save_app(session, context_of(request), document)


@router.get("/{app}", summary="Read an app document")
async def get_app(app: Key, request: Request) -> dict[str, Any]:
    async with request.app.state.db.session() as session:
        return await definitions.load_app(session, app)


@router.put("/{app}/forms/{form}", summary="Save a form draft")
async def put_form(app: Key, form: Key, request: Request) -> dict[str, Any]:
    document = await read_json(request)
    async with request.app.state.db.session(write=True) as session:
        saved = await definitions.save_draft(session, context_of(request), app, "form", form, document)
    return _draft_view(saved)


@router.get("/{app}/forms/{form}", summary="Read a form draft and its state")
async def get_form(app: Key, form: Key, request: Request) -> dict[str, Any]:
    async with request.app.state.db.session() as session:
        found = await definitions.load_definition(session, app, "form", form)
    return _draft_view(found)


@router.post("/{app}/forms/{form}/publish", summary="Publish the draft (dry_run: plan only)")
async def publish(
    app: Key, form: Key, request: Request, dry_run: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    async with request.app.state.db.session(write=True) as session:
        result = await publish_form(session, context_of(request), app, form, dry_run=dry_run)
    return {"dry_run": dry_run, **result.as_json()}


@router.get("/{app}/forms/{form}/versions", summary="Published versions, newest first")
async def versions(app: Key, form: Key, request: Request) -> dict[str, Any]:
    async with request.app.state.db.session() as session:
        found = await definitions.load_definition(session, app, "form", form)
        return {"items": await definitions.list_versions(session, found)}


@router.get("/{app}/forms/{form}/versions/{version}", summary="One published version")
async def version(
    app: Key, form: Key, version: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request
) -> dict[str, Any]:
    async with request.app.state.db.session() as session:
        found = await definitions.load_definition(session, app, "form", form)
        return {"version": version, "document": await definitions.published_document(session, found, version)}


def _draft_view(d: definitions.Definition) -> dict[str, Any]:
    return {
        "key": d.key,
        "draft": d.draft,
        "draft_revision": d.draft_revision,
        "published_version": d.published_version,
        "problems": [e.as_json() for e in form_problems(d.draft)] if d.draft is not None else [],
    }
