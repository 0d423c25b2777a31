"""Importing spreadsheets into a form: upload, set up, try, commit, follow, cancel, undo.

    POST  /api/apps/{app}/forms/{form}/imports                 multipart `file` (.xlsx, .xls, .ods, .csv) -> 201
    GET   /api/apps/{app}/forms/{form}/imports                 the caller's imports of the form
    GET   /api/apps/{app}/forms/{form}/imports/{id}            sheets, columns, mapping, unmatched values, progress
    PATCH /api/apps/{app}/forms/{form}/imports/{id}            sheet, header_row, mapping, cleaning, values, mode, ...
    POST  /api/apps/{app}/forms/{form}/imports/{id}/dry-run    every row judged, nothing stored: a report per row
    POST  /api/apps/{app}/forms/{form}/imports/{id}/commit     202: a background job imports the rows
    POST  /api/apps/{app}/forms/{form}/imports/{id}/cancel
    POST  /api/apps/{app}/forms/{form}/imports/{id}/undo       deletes the records it created (within a day)
    GET   /api/apps/{app}/forms/{form}/imports/{id}/errors     the refused rows and their problems, as XLSX

Every route needs the caller's `import` right on the form; an import is seen by
who started it (and by people who manage the form).
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from opsloom.platform import tables
from opsloom.platform.api_document import json_body, problems
from opsloom.platform.errors import BadRequest, FieldError, PayloadTooLarge, ValidationFailed
from opsloom.platform.files import FileStore, FileTooLarge, FileWriter, StoredFile
from opsloom.platform.http import authenticated, context_of, principal_of, read_json, settings_of, site_of
from opsloom.platform.multipart import PartData, PartEnd, PartStart, multipart_events
from opsloom.platform.permissions import FormAccess, form_access
from opsloom.runtime.files_api import MULTIPART_BODY, content_disposition
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.imports import commit as commits
from opsloom.runtime.imports import resource
from opsloom.runtime.imports.error_file import write_error_file, write_template
from opsloom.runtime.imports.resource import ImportFile
from opsloom.runtime.imports.settings import label_in, require_ready, template_columns
from opsloom.runtime.imports.sources import detect_encoding, format_of

router = APIRouter(
    prefix="/api/apps/{app}/forms/{form}/imports", tags=["imports"], dependencies=[Depends(authenticated)]
)

IMPORT_PATH = r"/api/apps/[^/]+/forms/[^/]+/imports"  # for the body-size middleware: files may be large
ImportId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The import id")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SETTINGS_BODY = json_body(
    {
        "type": "object",
        "properties": {
            "sheet": {"type": ["string", "null"]},
            "header_row": {"type": "integer", "minimum": 0, "maximum": 1000},
            "mapping": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            "cleaning": {"type": "array", "items": {"type": "string"}},
            "values": {"type": "object", "additionalProperties": {"type": "object"}},
            "mode": {"enum": ["insert", "upsert", "update_only", "skip_existing"]},
            "key_field": {"type": ["string", "null"]},
            "error_policy": {"enum": ["all_or_nothing", "skip_bad_rows"]},
        },
    },
    description="The settings to change",
)


async def _open(session: AsyncSession, request: Request, app: str, form: str) -> tuple[CompiledForm, FormAccess]:
    compiled = await request.app.state.forms.get(session, app, form)
    access = await form_access(session, principal_of(request), app, form)
    access.require("import")
    return compiled, access


async def _mine(session: AsyncSession, request: Request, app: str, form: str, import_id: int, **kw: Any) -> Any:
    compiled, access = await _open(session, request, app, form)
    row = await resource.load_import(session, app, form, import_id, **kw)
    resource.require_owner(row, context_of(request), access)
    return compiled, access, row


def _store(request: Request) -> FileStore:
    return FileStore(settings_of(request).imports_dir)


@router.post(
    "",
    status_code=201,
    summary="Upload a spreadsheet to import",
    openapi_extra=MULTIPART_BODY,
    responses=problems(413, 415),
)
async def upload(app: str, form: str, request: Request, response: Response) -> dict[str, Any]:
    db = request.app.state.db
    async with db.session() as session:  # the right first: nothing is stored for a caller who may not import
        await _open(session, request, app, form)
    store = _store(request)
    stored, name, file_format = await _receive(request, store, site_of(request).max_import_bytes)
    try:
        path = store.path(stored.key)
        encoding = detect_encoding(path) if file_format == "csv" else None
        source = ImportFile(path, file_format, encoding)
        async with db.session(write=True) as session:
            compiled, _ = await _open(session, request, app, form)
            await resource.sweep_files(session, store, context_of(request).now)
            import_id = await resource.create_import(
                session,
                compiled,
                context_of(request),
                source,
                file_key=stored.key,
                file_name=name,
                file_size=stored.size,
            )
            row = await resource.load_import(session, app, form, import_id)
            answer = await resource.describe(session, compiled, row)
    except BaseException:
        store.remove([stored.key])
        raise
    response.headers["Location"] = f"{request.url.path}/{import_id}"
    return answer


async def _receive(request: Request, store: FileStore, limit: int) -> tuple[StoredFile, str, str]:
    writer: FileWriter | None = None
    name, file_format, in_file = "", "", False
    try:
        events = multipart_events(request.headers.get("content-type", ""), request.stream())
        async with aclosing(events):
            async for event in events:
                if isinstance(event, PartStart):
                    in_file = event.name == "file"
                    if in_file:
                        if writer is not None:
                            raise BadRequest("Send one file per import", [FieldError("file", "appears more than once")])
                        name = event.filename or ""
                        file_format = format_of(name) or ""
                        if not file_format:
                            raise ValidationFailed.of(
                                [FieldError("file", f"{name!r} is not a spreadsheet: send .xlsx, .xls, .ods or .csv")]
                            )
                        writer = store.writer(limit)
                elif isinstance(event, PartData) and in_file and writer is not None:
                    await writer.write(event.data)
                elif isinstance(event, PartEnd):
                    in_file = False
        if writer is None:
            raise ValidationFailed.of(
                [FieldError("file", "is missing; send the spreadsheet as the multipart part 'file'")]
            )
        if writer.size == 0:
            raise ValidationFailed.of([FieldError("file", f"{name!r} is empty")])
        return await writer.finish(), name, file_format
    except FileTooLarge as error:
        raise PayloadTooLarge(
            f"The file is larger than {error.limit} bytes, the most an import takes",
            [FieldError("file", f"send at most {error.limit} bytes, or split the file")],
        ) from None
    finally:
        if writer is not None and not writer.finished:
            writer.discard()


@router.get(
    "/template",
    summary="A template to fill in: the form's columns, an example row, option lists",
    response_class=FileResponse,
)
async def template(
    app: str,
    form: str,
    request: Request,
    locale: Annotated[str | None, Query(pattern=r"^(en|zh-CN)$", description="Language of the headers")] = None,
) -> Response:
    async with request.app.state.db.session() as session:
        compiled, _ = await _open(session, request, app, form)
    language = locale or principal_of(request).locale or "zh-CN"
    path = write_template(template_columns(compiled, language), language)
    name = f"{label_in(compiled.label, language)}.xlsx"
    return FileResponse(
        path,
        media_type=XLSX,
        headers={"Content-Disposition": content_disposition(name)},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


@router.get("", summary="Your imports into the form, newest first")
async def list_imports(app: str, form: str, request: Request) -> dict[str, Any]:
    i = tables.imports
    async with request.app.state.db.session() as session:
        compiled, access = await _open(session, request, app, form)
        query = select(i).where(i.c.app_key == app, i.c.form_key == form).order_by(i.c.id.desc()).limit(50)
        if not access.can("manage"):
            query = query.where(i.c.created_by == principal_of(request).user_id)
        rows = (await session.execute(query)).mappings().all()
        return {"items": [await resource.describe(session, compiled, row) for row in rows]}


@router.get("/{import_id}", summary="An import: its file, settings, unmatched values and progress")
async def read(app: str, form: str, import_id: ImportId, request: Request) -> dict[str, Any]:
    async with request.app.state.db.session() as session:
        compiled, _, row = await _mine(session, request, app, form, import_id)
        return await resource.describe(session, compiled, row)


@router.patch("/{import_id}", summary="Change how the file is read and imported", openapi_extra=SETTINGS_BODY)
async def change(app: str, form: str, import_id: ImportId, request: Request) -> dict[str, Any]:
    payload = await read_json(request)
    async with request.app.state.db.session(write=True) as session:
        compiled, _, row = await _mine(session, request, app, form, import_id, lock=True)
        await resource.update_import(session, compiled, context_of(request), row, _store(request), payload)
        row = await resource.load_import(session, app, form, import_id)
        return await resource.describe(session, compiled, row)


@router.post("/{import_id}/dry-run", summary="Judge every row as the import would, storing nothing")
async def dry_run(app: str, form: str, import_id: ImportId, request: Request) -> dict[str, Any]:
    async with request.app.state.db.session() as session:
        compiled, access, row = await _mine(session, request, app, form, import_id)
        require_ready(compiled, row)
    work = commits.ImportWork.of(compiled, context_of(request), access, row, _store(request))
    return await commits.dry_run(request.app.state.db, work, import_id, settings_of(request).import_batch_rows)


@router.post("/{import_id}/commit", status_code=202, summary="Import the rows (a background job)")
async def commit(app: str, form: str, import_id: ImportId, request: Request) -> dict[str, Any]:
    async with request.app.state.db.session(write=True) as session:
        compiled, _, row = await _mine(session, request, app, form, import_id, lock=True)
        await commits.start_commit(session, compiled, context_of(request), row)
    runner = getattr(request.app.state, "jobs", None)
    if runner is not None:
        runner.wake()
    async with request.app.state.db.session() as session:
        row = await resource.load_import(session, app, form, import_id)
        return await resource.describe(session, compiled, row)


@router.post("/{import_id}/cancel", summary="Stop a queued or running import (what it stored stays)")
async def cancel(app: str, form: str, import_id: ImportId, request: Request) -> dict[str, Any]:
    async with request.app.state.db.session(write=True) as session:
        compiled, _, row = await _mine(session, request, app, form, import_id, lock=True)
        await commits.cancel_import(session, context_of(request), row)
    async with request.app.state.db.session() as session:
        row = await resource.load_import(session, app, form, import_id)
        return await resource.describe(session, compiled, row)


@router.post("/{import_id}/undo", summary="Delete the records the import created (within a day)")
async def undo(app: str, form: str, import_id: ImportId, request: Request) -> dict[str, Any]:
    async with request.app.state.db.session(write=True) as session:
        compiled, access, row = await _mine(session, request, app, form, import_id, lock=True)
        referrers = await request.app.state.forms.referrers(session, app, form)
        return await commits.undo_import(session, compiled, context_of(request), access, row, referrers)


@router.get(
    "/{import_id}/errors",
    summary="The rows the import refused, with their problems (XLSX)",
    response_class=FileResponse,
)
async def error_file(
    app: str,
    form: str,
    import_id: ImportId,
    request: Request,
    locale: Annotated[str | None, Query(pattern=r"^(en|zh-CN)$", description="Language of the headers")] = None,
) -> Response:
    async with request.app.state.db.session() as session:
        _, _, row = await _mine(session, request, app, form, import_id)
        failed = await commits.failed_rows(session, import_id)
    headers = (row["options"].get("analysis") or {}).get("headers") or []
    language = locale or principal_of(request).locale or "zh-CN"
    path = write_error_file(headers, failed, language)
    name = f"{row['file_name'].rsplit('.', 1)[0]}-errors.xlsx"
    return FileResponse(
        path,
        media_type=XLSX,
        headers={"Content-Disposition": content_disposition(name)},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
