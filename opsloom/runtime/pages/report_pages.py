"""The report viewer and the dashboard page: a published report's table, pivot, KPI or chart for the people who
may read its source form.

The server runs the report (runtime/reports/run.py: the viewer's row scope and hidden fields apply) and renders
tables, pivots and KPI numbers as HTML; charts are drawn in the browser by static/js/report_view.js with
ECharts from the answer the page carries as JSON. A dashboard page holds its shared filters and asks for each
report's fragment (`.../fragment?filters=`), so every report of a dashboard is rendered by the same code as
its own page. Every number links to the records behind it (the answer's drill-down condition as the list
page's `filter=`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from opsloom.platform import tables
from opsloom.platform.errors import NotFound, OpsloomError
from opsloom.platform.http import DB, decode_json
from opsloom.platform.locales import label_text
from opsloom.platform.permissions import form_access
from opsloom.runtime.access import eval_context
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.pages.navigation import app_navigation
from opsloom.runtime.pages.rendering import not_found, page_context, render, request_context, to_login
from opsloom.runtime.pages.routes import current_user
from opsloom.runtime.reports.buckets import period
from opsloom.runtime.reports.process import VIEWS, process_analytics
from opsloom.runtime.reports.process import WORDS as PROCESS_WORDS
from opsloom.runtime.reports.published import published_document
from opsloom.runtime.reports.run import Viewer, run_process_view, run_report

router = APIRouter(include_in_schema=False)

CHARTS = frozenset({"bar", "stacked_bar", "line", "area", "pie", "donut", "funnel", "gauge"})
PROCESS_DISPLAYS = frozenset({"table", "bar", "line", "pie", "donut", "funnel", "kpi"})
MAX_FILTERS = 20000
STATUS_WORDS = {
    f"process.status_{s}" for s in ("running", "approved", "rejected", "returned", "withdrawn", "cancelled")
}


# ------------------------------------------------------------------ pages


@router.get("/apps/{app}/reports/{report}")
async def report_page(app: str, report: str, request: Request, db: DB, forms: Forms) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    async with db.session() as session:
        nav = await app_navigation(session, user, app)
        if nav is None:
            return not_found(ctx)
        try:
            document = await published_document(session, app, "report", report)
        except NotFound:
            return not_found(ctx)
        access = await form_access(session, user, app, document["form"])
        if not access.can("read"):
            return not_found(ctx)
        may_export = access.can("export")
        shared = _shared_of(request)
        view = await _report_view(
            session, forms, Viewer(request_context(request, user), ctx.t.locale), app, document, shared
        )
    filters_text = json.dumps(shared, separators=(",", ":")) if shared else ""
    exports = {
        ext: f"/api/apps/{app}/reports/{report}/run.{ext}" + (f"?filters={quote(filters_text)}" if filters_text else "")
        for ext in ("xlsx", "csv")
    }
    status = 422 if view.error else 200
    return render(
        ctx,
        "report.html",
        status=status,
        nav=nav,
        app_key=app,
        document=document,
        view=view,
        exports=exports if may_export else None,
        drill_link=link,
        number=_number,
    )


@router.get("/apps/{app}/reports/{report}/fragment")
async def report_fragment(app: str, report: str, request: Request, db: DB, forms: Forms) -> Response:
    """One report as a dashboard shows it (no page around it); shared filters a report cannot take are left out."""
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    async with db.session() as session:
        if await app_navigation(session, user, app) is None:
            return not_found(ctx)
        try:
            document = await published_document(session, app, "report", report)
        except NotFound:
            return not_found(ctx)
        viewer = Viewer(request_context(request, user), ctx.t.locale)
        view = await _report_view(session, forms, viewer, app, document, _shared_of(request), lenient=True)
    return render(
        ctx, "report_fragment.html", app_key=app, document=document, view=view, drill_link=link, number=_number
    )


@router.get("/apps/{app}/forms/{form}/process/{view}/fragment")
async def process_fragment(app: str, form: str, view: str, request: Request, db: DB, forms: Forms) -> Response:
    """A view of a form's process as a dashboard item shows it (`display=` table, bar, kpi...), for those who
    may manage the form's records; drawn by the same template as a report."""
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    display = request.query_params.get("display") or "table"
    if view not in VIEWS or display not in PROCESS_DISPLAYS:
        return not_found(ctx)
    async with db.session() as session:
        if await app_navigation(session, user, app) is None:
            return not_found(ctx)
        viewer = Viewer(request_context(request, user), ctx.t.locale)
        try:
            answer = await run_process_view(session, forms, viewer, app, form, view, _shared_of(request), lenient=True)
        except OpsloomError as error:
            result = _failed(error, display)
        else:
            result = _drawn(answer, {"display": {"type": display}}, display)
    document = {"key": f"{form}-{view}", "display": {"type": display}}
    return render(
        ctx, "report_fragment.html", app_key=app, document=document, view=result, drill_link=link, number=_number
    )


@router.get("/apps/{app}/dashboards/{dashboard}")
async def dashboard_page(app: str, dashboard: str, request: Request, db: DB, forms: Forms) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    async with db.session() as session:
        nav = await app_navigation(session, user, app)
        if nav is None:
            return not_found(ctx)
        try:
            document = await published_document(session, app, "dashboard", dashboard)
        except NotFound:
            return not_found(ctx)
        departments = await _departments(session)
        items = sorted(document.get("items", []), key=lambda i: (i["y"], i["x"]))
        cards = [await _card(session, forms, app, item, ctx.t.locale) for item in items]
    columns = int(document.get("columns") or 12)
    boot = {
        "app": app,
        "dashboard": dashboard,
        "filters": document.get("filters", []),
        "items": [{"report": i.get("report"), "process": i.get("process"), "title": i.get("title")} for i in items],
    }
    return render(
        ctx,
        "dashboard.html",
        nav=nav,
        app_key=app,
        document=document,
        cards=cards,
        columns=columns,
        departments=departments,
        boot=boot,
    )


async def _card(session: Any, forms: Any, app: str, item: dict[str, Any], locale: str) -> dict[str, Any]:
    """What a dashboard shows around an item: its title, where the title leads, where its body comes from."""
    if "process" in item:
        form, view = item["process"], item["view"]
        try:
            form_label: Any = (await forms.get(session, app, form)).label
        except NotFound:
            form_label = form
        title = f"{label_text(form_label, locale)}: {label_text(PROCESS_WORDS[view], locale)}"
        display = (item.get("display") or {}).get("type") or "table"
        return {
            "item": item,
            "title": item.get("title") or title,
            "href": f"/apps/{app}/forms/{form}/process",
            "fragment": f"/apps/{app}/forms/{form}/process/{view}/fragment?display={display}",
            "name": f"{form}-{view}",
        }
    report = item["report"]
    try:
        label = (await published_document(session, app, "report", report))["label"]
    except NotFound:
        label = report
    return {
        "item": item,
        "title": item.get("title") or label,
        "href": f"/apps/{app}/reports/{report}",
        "fragment": f"/apps/{app}/reports/{report}/fragment",
        "name": report,
    }


# ------------------------------------------------------------------ what a report shows


@dataclass
class PivotCell:
    text: str
    href: str | None = None


@dataclass
class Pivot:
    """Rows × columns × values: row headers are the leading dimensions, column headers the last dimension's
    values (each with every measure), a total column per row, subtotal rows per group, a total row."""

    row_headers: list[str]
    column_labels: list[str]
    measures: list[dict[str, Any]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    total_row: list[PivotCell] | None = None


@dataclass
class ReportView:
    answer: dict[str, Any] | None
    display: str
    error: str | None = None
    pivot: Pivot | None = None
    kpi: dict[str, Any] | None = None
    chart: dict[str, Any] | None = None  # what report_view.js draws from


async def _report_view(
    session: Any, forms: Any, viewer: Viewer, app: str, document: dict[str, Any], shared: Any, *, lenient: bool = False
) -> ReportView:
    display = (document.get("display") or {}).get("type") or "table"
    try:
        answer = await run_report(session, forms, viewer, app, document, shared, lenient=lenient)
    except OpsloomError as error:
        return _failed(error, display)
    view = ReportView(answer, display)
    page = answer["records"]["page"]
    dims = [c for c in answer["columns"] if c["kind"] == "dimension"]
    if display == "pivot" and len(dims) >= 2:
        last = dims[-1]
        by_last = {
            **document,
            "dimensions": [document["dimensions"][-1]],
            "limit": None,
            "others": False,
            "totals": False,
        }
        by_last.pop("limit")
        column_totals = await run_report(session, forms, viewer, app, by_last, shared, lenient=lenient)
        view.pivot = _pivot(answer, column_totals, last, page)
    if display in ("kpi", "gauge"):
        view.kpi = await _kpi(session, forms, viewer, app, document, shared, answer, lenient)
    if display in CHARTS:
        view.chart = _chart_data(answer, document, page)
    return view


def _failed(error: OpsloomError, display: str) -> ReportView:
    problem = error.problem()
    details = "; ".join(f"{e['path']}: {e['message']}" for e in problem.get("errors", []))
    text = (problem.get("detail") or problem.get("title") or "") + (f" ({details})" if details else "")
    return ReportView(None, display, error=text)


def _drawn(answer: dict[str, Any], document: dict[str, Any], display: str) -> ReportView:
    """A process view's answer as a table, a chart or a KPI (its first measure's total; no period compared)."""
    view = ReportView(answer, display)
    if display in CHARTS:
        view.chart = _chart_data(answer, document, answer["records"]["page"])
    if display == "kpi":
        measure = next(c for c in answer["columns"] if c["kind"] == "measure")
        value = (answer["total"] or {"values": {}})["values"].get(measure["key"])
        text = _percent(value) if measure["key"].endswith("_rate") else _number(value)
        view.kpi = {"label": measure["label"], "value": _plain(value), "text": text, "href": None}
        view.kpi["target"] = view.kpi["target_text"] = None
    return view


def link(page: str, condition: Any) -> str | None:
    if condition is None:
        return None
    return page + "?filter=" + quote(json.dumps(condition, separators=(",", ":"), ensure_ascii=False))


def _pivot(answer: dict[str, Any], column_totals: dict[str, Any], last: dict[str, Any], page: str) -> Pivot:
    dims = [c for c in answer["columns"] if c["kind"] == "dimension"]
    measures = [c for c in answer["columns"] if c["kind"] == "measure"]
    leading = dims[:-1]
    order: list[Any] = []
    labels: dict[Any, str] = {}
    for row in column_totals["rows"]:
        value = _hashable(row["values"].get(last["key"]))
        order.append(value)
        labels[value] = _label(row, last["key"])
    cells: dict[tuple[Any, ...], dict[Any, dict[str, Any]]] = {}
    heads: dict[tuple[Any, ...], list[str]] = {}
    for row in answer["rows"]:
        head = tuple(_hashable(row["values"].get(d["key"])) for d in leading)
        heads.setdefault(head, [_label(row, d["key"]) for d in leading])
        value = _hashable(row["values"].get(last["key"]))
        cells.setdefault(head, {})[value] = row
        if value not in labels:
            order.append(value)
            labels[value] = _label(row, last["key"])
    row_totals = {
        tuple(_hashable(s["values"].get(d["key"])) for d in leading): s
        for s in answer["subtotals"]
        if s["level"] == len(leading)
    }
    group_totals = [s for s in answer["subtotals"] if s["level"] < len(leading)]
    pivot = Pivot([d["label"] for d in leading], [labels[v] for v in order], measures)

    def measure_cells(row: dict[str, Any] | None) -> list[PivotCell]:
        if row is None:
            return [PivotCell("") for _ in measures]
        href = link(page, row.get("filter"))
        return [PivotCell(_number(row["values"].get(m["key"])), href) for m in measures]

    def group_total_row(level: int, head: tuple[Any, ...]) -> None:
        for s in group_totals:
            if s["level"] == level and tuple(_hashable(s["values"].get(d["key"])) for d in leading[:level]) == head:
                cells_out: list[PivotCell] = []
                for _ in order:
                    cells_out += [PivotCell("") for _ in measures]
                cells_out += measure_cells(s)
                names = [_label(s, d["key"]) for d in leading[:level]]
                pivot.rows.append(
                    {"heads": names + [""] * (len(leading) - level), "cells": cells_out, "subtotal": True}
                )

    previous: tuple[Any, ...] | None = None
    for head, by_value in cells.items():
        if previous is not None:
            for level in range(len(leading) - 1, 0, -1):
                if previous[:level] != head[:level]:
                    group_total_row(level, previous[:level])
        row_cells: list[PivotCell] = []
        for value in order:
            row_cells += measure_cells(by_value.get(value))
        row_cells += measure_cells(row_totals.get(head))
        pivot.rows.append({"heads": heads[head], "cells": row_cells, "subtotal": False})
        previous = head
    if previous is not None:
        for level in range(len(leading) - 1, 0, -1):
            group_total_row(level, previous[:level])
    if answer["total"] is not None:
        by_column = {_hashable(r["values"].get(last["key"])): r for r in column_totals["rows"]}
        total_cells: list[PivotCell] = []
        for value in order:
            total_cells += measure_cells(by_column.get(value))
        total_cells += measure_cells(answer["total"])
        pivot.total_row = total_cells
    return pivot


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def _label(row: dict[str, Any], key: str) -> str:
    if key in row["labels"]:
        return str(row["labels"][key])
    value = row["values"].get(key)
    return "" if value is None else str(value)


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:,}"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    exponent = number.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) else 0
    return f"{number:,.{max(0, places)}f}"


def _chart_data(answer: dict[str, Any], document: dict[str, Any], page: str) -> dict[str, Any]:
    """The answer as report_view.js draws it: categories, series, and per point the drill-down link and the
    condition a dashboard's other reports take when the point is clicked (cross-filter)."""
    dims = [c for c in answer["columns"] if c["kind"] == "dimension"]
    measures = [c for c in answer["columns"] if c["kind"] == "measure"]
    points = []
    for row in answer["rows"]:
        points.append(
            {
                "labels": [_label(row, d["key"]) for d in dims],
                "values": {m["key"]: _plain(row["values"].get(m["key"])) for m in measures},
                "href": link(page, row.get("filter")),
                "cross": None if row.get("other") else _cross(dims, row),
            }
        )
    total = answer.get("total")
    return {
        "type": (document.get("display") or {}).get("type"),
        "dimensions": [d["label"] for d in dims],
        "dimension_keys": [d["key"] for d in dims],
        "measures": [{"key": m["key"], "label": m["label"]} for m in measures],
        "points": points,
        "total": {m["key"]: _plain(total["values"].get(m["key"])) for m in measures} if total else None,
        "display": document.get("display") or {},
    }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value
    try:
        return float(Decimal(str(value)))
    except InvalidOperation:
        return None


def _cross(dims: list[dict[str, Any]], row: dict[str, Any]) -> Any:
    """The row's dimension values as a condition on the form (no other filter in it), or None when a
    dimension is not a field of the form (a relation's field, a subform column)."""
    parts = []
    for d in dims:
        key, value = d.get("field"), row["values"].get(d["key"])
        if not key or "." in key:
            return None
        if value is None:
            parts.append({"field": key, "op": "is_empty"})
        elif d.get("bucket"):
            start, end = period(d["bucket"], str(value))
            if d.get("type") == "datetime":
                parts.append({"field": key, "op": "gte", "value": f"{start.isoformat()}T00:00:00"})
                parts.append({"field": key, "op": "lt", "value": f"{end.isoformat()}T00:00:00"})
            else:
                parts.append(
                    {"field": key, "op": "between", "value": [start.isoformat(), (end - timedelta(days=1)).isoformat()]}
                )
        else:
            parts.append({"field": key, "op": "contains" if d.get("multiple") else "eq", "value": value})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"and": parts}


async def _kpi(
    session: Any,
    forms: Any,
    viewer: Viewer,
    app: str,
    document: dict[str, Any],
    shared: Any,
    answer: dict[str, Any],
    lenient: bool,
) -> dict[str, Any]:
    """The first measure's total, its target (`display.target`) and, unless `display.compare` is false, the
    same number over the period before (the shared date range shifted back by its length; without one,
    this month so far against the same days of last month)."""
    display = document.get("display") or {}
    measure = next(c for c in answer["columns"] if c["kind"] == "measure")
    total = answer["total"] or (answer["rows"][0] if answer["rows"] else None)
    value = total["values"].get(measure["key"]) if total else None
    out: dict[str, Any] = {
        "label": measure["label"],
        "value": _plain(value),
        "text": _number(value),
        "target": display.get("target"),
        "target_text": _number(display.get("target")) if display.get("target") is not None else None,
        "href": link(answer["records"]["page"], total.get("filter")) if total else None,
    }
    if isinstance(out["target"], (int, float)) and out["target"] and out["value"] is not None:
        out["progress"] = round(100 * out["value"] / out["target"])
    if display.get("compare", True) is False:
        return out
    shared = dict(shared or {})
    current, previous = _periods(shared.get("date_range"), viewer.ctx.now.astimezone(viewer.ctx.zone).date())
    if current is None or previous is None:
        return out
    try:
        now = await run_report(
            session, forms, viewer, app, document, {**shared, "date_range": current}, lenient=lenient
        )
        before = await run_report(
            session, forms, viewer, app, document, {**shared, "date_range": previous}, lenient=lenient
        )
    except OpsloomError:
        return out
    this_value = _plain(((now["total"] or {}).get("values") or {}).get(measure["key"]))
    before_value = _plain(((before["total"] or {}).get("values") or {}).get(measure["key"]))
    if "date_range" not in shared:  # the number shown is this period's
        out.update(value=this_value, text=_number(((now["total"] or {}).get("values") or {}).get(measure["key"])))
    out["previous"] = before_value
    out["previous_text"] = _number(((before["total"] or {}).get("values") or {}).get(measure["key"]))
    if before_value and this_value is not None:
        out["change"] = round(100 * (this_value - before_value) / abs(before_value), 1)
    return out


def _periods(chosen: Any, today: date) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    if chosen is None:
        start = today.replace(day=1)
        before_start = (start - timedelta(days=1)).replace(day=1)
        before_end = min(before_start + (today - start), start - timedelta(days=1))
        return _range(start, today), _range(before_start, before_end)
    if isinstance(chosen, dict) and chosen.get("from") and chosen.get("to"):
        try:
            start, end = date.fromisoformat(chosen["from"]), date.fromisoformat(chosen["to"])
        except (TypeError, ValueError):
            return None, None
        length = end - start + timedelta(days=1)
        return _range(start, end), _range(start - length, end - length)
    return None, None


def _range(start: date, end: date) -> dict[str, str]:
    return {"from": start.isoformat(), "to": end.isoformat()}


# ------------------------------------------------------------------ helpers


def _shared_of(request: Request) -> Any:
    """The shared filters of the URL (`filters=` JSON); bad JSON is ignored (the page shows the report as is)."""
    text = request.query_params.get("filters")
    if not text or len(text) > MAX_FILTERS:
        return None
    try:
        value = decode_json(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value else None


async def _departments(session: Any) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(tables.departments.c.id, tables.departments.c.name).order_by(tables.departments.c.name)
    )
    return [{"id": r.id, "name": r.name} for r in rows]


# ------------------------------------------------------------------ process analytics


@router.get("/apps/{app}/forms/{form}/process")
async def process_page(app: str, form: str, request: Request, db: DB, forms: Forms) -> Response:
    """A form's approval process, ready without design, for those who manage the form: how many requests,
    how long each step and each approver takes, where requests wait now, approval and return rates."""
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    async with db.session() as session:
        nav = await app_navigation(session, user, app)
        if nav is None or not any(f["key"] == form for f in nav.get("processes", [])):
            return not_found(ctx)
        compiled = await forms.get(session, app, form)
        access = await form_access(session, user, app, form)
        viewer = Viewer(request_context(request, user), ctx.t.locale)
        answer = await process_analytics(session, compiled, access, eval_context(viewer.ctx), viewer.locale)
    backlog: dict[str, Any] = {
        "type": "bar",
        "display": {},
        "dimensions": [ctx.t("process.step")],
        "measures": [{"key": "open", "label": ctx.t("process.open")}],
        "points": [
            {
                "labels": [b["label"]],
                "values": {"open": b["open"], "overdue": b["overdue"]},
                "href": None,
                "cross": None,
            }
            for b in answer["backlog"]
        ],
        "total": None,
    }
    label = next(f["label"] for f in nav["processes"] if f["key"] == form)
    return render(
        ctx,
        "process.html",
        nav=nav,
        app_key=app,
        form_key=form,
        form_label=label,
        answer=answer,
        backlog=backlog,
        percent=_percent,
        status_words=STATUS_WORDS,
    )


def _percent(rate: Any) -> str:
    return "—" if rate is None else f"{Decimal(str(rate)) * 100:.1f}%"
