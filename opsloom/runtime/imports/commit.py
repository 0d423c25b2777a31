"""Trying and committing an import: the dry run, the background job that stores the rows, undo.

The commit runs as a background job (`ImportJob`), in batches, each batch in
one transaction with the rows it stored noted in `opsloom_import_rows` and the
import's `rows_done` moved on: a worker killed mid-import leaves whole
batches, and the next worker to take the job carries on after the last of
them, so no row lands twice.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from itertools import islice
from typing import Any

import anyio
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import jobs, tables
from opsloom.platform.auth import principal_from_row
from opsloom.platform.context import RequestContext
from opsloom.platform.database import Database
from opsloom.platform.errors import Conflict, OpsloomError
from opsloom.platform.files import FileStore
from opsloom.platform.permissions import FormAccess, form_access
from opsloom.platform.settings_store import SettingsStore
from opsloom.platform.site_settings import DEFAULTS, SiteSettings
from opsloom.runtime.forms import CompiledForm, FormRegistry
from opsloom.runtime.imports.batches import RowPlan, import_access, plan_actions, run_batch
from opsloom.runtime.imports.links import LinkResolver
from opsloom.runtime.imports.mapping import Cells, RowReader, data_rows
from opsloom.runtime.imports.resource import UNDO_WINDOW, ImportFile, file_of
from opsloom.runtime.imports.settings import EDITABLE, ImportOptions, require_ready
from opsloom.runtime.imports.sources import cell_json
from opsloom.runtime.records import delete_record

JOB_KIND = "import"


MAX_PROBLEMS = 1000  # rows a dry run reports one by one


i, ir = tables.imports, tables.import_rows


@dataclass
class ImportWork:
    """What one pass over an import's rows needs."""

    form: CompiledForm
    ctx: RequestContext
    access: FormAccess
    options: ImportOptions
    reader: RowReader
    source: ImportFile
    import_id: int | None = None

    @classmethod
    def of(cls, form: CompiledForm, ctx: RequestContext, access: FormAccess, row: Any, store: FileStore) -> ImportWork:
        options = ImportOptions.of(row["options"])
        reader = RowReader.build(form, options.mapping, options.cleaning, options.values, LinkResolver())
        return cls(form, ctx, import_access(access), options, reader, file_of(row, store), row["id"])

    async def batches(self, size: int, after: int = 0) -> AsyncIterator[list[Group]]:
        """The file's records, `size` at a time, after the row numbered `after`, their cells cleaned.
        Each batch is read in a worker thread: a workbook's first rows can take seconds (a whole
        sheet loaded, or its reader process started), and the server's requests must not wait on
        them."""
        rows = data_rows(self.source.rows(self.options.sheet), self.options.header_row)
        groups = self._groups(pair for pair in rows if pair[0] > after)
        try:
            while batch := await anyio.to_thread.run_sync(lambda: list(islice(groups, size))):
                for group in batch:
                    group.cells = [self.reader.clean(row) for _, row in group.rows]
                yield batch
        finally:
            groups.close()  # the file let go of (a workbook's reader stopped) as soon as the loop ends

    def _groups(self, rows: Iterator[tuple[int, list[Any]]]) -> Generator[Group]:
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
        await self.reader.learn_links(session, (cells for group in batch for cells in group.cells))
        payload = self.reader.payload
        plans = [RowPlan(group.number, group.first, payload(group.cells[0], group.cells[1:])) for group in batch]
        await plan_actions(session, self.form, self.ctx, plans, self.options.mode, self.options.key_field)
        audit = {"import_id": self.import_id}
        await run_batch(session, self.form, self.ctx, self.access, plans, store=store, audit=audit)
        return plans


@dataclass
class Group:
    """The data rows of one record: its own row, and the rows below that add subform rows."""

    rows: list[tuple[int, list[Any]]]
    cells: list[Cells] = field(default_factory=list)  # each row as the reader cleaned it (`ImportWork.batches`)

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
    async for batch in work.batches(batch_rows):
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
    site: SettingsStore | None = None  # when given, the zone the settings name now wins over `zone`

    async def __call__(self, run: jobs.JobRun) -> dict[str, Any]:
        db, import_id = run.db, int(run.job.payload["import_id"])
        site = (await self.site.fresh(db)).settings if self.site else DEFAULTS
        zone = site.zone if self.site else self.zone
        async with db.session(write=True) as session:
            row = (await session.execute(select(i).where(i.c.id == import_id))).mappings().first()
            if row is None:
                raise jobs.JobFailed(f"import {import_id} is gone")
            ctx = await _context_of(session, row, zone, site)
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
        async for batch in work.batches(self.batch_rows):
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
        analyzed_at = ANALYZE_FROM  # rows landed when the table's statistics are next brought up to date
        if total >= ANALYZE_AHEAD:
            await analyze(run.db, work.form)  # its first batches' lookups planned on what the table holds now
        strict = work.options.error_policy == "all_or_nothing"
        async for batch in work.batches(self.batch_rows, after=rows_done):
            async with run.db.session(write=True) as session:
                work.ctx = RequestContext(work.ctx.principal, datetime.now(UTC), work.ctx.zone, site=work.ctx.site)
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
            if landed_now >= analyzed_at:
                await analyze(run.db, work.form)
                analyzed_at = 2 * landed_now
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
        if landed_now >= ANALYZE_FROM and landed_now > analyzed_at // 2:  # rows landed since the last time
            await analyze(run.db, work.form)
        return counts


ANALYZE_FROM = 10_000
ANALYZE_AHEAD = 1_000  # a file of this many rows analyzes the form's tables before its first batch


async def analyze(db: Database, form: CompiledForm) -> None:
    """Bring the planner's statistics of the form's tables up to date (PostgreSQL).

    A table filled by an import faster than autovacuum notices keeps the statistics of an
    empty one, and the planner then scans a partial index of every live row to find a few
    by id: the import's own lookups, and every list after it, slow down as the table grows.
    The import analyzes after 10,000 rows and each time its rows double. A table filled some
    other way (a bulk load, an import too small to analyze, writes autovacuum has not caught up
    with) misleads the planner the same way: its key lookups scanned every live row, up to half a
    second a batch. So a file of 1,000 rows or more analyzes before its first batch too."""
    async with db.session(write=True) as session:
        dialect = session.get_bind().dialect
        if dialect.name != "postgresql":
            return  # SQLite's planner does not lean on statistics it lacks
        for table in (form.table, *(child.table for child in form.children.values())):
            await session.execute(text(f"ANALYZE {dialect.identifier_preparer.format_table(table)}"))


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


async def _context_of(session: AsyncSession, row: Any, zone: tzinfo, site: SiteSettings) -> RequestContext:
    """The person who started the import, as the job acts for them (their rights as they are now)."""
    user = (await session.execute(select(tables.users).where(tables.users.c.id == row["created_by"]))).first()
    if user is None or not user.active:
        raise jobs.JobFailed("the person who started the import is no longer active")
    apps = frozenset(row["token_apps"]) if row["token_apps"] is not None else None
    return RequestContext(principal_from_row(user, via="system", token_apps=apps), datetime.now(UTC), zone, site=site)


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
