"""The stages of an update of many records at once (`UPDATE_MANY` in `write.py`).

The same steps as an update of one record, each done for the whole batch: the records
loaded and locked in one query, each merged, computed and judged as a single update is,
their unique values and links checked together, the changed rows stored by one
statement per set of changed columns and read back in one, the history in one insert.
Each item names its record (`WriteItem.target`); a record that is gone, out of the
caller's scope or locked by its flow is refused with a problem at the item's path, like
a value that breaks a rule, and the rest go on. An import's updates take this path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from opsloom.platform.errors import FieldError, PreconditionFailed
from opsloom.runtime import attachments, subforms
from opsloom.runtime.access import eval_context, scope_clause
from opsloom.runtime.records.history import append_audit, append_audit_batch, append_history
from opsloom.runtime.records.links import check_links, check_row_links
from opsloom.runtime.records.pipeline import WriteContext, WriteItem
from opsloom.runtime.records.read import live
from opsloom.runtime.records.stages import (
    changes_of,
    columns_of,
    locked_reason,
    merge_into,
    parse_item_change,
    replace_children_of,
    update_entry,
)
from opsloom.runtime.records.uniqueness import check_unique, conflict, readable


async def parse_changes(write: WriteContext) -> None:
    for item in write.live():
        parse_item_change(write, item)


async def load_many(write: WriteContext) -> None:
    """The records, locked (FOR NO KEY UPDATE, in id order), within the caller's scope to update."""
    assert write.access is not None
    access, form, t = write.access, write.form, write.form.table
    access.require("update")
    evaluation = eval_context(write.ctx)
    ids = sorted({item.target for item in write.live() if item.target is not None})
    query = select(t).where(t.c.id.in_(ids), live(form), scope_clause(access.scope("read"), form, evaluation))
    found = {row["id"]: row for row in (await write.session.execute(_locked(query))).mappings()}
    allowed = set(found)
    if found and access.scope("update") != access.scope("read"):
        may = select(t.c.id).where(t.c.id.in_(list(found)), scope_clause(access.scope("update"), form, evaluation))
        allowed = set((await write.session.execute(may)).scalars())
    rows: dict[int, Any] = {}
    for item in write.live():
        row = found.get(item.target) if item.target is not None else None
        if row is not None and row["id"] in rows:  # both would change the version they loaded
            write.refuse(item, [FieldError(item.path, f"record {row['id']} is changed once in one batch")])
        elif row is None:
            write.refuse(item, [FieldError(item.path, f"{form.key} has no record {item.target}")])
        elif row["id"] not in allowed:
            write.refuse(item, [FieldError(item.path, f"you may read record {row['id']} but not update it")])
        elif (locked := locked_reason(row)) is not None:
            write.refuse(item, [FieldError(item.path, locked)])
        else:
            rows[row["id"]] = row
    write.options["current_rows"] = rows


def _locked(query: Any) -> Any:
    return query.order_by(query.selected_columns.id).with_for_update(key_share=True)


async def resolve_files_many(write: WriteContext) -> None:
    for item in write.live():
        await attachments.resolve_attachments(
            write.session, write.form, write.ctx, [item.sent], [item.path], record_id=item.target
        )


async def merge_many(write: WriteContext) -> None:
    rows = write.options["current_rows"]
    ids = [item.target for item in write.live() if item.target is not None]
    loaded = await subforms.load_rows(write.session, write.form, ids) if write.form.children else {}
    for item in write.live():
        merge_into(write, item, rows[item.target], loaded)  # subform problems: refused by the rules stage


async def find_changes_many(write: WriteContext) -> None:
    """What each update changes; a record with no change is answered as it was."""
    for item in write.live():
        changes_of(item)
    if not any(item.changed for item in write.items):
        write.finished = True


async def check_unique_many(write: WriteContext) -> None:
    assert write.access is not None
    changing = [item for item in write.items if item.changed]
    await check_unique(
        write.session,
        write.form,
        [item.changed for item in changing],
        [item.path for item in changing],
        readable=readable(write.form, write.ctx, write.access),
        own_ids=[item.target for item in changing],
    )


async def check_links_many(write: WriteContext) -> None:
    changing = [item for item in write.items if item.changed]
    rows, paths = [item.changed for item in changing], [item.path for item in changing]
    await check_links(write.session, write.form, rows, paths)
    await check_row_links(write.session, write.form, rows, paths)


async def update_rows(write: WriteContext) -> None:
    """The changed rows, one statement per set of changed columns, then read back together."""
    form, ctx, t = write.form, write.ctx, write.form.table
    current = write.options["current_rows"]
    changing = [item for item in write.items if item.changed]
    by_columns: dict[tuple[str, ...], list[tuple[WriteItem, dict[str, Any]]]] = {}
    for item in changing:
        values = columns_of(form, item.changed)
        by_columns.setdefault(tuple(values), []).append((item, values))
    try:
        for columns, items in by_columns.items():
            # bind names in capitals: no column (a lower-case field key) has them
            statement = (
                update(t)
                .where(t.c.id == bindparam("Record"), t.c.version == bindparam("Version"))
                .values(
                    {t.c[column]: bindparam(f"Value{i}") for i, column in enumerate(columns)}
                    | {t.c.version: bindparam("Next"), t.c.updated_at: ctx.now, t.c.updated_by: ctx.principal.user_id}
                )
            )
            params = []
            for item, values in items:
                version = current[item.target]["version"]
                params.append(
                    {"Record": item.target, "Version": version, "Next": version + 1}
                    | {f"Value{i}": values[column] for i, column in enumerate(columns)}
                )
            await write.session.execute(statement, params, execution_options={"synchronize_session": False})
    except IntegrityError as error:  # a unique value another write took meanwhile
        raise conflict(form, error) from None
    stored = await write.session.execute(select(t).where(t.c.id.in_([item.target for item in changing])))
    rows = {row["id"]: row for row in stored.mappings()}
    for item in changing:
        row = rows.get(item.target)
        if row is None or row["version"] != current[item.target]["version"] + 1:
            raise PreconditionFailed(f"Record {item.target} was changed by someone else meanwhile; try again")
        item.row = row
        item.record = write.view.dump_row(row)


async def replace_children_many(write: WriteContext) -> None:
    for item in write.items:
        if item.changed:
            await replace_children_of(write, item)


async def history_many(write: WriteContext) -> None:
    """An entry per changed record; one line in the audit log for them all when the write asks
    (`audit_batch`), else one each."""
    entries = [update_entry(item) for item in write.items if item.changed]
    await append_history(write.session, write.form, write.ctx, entries, audit=False)
    ids = [entry[0] for entry in entries]
    batch = write.options.get("audit_batch")
    if batch is not None and len(ids) > 1:
        await append_audit_batch(write.session, write.form, write.ctx, "update", ids, dict(batch))
    else:
        await append_audit(write.session, write.form, write.ctx, [(e[0], e[1], "update") for e in entries])
