"""Running a report for a viewer: plan, one statement, then the answer in the viewer's language.

The answer holds the columns (with labels), the detail rows, the subtotals and
the grand total. Each row carries `filter`, the condition of the records
behind it (the report's filter, the shared filters and the row's dimension
values), which the records API takes as `?filter=` and the list page as its
URL's `filter=`: a drill-down. Rows whose dimension is not a field of the
source form itself (a relation's field, a subform column) carry no filter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, NotFound, ValidationFailed
from opsloom.platform.locales import label_text
from opsloom.platform.permissions import FormAccess, form_access
from opsloom.runtime.access import eval_context, scope_clause
from opsloom.runtime.conditions import AllOf, Condition, parse_condition, to_sql
from opsloom.runtime.fields import dump_datetime, unit_of, value_unit
from opsloom.runtime.flow.instances import flow_for_form
from opsloom.runtime.forms import CompiledForm, FormRegistry
from opsloom.runtime.formulas import FormulaContext, evaluate
from opsloom.runtime.link_titles import filter_context
from opsloom.runtime.reports.buckets import period
from opsloom.runtime.reports.plan import Dimension, Measure, ReportPlan, plan_report
from opsloom.runtime.reports.process import process_view
from opsloom.runtime.reports.query import report_statement
from opsloom.runtime.reports.shared import shared_conditions

OTHERS = {"en": "Others", "zh-CN": "其他"}
EMPTY = {"en": "(empty)", "zh-CN": "（空）"}
BUCKET_NAMES = {
    "day": {"en": "day", "zh-CN": "日"},
    "week": {"en": "week", "zh-CN": "周"},
    "month": {"en": "month", "zh-CN": "月"},
    "quarter": {"en": "quarter", "zh-CN": "季度"},
    "year": {"en": "year", "zh-CN": "年"},
}
# A condition no record meets (every record has an id).
NOTHING = {"field": "id", "op": "is_empty"}
# System fields that hold a person or a department (their type is a plain integer).
PEOPLE = {"owner_id": "user", "created_by": "user", "updated_by": "user", "department_id": "department"}


@dataclass(frozen=True)
class Viewer:
    ctx: RequestContext
    locale: str


async def viewer_accesses(session: AsyncSession, ctx: RequestContext, form: CompiledForm) -> dict[str, FormAccess]:
    """What the viewer may do with the source form and every form it links to."""
    accesses = {form.key: await form_access(session, ctx.principal, form.app, form.key)}
    for key in sorted(form.related):
        accesses[key] = await form_access(session, ctx.principal, form.app, key)
    return accesses


async def run_report(
    session: AsyncSession,
    registry: FormRegistry,
    viewer: Viewer,
    app: str,
    document: Mapping[str, Any],
    shared: Any = None,
    *,
    scope_action: str = "read",
    lenient: bool = False,
) -> dict[str, Any]:
    """Run a (published or draft) report document for the viewer with the shared filters of the request.

    `scope_action` names the row scope that applies (an export counts the export scope's rows);
    `lenient` (a dashboard) leaves out a shared filter that names a field this report's form lacks."""
    form = await registry.get(session, app, document["form"])
    accesses = await viewer_accesses(session, viewer.ctx, form)
    source = accesses[form.key]
    source.require(scope_action)
    accesses[form.key] = replace(source, scopes={**source.scopes, "read": source.scope(scope_action)})
    plan = plan_report(document, form, accesses)
    view = form.restricted(plan.access.hidden)
    parsed: list[Condition] = []
    applied: list[tuple[str, Any]] = []
    ignored: list[str] = []
    for path, doc in shared_conditions(shared, plan, view, lenient=lenient):
        try:
            parsed.append(parse_condition(doc, view, path))
            applied.append((path, doc))
        except BadRequest as error:
            if not lenient:
                raise ValidationFailed("A shared filter cannot apply to this report", error.errors) from None
            ignored.append(path)
    ectx = eval_context(viewer.ctx)
    every = [c for c in [plan.filter, *parsed] if c is not None]
    fctx = await filter_context(session, viewer.ctx, view, _all_of(every)) if every else ectx
    dialect = session.get_bind().dialect.name
    statement = report_statement(plan, ectx, fctx, parsed, dialect)
    result = (await session.execute(statement)).mappings().all()
    base = [d for d in ([document.get("filter")] + [doc for _, doc in applied]) if d is not None]
    answer = await _answer(session, plan, viewer, result, base)
    if ignored:
        answer["ignored_filters"] = ignored
    return answer


async def run_process_view(
    session: AsyncSession,
    registry: FormRegistry,
    viewer: Viewer,
    app: str,
    form_key: str,
    view: str,
    shared: Any = None,
    *,
    lenient: bool = False,
) -> dict[str, Any]:
    """A view of a form's process (a dashboard item `{"process": form, "view": ...}`) as a report's answer,
    over the instances of the records the viewer may manage, with the shared filters on those records."""
    form = await registry.get(session, app, form_key)
    access = await form_access(session, viewer.ctx.principal, app, form_key)
    access.require("manage")
    if await flow_for_form(session, app, form_key) is None:
        raise NotFound(f"Form '{form_key}' has no published flow, so there is no process to analyse")
    view_of = form.restricted(access.hidden)
    parsed: list[Condition] = []
    ignored: list[str] = []
    for path, doc in shared_conditions(shared, None, view_of, lenient=lenient):
        try:
            parsed.append(parse_condition(doc, view_of, path))
        except BadRequest as error:
            if not lenient:
                raise ValidationFailed("A shared filter cannot apply to this process", error.errors) from None
            ignored.append(path)
    ectx = eval_context(viewer.ctx)
    where = []
    if parsed:
        fctx = await filter_context(session, viewer.ctx, view_of, _all_of(parsed))
        where = [to_sql(c, view_of, fctx) for c in parsed]
    answer = await process_view(session, form, access, ectx, viewer.locale, view, where)
    if ignored:
        answer["ignored_filters"] = ignored
    return answer


def _all_of(conditions: list[Condition]) -> Condition:
    return conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions))


async def _answer(
    session: AsyncSession, plan: ReportPlan, viewer: Viewer, result: Any, base: list[Any]
) -> dict[str, Any]:
    n = len(plan.dimensions)
    full = (1 << n) - 1
    labels = await _value_labels(session, plan, viewer, result)
    tops = {r["d0"] for r in result if n and r["level"] == 0 and not r["other"]}  # the first dimension's shown groups
    rows, subtotals, total = [], [], None
    for r in result:
        kept = n - bin(int(r["level"])).count("1")
        shaped = _row(plan, viewer, r, kept, labels, base, tops)
        if r["level"] == 0:
            rows.append(shaped)
        elif r["level"] == full:
            total = shaped
        else:
            subtotals.append({**shaped, "level": kept})
    if n == 0:
        total = rows[0] if rows else None
    form = plan.form
    return {
        "report": plan.document.get("key"),
        "label": label_text(plan.document.get("label"), viewer.locale),
        "columns": _columns(plan, viewer),
        "rows": rows,
        "subtotals": subtotals,
        "total": total,
        # a record counts under each value of a multi-value dimension: the rows may add up to more than the total
        "multi_value": any(d.field.multiple for d in plan.dimensions),
        "records": {
            "api": f"/api/apps/{form.app}/forms/{form.key}/records",
            "page": f"/apps/{form.app}/forms/{form.key}",
        },
    }


def _columns(plan: ReportPlan, viewer: Viewer) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for d in plan.dimensions:
        label = label_text(d.label, viewer.locale)
        if d.bucket and d.label == d.field.label:
            label = f"{label} ({label_text(BUCKET_NAMES[d.bucket], viewer.locale)})"
        kind = "text" if d.bucket else (value_unit(d.field.spec).client_kind)
        shown = {"key": d.key, "kind": "dimension", "label": label, "field": d.field.ref, "bucket": d.bucket}
        out.append({**shown, "type": kind, "multiple": d.field.multiple})
    for m in plan.measures:
        entry: dict[str, Any] = {
            "key": m.key,
            "kind": "measure",
            "label": label_text(m.label, viewer.locale),
            "type": m.result_type,
        }
        if m.aggregate is not None:
            entry["agg"] = m.aggregate.name
            entry["field"] = m.field.ref if m.field else None
        else:
            entry["formula"] = plan.document["measures"][[x.key for x in plan.measures].index(m.key)].get("formula")
        out.append(entry)
    return out


def _row(
    plan: ReportPlan,
    viewer: Viewer,
    r: Mapping[str, Any],
    kept: int,
    labels: Mapping[tuple[int, Any], str],
    base: list[Any],
    tops: set[Any],
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    other = bool(r["other"])
    for i, d in enumerate(plan.dimensions[:kept]):
        raw = r[f"d{i}"]
        values[d.key] = _dump_dimension(d, raw)
        if i == 0 and other:
            shown[d.key] = label_text(OTHERS, viewer.locale)
        elif raw is None:
            shown[d.key] = label_text(EMPTY, viewer.locale)
        else:
            shown[d.key] = labels.get((i, raw), str(values[d.key]))
    numbers: dict[str, Any] = {}
    for i, m in enumerate(plan.measures):
        if m.aggregate is not None:
            numbers[m.key], values[m.key] = _measure_value(m, r, i)
    for m in plan.measures:
        if m.formula is not None:
            outcome = evaluate(m.formula, numbers, FormulaContext(now=viewer.ctx.now, zone=viewer.ctx.zone))
            value = outcome.value if isinstance(outcome.value, Decimal) else None
            values[m.key] = None if value is None else str(_quantize(value, m.scale))
            numbers[m.key] = value
    return {
        "values": values,
        "labels": shown,
        "other": other,
        "filter": _drill(plan, r, kept, other, base, tops),
    }


def _measure_value(m: Measure, r: Mapping[str, Any], i: int) -> tuple[Any, Any]:
    """(the number a formula reads, the JSON value) of a measure in a result row."""
    assert m.aggregate is not None
    raw = r[f"m{i}_0"]
    kind = m.result_type
    if m.aggregate.name == "avg":
        count = r[f"m{i}_1"]
        if not count:
            return None, None
        value = _quantize(Decimal(raw) / Decimal(count), m.scale)
        return value, str(value)
    if raw is None:
        return None, None
    if kind == "date":
        return None, raw.isoformat()
    if kind == "datetime":
        return None, dump_datetime(raw)
    if kind == "integer":
        return Decimal(int(raw)), int(raw)
    return Decimal(raw), str(raw)


def _quantize(value: Decimal, scale: int) -> Decimal:
    quantized = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    return abs(quantized) if quantized.is_zero() else quantized


def _dump_dimension(d: Dimension, raw: Any) -> Any:
    if raw is None or d.bucket is not None:
        return raw
    if isinstance(raw, datetime):
        return dump_datetime(raw)
    if isinstance(raw, date):
        return raw.isoformat()
    unit = unit_of(d.field.spec)
    if d.field.multiple:  # one of the values
        return unit.element(d.field.spec).dump(d.field.spec, raw)
    return unit.dump(d.field.spec, raw)


def _drill(plan: ReportPlan, r: Mapping[str, Any], kept: int, other: bool, base: list[Any], tops: set[Any]) -> Any:
    parts = list(base)
    if plan.limit is not None and not plan.others and kept == 0 and plan.dimensions:
        # a total of the top N only: the records of the shown groups
        first = plan.dimensions[0]
        if not first.field.on_form:
            return None
        shown = [_value_condition(first, v) for v in sorted(tops, key=_sort_key)]
        parts.append({"or": shown} if shown else NOTHING)
    for i, d in enumerate(plan.dimensions[:kept]):
        if not d.field.on_form:
            return None
        if i == 0 and other:
            if tops:
                parts.append({"not": {"or": [_value_condition(d, v) for v in sorted(tops, key=_sort_key)]}})
            continue
        parts.append(_value_condition(d, r[f"d{i}"]))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"and": parts}


def _sort_key(value: Any) -> tuple[bool, str]:
    return (value is None, str(value))


def _value_condition(d: Dimension, raw: Any) -> dict[str, Any]:
    key = d.field.spec.key
    if raw is None:
        return {"field": key, "op": "is_empty"}
    if d.field.multiple:  # the records holding this value among others
        return {"field": key, "op": "contains", "value": _dump_dimension(d, raw)}
    if d.bucket is None:
        return {"field": key, "op": "eq", "value": _dump_dimension(d, raw)}
    start, end = period(d.bucket, raw)
    if value_unit(d.field.spec).temporal == "date":
        return {"field": key, "op": "between", "value": [start.isoformat(), (end - timedelta(days=1)).isoformat()]}
    # a datetime without an offset means the configured zone's wall clock, as the buckets do
    return {
        "and": [
            {"field": key, "op": "gte", "value": f"{start.isoformat()}T00:00:00"},
            {"field": key, "op": "lt", "value": f"{end.isoformat()}T00:00:00"},
        ]
    }


async def _value_labels(
    session: AsyncSession, plan: ReportPlan, viewer: Viewer, result: Any
) -> dict[tuple[int, Any], str]:
    """Labels of dimension values: options by their label, people and departments by name, records by title."""
    out: dict[tuple[int, Any], str] = {}
    for i, d in enumerate(plan.dimensions):
        if d.bucket is not None:
            continue
        spec = d.field.spec
        unit = value_unit(spec)
        seen = {r[f"d{i}"] for r in result if r[f"d{i}"] is not None}
        if not seen:
            continue
        link = PEOPLE.get(spec.key) if spec.key not in d.field.form.by_key else unit.link
        if unit.options:
            names = {o["value"]: label_text(o.get("label"), viewer.locale) for o in spec.get("options") or ()}
            out.update({(i, v): names.get(v, str(v)) for v in seen})
        elif link == "user":
            out.update(await _names(session, tables.users, seen, i))
        elif link == "department":
            out.update(await _names(session, tables.departments, seen, i))
        elif link == "record":
            out.update(await _titles(session, plan, viewer, d, seen, i))
        elif unit.choices(spec) is not None and isinstance(next(iter(seen)), bool):
            yes_no = {True: {"en": "Yes", "zh-CN": "是"}, False: {"en": "No", "zh-CN": "否"}}
            out.update({(i, v): label_text(yes_no[v], viewer.locale) for v in seen})
    return out


async def _names(session: AsyncSession, table: Any, ids: set[Any], i: int) -> dict[tuple[int, Any], str]:
    rows = await session.execute(select(table.c.id, table.c.name).where(table.c.id.in_(sorted(ids))))
    return {(i, row.id): row.name for row in rows}


async def _titles(
    session: AsyncSession, plan: ReportPlan, viewer: Viewer, d: Dimension, ids: set[Any], i: int
) -> dict[tuple[int, Any], str]:
    """Titles of linked records the viewer may read (others keep their id)."""
    target = plan.form.related.get(d.field.spec.raw["form"])
    access = plan.accesses.get(target.key) if target is not None else None
    if target is None or access is None or not access.can("read") or (target.title_field or "") in access.hidden:
        return {}
    t = target.table
    visible = scope_clause(access.scope("read"), target, eval_context(viewer.ctx))
    rows = await session.execute(
        select(t.c.id, target.title_column().label("title")).where(t.c.id.in_(sorted(ids)), visible)
    )
    return {(i, row.id): str(row.title) for row in rows if row.title is not None}


def filter_query(condition: Any) -> str:
    """A drill-down condition as a URL's `filter=` value."""
    return quote(json.dumps(condition, separators=(",", ":"), ensure_ascii=False))
