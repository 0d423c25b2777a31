"""An import's life: uploaded, looked at, set up, tried (dry run), committed by a job, undone.

    draft --commit--> queued --worker--> running --> done | failed | cancelled
    done --undo (within a day)--> undone

The uploaded file stays on disk until the import is undone or deleted. What
the user chooses lives in the import's `options`; what the file holds (its
sheets, headers, a sample, the values that match nothing) is worked out again
whenever a choice changes it (`analyse`). The commit runs as a background job
(`run_import`), in batches, each batch in one transaction with the rows it
stored noted in `opsloom_import_rows` and the import's `rows_done` moved on:
a worker killed mid-import leaves whole batches, and the next worker to take
the job carries on after the last of them, so no row lands twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import jobs, tables
from opsloom.platform.auth import principal_from_row
from opsloom.platform.context import RequestContext
from opsloom.platform.database import Database
from opsloom.platform.errors import BadRequest, Conflict, FieldError, NotFound, OpsloomError
from opsloom.platform.files import FileStore
from opsloom.platform.permissions import FormAccess, form_access
from opsloom.runtime.fields import FieldSpec, unit_of
from opsloom.runtime.forms import CompiledForm, FormRegistry
from opsloom.runtime.imports.batches import MODES, POLICIES, RowPlan, import_access, plan_actions, run_batch
from opsloom.runtime.imports.cleaning import CLEANERS, describe_cleaners
from opsloom.runtime.imports.links import LinkResolver
from opsloom.runtime.imports.mapping import (
    RowReader,
    auto_mapping,
    candidates,
    data_rows,
    importable,
    targets,
    unmatched_values,
)
from opsloom.runtime.imports.sources import open_source
from opsloom.runtime.records import delete_record

JOB_KIND = "import"
UNDO_WINDOW = timedelta(days=1)
SAMPLE_ROWS = 5
MAX_PROBLEMS = 1000  # rows a dry run reports one by one
EDITABLE = ("draft", "failed", "cancelled")  # states an import may be set up and committed (again) from
i, ir = tables.imports, tables.import_rows


@dataclass
class ImportOptions:
    """What the user chose."""

    sheet: str | None = None
    header_row: int = 1
    mapping: dict[str, int] = field(default_factory=dict)  # field key -> column index
    cleaning: list[str] = field(default_factory=lambda: list(CLEANERS))
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # field key -> text -> value (None: empty)
    mode: str = "insert"
    key_field: str | None = None
    error_policy: str = "skip_bad_rows"

    @classmethod
    def of(cls, stored: dict[str, Any]) -> ImportOptions:
        known = {k: v for k, v in stored.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Analysis:
    """What the file holds, as the options read it."""

    sheets: list[str]
    headers: list[Any]
    sample: list[list[Any]]
    total_rows: int
    unmatched: dict[str, list[dict[str, Any]]]


def cell_json(cell: Any) -> Any:
    """A cell as JSON (dates as ISO text, numbers as they are)."""
    if cell is None or isinstance(cell, bool | int | str):
        return cell
    if isinstance(cell, float):
        return int(cell) if cell.is_integer() and abs(cell) < 2**53 else cell
    if isinstance(cell, date | datetime):
        return cell.isoformat()
    if isinstance(cell, Decimal):
        return str(cell)
    return str(cell)


# ------------------------------------------------------------------ reading the file


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
        options.mapping = auto_mapping(form, headers)
    reader = RowReader.build(form, options.mapping, options.cleaning, options.values, LinkResolver())
    sheets, headers, sample, total, found = await anyio.to_thread.run_sync(_scan, source, options, reader)
    unmatched = await unmatched_values(session, reader, found)
    listed = {
        key: [{"value": text, "count": entry.count, "rows": entry.rows} for text, entry in values.items()]
        for key, values in unmatched.items()
    }
    return Analysis(sheets, headers, sample, total, listed), options


# ------------------------------------------------------------------ the import resource


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


YES_NO = {True: {"en": "Yes", "zh-CN": "是"}, False: {"en": "No", "zh-CN": "否"}}


def choices_of(spec: FieldSpec) -> list[dict[str, Any]] | None:
    """The values a field can take, with what people call them (for mapping unmatched values)."""
    choices = unit_of(spec).element(spec).choices(spec)
    if choices is None:
        return None
    labels = {option.get("value"): option.get("label") for option in spec.get("options") or ()}
    ordered = [v for v in labels if v in choices] + sorted((v for v in choices if v not in labels), key=str)
    return [{"value": v, "label": labels.get(v) or YES_NO.get(v) or str(v)} for v in ordered]


def template_columns(form: CompiledForm, locale: str) -> list[tuple[str, Any, list[str]]]:
    """(header, example cell, option labels) of each field an import can fill, for a template file."""
    columns = []
    for spec in importable(form):
        unit = unit_of(spec)
        names = [label_in(choice["label"], locale) for choice in choices_of(spec) or []]
        example: Any = names[0] if names else None
        if example is None and unit.link is None:
            try:
                example = cell_json(unit.example(spec))
            except (NotImplementedError, ValueError, TypeError):
                example = None
        if isinstance(example, list | dict):
            example = None
        columns.append((label_in(spec.label, locale), example, names))
    return columns


def label_in(label: Any, locale: str) -> str:
    if isinstance(label, dict):
        return str(label.get(locale) or label.get("en") or next(iter(label.values()), ""))
    return str(label)


def apply_changes(form: CompiledForm, options: ImportOptions, change: Any) -> bool:
    """The user's changes to the options, checked; answer whether the file must be read again."""
    if not isinstance(change, dict):
        raise BadRequest("Send the import's settings as a JSON object", [FieldError("$", "expected an object")])
    errors: list[FieldError] = []
    fields = {target.path: target for target in targets(form)}
    own = {spec.key for spec in importable(form)}
    rescan = False
    for key, value in change.items():
        if key == "sheet":
            if value is not None and not isinstance(value, str):
                errors.append(FieldError("sheet", "name a sheet of the workbook"))
            options.sheet, rescan = value, True
        elif key == "header_row":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1000:
                errors.append(FieldError("header_row", "give the number of the header row, 1 to 1000 (0: none)"))
            else:
                options.header_row, rescan = value, True
        elif key == "mapping":
            if not isinstance(value, dict):
                errors.append(FieldError("mapping", "expected {field key: column index}"))
                continue
            for field_key, column in value.items():
                if field_key not in fields:
                    errors.append(FieldError(f"mapping.{field_key}", "is not a field the import can fill"))
                elif not isinstance(column, int) or isinstance(column, bool) or not 0 <= column < 16384:
                    errors.append(FieldError(f"mapping.{field_key}", "give a column index (0 is the first)"))
            options.mapping, rescan = dict(value), True
        elif key == "cleaning":
            if not isinstance(value, list) or any(name not in CLEANERS for name in value):
                errors.append(FieldError("cleaning", f"list cleaning steps among {', '.join(CLEANERS)}"))
            else:
                options.cleaning, rescan = list(value), True
        elif key == "values":
            if not isinstance(value, dict) or any(not isinstance(v, dict) for v in value.values()):
                errors.append(FieldError("values", "expected {field key: {value in the file: value to store}}"))
                continue
            for field_key in value:
                if field_key not in fields:
                    errors.append(FieldError(f"values.{field_key}", "is not a field the import can fill"))
            options.values, rescan = {k: dict(v) for k, v in value.items()}, True
        elif key == "mode":
            if value not in MODES:
                errors.append(FieldError("mode", f"use one of {', '.join(MODES)}"))
            options.mode = value
        elif key == "key_field":
            if value is not None and value not in own:
                errors.append(FieldError("key_field", "name a field of the form (not of its subforms)"))
            options.key_field = value
        elif key == "error_policy":
            if value not in POLICIES:
                errors.append(FieldError("error_policy", f"use one of {', '.join(POLICIES)}"))
            options.error_policy = value
        else:
            errors.append(FieldError(key, "is not a setting of an import"))
    if errors:
        raise BadRequest("Some settings of the import are wrong", errors)
    return rescan


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


def ready_problems(form: CompiledForm, row: Any) -> list[FieldError]:
    """What stands in the way of trying or committing the import."""
    options = ImportOptions.of(row["options"])
    problems: list[FieldError] = []
    if not options.mapping:
        problems.append(FieldError("mapping", "map at least one column to a field"))
    if options.mode != "insert":
        if options.key_field is None:
            problems.append(FieldError("key_field", f"{options.mode} needs a key field to find existing records"))
        elif options.key_field not in options.mapping:
            problems.append(FieldError("key_field", "map a column to the key field"))
    for key, values in (row["options"].get("analysis") or {}).get("unmatched", {}).items():
        for entry in values:
            problems.append(
                FieldError(
                    f"values.{key}",
                    f"{entry['value']!r} ({entry['count']} rows) matches nothing: map it to a value or to empty",
                )
            )
    return problems


def require_ready(form: CompiledForm, row: Any) -> None:
    problems = ready_problems(form, row)
    if problems:
        raise Conflict("The import is not ready: " + problems[0].message, problems)


# ------------------------------------------------------------------ dry run and commit


@dataclass
class ImportWork:
    """What one pass over an import's rows needs."""

    form: CompiledForm
    ctx: RequestContext
    access: FormAccess
    options: ImportOptions
    reader: RowReader
    source: ImportFile

    @classmethod
    def of(cls, form: CompiledForm, ctx: RequestContext, access: FormAccess, row: Any, store: FileStore) -> ImportWork:
        options = ImportOptions.of(row["options"])
        reader = RowReader.build(form, options.mapping, options.cleaning, options.values, LinkResolver())
        return cls(form, ctx, import_access(access), options, reader, file_of(row, store))

    def batches(self, size: int, after: int = 0) -> Iterator[list[Group]]:
        """The file's records, `size` at a time, after the row numbered `after`."""
        rows = data_rows(self.source.rows(self.options.sheet), self.options.header_row)
        groups = self._groups(pair for pair in rows if pair[0] > after)
        while batch := list(islice(groups, size)):
            yield batch

    def _groups(self, rows: Iterator[tuple[int, list[Any]]]) -> Iterator[Group]:
        """Rows joined into records: a row whose key is empty or repeats the row above's adds
        subform rows to that record (only when the file fills subform rows)."""
        group_by = self.reader.group_column(self.options.key_field)
        current: Group | None = None
        for number, row in rows:
            if current is not None and self.reader.continues(row, current.rows[-1][1], group_by):
                current.rows.append((number, row))
                continue
            if current is not None:
                yield current
            current = Group([(number, row)])
        if current is not None:
            yield current

    async def judge(self, session: AsyncSession, batch: list[Group], *, store: bool) -> list[RowPlan]:
        await self.reader.learn_links(session, (row for group in batch for _, row in group.rows))
        plans = [
            RowPlan(group.number, group.first, self.reader.payload(group.first, (r for _, r in group.rows[1:])))
            for group in batch
        ]
        await plan_actions(session, self.form, self.ctx, plans, self.options.mode, self.options.key_field)
        await run_batch(session, self.form, self.ctx, self.access, plans, store=store)
        return plans


@dataclass
class Group:
    """The data rows of one record: its own row, and the rows below that add subform rows."""

    rows: list[tuple[int, list[Any]]]

    @property
    def number(self) -> int:
        return self.rows[0][0]

    @property
    def first(self) -> list[Any]:
        return self.rows[0][1]

    @property
    def last(self) -> int:
        return self.rows[-1][0]


def rows_in(batch: list[Group]) -> int:
    return sum(len(group.rows) for group in batch)


def problem_rows(plans: list[RowPlan]) -> list[dict[str, Any]]:
    return [
        {"row": p.number, "errors": [{"path": e.path, "message": e.message} for e in p.errors]}
        for p in plans
        if p.errors
    ]


async def dry_run(db: Database, work: ImportWork, import_id: int, batch_rows: int) -> dict[str, Any]:
    """Judge every row as the commit would, storing nothing; report per row."""
    counts = {"rows": 0, "valid": 0, "invalid": 0, "insert": 0, "update": 0, "skip": 0}
    problems: list[dict[str, Any]] = []
    for batch in work.batches(batch_rows):
        async with db.session() as session:
            plans = await work.judge(session, batch, store=False)
            await session.rollback()  # nothing was written; let go of what the links stage share-locked
        counts["rows"] += len(plans)
        for plan in plans:
            if plan.errors:
                counts["invalid"] += 1
            else:
                counts["valid"] += 1
                counts[plan.action] += 1
        if len(problems) < MAX_PROBLEMS:
            problems.extend(problem_rows(plans)[: MAX_PROBLEMS - len(problems)])
    report = {**counts, "problems": problems, "at": datetime.now(UTC).isoformat()}
    async with db.session(write=True) as session:
        stored = (await session.execute(select(i.c.options).where(i.c.id == import_id))).scalar_one()
        await session.execute(update(i).where(i.c.id == import_id).values(options={**stored, "dry_run": report}))
    return report


async def start_commit(session: AsyncSession, form: CompiledForm, ctx: RequestContext, row: Any) -> int:
    if row["state"] not in EDITABLE:
        raise Conflict(f"Import {row['id']} is {row['state']}; it can be committed once")
    require_ready(form, row)
    await session.execute(delete(ir).where(ir.c.import_id == row["id"], ir.c.outcome == "failed"))
    job_id = await jobs.enqueue(
        session, JOB_KIND, {"import_id": row["id"]}, now=ctx.now, created_by=ctx.principal.user_id
    )
    await session.execute(
        update(i).where(i.c.id == row["id"]).values(state="queued", job_id=job_id, updated_at=ctx.now)
    )
    return job_id


async def cancel_import(session: AsyncSession, ctx: RequestContext, row: Any) -> None:
    if row["state"] not in ("queued", "running") or row["job_id"] is None:
        raise Conflict(f"Import {row['id']} is {row['state']}: only a queued or running import can be cancelled")
    await jobs.request_cancel(session, row["job_id"], ctx.now)
    if row["state"] == "queued":  # no worker has it yet: it ends here (a worker that takes it finds it cancelled)
        await session.execute(
            update(i).where(i.c.id == row["id"]).values(state="cancelled", finished_at=ctx.now, updated_at=ctx.now)
        )


@dataclass
class ImportJob:
    """The handler of `import` jobs, for a process's job runner."""

    forms: FormRegistry
    store: FileStore
    zone: tzinfo = UTC
    batch_rows: int = 500

    async def __call__(self, run: jobs.JobRun) -> dict[str, Any]:
        db, import_id = run.db, int(run.job.payload["import_id"])
        async with db.session(write=True) as session:
            row = (await session.execute(select(i).where(i.c.id == import_id))).mappings().first()
            if row is None:
                raise jobs.JobFailed(f"import {import_id} is gone")
            ctx = await _context_of(session, row, self.zone)
            form = await self.forms.get(session, row["app_key"], row["form_key"])
            access = await form_access(session, ctx.principal, row["app_key"], row["form_key"])
            await session.execute(update(i).where(i.c.id == import_id).values(state="running", updated_at=ctx.now))
        work = ImportWork.of(form, ctx, access, row, self.store)
        total = (row["options"].get("analysis") or {}).get("total_rows", 0)
        try:
            if work.options.error_policy == "all_or_nothing" and row["rows_done"] == 0:
                await self._judge_all(run, work, import_id, total)
            counts = await self._land(run, work, import_id, row, total)
        except jobs.JobCancelled:
            await _set_state(db, import_id, "cancelled")
            raise
        except jobs.LeaseLost:
            raise
        except (jobs.JobFailed, Exception):
            await _set_state(db, import_id, "failed")
            raise
        await _set_state(db, import_id, "done")
        return counts

    async def _judge_all(self, run: jobs.JobRun, work: ImportWork, import_id: int, total: int) -> None:
        """All or nothing: every row is judged before any is stored; one bad row stops the import."""
        done, failed = 0, 0
        async with run.db.session(write=True) as session:  # a check cut short by a crash starts again
            await session.execute(delete(ir).where(ir.c.import_id == import_id, ir.c.outcome == "failed"))
        for batch in work.batches(self.batch_rows):
            async with run.db.session(write=True) as session:
                plans = await work.judge(session, batch, store=False)
                bad = [p for p in plans if p.errors]
                failed += len(bad)
                await _note_failed(session, import_id, work, bad)
            done += rows_in(batch)
            await run.report(phase="checking", done=done, total=total, failed=failed)
        if failed:
            raise jobs.JobFailed(f"{failed} rows have problems; nothing was imported (see the error file)")

    async def _land(self, run: jobs.JobRun, work: ImportWork, import_id: int, row: Any, total: int) -> dict[str, Any]:
        rows_done = row["rows_done"]
        counts = {"inserted": 0, "updated": 0, "skipped": 0, "failed": 0, **(row["counts"] or {})}
        done = int(run.progress.get("done", 0)) if rows_done else 0  # rows, as the last report said
        started, landed_now = time.monotonic(), 0
        strict = work.options.error_policy == "all_or_nothing"
        for batch in work.batches(self.batch_rows, after=rows_done):
            async with run.db.session(write=True) as session:
                work.ctx = RequestContext(work.ctx.principal, datetime.now(UTC), work.ctx.zone)
                plans = await work.judge(session, batch, store=True)
                bad = [p for p in plans if p.errors]
                if strict and bad:
                    await session.rollback()
                    raise jobs.JobFailed(
                        f"row {bad[0].number} was refused while importing ({_first(bad[0])}); "
                        "the rows before it were imported and can be undone"
                    )
                for plan in plans:
                    counts[plan.outcome] += 1
                good = [p for p in plans if not p.errors]
                if good:
                    await session.execute(
                        insert(ir),
                        [
                            {
                                "import_id": import_id,
                                "row_number": p.number,
                                "outcome": p.outcome,
                                "record_id": p.record_id,
                                "detail": None,
                            }
                            for p in good
                        ],
                    )
                await _note_failed(session, import_id, work, bad)
                rows_done = batch[-1].last
                await session.execute(
                    update(i)
                    .where(i.c.id == import_id)
                    .values(rows_done=rows_done, counts=counts, updated_at=datetime.now(UTC))
                )
            done += rows_in(batch)
            landed_now += rows_in(batch)
            elapsed = max(time.monotonic() - started, 1e-6)
            rate = landed_now / elapsed
            await run.report(
                phase="importing",
                done=done,
                total=total,
                rows_per_second=round(rate, 1),
                seconds_left=round(max(total - done, 0) / rate, 1) if rate else None,
                **counts,
            )
        return counts


def _first(plan: RowPlan) -> str:
    error = plan.errors[0]
    return f"{error.path}: {error.message}" if error.path else error.message


async def _note_failed(session: AsyncSession, import_id: int, work: ImportWork, bad: list[RowPlan]) -> None:
    if not bad:
        return
    await session.execute(
        insert(ir),
        [
            {
                "import_id": import_id,
                "row_number": p.number,
                "outcome": "failed",
                "record_id": None,
                "detail": {
                    "cells": [cell_json(c) for c in p.cells],
                    "errors": [{"path": e.path, "message": e.message} for e in p.errors],
                },
            }
            for p in bad
        ],
    )


async def _set_state(db: Database, import_id: int, state: str) -> None:
    now = datetime.now(UTC)
    async with db.session(write=True) as session:
        await session.execute(update(i).where(i.c.id == import_id).values(state=state, finished_at=now, updated_at=now))


async def _context_of(session: AsyncSession, row: Any, zone: tzinfo) -> RequestContext:
    """The person who started the import, as the job acts for them (their rights as they are now)."""
    user = (await session.execute(select(tables.users).where(tables.users.c.id == row["created_by"]))).first()
    if user is None or not user.active:
        raise jobs.JobFailed("the person who started the import is no longer active")
    apps = frozenset(row["token_apps"]) if row["token_apps"] is not None else None
    return RequestContext(principal_from_row(user, via="system", token_apps=apps), datetime.now(UTC), zone)


# ------------------------------------------------------------------ after the commit


async def failed_rows(session: AsyncSession, import_id: int) -> list[tuple[int, dict[str, Any]]]:
    rows = await session.execute(
        select(ir.c.row_number, ir.c.detail)
        .where(ir.c.import_id == import_id, ir.c.outcome == "failed")
        .order_by(ir.c.row_number)
    )
    return [(number, detail or {}) for number, detail in rows.all()]


async def undo_import(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    access: FormAccess,
    row: Any,
    referrers: Any = (),
) -> dict[str, int]:
    """Delete (softly: each can be restored) the records the import created, within a day of it."""
    if row["state"] != "done" or row["finished_at"] is None:
        raise Conflict(f"Import {row['id']} is {row['state']}: only a finished import can be undone")
    if ctx.now - row["finished_at"] > UNDO_WINDOW:
        raise Conflict(f"Import {row['id']} finished more than a day ago; delete its records one by one instead")
    rights = import_access(access)
    rights = FormAccess(rights.app, rights.form, {**rights.scopes, "delete": rights.scope("import")}, rights.hidden)
    created = await session.execute(
        select(ir.c.record_id).where(ir.c.import_id == row["id"], ir.c.outcome == "inserted").order_by(ir.c.row_number)
    )
    deleted, kept = 0, 0
    for (record_id,) in created.all():
        try:
            async with session.begin_nested():
                await delete_record(session, form, ctx, record_id, None, rights, referrers)
            deleted += 1
        except OpsloomError:  # already deleted, in review, or linked to where it may not be emptied
            kept += 1
    await session.execute(update(i).where(i.c.id == row["id"]).values(state="undone", undone_at=ctx.now))
    return {"deleted": deleted, "kept": kept}
