"""The reports API: run a published report or dashboard, preview a draft, export a result.

Who may run a report: whoever may read its source form; the rows are those of
their read scope and the fields those they see (a report naming a field hidden
from them is refused with 422 at the field's JSON path). Exporting needs the
export permission of the source form, and counts the rows of its export scope.
A preview of an unsaved document (designer/reports_api.py) is for the app's designers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.api_document import json_body
from opsloom.platform.errors import BadRequest, FieldError, NotFound, OpsloomError
from opsloom.platform.http import DB, authenticated, context_of, decode_json, principal_of
from opsloom.platform.permissions import form_access
from opsloom.runtime import export
from opsloom.runtime.access import eval_context
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.flow.instances import flow_for_form
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.pages.i18n import DEFAULT_LOCALE, choose_locale
from opsloom.runtime.reports.process import process_analytics
from opsloom.runtime.reports.published import published_document, published_documents
from opsloom.runtime.reports.run import Viewer, run_process_view, run_report

router = APIRouter(prefix="/api/apps/{app}", tags=["reports"], dependencies=[Depends(authenticated)])

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="An identifier")]
Extension = Annotated[str, Path(pattern="^(csv|xlsx)$", description="csv or xlsx")]
SHARED = {
    "type": "object",
    "description": "Shared filters, each optional (docs/reports.md)",
    "properties": {
        "filter": {"type": "object", "description": "A condition on the report's form"},
        "date_range": {
            "type": "object",
            "description": '{"from": "2026-01-01", "to": "2026-03-31"} or {"period": "this_month"}',
        },
        "department": {"description": 'A department id, a list of ids, or "current"'},
    },
}


def viewer_of(request: Request) -> Viewer:
    return Viewer(context_of(request), choose_locale(request, principal_of(request).locale) or DEFAULT_LOCALE)


async def optional_json(request: Request) -> Any:
    """The body as JSON, or None when there is none (a run without shared filters)."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return decode_json(raw)
    except ValueError as error:
        raise BadRequest(f"The body is not valid JSON: {error}", [FieldError("$", "send valid JSON")]) from None


async def _check_app(session: AsyncSession, request: Request, app: str) -> None:
    """The app is one the caller may use (an app-limited token reaches no other), before the body is read."""
    await form_access(session, principal_of(request), app, "*")


@router.get("/reports", summary="Published reports of the app whose form you may read")
async def list_reports(app: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await _check_app(session, request, app)
        items = []
        for document in await published_documents(session, app, "report"):
            access = await form_access(session, principal_of(request), app, document["form"])
            if access.can("read"):
                items.append(_summary(document))
        return {"items": items}


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    keys = ("key", "label", "description", "form", "display")
    return {k: document[k] for k in keys if k in document}


@router.get("/reports/{report}", summary="A published report document")
async def get_report(app: Key, report: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await _check_app(session, request, app)
        document = await published_document(session, app, "report", report)
        (await form_access(session, principal_of(request), app, document["form"])).require("read")
        return document


@router.post(
    "/reports/{report}/run",
    summary="Run a published report: rows, subtotals, total, column labels, drill-down filters",
    openapi_extra=json_body(SHARED, required=False),
)
async def run(app: Key, report: Key, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    async with db.session() as session:
        await _check_app(session, request, app)
        shared = await optional_json(request)
        document = await published_document(session, app, "report", report)
        return await run_report(session, forms, viewer_of(request), app, document, shared)


@router.post(
    "/reports/{report}/run.{extension}",
    summary="Export a published report's result as CSV or XLSX (needs the export permission)",
    openapi_extra=json_body(SHARED, required=False),
)
async def export_run(app: Key, report: Key, extension: Extension, request: Request, db: DB, forms: Forms) -> Response:
    return await _export(app, report, extension, request, db, forms, None, from_body=True)


@router.get(
    "/reports/{report}/run.{extension}",
    summary="Export a published report's result as CSV or XLSX, shared filters in the query (a download link)",
)
async def export_run_link(
    app: Key,
    report: Key,
    extension: Extension,
    request: Request,
    db: DB,
    forms: Forms,
    filters: Annotated[str | None, Query(description="The shared filters as JSON", max_length=4000)] = None,
) -> Response:
    return await _export(app, report, extension, request, db, forms, filters, from_body=False)


async def _export(
    app: str,
    report: str,
    extension: str,
    request: Request,
    db: Any,
    forms: FormRegistry,
    filters: str | None,
    *,
    from_body: bool,
) -> Response:
    chosen = export.format_of(extension)
    async with db.session() as session:
        await _check_app(session, request, app)
        shared = await optional_json(request) if from_body else _query_json(filters)
        document = await published_document(session, app, "report", report)
        access = await form_access(session, principal_of(request), app, document["form"])
        access.require("export")
        viewer = viewer_of(request)
        answer = await run_report(session, forms, viewer, app, document, shared, scope_action="export")
    writer = chosen.writer(answer["label"] or report)
    columns = answer["columns"]
    writer.add([c["label"] for c in columns])
    for row in answer["rows"] + ([answer["total"]] if answer["total"] and answer["rows"] else []):
        writer.add([_cell(c, row) for c in columns])
    headers = {
        "Content-Disposition": export.content_disposition(answer["label"] or report, chosen.extension, report),
        "X-Export-Rows": str(len(answer["rows"])),
        "Cache-Control": "no-store",
    }
    return StreamingResponse(export.chunks(writer.finish()), media_type=chosen.media_type, headers=headers)


def _query_json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return decode_json(text)
    except ValueError:
        raise BadRequest(
            "filters is not valid JSON", [FieldError("filters", "send the shared filters as JSON")]
        ) from None


def _cell(column: dict[str, Any], row: dict[str, Any]) -> Any:
    """A dimension as its label (the total row says so), a number as a number."""
    key = column["key"]
    if column["kind"] == "dimension":
        return row["labels"].get(key, "")
    value = row["values"].get(key)
    if value is not None and column["type"] == "decimal":
        return Decimal(value)
    return value


@router.get("/dashboards", summary="Published dashboards of the app")
async def list_dashboards(app: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await _check_app(session, request, app)
        keys = ("key", "label", "description")
        return {
            "items": [{k: d[k] for k in keys if k in d} for d in await published_documents(session, app, "dashboard")]
        }


@router.get("/dashboards/{dashboard}", summary="A published dashboard document")
async def get_dashboard(app: Key, dashboard: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await _check_app(session, request, app)
        return await published_document(session, app, "dashboard", dashboard)


@router.post(
    "/dashboards/{dashboard}/run",
    summary="Run every item (report or process view) of a published dashboard with the shared filters",
    openapi_extra=json_body(SHARED, required=False),
)
async def run_dashboard(app: Key, dashboard: Key, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    async with db.session() as session:
        await _check_app(session, request, app)
        shared = await optional_json(request)
        document = await published_document(session, app, "dashboard", dashboard)
        viewer = viewer_of(request)
        items = []
        for item in document["items"]:
            items.append({**item, **await _run_item(session, forms, viewer, app, item, shared)})
        return {
            "dashboard": dashboard,
            "label": document.get("label"),
            "filters": document.get("filters", []),
            "items": items,
        }


async def _run_item(
    session: AsyncSession, forms: FormRegistry, viewer: Viewer, app: str, item: dict[str, Any], shared: Any
) -> dict[str, Any]:
    """One item's answer (a report's, or a view of a form's process), or the problem that kept it from running
    (the others still run)."""
    try:
        if "process" in item:
            answer = await run_process_view(
                session, forms, viewer, app, item["process"], item["view"], shared, lenient=True
            )
            return {"result": answer}
        document = await published_document(session, app, "report", item["report"])
        return {"result": await run_report(session, forms, viewer, app, document, shared, lenient=True)}
    except OpsloomError as error:
        return {"error": error.problem()}


@router.get(
    "/forms/{form}/process",
    summary="Process analytics of the form's flow: requests by status and month, time per step and approver, backlog",
)
async def process(app: Key, form: Key, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    async with db.session() as session:
        await _check_app(session, request, app)
        compiled = await forms.get(session, app, form)
        access = await form_access(session, principal_of(request), app, form)
        access.require("manage")
        if await flow_for_form(session, app, form) is None:
            raise NotFound(f"Form '{form}' has no published flow, so there is no process to analyse")
        viewer = viewer_of(request)
        return await process_analytics(session, compiled, access, eval_context(viewer.ctx), viewer.locale)
