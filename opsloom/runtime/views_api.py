"""The API of a form's list beyond its records: the caller's saved views, and exports."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from opsloom.platform.api_document import json_body
from opsloom.platform.http import DB, authenticated, context_of, principal_of, read_json, settings_of, site_of
from opsloom.runtime import export, records, saved_views
from opsloom.runtime.access import reader_access
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.pages.i18n import Translator, from_accept_language, supported

router = APIRouter(prefix="/api/apps/{app}/forms/{form}", tags=["views"], dependencies=[Depends(authenticated)])

ViewId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The view id")]
VIEW = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "filter": {"type": ["object", "null"], "description": "A condition"},
        "sort": {"type": ["string", "null"]},
        "columns": {"type": "array", "items": {"type": "string"}, "description": "Field keys, in order"},
        "widths": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "integer", "minimum": 48, "maximum": 1200},
            "description": "Column widths in pixels, by field key",
        },
        "group_by": {"type": ["string", "null"], "description": "A single-choice, person or department field"},
    },
}


async def _visible(request: Request, forms: FormRegistry, session: Any, app: str, form: str) -> Any:
    """The form as the caller sees it, once they may read it; the access decides the rest."""
    compiled = await forms.get(session, app, form)
    access = await reader_access(session, principal_of(request), compiled)
    access.require("read")
    return compiled, access


@router.get("/views", summary="My saved views of this form")
async def list_views(app: str, form: str, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    async with db.session() as session:
        await _visible(request, forms, session, app, form)
        items = await saved_views.list_views(session, principal_of(request).user_id, app, form)
    return {"items": items}


@router.post(
    "/views",
    status_code=201,
    summary="Save a view: name, filter, sort and columns",
    openapi_extra=json_body({**VIEW, "required": ["name"]}),
)
async def create_view(
    app: str, form: str, request: Request, response: Response, db: DB, forms: Forms
) -> dict[str, Any]:
    view = saved_views.view_input(await read_json(request))
    async with db.session(write=True) as session:
        compiled, access = await _visible(request, forms, session, app, form)
        saved = await saved_views.create_view(
            session, context_of(request), app, compiled.restricted(access.hidden), view
        )
    response.headers["Location"] = f"{request.url.path}/{saved['id']}"
    return saved


@router.patch(
    "/views/{view_id}",
    summary="Rename one of my views, or change its filter, sort or columns",
    openapi_extra=json_body(VIEW),
)
async def update_view(app: str, form: str, view_id: ViewId, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    payload = await read_json(request)
    async with db.session(write=True) as session:
        compiled, access = await _visible(request, forms, session, app, form)
        visible = compiled.restricted(access.hidden)
        return await saved_views.update_view(session, context_of(request), app, visible, view_id, payload)


@router.delete("/views/{view_id}", status_code=204, summary="Delete one of my views")
async def delete_view(app: str, form: str, view_id: ViewId, request: Request, db: DB, forms: Forms) -> Response:
    async with db.session(write=True) as session:
        await _visible(request, forms, session, app, form)
        await saved_views.delete_view(session, context_of(request), app, form, view_id)
    return Response(status_code=204)


def export_translator(request: Request, locale: str | None) -> Translator:
    """Labels in `?locale=`, else the browser's language, else the user's, else zh-CN."""
    return Translator(
        supported(locale)
        or from_accept_language(request.headers.get("accept-language", ""))
        or supported(principal_of(request).locale)
        or site_of(request).default_language
    )


@router.get("/export", summary="Export the list as CSV or XLSX (needs the export permission)")
async def export_list(
    app: str,
    form: str,
    request: Request,
    db: DB,
    forms: Forms,
    format: Annotated[str | None, Query(description="csv (default) or xlsx")] = None,
    filter: Annotated[str | None, Query(description="A condition as JSON, as for the list")] = None,
    sort: Annotated[str | None, Query(description="Field keys, '-' for descending")] = None,
    q: Annotated[str | None, Query(description="Search in the title field")] = None,
    columns: Annotated[str | None, Query(description="Field keys to export; default all you see")] = None,
    locale: Annotated[str | None, Query(description="Language of the header row: zh-CN or en")] = None,
    options: Annotated[
        str | None, Query(description="Options as their labels (default) or their stored values: labels or values")
    ] = None,
) -> Response:
    chosen = export.format_of(format)
    options_as = export.options_as(options)
    t = export_translator(request, locale)
    ctx = context_of(request)
    max_rows = settings_of(request).export_max_rows
    async with db.session() as session:
        compiled, access = await _visible(request, forms, session, app, form)
        access.require("export")
        # The rows are those the role lets this user export (its export scope), fields as they see them.
        access = replace(access, scopes={**access.scopes, "read": access.scope("export")})
        visible = compiled.restricted(access.hidden)
        query = records.ListRequest(filter=filter, sort=sort, q=q or None)
        job = export.Export(compiled, access, query, export.export_columns(visible, columns), max_rows, options_as)
        name = t.label(visible.label) or form
        writer = chosen.writer(name)
        writer.add(export.header_row(t, job.columns))
        truncated, written = False, 0
        async for cells, more in export.export_rows(session, ctx, job, t):
            if more:
                truncated = True
                break
            writer.add(cells)
            written += 1
    headers = {
        "Content-Disposition": export.content_disposition(name, chosen.extension, form),
        "X-Export-Max-Rows": str(max_rows),
        "X-Export-Rows": str(written),
        "X-Export-Truncated": "true" if truncated else "false",
        "Cache-Control": "no-store",
    }
    return StreamingResponse(export.chunks(writer.finish()), media_type=chosen.media_type, headers=headers)
