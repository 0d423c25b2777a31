"""The metric trigger: a report's grand total checked on a schedule (the suites' "data alert").

    {"on": "metric", "report": "spend", "measure": "total", "op": "gt", "value": 1000000,
     "cron": "0 9 * * *", "timezone": "Asia/Shanghai"}

At each slot of its cron expression the worker runs the published report (through the report
engine, as the automation: the permission service decides what it reads) and compares the
measure's grand total with the threshold. The actions run when the comparison becomes true —
the total crosses the threshold — not at every slot while it stays beyond: the reading of each
slot is kept in the run log (`holds`), and the next slot compares with it.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import FieldError, NotFound
from opsloom.runtime.forms import CompiledForm, FormRegistry
from opsloom.runtime.reports.published import published_document
from opsloom.runtime.reports.run import Viewer, run_report

COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


@dataclass(frozen=True)
class Reading:
    value: Decimal | None
    holds: bool  # the comparison is true now
    fires: bool  # ... and was not at the reading before

    def detail(self) -> dict[str, Any]:
        return {"metric": None if self.value is None else str(self.value), "holds": self.holds}


async def metric_problems(session: AsyncSession, form: CompiledForm, trigger: Mapping[str, Any]) -> list[FieldError]:
    try:
        report = await published_document(session, form.app, "report", str(trigger.get("report") or ""))
    except NotFound:
        return [FieldError("trigger.report", f"name a published report of {form.app}")]
    if report.get("form") != form.key:
        return [FieldError("trigger.report", f"{report['key']} counts {report.get('form')}: use an automation of it")]
    measures = [m["key"] for m in report.get("measures") or []]
    if trigger.get("measure") not in measures:
        return [FieldError("trigger.measure", f"name a measure of {report['key']}: {', '.join(measures)}")]
    return []


async def read_metric(
    session: AsyncSession,
    forms: FormRegistry,
    app: str,
    automation: str,
    trigger: Mapping[str, Any],
    ctx: RequestContext,
) -> Reading:
    report = await published_document(session, app, "report", trigger["report"])
    answer = await run_report(session, forms, Viewer(ctx, "en"), app, {**report, "totals": True})
    total = (answer.get("total") or {}).get("values") or {}
    value = _number(total.get(trigger["measure"]))
    holds = value is not None and COMPARE[trigger["op"]](value, Decimal(str(trigger["value"])))
    return Reading(value, holds, holds and not await _held_before(session, app, automation))


async def _held_before(session: AsyncSession, app: str, automation: str) -> bool:
    r = tables.automation_runs
    query = (
        select(r.c.detail)
        .where(r.c.app_key == app, r.c.automation_key == automation, r.c.outcome.in_(("done", "skipped")))
        .order_by(r.c.id.desc())
        .limit(1)
    )
    detail = (await session.execute(query)).scalar()
    return bool((detail or {}).get("holds"))


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
