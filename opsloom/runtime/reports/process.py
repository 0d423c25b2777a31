"""Process analytics of a form's flow, with no design: read from the flow tables in SQL.

For the instances of the form's records that the caller may manage: requests
by status and by month; per step and per approver, how many tasks were
decided and how long they took (average, median and 90th percentile by the
nearest rank, computed in SQL with window functions on both databases);
the open backlog per step with its age and what is overdue; approval and
return rates. Durations are in hours, as exact decimals with two places.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Float, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from opsloom.platform import tables
from opsloom.platform.locales import label_text
from opsloom.platform.permissions import FormAccess
from opsloom.runtime.access import scope_clause
from opsloom.runtime.conditions import EvalContext
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.reports.buckets import date_bucket, offset_minutes, zone_name

DECIDED = ("approved", "rejected", "returned")
PENDING = "pending"
PERCENTILES = {"median": 50, "p90": 90}


class seconds_between(FunctionElement[float]):
    """Seconds from the first datetime to the second, on both databases."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between)
def _seconds_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: Any, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"extract(epoch from ({end} - {start}))"


def _hours(seconds: Any) -> str | None:
    if seconds is None:
        return None
    hours = Decimal(str(seconds)) / Decimal(3600)
    return str(hours.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _instances(form: CompiledForm, access: FormAccess, ctx: EvalContext, where: Sequence[Any] = ()) -> Any:
    """The form's flow instances whose records the caller may manage (and that meet `where`, on the records)."""
    i, r = tables.flow_instances, form.table
    return (
        select(i.c.id, i.c.status, i.c.created_at)
        .join(r, r.c.id == i.c.record_id)
        .where(
            i.c.app_key == form.app,
            i.c.form_key == form.key,
            r.c.deleted_at.is_(None),
            scope_clause(access.scope("manage"), form, ctx),
            *where,
        )
        .subquery("instances")
    )


async def process_analytics(
    session: AsyncSession, form: CompiledForm, access: FormAccess, ctx: EvalContext, locale: str
) -> dict[str, Any]:
    access.require("manage")
    instances = _instances(form, access, ctx)
    return {
        "form": form.key,
        "requests_by_status": await _by_status(session, instances),
        "requests_by_month": await _by_month(session, instances, ctx),
        "steps": await _durations(session, instances, "node", locale),
        "approvers": await _durations(session, instances, "assignee_id", locale),
        "backlog": await _backlog(session, instances, ctx.now, locale),
        "rates": await _rates(session, instances),
    }


async def _by_status(session: AsyncSession, instances: Any) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(instances.c.status, func.count().label("n")).group_by(instances.c.status).order_by(instances.c.status)
    )
    return [{"status": row.status, "count": row.n} for row in rows]


async def _by_month(session: AsyncSession, instances: Any, ctx: EvalContext) -> list[dict[str, Any]]:
    month = date_bucket(
        instances.c.created_at,
        "month",
        moment=True,
        zone=zone_name(ctx.zone),
        offset_minutes=offset_minutes(ctx.zone, ctx.now),
    )
    rows = await session.execute(
        select(month.label("month"), instances.c.status, func.count().label("n"))
        .group_by(month, instances.c.status)
        .order_by(month, instances.c.status)
    )
    return [{"month": row.month, "status": row.status, "count": row.n} for row in rows]


def _tasks(instances: Any) -> Any:
    t = tables.flow_tasks
    return t.join(instances, instances.c.id == t.c.instance_id)


async def _durations(session: AsyncSession, instances: Any, by: str, locale: str) -> list[dict[str, Any]]:
    """Decided approval and handler tasks per step (`node`) or per person (`assignee_id`)."""
    t = tables.flow_tasks
    key = t.c[by]
    duration = seconds_between(t.c.created_at, t.c.acted_at)
    ranked = (
        select(
            key.label("k"),
            t.c.state,
            duration.label("seconds"),
            func.row_number().over(partition_by=key, order_by=duration).label("rn"),
            func.count().over(partition_by=key).label("total"),
        )
        .select_from(_tasks(instances))
        .where(t.c.kind.in_(("approval", "handler")), t.c.state.in_(DECIDED), t.c.acted_at.is_not(None))
        .subquery("decided")
    )
    percentiles = [
        func.min(case((ranked.c.rn * 100 >= ranked.c.total * p, ranked.c.seconds))).label(name)
        for name, p in PERCENTILES.items()
    ]
    counts = [func.sum(case((ranked.c.state == s, 1), else_=0)).label(s) for s in DECIDED]
    rows = await session.execute(
        select(ranked.c.k, func.count().label("tasks"), func.avg(ranked.c.seconds).label("mean"), *percentiles, *counts)
        .group_by(ranked.c.k)
        .order_by(ranked.c.k)
    )
    found = rows.mappings().all()
    names = await (_step_labels(session, instances, locale) if by == "node" else _people(session, found))
    out = []
    for row in found:
        decided = row["tasks"]
        out.append(
            {
                by if by == "node" else "user_id": row["k"],
                "label": names.get(row["k"], str(row["k"])),
                "tasks": decided,
                "avg_hours": _hours(row["mean"]),
                "median_hours": _hours(row["median"]),
                "p90_hours": _hours(row["p90"]),
                "approved": int(row["approved"]),
                "rejected": int(row["rejected"]),
                "returned": int(row["returned"]),
                "approval_rate": _rate(row["approved"], decided),
                "return_rate": _rate(row["returned"], decided),
            }
        )
    return out


async def _backlog(session: AsyncSession, instances: Any, now: datetime, locale: str) -> list[dict[str, Any]]:
    t = tables.flow_tasks
    age = seconds_between(t.c.created_at, literal(now, t.c.created_at.type))
    overdue = func.sum(case((and_(t.c.due_at.is_not(None), t.c.due_at < literal(now, t.c.due_at.type)), 1), else_=0))
    rows = await session.execute(
        select(
            t.c.node,
            func.count().label("open"),
            func.max(age).label("oldest"),
            func.avg(age).label("mean"),
            overdue.label("overdue"),
        )
        .select_from(_tasks(instances))
        .where(t.c.state == PENDING)
        .group_by(t.c.node)
        .order_by(t.c.node)
    )
    names = await _step_labels(session, instances, locale)
    return [
        {
            "node": row.node,
            "label": names.get(row.node, row.node),
            "open": row.open,
            "oldest_hours": _hours(row.oldest),
            "avg_age_hours": _hours(row.mean),
            "overdue": int(row.overdue),
        }
        for row in rows
    ]


async def _rates(session: AsyncSession, instances: Any) -> dict[str, Any]:
    t = tables.flow_tasks
    returned = select(t.c.instance_id).where(t.c.state == "returned").distinct().subquery("returned")
    row = (
        await session.execute(
            select(
                func.count().label("submitted"),
                func.sum(case((instances.c.status == "approved", 1), else_=0)).label("approved"),
                func.sum(case((instances.c.status == "rejected", 1), else_=0)).label("rejected"),
                func.count(returned.c.instance_id).label("returned"),
            ).select_from(instances.outerjoin(returned, returned.c.instance_id == instances.c.id))
        )
    ).one()
    approved, rejected = int(row.approved or 0), int(row.rejected or 0)
    return {
        "submitted": row.submitted,
        "approved": approved,
        "rejected": rejected,
        "returned": row.returned,
        "approval_rate": _rate(approved, approved + rejected),
        "return_rate": _rate(row.returned, row.submitted),
    }


def _rate(part: Any, whole: Any) -> str | None:
    if not whole:
        return None
    return str((Decimal(int(part)) / Decimal(int(whole))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


async def _step_labels(session: AsyncSession, instances: Any, locale: str) -> dict[str, str]:
    t = tables.flow_tasks
    rows = await session.execute(
        select(t.c.node, func.max(t.c.node_label).label("label")).select_from(_tasks(instances)).group_by(t.c.node)
    )
    labels: dict[str, str] = {row.node: row.label or row.node for row in rows}
    translated = await session.execute(
        select(t.c.node, t.c.node_labels).select_from(_tasks(instances)).where(t.c.node_labels.is_not(None)).distinct()
    )
    for row in translated:
        if isinstance(row.node_labels, Mapping):
            labels[row.node] = label_text(row.node_labels, locale) or labels.get(row.node, row.node)
    return labels


async def _people(session: AsyncSession, rows: Any) -> dict[Any, str]:
    ids = sorted({row["k"] for row in rows if row["k"] is not None})
    if not ids:
        return {}
    u = tables.users
    found = await session.execute(select(u.c.id, u.c.name).where(u.c.id.in_(ids)))
    return {row.id: row.name for row in found}


# ------------------------------------------------------------------ a view as a report's answer

# What a dashboard item may show of a form's process; each is one part of the analytics above.
VIEWS = ("backlog_by_step", "time_by_step", "time_by_approver", "by_status", "by_month", "rates")
WORDS: dict[str, dict[str, str]] = {
    "backlog_by_step": {"en": "Where requests wait", "zh-CN": "待办积压"},
    "time_by_step": {"en": "Time per step", "zh-CN": "各节点耗时"},
    "time_by_approver": {"en": "Time per approver", "zh-CN": "各审批人耗时"},
    "by_status": {"en": "Requests by status", "zh-CN": "按状态的申请"},
    "by_month": {"en": "Requests by month", "zh-CN": "按月的申请"},
    "rates": {"en": "Approval and return rates", "zh-CN": "通过率与退回率"},
    "node": {"en": "Step", "zh-CN": "节点"},
    "user_id": {"en": "Approver", "zh-CN": "审批人"},
    "status": {"en": "Status", "zh-CN": "状态"},
    "month": {"en": "Month", "zh-CN": "月份"},
    "open": {"en": "Waiting", "zh-CN": "待处理"},
    "overdue": {"en": "Overdue", "zh-CN": "已超时"},
    "oldest_hours": {"en": "Oldest (hours)", "zh-CN": "最久（小时）"},
    "avg_age_hours": {"en": "Average wait (hours)", "zh-CN": "平均等待（小时）"},
    "tasks": {"en": "Decided", "zh-CN": "已处理"},
    "avg_hours": {"en": "Average (hours)", "zh-CN": "平均（小时）"},
    "median_hours": {"en": "Median (hours)", "zh-CN": "中位数（小时）"},
    "p90_hours": {"en": "90% within (hours)", "zh-CN": "90% 以内（小时）"},
    "count": {"en": "Requests", "zh-CN": "申请数"},
    "submitted": {"en": "Requests submitted", "zh-CN": "提交的申请"},
    "approved": {"en": "Approved", "zh-CN": "已通过"},
    "rejected": {"en": "Rejected", "zh-CN": "已驳回"},
    "returned": {"en": "Returned", "zh-CN": "曾退回"},
    "approval_rate": {"en": "Approval rate", "zh-CN": "通过率"},
    "return_rate": {"en": "Return rate", "zh-CN": "退回率"},
}
STATUS_WORDS: dict[str, dict[str, str]] = {
    "running": {"en": "In review", "zh-CN": "审批中"},
    "approved": {"en": "Approved", "zh-CN": "已通过"},
    "rejected": {"en": "Rejected", "zh-CN": "已驳回"},
    "returned": {"en": "Returned", "zh-CN": "已退回"},
    "withdrawn": {"en": "Withdrawn", "zh-CN": "已撤回"},
    "cancelled": {"en": "Cancelled", "zh-CN": "已取消"},
}
# measure key -> its type in the answer; the counts of a view add up to its total row
_TIMES = {"tasks": "integer", "avg_hours": "decimal", "median_hours": "decimal", "p90_hours": "decimal"}
_SHAPES: dict[str, tuple[str | None, dict[str, str], tuple[str, ...]]] = {
    # view: (dimension, measures, the measures a total adds up)
    "backlog_by_step": (
        "node",
        {"open": "integer", "overdue": "integer", "oldest_hours": "decimal", "avg_age_hours": "decimal"},
        ("open", "overdue"),
    ),
    "time_by_step": ("node", _TIMES, ()),
    "time_by_approver": ("user_id", _TIMES, ()),
    "by_status": ("status", {"count": "integer"}, ("count",)),
    "by_month": (
        "month",
        {"submitted": "integer", "approved": "integer", "rejected": "integer"},
        ("submitted", "approved", "rejected"),
    ),
    "rates": (
        None,
        {
            "approval_rate": "decimal",
            "return_rate": "decimal",
            "submitted": "integer",
            "approved": "integer",
            "rejected": "integer",
            "returned": "integer",
        },
        (),
    ),
}


async def process_view(
    session: AsyncSession,
    form: CompiledForm,
    access: FormAccess,
    ctx: EvalContext,
    locale: str,
    view: str,
    where: Sequence[Any] = (),
) -> dict[str, Any]:
    """One view of the form's process in the shape of a report's answer (columns, rows, total), so that the
    report displays draw it; only the instances of records the caller may manage count."""
    access.require("manage")
    instances = _instances(form, access, ctx, where)
    dimension, measures, summed = _SHAPES[view]
    found: list[dict[str, Any]]
    if view == "backlog_by_step":
        found = await _backlog(session, instances, ctx.now, locale)
    elif view in ("time_by_step", "time_by_approver"):
        found = await _durations(session, instances, "node" if view == "time_by_step" else "assignee_id", locale)
    elif view == "by_status":
        found = [
            {**row, "label": label_text(STATUS_WORDS.get(row["status"]), locale) or row["status"]}
            for row in await _by_status(session, instances)
        ]
    elif view == "by_month":
        months: dict[str, dict[str, Any]] = {}
        for row in await _by_month(session, instances, ctx):
            month = months.setdefault(
                row["month"], {"month": row["month"], "submitted": 0, "approved": 0, "rejected": 0}
            )
            month["submitted"] += row["count"]
            if row["status"] in ("approved", "rejected"):
                month[row["status"]] += row["count"]
        found = list(months.values())
    else:
        found = [await _rates(session, instances)]
    columns: list[dict[str, Any]] = []
    if dimension is not None:
        columns.append(
            {"key": dimension, "kind": "dimension", "label": label_text(WORDS[dimension], locale), "field": None}
            | {"bucket": None, "type": "text", "multiple": False}
        )
    columns += [
        {"key": key, "kind": "measure", "label": label_text(WORDS[key], locale), "type": kind}
        for key, kind in measures.items()
    ]
    rows: list[dict[str, Any]] = []
    for item in found:
        values: dict[str, Any] = {key: item.get(key) for key in measures}
        labels: dict[str, Any] = {}
        if dimension is not None:
            values[dimension] = item.get(dimension)
            labels[dimension] = str(item.get("label") or item.get(dimension) or "")
        rows.append({"values": values, "labels": labels, "other": False, "filter": None})
    total: dict[str, Any] | None = None
    if dimension is None:
        total = rows[0]
    elif summed:
        sums = {key: sum(int(r["values"].get(key) or 0) for r in rows) for key in summed}
        total = {"values": sums, "labels": {}, "other": False, "filter": None}
    return {
        "report": None,
        "process": form.key,
        "view": view,
        "label": label_text(WORDS[view], locale),
        "columns": columns,
        "rows": rows,
        "subtotals": [],
        "total": total,
        "multi_value": False,
        "records": {
            "api": f"/api/apps/{form.app}/forms/{form.key}/records",
            "page": f"/apps/{form.app}/forms/{form.key}",
        },
    }
