"""Writing records: the order of the stages of each kind of write, and the functions callers use.

The order of a create, in one place (`CREATE`):

    parse -> defaults -> compute -> rules -> unique -> links -> files
          -> insert -> child_rows -> audit -> numbers -> history

Nothing is written before every record of the request passed `rules` (a bulk create
is all or nothing). Autonumbers come after the rows are stored: a form's counter stays
locked until commit and every create of the form waits for it, so a create takes it
as late as it can, just before the history that shows the numbers. An update
(`UPDATE`) loads and locks the record first and merges what was sent into it; an
update of many records (`UPDATE_MANY`, an import's) runs the same stages for all at once;
delete, restore, a status the flow sets and a purge (a deleted record removed for
good: `PURGE`) are short pipelines of their own. The
stages themselves are in `stages.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import RequestContext
from opsloom.platform.errors import (
    BadRequest,
    FieldError,
)
from opsloom.platform.permissions import FormAccess
from opsloom.runtime import subforms
from opsloom.runtime.fields import FieldSpec
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.records import batch_update, stages
from opsloom.runtime.records.pipeline import WriteContext, WriteItem, WritePipeline
from opsloom.runtime.records.read import attach_rows, load

MAX_BULK = 1000


# --------------------------------------------------------------- pipelines


CREATE = WritePipeline(
    "create",
    (
        ("parse", stages.parse_new),
        ("defaults", stages.fill_defaults),
        ("compute", stages.compute),
        ("rules", stages.judge_rules),
        ("unique", stages.check_unique_values),
        ("links", stages.check_record_links),
        ("files", stages.resolve_files),
        ("insert", stages.insert_records),
        ("child_rows", stages.insert_children),
        ("audit", stages.audit_create),
        ("numbers", stages.assign_numbers),
        ("history", stages.history_create),
    ),
)
UPDATE = WritePipeline(
    "update",
    (
        ("parse", stages.parse_change),
        ("load", stages.load_for_update),
        ("files", stages.resolve_files),
        ("merge", stages.merge_sent),
        ("compute", stages.compute),
        ("rules", stages.judge_rules),
        ("diff", stages.find_changes),
        ("unique", stages.check_unique_values),
        ("links", stages.check_record_links),
        ("update", stages.update_row),
        ("child_rows", stages.replace_children),
        ("history", stages.history_update),
    ),
)
UPDATE_MANY = WritePipeline(  # an import's updates: the stages of UPDATE, each for the whole batch
    "update",
    (
        ("parse", batch_update.parse_changes),
        ("load", batch_update.load_many),
        ("files", batch_update.resolve_files_many),
        ("merge", batch_update.merge_many),
        ("compute", stages.compute),
        ("rules", stages.judge_rules),
        ("diff", batch_update.find_changes_many),
        ("unique", batch_update.check_unique_many),
        ("links", batch_update.check_links_many),
        ("update", batch_update.update_rows),
        ("child_rows", batch_update.replace_children_many),
        ("history", batch_update.history_many),
    ),
)
DELETE = WritePipeline(
    "delete",
    (
        ("load", stages.load_for_delete),
        ("links", stages.release),
        ("delete", stages.mark_deleted),
        ("history", stages.history_line),
    ),
)
RESTORE = WritePipeline(
    "restore",
    (
        ("load", stages.load_deleted),
        ("unique", stages.check_unique_values),
        ("restore", stages.mark_restored),
        ("history", stages.history_line),
    ),
)
STATUS = WritePipeline("status", (("status", stages.change_status), ("history", stages.history_status)))
PURGE = WritePipeline(
    "purge",
    (
        ("load", stages.load_for_purge),
        ("child_rows", stages.delete_children),
        ("purge", stages.delete_row),
        ("erase_history", stages.erase_history),
        ("remove_files", stages.remove_files),
        ("audit", stages.audit_purge),
    ),
)
PIPELINES = {p.operation: p for p in (CREATE, UPDATE, DELETE, RESTORE, STATUS, PURGE)}


# ------------------------------------------------------------ the writes


async def create_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    payload: Any,
    access: FormAccess,
    *,
    unconfirmed: bool = False,
) -> dict[str, Any]:
    """`unconfirmed`: the form came from the process's cache unasked, and the record's INSERT
    confirms it is the published one (see `CompiledForm.confirmed_insert`);
    `StaleForm` when it is not, with nothing stored."""
    access.require("create")
    options = {"unconfirmed": True} if unconfirmed else {}
    write = WriteContext("create", session, form, ctx, access, [WriteItem(0, "", payload)], options=options)
    await CREATE.run(write)
    return _answer(write)[0]


async def create_records(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    payloads: Any,
    access: FormAccess,
) -> list[dict[str, Any]]:
    """All or nothing: every record is validated before any is written."""
    access.require("create")
    if not isinstance(payloads, list) or not payloads:
        raise BadRequest(
            "Send the records to create as a non-empty list",
            [FieldError("records", 'expected {"records": [{...}, ...]}')],
        )
    if len(payloads) > MAX_BULK:
        raise BadRequest(
            f"Too many records in one request ({len(payloads)})",
            [FieldError("records", f"send at most {MAX_BULK} records per request")],
        )
    items = [WriteItem(i, f"records[{i}].", payload) for i, payload in enumerate(payloads)]
    write = WriteContext("create", session, form, ctx, access, items)
    await CREATE.run(write)
    return _answer(write)


def _answer(write: WriteContext) -> list[dict[str, Any]]:
    """The new records as the caller sees them (the history holds every field)."""
    records = [item.record for item in write.items if item.record is not None]
    view, form = write.view, write.form
    if view is form:
        return records
    return [{k: v for k, v in record.items() if k in view.by_key or k not in form.by_key} for record in records]


async def update_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    payload: Any,
    expected_version: int | None,
    access: FormAccess,
    *,
    in_flow: bool = False,
) -> dict[str, Any]:
    """Change a record. One in review or approved changes only through its flow (`in_flow`)."""
    change = await plan_update(session, form, ctx, record_id, payload, expected_version, access, in_flow=in_flow)
    return await apply_update(session, ctx, change)


@dataclass(frozen=True)
class PlannedUpdate:
    """A change judged, not yet stored: the record is locked and its new values known.

    The flow shell plans a step's field changes, lets its engine judge the action on
    the values as they will be, and stores them (`apply_update`) only if it accepts."""

    write: WriteContext

    @property
    def item(self) -> WriteItem:
        return self.write.items[0]

    @property
    def form(self) -> CompiledForm:
        return self.write.form

    @property
    def current(self) -> Mapping[str, Any]:
        assert self.write.current is not None
        return self.write.current

    @property
    def merged(self) -> dict[str, Any]:
        """The record's values as the change leaves them (subform rows included)."""
        return self.item.values

    @property
    def before(self) -> dict[str, Any]:
        """The record as the writer reads it now."""
        assert self.item.previous is not None
        return self.item.previous

    def after(self) -> dict[str, Any]:
        """The record as the writer will read it once stored (system columns aside)."""
        form, view = self.write.form, self.write.view
        after = view.dump_row({**self.current, **stages.columns_of(form, self.item.changed)})
        for key, child in form.children.items():
            if key in view.by_key:
                after[key] = subforms.dump_values(child, self.merged[key])
        return after


async def plan_update(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    payload: Any,
    expected_version: int | None,
    access: FormAccess,
    *,
    in_flow: bool = False,
) -> PlannedUpdate:
    """Lock the record and judge a change to it (every stage up to its links); store nothing."""
    access.require("update")
    write = WriteContext(
        "update",
        session,
        form,
        ctx,
        access,
        [WriteItem(0, "", payload)],
        record_id=record_id,
        expected_version=expected_version,
        options={"in_flow": in_flow},
    )
    await UPDATE.run(write, until="links")
    return PlannedUpdate(write)


async def apply_update(session: AsyncSession, ctx: RequestContext, change: PlannedUpdate) -> dict[str, Any]:
    """Store a planned change (its row, subform rows and history); answer the record as it now is."""
    if not change.write.finished:
        await UPDATE.run(change.write, after="links")
    record = change.item.record
    assert record is not None
    return record


async def delete_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    expected_version: int | None,
    access: FormAccess,
    referrers: Sequence[tuple[CompiledForm, FieldSpec]] = (),
) -> None:
    access.require("delete")
    write = WriteContext(
        "delete",
        session,
        form,
        ctx,
        access,
        [WriteItem(0, "")],
        record_id=record_id,
        expected_version=expected_version,
        options={"referrers": referrers},
    )
    await DELETE.run(write)


async def restore_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
) -> dict[str, Any]:
    access.require("delete")
    write = WriteContext("restore", session, form, ctx, access, [WriteItem(0, "")], record_id=record_id)
    await RESTORE.run(write)
    row = write.items[0].row
    assert row is not None
    record = write.view.dump_row(row)
    await attach_rows(session, write.view, [record])  # answered as a read would show it, rows included
    return record


async def set_status(
    session: AsyncSession, form: CompiledForm, ctx: RequestContext, record_id: int, status: str
) -> None:
    """The flow moved the record: its status changes, with a line of history."""
    write = WriteContext("status", session, form, ctx, None, [WriteItem(0, "")], record_id=record_id)
    write.options["status"] = status
    await STATUS.run(write)


async def purge_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
    store: Any,
) -> None:
    """Remove a deleted record for good: its row, subform rows, history and files.

    Only records already deleted (and so restorable until now) can be purged, by
    people who manage the form; the audit log keeps that it happened."""
    access.require("manage")
    write = WriteContext(
        "purge", session, form, ctx, access, [WriteItem(0, "")], record_id=record_id, options={"store": store}
    )
    await PURGE.run(write)


async def read_row(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
    *,
    action: str = "read",
    lock: bool = False,
) -> Mapping[str, Any]:
    """The record's row, if the caller may `action` it (404 unless they may read it); `lock`: FOR UPDATE."""
    access.require(action)
    return await load(session, form, ctx, record_id, access, action=action, lock=lock)
