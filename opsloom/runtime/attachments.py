"""Attachment fields: what an upload may be, which files a record may hold, who may download them.

A file is uploaded first (`POST .../files?field=KEY`) and kept unattached,
known only to its uploader. A record then names it by id: `resolve_attachments`
checks that each file may go there and puts the files' metadata in the value;
after the write, `link_attachments` marks the files attached to the record, and
detached when the record lets them go. A detached file is kept, on disk too:
the record's history still names it, and readers of the record may download it.
Uploads no record took are removed by `purge_unattached` (`opsloom files purge`).
"""

from __future__ import annotations

import mimetypes
import os
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import (
    BadRequest,
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    UnsupportedMediaType,
    ValidationFailed,
)
from opsloom.platform.files import FileStore, StoredFile
from opsloom.platform.permissions import FormAccess
from opsloom.runtime.fields import FieldSpec, Invalid, unit_of
from opsloom.runtime.fields.base import NotTaken
from opsloom.runtime.forms import CompiledForm

NAME_LENGTH = 255
UNKNOWN_TYPE = "application/octet-stream"

# Python's own table only (not the machine's /etc/mime.types), so every server guesses
# alike, plus the office formats people attach every day.
_TYPES = mimetypes.MimeTypes()
for _extension, _kind in {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".webp": "image/webp",
    ".md": "text/markdown",
    ".7z": "application/x-7z-compressed",
    ".rar": "application/vnd.rar",
}.items():
    _TYPES.add_type(_kind, _extension)


# ------------------------------------------------------------------ upload


@dataclass(frozen=True)
class UploadTarget:
    """The attachment field an upload is for, and what the field takes."""

    form: CompiledForm
    spec: FieldSpec
    limit: int  # bytes
    accept: tuple[str, ...]


def upload_target(form: CompiledForm, access: FormAccess, key: str | None, max_upload_bytes: int) -> UploadTarget:
    """The field named by `?field=KEY`, if the caller may put files in it."""
    if not (access.can("create") or access.can("update")):
        raise PermissionDenied(
            f"You may not upload files to {form.key}; uploading needs a role that may create or update its records"
        )
    if not key:
        raise BadRequest(
            "Name the attachment field the file is for",
            [FieldError("field", "add ?field=KEY, the key of an attachment field")],
        )
    spec = form.by_key.get(key)
    if spec is None or not unit_of(spec).holds_files or key in access.hidden:
        shown = [s.key for s in form.fields if unit_of(s).holds_files and s.key not in access.hidden]
        hint = f"; its attachment fields are {', '.join(shown)}" if shown else "; it has none"
        raise ValidationFailed.of([FieldError("field", f"'{key}' is not an attachment field of {form.key}{hint}")])
    if key in access.read_only:
        raise PermissionDenied(
            f"You may not upload files to {key}; your role makes it read-only",
            [FieldError(key, "is read-only for you")],
        )
    unit = unit_of(spec)
    limit = min(spec.get("max_size") or unit.upload_bytes or max_upload_bytes, max_upload_bytes)
    return UploadTarget(form, spec, limit, () if unit.judges_content else tuple(spec.get("accept") or ()))


def accept_upload(target: UploadTarget, filename: str | None) -> tuple[str, str]:
    """(the name to keep, the content type) of a file the field takes; 415 for other types.

    The type is guessed from the name, never taken from what the client declares."""
    name = clean_name(filename or "")
    if not name:
        raise ValidationFailed.of([FieldError("file", "has no file name; send the file part with a filename")])
    content_type = guess_type(name)
    if target.accept and not accepts(target.accept, name, content_type):
        key, taken = target.spec.key, ", ".join(target.accept)
        raise UnsupportedMediaType(
            f"{key} does not take {name!r} ({content_type}); it takes {taken}",
            [FieldError(key, f"takes only {taken}")],
        )
    return name, content_type


def clean_name(raw: str) -> str:
    """A file name to keep and show: its last path part, without control or format characters
    (no right-to-left tricks), at most 255 characters with its extension kept."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")).strip()
    if name in ("", ".", ".."):
        return ""
    if len(name) > NAME_LENGTH:
        stem, extension = os.path.splitext(name)
        extension = extension[:32]
        name = stem[: NAME_LENGTH - len(extension)] + extension
    return name


def guess_type(name: str) -> str:
    _, extension = os.path.splitext(name)
    return _TYPES.guess_type("file" + extension.lower(), strict=False)[0] or UNKNOWN_TYPE


def accepts(accept: Collection[str], name: str, content_type: str) -> bool:
    """`.pdf` matches the name's ending, `image/*` a family of types, `application/pdf` one type."""
    lowered = name.lower()
    for entry in accept:
        entry = entry.lower()
        if entry.startswith("."):
            if lowered.endswith(entry):
                return True
        elif entry.endswith("/*"):
            if content_type.startswith(entry[:-1]):
                return True
        elif content_type == entry:
            return True
    return False


async def judge_content(
    target: UploadTarget, store: FileStore, stored: StoredFile, name: str, content_type: str
) -> tuple[StoredFile, str, str]:
    """A stored upload as its field judges its content (a picture: read, its metadata dropped):
    the file as now stored, its name and content type; 415 or 422 naming the field otherwise."""
    unit, key = unit_of(target.spec), target.spec.key
    if not unit.judges_content:
        return stored, name, content_type
    try:
        judged = await anyio.to_thread.run_sync(unit.receive, target.spec, store.path(stored.key), name)
    except NotTaken as problem:
        raise UnsupportedMediaType(
            f"{key} does not take {name!r}: it {problem}", [FieldError(key, str(problem))]
        ) from None
    except Invalid as problem:
        raise ValidationFailed.of([FieldError(key, f"{name!r} {problem}")]) from None
    if judged is None:
        return stored, name, content_type
    return await anyio.to_thread.run_sync(store.describe, stored.key), *judged


async def register_upload(
    session: AsyncSession,
    target: UploadTarget,
    ctx: RequestContext,
    stored: StoredFile,
    name: str,
    content_type: str,
) -> dict[str, Any]:
    """Record a file written to the store: unattached, owned by its uploader."""
    f = tables.files
    file_id = (
        await session.execute(
            insert(f)
            .values(
                form_id=target.form.form_id,
                field_id=target.spec.id,
                record_id=None,
                name=name,
                content_type=content_type,
                size=stored.size,
                sha256=stored.sha256,
                storage_key=stored.key,
                created_by=ctx.principal.user_id,
                created_at=ctx.now,
            )
            .returning(f.c.id)
        )
    ).scalar_one()
    return {"id": file_id, "name": name, "size": stored.size, "content_type": content_type, "sha256": stored.sha256}


# ----------------------------------------------------------------- records


def file_metadata(row: Any) -> dict[str, Any]:
    """A file as an attachment value holds it."""
    return {"id": row.id, "name": row.name, "size": row.size, "content_type": row.content_type}


async def resolve_attachments(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    rows: list[dict[str, Any]],
    paths: list[str],
    record_id: int | None = None,
) -> None:
    """Before a write: replace the file ids of attachment values by the files' metadata.

    Each file must have been uploaded to this form and field, and be either the
    caller's upload that no record took yet, or already this record's (`record_id`,
    when updating). Errors name the field: `docs`, or `records[2].docs` in a bulk create.
    """
    specs = [s for s in form.fields if unit_of(s).holds_files and any(values.get(s.key) for values in rows)]
    if not specs:
        return
    wanted = sorted({file_id for s in specs for values in rows for file_id in values.get(s.key) or ()})
    f = tables.files
    found = {
        row.id: row for row in await session.execute(select(f).where(f.c.id.in_(wanted), f.c.form_id == form.form_id))
    }
    errors: list[FieldError] = []
    given: dict[int, str] = {}  # file id -> where this request already put it
    for values, path in zip(rows, paths, strict=True):
        for spec in specs:
            ids = values.get(spec.key)
            if not ids:
                continue
            where = f"{path}{spec.key}"
            for file_id in ids:
                if file_id in given:
                    errors.append(FieldError(where, f"file {file_id} is already given to {given[file_id]}"))
                elif not _may_attach(found.get(file_id), spec, ctx, record_id):
                    errors.append(FieldError(where, _not_attachable(form, spec, file_id)))
                given.setdefault(file_id, where)
            values[spec.key] = [file_metadata(found[i]) for i in ids if i in found]
    if errors:
        raise ValidationFailed.of(errors)


def _may_attach(row: Any, spec: FieldSpec, ctx: RequestContext, record_id: int | None) -> bool:
    if row is None or row.field_id != spec.id:
        return False
    if row.record_id is None:
        return row.created_by == ctx.principal.user_id
    return record_id is not None and row.record_id == record_id


def _not_attachable(form: CompiledForm, spec: FieldSpec, file_id: int) -> str:
    # The same words whether the file does not exist or is someone else's: no probing.
    return (
        f"there is no file {file_id} of yours to attach here; upload it with "
        f"POST /api/apps/{form.app}/forms/{form.key}/files?field={spec.key} and send the id it returns"
    )


def _ids(value: Any) -> list[int]:
    return [item["id"] if isinstance(item, Mapping) else item for item in value or ()]


async def link_attachments(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
) -> None:
    """After a write: the files a record now holds are attached to it; those it no longer
    holds are detached (kept, with their content, for the history and its readers)."""
    f = tables.files
    for spec in form.fields:
        if not unit_of(spec).holds_files or spec.key not in after:
            continue
        old, new = _ids((before or {}).get(spec.key)), _ids(after[spec.key])
        mine = (f.c.form_id == form.form_id, f.c.field_id == spec.id)
        added = [i for i in new if i not in old]
        if added:
            free = f.c.record_id.is_(None) | (f.c.record_id == record_id)
            taken = await session.execute(
                update(f)
                .where(f.c.id.in_(added), free, *mine)
                .values(record_id=record_id, detached_at=None)
                .returning(f.c.id)
            )
            if len(taken.all()) != len(added):  # another request attached one of them just now
                raise Conflict(
                    "A file was attached to another record at the same time; upload it again",
                    [FieldError(spec.key, "holds a file another record took just now")],
                )
        removed = [i for i in old if i not in new]
        if removed:
            await session.execute(
                update(f).where(f.c.id.in_(removed), f.c.record_id == record_id, *mine).values(detached_at=ctx.now)
            )


# ------------------------------------------------------------------ readers


def readable_field(form: CompiledForm, hidden: Collection[str], field_id: str) -> bool:
    """Whether a reader who may not see `hidden` fields sees the attachment field a file went to.

    A record's files go with their field: who may not see the field may not see its files
    (their names, sizes and types), wherever they are shown."""
    spec = next((s for s in form.fields if s.id == field_id), None)
    return spec is not None and unit_of(spec).holds_files and spec.key not in hidden


async def readable_files(
    session: AsyncSession, form: CompiledForm, hidden: Collection[str], ids: Collection[int]
) -> set[int]:
    """Of these files of the form, those whose field the reader sees."""
    if not ids:
        return set()
    f = tables.files
    query = select(f.c.id, f.c.field_id).where(f.c.id.in_(sorted(ids)), f.c.form_id == form.form_id)
    rows = await session.execute(query)
    return {file_id for file_id, field_id in rows if readable_field(form, hidden, field_id)}


# ---------------------------------------------------------------- download


async def file_for_download(
    session: AsyncSession, form: CompiledForm, ctx: RequestContext, access: FormAccess, file_id: int
) -> Any:
    """The file's row, if the caller may download it; otherwise 404, as if there were none.

    A file that a record holds (or held) goes with that record: the caller must be
    able to read the record, through the same row scope as every records read,
    and see the field. An upload that no record took is its uploader's alone."""
    f = tables.files
    row = (await session.execute(select(f).where(f.c.id == file_id, f.c.form_id == form.form_id))).first()
    missing = NotFound(f"{form.key} has no file {file_id}")
    if row is None:
        raise missing
    if row.record_id is None:
        if row.created_by is None or row.created_by != ctx.principal.user_id:
            raise missing
        return row
    if not readable_field(form, access.hidden, row.field_id):
        raise missing
    from opsloom.runtime.records import get_record  # records imports this module

    try:
        await get_record(session, form, ctx, row.record_id, access)
    except NotFound:
        raise missing from None
    return row


async def rendition(form: CompiledForm, store: FileStore, row: Any, size: str) -> tuple[Path, str]:
    """A picture at a smaller size (its path and content type), made on the first request and
    kept next to the file; 422 for a size the file's field does not offer."""
    spec = next((s for s in form.fields if s.id == row.field_id), None)
    sizes = unit_of(spec).renditions if spec is not None else {}
    if size not in sizes:
        offered = f"; {spec.key} offers {', '.join(sizes)}" if spec is not None and sizes else ""
        raise ValidationFailed.of([FieldError("size", f"file {row.id} has no size {size!r}{offered}")])
    assert spec is not None
    unit, target = unit_of(spec), store.variant(row.storage_key, size)
    if not target.is_file():
        try:
            await anyio.to_thread.run_sync(unit.render, store.path(row.storage_key), target, sizes[size])
        except Invalid as problem:
            raise ValidationFailed.of(
                [FieldError("size", f"file {row.id} cannot be shown smaller: it {problem}")]
            ) from None
    return target, unit.rendition_type(row.content_type)


# ------------------------------------------------------------------- purge


async def purge_record_files(session: AsyncSession, store: FileStore, form_id: int, record_ids: Collection[int]) -> int:
    """Delete every file of these records, attached or detached: the rows now, the content
    once the transaction commits. For records purged for good (a soft delete keeps them)."""
    if not record_ids:
        return 0
    f = tables.files
    statement = delete(f).where(f.c.form_id == form_id, f.c.record_id.in_(sorted(record_ids)))
    keys = list((await session.execute(statement.returning(f.c.storage_key))).scalars())
    store.remove_after_commit(session, keys)
    return len(keys)


async def purge_unattached(session: AsyncSession, store: FileStore, uploaded_before: datetime) -> int:
    """Delete uploads that no record took, made before `uploaded_before`; return how many."""
    f = tables.files
    statement = delete(f).where(f.c.record_id.is_(None), f.c.created_at < uploaded_before)
    keys = list((await session.execute(statement.returning(f.c.storage_key))).scalars())
    store.remove_after_commit(session, keys)
    return len(keys)
