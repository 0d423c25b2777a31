"""Links between records: checked on every write, released before a linked record is deleted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import RequestContext
from opsloom.platform.errors import Conflict, FieldError, ValidationFailed
from opsloom.runtime.fields import FieldSpec
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.link_titles import is_link, link_target, linked_ids
from opsloom.runtime.records.history import append_history


async def check_links(session: AsyncSession, form: CompiledForm, rows: list[dict[str, Any]], paths: list[str]) -> None:
    """Every link names an existing user, department, or live record of the linked form.

    A linked record is share-locked until the write commits (PostgreSQL; SQLite runs one
    writer at a time): a delete of it, which locks it first (`read.load`), then waits and
    finds the new link, or went first and the record is no longer live here."""
    errors: list[FieldError] = []
    for spec in form.fields:
        if not is_link(spec):
            continue
        wanted = {i for values in rows for i in linked_ids(spec, values.get(spec.key))}
        if not wanted:
            continue
        target = link_target(form, spec)
        live = select(target.table.c.id).where(target.table.c.id.in_(wanted), target.live)
        if target.deletable:  # FOR KEY SHARE: edits of the linked record go on meanwhile
            live = live.order_by(target.table.c.id).with_for_update(read=True, key_share=True)
        found = set((await session.execute(live)).scalars())
        for values, path in zip(rows, paths, strict=True):
            for linked in linked_ids(spec, values.get(spec.key)):
                if linked not in found:
                    errors.append(FieldError(f"{path}{spec.key}", f"there is no {target.describe} {linked}"))
    if errors:
        raise ValidationFailed.of(errors)


async def release_links(
    session: AsyncSession,
    ctx: RequestContext,
    record_id: int,
    referrers: list[tuple[CompiledForm, FieldSpec]],
) -> None:
    """Before a record is deleted: empty the links that may be emptied, refuse if others remain."""
    blocking: list[FieldError] = []
    for source, spec in referrers:
        if source.is_child:
            blocking += await release_row_links(session, record_id, source, spec)
            continue
        t, column = source.table, source.column(spec)
        live = (t.c.deleted_at.is_(None), column == record_id)
        if spec.raw.get("on_delete") == "set_empty":
            changes: dict[str, Any] = {spec.column: None, "version": t.c.version + 1, "updated_at": ctx.now}
            changes["updated_by"] = ctx.principal.user_id
            emptied = await session.execute(update(t).where(*live).values(changes).returning(t.c.id, t.c.version))
            entries = [
                (rid, version, "update", {spec.key: {"before": record_id, "after": None}}) for rid, version in emptied
            ]
            if entries:
                await append_history(session, source, ctx, entries)
            continue
        ids = list((await session.execute(select(t.c.id).where(*live).order_by(t.c.id).limit(20))).scalars())
        if ids:
            shown = ", ".join(map(str, ids))
            blocking.append(FieldError(f"{source.key}.{spec.key}", f"{source.key} records {shown} link to it"))
    if blocking:
        raise Conflict("The record is still linked from other records; change or delete those first", blocking)


async def release_row_links(
    session: AsyncSession, record_id: int, rows: CompiledForm, spec: FieldSpec
) -> list[FieldError]:
    """Subform rows of live records that link to a record being deleted: emptied, or blocking."""
    t, column, parent = rows.table, rows.column(spec), rows.parent_table
    assert parent is not None
    live = (column == record_id, t.c.parent_id.in_(select(parent.c.id).where(parent.c.deleted_at.is_(None))))
    if spec.raw.get("on_delete") == "set_empty":
        await session.execute(update(t).where(*live).values({spec.column: None}))
        return []
    holders = select(t.c.parent_id).where(*live).distinct().order_by(t.c.parent_id).limit(20)
    ids = list((await session.execute(holders)).scalars())
    if not ids:
        return []
    path = f"{rows.parent_key}.{rows.key}.{spec.key}"
    return [FieldError(path, f"rows of {rows.parent_key} records {', '.join(map(str, ids))} link to it")]


async def check_row_links(
    session: AsyncSession, form: CompiledForm, records: list[dict[str, Any]], paths: list[str]
) -> None:
    """Links held by subform rows name existing targets, like the record's own links."""
    for key, child in form.children.items():
        if any(is_link(s) for s in child.fields):
            rows, row_paths = [], []
            for values, path in zip(records, paths, strict=True):
                for i, row in enumerate(values.get(key) or []):
                    rows.append(row)
                    row_paths.append(f"{path}{key}[{i}].")
            await check_links(session, child, rows, row_paths)
