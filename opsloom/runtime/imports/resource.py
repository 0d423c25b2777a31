"""An import as a resource: uploaded, read (sheets, headers, sample, values that match nothing), set up.

    draft --commit--> queued --worker--> running --> done | failed | cancelled
    done --undo (within a day)--> undone

The uploaded file stays on disk under the data directory until the import
can no longer read it: a day after it is done (its undo window), the next
upload deletes it (`sweep_files`); the refused rows stay in the database for
the error file. What the user
chooses lives in the import's `options` (`settings.py`); what the file holds
is worked out again whenever a choice changes it (`analyse`). Committing is
`commit.py`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import jobs, tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import Conflict, NotFound
from opsloom.platform.files import FileStore
from opsloom.platform.permissions import FormAccess
from opsloom.runtime.export import system_headers
from opsloom.runtime.fields import unit_of
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.imports.cleaning import describe_cleaners
from opsloom.runtime.imports.links import LinkResolver
from opsloom.runtime.imports.mapping import (
    RowReader,
    auto_mapping,
    candidates,
    data_rows,
    targets,
    unmatched_values,
)
from opsloom.runtime.imports.settings import EDITABLE, ImportOptions, apply_changes, choices_of
from opsloom.runtime.imports.sources import cell_json, open_source

UNDO_WINDOW = timedelta(days=1)


SAMPLE_ROWS = 5


i, ir = tables.imports, tables.import_rows


@dataclass
class Analysis:
    """What the file holds, as the options read it."""

    sheets: list[str]
    headers: list[Any]
    sample: list[list[Any]]
    total_rows: int
    unmatched: dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class ImportFile:
    path: Path
    file_format: str
    encoding: str | None

    def rows(self, sheet: str | None) -> Iterator[list[Any]]:
        return open_source(self.path, self.file_format, self.encoding).rows(sheet)

    def sheets(self) -> list[str]:
        return open_source(self.path, self.file_format, self.encoding).sheets()


def file_of(row: Any, store: FileStore) -> ImportFile:
    return ImportFile(store.path(row["file_key"]), row["file_format"], row["encoding"])


def _scan(source: ImportFile, options: ImportOptions, reader: RowReader | None) -> tuple[Any, ...]:
    """One pass over the file (in a thread): sheets, headers, sample, row count, candidate values
    (without a reader: sheets and headers only)."""
    sheets = source.sheets()
    headers: list[Any] = []
    for number, row in enumerate(source.rows(options.sheet), start=1):
        if number == options.header_row:
            headers = [cell_json(c) for c in row]
            break
    sample: list[list[Any]] = []
    total = 0

    def counted() -> Iterator[tuple[int, list[Any]]]:
        nonlocal total
        for number, row in data_rows(source.rows(options.sheet), options.header_row):
            total += 1
            if len(sample) < SAMPLE_ROWS:
                sample.append([cell_json(c) for c in row])
            yield number, row

    if reader is None:  # the headers were all that was asked for
        return sheets, headers, sample, total, {}
    found = candidates(reader, counted())
    return sheets, headers, sample, total, found


async def analyse(
    session: AsyncSession, form: CompiledForm, source: ImportFile, options: ImportOptions, *, auto: bool = False
) -> tuple[Analysis, ImportOptions]:
    """Read the file as the options say (with `auto`, map its columns by their headers first)."""
    if auto:
        sheets, headers, *_ = await anyio.to_thread.run_sync(_scan, source, options, None)
        if options.sheet is None and sheets:
            options.sheet = sheets[0]
        options.mapping = auto_mapping(form, headers, system_headers())
    reader = RowReader.build(form, options.mapping, options.cleaning, options.values, LinkResolver())
    sheets, headers, sample, total, found = await anyio.to_thread.run_sync(_scan, source, options, reader)
    unmatched = await unmatched_values(session, reader, found)
    listed = {
        key: [{"value": text, "count": entry.count, "rows": entry.rows} for text, entry in values.items()]
        for key, values in unmatched.items()
    }
    return Analysis(sheets, headers, sample, total, listed), options


async def load_import(session: AsyncSession, app: str, form: str, import_id: int, *, lock: bool = False) -> Any:
    query = select(i).where(i.c.id == import_id, i.c.app_key == app, i.c.form_key == form)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"{form} has no import {import_id}")
    return row


def require_owner(row: Any, ctx: RequestContext, access: FormAccess) -> None:
    """An import is seen and changed by who started it (or by people who manage the form)."""
    if row["created_by"] != ctx.principal.user_id and not access.can("manage"):
        raise NotFound(f"{row['form_key']} has no import {row['id']}")


async def create_import(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    source: ImportFile,
    *,
    file_key: str,
    file_name: str,
    file_size: int,
) -> int:
    options, now = ImportOptions(), ctx.now
    analysis, options = await analyse(session, form, source, options, auto=True)
    result = await session.execute(
        insert(i)
        .values(
            app_key=form.app,
            form_key=form.key,
            state="draft",
            file_key=file_key,
            file_name=file_name[:255],
            file_size=file_size,
            file_format=source.file_format,
            encoding=source.encoding,
            options={**asdict(options), "analysis": asdict(analysis)},
            rows_done=0,
            counts={},
            created_by=ctx.principal.user_id,
            token_apps=sorted(ctx.principal.token_apps) if ctx.principal.token_apps is not None else None,
            created_at=now,
            updated_at=now,
        )
        .returning(i.c.id)
    )
    return int(result.scalar_one())


async def describe(session: AsyncSession, form: CompiledForm, row: Any, locale: str | None = None) -> dict[str, Any]:
    options = ImportOptions.of(row["options"])
    analysis = row["options"].get("analysis") or {}
    headers = analysis.get("headers") or []
    by_column = {index: key for key, index in options.mapping.items()}
    job = await jobs.read_job(session, row["job_id"]) if row["job_id"] else None
    finished, state = row["finished_at"], row["state"]
    if job is not None and job["state"] == "running" and state in ("done", "failed", "cancelled"):
        state = "running"  # its worker is writing the last of it: finished once the job says so
    return {
        "id": row["id"],
        "app": row["app_key"],
        "form": row["form_key"],
        "state": state,
        "file": {
            "name": row["file_name"],
            "size": row["file_size"],
            "format": row["file_format"],
            "encoding": row["encoding"],
            "kept": row["file_key"] != REMOVED,
        },
        "sheets": analysis.get("sheets") or [],
        "sheet": options.sheet,
        "header_row": options.header_row,
        "columns": [{"index": n, "header": h, "field": by_column.get(n)} for n, h in enumerate(headers)],
        "fields": [
            {
                "key": target.path,
                "label": target.label,
                "type": spec.type,
                "required": spec.required,
                "unique": spec.unique,
                "names": target.names(),
                "choices": choices_of(spec),
                "link": unit_of(spec).link,
            }
            for target in targets(form)
            for spec in [target.spec]
        ],
        "mapping": options.mapping,
        "sample": analysis.get("sample") or [],
        "total_rows": analysis.get("total_rows", 0),
        "cleaning": describe_cleaners(options.cleaning),
        "values": options.values,
        "unmatched": analysis.get("unmatched") or {},
        "mode": options.mode,
        "key_field": options.key_field,
        "error_policy": options.error_policy,
        "dry_run": row["options"].get("dry_run"),
        "rows_done": row["rows_done"],
        "counts": row["counts"] or {},
        "job": job,
        "created_at": row["created_at"].isoformat(),
        "finished_at": finished.isoformat() if finished else None,
        "undo_until": (finished + UNDO_WINDOW).isoformat() if finished and state == "done" else None,
        "undone_at": row["undone_at"].isoformat() if row["undone_at"] else None,
    }


async def update_import(
    session: AsyncSession, form: CompiledForm, ctx: RequestContext, row: Any, store: FileStore, change: Any
) -> None:
    if row["state"] not in EDITABLE or row["rows_done"]:
        raise Conflict(f"Import {row['id']} is {row['state']}: only an import not yet committed can be changed")
    options = ImportOptions.of(row["options"])
    stored = dict(row["options"])
    if apply_changes(form, options, change):
        # Another sheet or header row has other columns: matched again by their headers, unless mapped here.
        moved = options.sheet != stored.get("sheet") or options.header_row != stored.get("header_row")
        remap = moved and "mapping" not in change
        analysis, options = await analyse(session, form, file_of(row, store), options, auto=remap)
        stored["analysis"] = asdict(analysis)
        stored.pop("dry_run", None)
    await session.execute(
        update(i)
        .where(i.c.id == row["id"])
        .values(options={**stored, **asdict(options)}, state="draft", updated_at=ctx.now)
    )


SWEEP_LIMIT = 100
REMOVED = ""  # the file_key of an import whose file is gone


async def sweep_files(session: AsyncSession, store: FileStore, now: Any, limit: int = SWEEP_LIMIT) -> int:
    """Delete the uploaded files of imports that can never read them again: done or undone, and
    finished longer ago than the undo window. Their refused rows stay (the error file is written
    from those). Answers how many files were removed; they go once the transaction commits."""
    done = (
        await session.execute(
            select(i.c.id, i.c.file_key)
            .where(
                i.c.state.in_(("done", "undone")),
                i.c.finished_at < now - UNDO_WINDOW,
                i.c.file_key != REMOVED,
            )
            .order_by(i.c.id)
            .limit(limit)
        )
    ).all()
    if done:
        await session.execute(update(i).where(i.c.id.in_([r.id for r in done])).values(file_key=REMOVED))
        store.remove_after_commit(session, [r.file_key for r in done])
    return len(done)
