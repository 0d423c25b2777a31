"""The template packages API: export an app, import a package (plan first with dry_run), roll back an upgrade."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import JSONResponse

from opsloom.designer import definitions
from opsloom.designer.package_export import export_package
from opsloom.designer.package_upgrade import (
    apply_import,
    package_history,
    parse_resolutions,
    plan_import,
    rollback_upgrade,
)
from opsloom.designer.packages import MAX_PACKAGE_BYTES, check_package
from opsloom.platform.api_document import json_body
from opsloom.platform.errors import BadRequest, FieldError, PayloadTooLarge, PermissionDenied, ValidationFailed
from opsloom.platform.http import DB, UnstorableText, authenticated, context_of, decode_json, principal_of
from opsloom.platform.multipart import PartData, PartEnd, PartStart, multipart_events
from opsloom.platform.permissions import require_app_admin
from opsloom.runtime.pages.i18n import Translator, choose_locale

router = APIRouter(prefix="/api", tags=["packages"], dependencies=[Depends(authenticated)])

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="An identifier")]


@router.get("/apps/{app}/export", summary="The app as one template package (app admins)")
async def export_app(
    app: Key,
    request: Request,
    db: DB,
    sample_data: Annotated[bool, Query(description="Add the records you may read as sample data")] = False,
) -> JSONResponse:
    async with db.session() as session:
        await definitions.load_app(session, app)
        await require_app_admin(session, principal_of(request), app)
        package = await export_package(
            session, context_of(request), request.app.state.forms, app, sample_data=sample_data
        )
    filename = f"{app}-{package['manifest']['version']}.opsloom.json"
    return JSONResponse(package, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/apps/{app}/package", summary="The packages this app was installed and upgraded from, newest first")
async def app_package(app: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await definitions.load_app(session, app)
        await require_app_admin(session, principal_of(request), app)
        return {"app": app, "history": await package_history(session, app)}


@router.post(
    "/packages/import",
    summary="Import a template package: the plan with dry_run, else install or upgrade in place",
    openapi_extra=json_body(
        description=(
            "A package (schemas/package.schema.json), or {package, resolutions}; or multipart/form-data "
            "with a part named file (and optionally resolutions, as JSON text)"
        )
    ),
    responses={409: {"description": "The upgrade has conflicts that need keep_mine or take_theirs"}},
)
async def import_package(
    request: Request,
    db: DB,
    dry_run: Annotated[bool, Query(description="Only answer the plan; change nothing")] = False,
    sample_data: Annotated[bool, Query(description="On a first install, add the package's sample records")] = True,
) -> dict[str, Any]:
    package, resolutions = await _read_upload(request)
    check_package(package)
    ctx = context_of(request)
    principal = principal_of(request)
    t = Translator(choose_locale(request))
    async with db.session(write=not dry_run) as session:
        app = package["app"]["key"]
        if await definitions.app_exists(session, app):
            await require_app_admin(session, principal, app)
        elif not (principal.is_admin and principal.can_write):
            raise PermissionDenied("Only platform admins may install a new app")
        plan = await plan_import(
            session, ctx, package, t, resolutions=resolutions, with_sample_data=sample_data, lock=not dry_run
        )
        answer: dict[str, Any] = {"dry_run": dry_run, "plan": plan.as_json()}
        if not dry_run:
            report = await apply_import(
                session, ctx, request.app.state.forms, package, plan, with_sample_data=sample_data
            )
            answer["installed"] = {"app": report.app, "forms": report.forms, "records": report.records}
    return answer


@router.post("/apps/{app}/package/rollback", summary="Put back the documents the app had before its last upgrade")
async def rollback(app: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session(write=True) as session:
        await definitions.load_app(session, app)
        await require_app_admin(session, principal_of(request), app)
        return await rollback_upgrade(session, context_of(request), request.app.state.forms, app)


async def _limited(request: Request) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_PACKAGE_BYTES:
            raise PayloadTooLarge(
                f"A package may be at most {MAX_PACKAGE_BYTES // (1024 * 1024)} MB",
                [FieldError("$", "send a smaller package: leave out sample data")],
            )
        yield chunk


async def _read_upload(request: Request) -> tuple[Any, dict[str, str]]:
    """The package and the resolutions, from a JSON body or a multipart upload."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_PACKAGE_BYTES:
        raise PayloadTooLarge(
            f"A package may be at most {MAX_PACKAGE_BYTES // (1024 * 1024)} MB",
            [FieldError("$", "send a smaller package: leave out sample data")],
        )
    content_type = request.headers.get("content-type", "")
    parts: dict[str, bytearray] = {}
    if content_type.startswith("multipart/form-data"):
        name = None
        async for event in multipart_events(content_type, _limited(request)):
            if isinstance(event, PartStart):
                name = event.name
                parts[name] = bytearray()
            elif isinstance(event, PartData) and name is not None:
                parts[name] += event.data
            elif isinstance(event, PartEnd):
                name = None
        if "file" not in parts:
            raise BadRequest("The upload has no package", [FieldError("file", "send the package in a part named file")])
        package = _decode(bytes(parts["file"]), "file")
        raw = _decode(bytes(parts["resolutions"]), "resolutions") if parts.get("resolutions") else None
        return package, parse_resolutions(raw)
    body = b"".join([chunk async for chunk in _limited(request)])
    if not body:
        raise BadRequest("The request needs a package", [FieldError("$", "send the package as JSON or a file")])
    document = _decode(body, "$")
    if isinstance(document, dict) and "package" in document and "format" not in document:
        if set(document) - {"package", "resolutions"}:
            raise BadRequest("Send {package, resolutions}", [FieldError("$", "unexpected keys")])
        return document["package"], parse_resolutions(document.get("resolutions"))
    return document, {}


def _decode(raw: bytes, path: str) -> Any:
    try:
        return decode_json(raw)
    except UnstorableText as error:
        raise ValidationFailed.of(error.errors) from None
    except ValueError as error:
        raise BadRequest(f"The package is not valid JSON: {error}", [FieldError(path, "send valid JSON")]) from None
