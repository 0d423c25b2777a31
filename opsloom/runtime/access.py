"""Row scopes of the policy service, as SQL: the filter added to every records query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, or_, true

from opsloom.platform.context import RequestContext
from opsloom.platform.permissions import RowScope
from opsloom.runtime.conditions import EvalContext, parse_condition, to_sql
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
