"""Upload and download the files of attachment fields.

    POST /api/apps/{app}/forms/{form}/files?field=KEY   multipart part `file` -> 201 {id, name, size, ...}
    GET  /api/apps/{app}/forms/{form}/files/{id}        the file, as a download

An upload streams to disk chunk by chunk, so the size limit holds however large
the body claims (or fails to claim) to be; the body-size middleware lets these
routes through up to `OPSLOOM_MAX_UPLOAD_BYTES` instead of the JSON cap.
"""

from __future__ import annotations

import unicodedata
from contextlib import aclosing
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.responses import FileResponse

from opsloom.platform.api_document import problems
from opsloom.platform.errors import BadRequest, FieldError, NotFound, PayloadTooLarge, ValidationFailed
from opsloom.platform.files import FileStore, FileTooLarge, FileWriter, StoredFile
from opsloom.platform.http import DB, authenticated, context_of, principal_of, settings_of, site_of
from opsloom.platform.multipart import PartData, PartEnd, PartStart, multipart_events
from opsloom.platform.permissions import form_access
from opsloom.runtime import attachments
from opsloom.runtime.attachments import UploadTarget
from opsloom.runtime.dependencies import Flows, Forms
from opsloom.runtime.fields import FIELD_TYPES
from opsloom.runtime.flow import signing

router = APIRouter(prefix="/api/apps/{app}/forms/{form}/files", tags=["files"], dependencies=[Depends(authenticated)])

# For the body-size middleware: uploads may be as large as the upload limit, plus the
# multipart framing around the file.
UPLOAD_PATH = r"/api/apps/[^/]+/forms/[^/]+/files"
MULTIPART_ALLOWANCE = 64 * 1024

SIZES = sorted({name for unit in FIELD_TYPES.values() for name in unit.renditions})
FileId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The file id")]
MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=201,
    summary="Upload a file for an attachment field",
    openapi_extra=MULTIPART_BODY,
    responses=problems(415),
)
async def upload(
    app: str,
    form: str,
    request: Request,
    db: DB,
    forms: Forms,
    flows: Flows,
    field: Annotated[str | None, Query(description="The key of the attachment field")] = None,
    task: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="Your pending task: upload for a field its step makes editable"),
    ] = None,
) -> dict[str, Any]:
    settings = settings_of(request)
    async with db.session() as session:  # no transaction stays open while the file arrives
        compiled = await forms.get(session, app, form)
        if task is None:
            access = await form_access(session, principal_of(request), app, form)
        else:
            access = await signing.step_access(session, principal_of(request), compiled, task, flows)
        target = attachments.upload_target(compiled, access, field, site_of(request).max_upload_bytes)
    store = FileStore(settings.files_dir)
    stored, name, content_type = await _receive(request, target, store)
    try:
        stored, name, content_type = await attachments.judge_content(target, store, stored, name, content_type)
        async with db.session(write=True) as session:
            return await attachments.register_upload(session, target, context_of(request), stored, name, content_type)
    except BaseException:
        store.remove([stored.key])
        raise


async def _receive(request: Request, target: UploadTarget, store: FileStore) -> tuple[StoredFile, str, str]:
    """Write the body's `file` part to the store; remove what was written on any failure."""
    writer: FileWriter | None = None
    name = content_type = ""
    in_file = False
    try:
        events = multipart_events(request.headers.get("content-type", ""), request.stream())
        async with aclosing(events):
            async for event in events:
                if isinstance(event, PartStart):
                    in_file = event.name == "file"
                    if in_file:
                        _check_file_part(writer, event)
                        name, content_type = attachments.accept_upload(target, event.filename)
                        writer = store.writer(target.limit)
                elif isinstance(event, PartData) and in_file and writer is not None:
                    await writer.write(event.data)
                elif isinstance(event, PartEnd):
                    in_file = False
        if writer is None:
            raise ValidationFailed.of([FieldError("file", "is missing; send the file as the multipart part 'file'")])
        if writer.size == 0:
            raise ValidationFailed.of([FieldError("file", f"{name!r} is empty; choose a file with content")])
        return await writer.finish(), name, content_type
    except FileTooLarge as error:
        key = target.spec.key
        raise PayloadTooLarge(
            f"The file is larger than {error.limit} bytes, the most {key} takes",
            [FieldError(key, f"takes files of at most {error.limit} bytes")],
        ) from None
    finally:
        if writer is not None and not writer.finished:
            writer.discard()


def _check_file_part(writer: FileWriter | None, event: PartStart) -> None:
    if writer is not None:
        raise BadRequest("Send one file per request", [FieldError("file", "appears more than once")])
    if event.filename is None:
        raise ValidationFailed.of([FieldError("file", "must be a file (a part with a filename), not a text field")])


@router.get("/{file_id}", summary="Download a file", response_class=FileResponse, responses=problems(422))
async def download(
    app: str,
    form: str,
    file_id: FileId,
    request: Request,
    db: DB,
    forms: Forms,
    size: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z]{1,16}$",
            description=f"A picture at a smaller size: {', '.join(SIZES)} (image and signature fields)",
        ),
    ] = None,
) -> Response:
    async with db.session() as session:
        compiled = await forms.get(session, app, form)
        access = await form_access(session, principal_of(request), app, form)
        row = await attachments.file_for_download(session, compiled, context_of(request), access, file_id)
    store = FileStore(settings_of(request).files_dir)
    path = store.path(row.storage_key)
    if not path.is_file():
        raise NotFound(f"The content of file {file_id} is missing on the server; ask an administrator")
    headers = {
        "Content-Disposition": content_disposition(row.name),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
    }
    if size is not None:
        path, media_type = await attachments.rendition(compiled, store, row, size)
        headers["Content-Disposition"] = content_disposition(row.name, "inline")
        return FileResponse(path, media_type=media_type, headers=headers)
    return FileResponse(path, media_type=row.content_type, headers=headers)


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """`attachment` with the name in UTF-8 (RFC 6266 / 5987) and a plain-ASCII fallback."""
    return f"{disposition}; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


def ascii_fallback(name: str) -> str:
    """The name for clients that cannot read `filename*`: accents dropped, other letters left out."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    plain = "".join(ch for ch in plain if ch.isprintable() and ch not in '"\\').strip()
    stem = plain.rsplit(".", 1)[0].strip() if "." in plain else plain
    if not stem:
        extension = plain.rsplit(".", 1)[1] if "." in plain else ""
        return f"download.{extension}" if extension else "download"
    return plain
