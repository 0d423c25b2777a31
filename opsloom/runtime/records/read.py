"""Reading one record: loaded within the caller's read scope (or 404), with its subform rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import RequestContext
from opsloom.platform.errors import NotFound, PermissionDenied
from opsloom.platform.permissions import FormAccess
from opsloom.platform.types import StoredRow
from opsloom.runtime import subforms
from opsloom.runtime.access import eval_context, scope_clause
from opsloom.runtime.fields import unit_of
from opsloom.runtime.forms import CompiledForm, confirm_current, published_probe
from opsloom.runtime.link_titles import expand_links, parse_expand


def live(form: CompiledForm) -> Any:
    return form.live


async def load(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
    *,
    action: str = "read",
    deleted: bool = False,
    lock: bool = False,
    keep_key: bool = False,
    probe: bool = False,
    computed: Sequence[Any] = (),
) -> StoredRow:
    """A record the caller may read, or 404; then 403 if `action` is not allowed on it.

    Rows outside the read scope are reported exactly like rows that do not exist.
    `lock` locks the row FOR UPDATE, which waits for writes that link to it (they hold
    FOR KEY SHARE); with `keep_key` (an edit, not a delete) FOR NO KEY UPDATE, which does not.
    """
    t = form.table
    evaluation = eval_context(ctx)
    scope = access.scope("read")
    shape = ("load", deleted, lock, keep_key, probe)
    if scope.all and not computed:  # the same statement for every caller: built once per form
        statement = form.statements.get(shape)
        if statement is None:
            statement = form.statements[shape] = _loading(form, bindparam("record_id"), true(), shape)
        params: dict[str, Any] | None = {"record_id": record_id}
    else:
        statement = _loading(form, record_id, scope_clause(scope, form, evaluation), shape, computed)
        params = None
    row = (await session.execute(statement, params)).mappings().first()
    if probe:
        confirm_current(form, row)
    if row is None:
        state = "deleted " if deleted else ""
        raise NotFound(f"{form.key} has no {state}record {record_id}")
    if action != "read":
        access.require(action)
        if access.scope(action) != access.scope("read"):
            allowed = select(t.c.id).where(t.c.id == record_id, scope_clause(access.scope(action), form, evaluation))
            if (await session.execute(allowed)).first() is None:
                raise PermissionDenied(f"You may read record {record_id} but not {action} it")
    return row


def _loading(
    form: CompiledForm, record_id: Any, scope: Any, shape: tuple[Any, ...], computed: Sequence[Any] = ()
) -> Any:
    _, deleted, lock, keep_key, probe = shape
    t = form.table
    statement = select(t, *computed).where(t.c.id == record_id, scope)
    statement = statement.where(t.c.deleted_at.is_not(None) if deleted else live(form))
    if lock:
        statement = statement.with_for_update(key_share=keep_key)
    if probe:
        statement = statement.add_columns(published_probe(form))
    return statement


async def get_record(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
    expand: str | None = None,
    *,
    probe: bool = False,
) -> dict[str, Any]:
    access.require("read")
    view = form.restricted(access.hidden)
    specs = parse_expand(expand, view)
    row = await load(session, form, ctx, record_id, access, probe=probe, computed=view.read_columns())
    record = view.dump_row(row)
    await attach_rows(session, view, [record])
    await expand_links(session, ctx, view, [record], specs)
    return record


async def attach_rows(session: AsyncSession, form: CompiledForm, records: list[dict[str, Any]]) -> None:
    """Put each record's subform rows into it (one query per subform for all the records)."""
    keys = [s.key for s in form.fields if unit_of(s).child_rows]
    if not keys or not records:
        return
    loaded = await subforms.load_rows(session, form, [r["id"] for r in records], keys)
    for key in keys:
        child = form.children[key]
        for record in records:
            record[key] = subforms.dump_rows(child, loaded[key][record["id"]])
