"""Row scopes of the policy service, as SQL: the filter added to every records query."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import false, or_, true
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.permissions import FormAccess, RowScope, form_access
from opsloom.runtime.conditions import EvalContext, parse_condition, to_sql
from opsloom.runtime.fields import sources_of
from opsloom.runtime.forms import CompiledForm


def eval_context(ctx: RequestContext) -> EvalContext:
    """What a condition may refer to in this request: the clock, the zone and the user."""
    p = ctx.principal
    user = {"id": p.user_id, "department_id": p.department_id, "email": p.email}
    return EvalContext(now=ctx.now, zone=ctx.zone, user=user)


def scope_clause(scope: RowScope, form: CompiledForm, ctx: EvalContext) -> Any:
    if scope.all:
        return true()
    t = form.table
    parts: list[Any] = []
    if scope.owner_ids:
        parts.append(t.c.owner_id.in_(sorted(scope.owner_ids)))
    if scope.department_ids:
        parts.append(t.c.department_id.in_(sorted(scope.department_ids)))
    for condition in scope.conditions:
        parts.append(to_sql(parse_condition(condition, form, path="role"), form, ctx))
    return or_(*parts) if parts else false()


async def reader_access(session: AsyncSession, principal: Principal, form: CompiledForm) -> FormAccess:
    """What the policy service lets the caller do with the form, with the fields read from forms
    they may not read at all (a rollup over payments, for one who may not read payments) hidden."""
    access = await form_access(session, principal, form.app, form.key)
    needs = {spec.key: sources_of(spec) for spec in form.fields if sources_of(spec)}
    if not needs or not access.can("read"):
        return access
    readable = {
        key: (await form_access(session, principal, form.app, key)).can("read")
        for key in sorted(set().union(*needs.values()))
    }
    unseen = {field for field, keys in needs.items() if not all(readable[key] for key in keys)}
    return replace(access, hidden=access.hidden | unseen) if unseen else access
