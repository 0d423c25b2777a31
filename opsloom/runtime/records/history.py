"""Field-level history of a record, and the audit log's line for each write.

Both are written in the write's own transaction, so a record and its history never disagree
(when the write's pipeline ends, with its other log rows: `platform/log_rows.py`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import NotFound
from opsloom.platform.log_rows import append_rows
from opsloom.platform.permissions import FormAccess
from opsloom.runtime.access import eval_context, scope_clause
from opsloom.runtime.fields import dump_datetime
from opsloom.runtime.forms import CompiledForm


async def record_history(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    record_id: int,
    access: FormAccess,
) -> list[dict[str, Any]]:
    access.require("read")
    t = form.table
    visible = scope_clause(access.scope("read"), form, eval_context(ctx))
    known = (await session.execute(select(exists().where(t.c.id == record_id, visible)))).scalar()
    if not known:
        raise NotFound(f"{form.key} has no record {record_id}")
    shown = set(form.restricted(access.hidden).by_key) | {"status"}  # the flow's moves, seen by every reader
    h = tables.record_history
    rows = await session.execute(
        select(h).where(h.c.form_id == form.form_id, h.c.record_id == record_id).order_by(h.c.id)
    )
    return [
        {
            "version": r.record_version,
            "action": r.action,
            "actor_id": r.actor_id,
            "at": dump_datetime(r.at),
            "changes": {k: v for k, v in r.changes.items() if k in shown},
        }
        for r in rows
    ]


async def append_history(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    entries: list[tuple[int, int, str, dict[str, Any]]],
    *,
    audit: bool = True,
) -> None:
    """Field-level history of each change, and its line in the audit log (unless written already)."""
    await append_rows(
        session,
        tables.record_history,
        [
            {
                "form_id": form.form_id,
                "record_id": record_id,
                "record_version": version,
                "action": action,
                "actor_id": ctx.principal.user_id,
                "at": ctx.now,
                "changes": changes,
            }
            for record_id, version, action, changes in entries
        ],
    )
    if audit:
        await append_audit(
            session, form, ctx, [(record_id, version, action) for record_id, version, action, _ in entries]
        )


async def append_audit(
    session: AsyncSession, form: CompiledForm, ctx: RequestContext, entries: list[tuple[int, int, str]]
) -> None:
    await append_rows(
        session,
        tables.audit_log,
        [
            {
                "at": ctx.now,
                "actor_id": ctx.principal.user_id,
                "action": f"record.{action}",
                "target": f"{form.app}/{form.key}/{record_id}",
                "ip": ctx.ip,
                "detail": {"version": version},
            }
            for record_id, version, action in entries
        ],
    )


async def append_audit_batch(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    action: str,
    record_ids: list[int],
    detail: dict[str, Any],
) -> None:
    """One line in the audit log for many records written together (their ids in its detail)."""
    line = {
        "at": ctx.now,
        "actor_id": ctx.principal.user_id,
        "action": f"record.{action}",
        "target": f"{form.app}/{form.key}",
        "ip": ctx.ip,
        "detail": {**detail, "version": 1, "count": len(record_ids), "records": record_ids},
    }
    await append_rows(session, tables.audit_log, [line])
