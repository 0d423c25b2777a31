"""The report and dashboard designers: pages that start the browser designers (static/js/report_designer.js,
static/js/dashboard_designer.js) from one JSON block, which from then on talk only to the designer API
(drafts with If-Match autosave, publish) and to the live preview (POST /api/design/apps/{app}/reports/preview).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from opsloom.designer import definitions
from opsloom.designer.field_types_api import describe
from opsloom.designer.pages.shell import Designer, design_nav, open_designer
from opsloom.platform.errors import NotFound
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.fields import FIELD_TYPES, links_records, unit_of, value_unit
from opsloom.runtime.flow.instances import flow_for_form
from opsloom.runtime.forms import FormRegistry, published_forms
from opsloom.runtime.pages.i18n import catalog
from opsloom.runtime.pages.rendering import not_found, redirect, render

router = APIRouter(include_in_schema=False)

MESSAGE_PREFIXES = ("rd.", "dd.", "cb.", "fd.saved", "fd.saving", "fd.unsaved", "fd.save_failed", "fd.conflict_short")
KEY = r"^[a-z][a-z0-9_]{0,62}$"
# Fields every record has, offered next to the form's own (their types answer what they may be).
SYSTEM_FIELDS = (
    {"key": "created_at", "type": "datetime", "label": {"en": "Created at", "zh-CN": "创建时间"}},
    {"key": "updated_at", "type": "datetime", "label": {"en": "Updated at", "zh-CN": "更新时间"}},
    {"key": "owner_id", "type": "user", "label": {"en": "Owner", "zh-CN": "负责人"}},
    {"key": "department_id", "type": "department", "label": {"en": "Department", "zh-CN": "部门"}},
    {
        "key": "status",
        "type": "select",
        "label": {"en": "Status", "zh-CN": "状态"},
        "options": [{"value": v, "label": v} for v in ("draft", "in_review", "approved", "rejected", "withdrawn")],
    },
)


async def _draft(request: Request, app: str, kind: str, key: str) -> tuple[dict[str, Any] | None, int, int | None]:
    async with request.app.state.db.session() as session:
        try:
            found = await definitions.load_definition(session, app, kind, key)
        except NotFound:
            return None, 0, None
        return (dict(found.draft) if found.draft is not None else None), found.draft_revision, found.published_version


async def _sources(session: Any, forms: FormRegistry, app: str) -> list[dict[str, Any]]:
    """The app's published forms a report may read: key, label and fields (their documents, system fields
    after), each with what its type lets it be in a report (the answers the report engine checks), and the
    groups of fields reachable from them: a linked form's (`supplier.name`) and a subform's rows
    (`items.price`, which make the report count rows)."""
    documents = dict(await published_forms(session, app))
    out = []
    for key, document in documents.items():
        compiled = await forms.get(session, app, key)
        groups = []
        for raw in document.get("fields", []):
            spec = compiled.spec(raw["key"]) if isinstance(raw, Mapping) else None
            if spec is None:
                continue
            if links_records(spec) and spec.raw.get("form") in compiled.related:
                target = compiled.target(spec)
                fields = _fields(target, [*documents.get(target.key, {}).get("fields", []), *SYSTEM_FIELDS])
                groups.append(
                    {"key": spec.key, "kind": "relation", "label": raw.get("label") or spec.key}
                    | {"form": target.key, "fields": [{**f, "key": f"{spec.key}.{f['key']}"} for f in fields]}
                )
            elif spec.key in compiled.children:
                fields = _fields(compiled.children[spec.key], raw.get("fields", []))
                groups.append(
                    {"key": spec.key, "kind": "rows", "label": raw.get("label") or spec.key}
                    | {"fields": [{**f, "key": f"{spec.key}.{f['key']}"} for f in fields]}
                )
        own = _fields(compiled, [*document.get("fields", []), *SYSTEM_FIELDS])
        out.append({"key": key, "label": document.get("label") or key, "fields": own, "groups": groups})
    return out


def _fields(form: Any, documents: list[Any]) -> list[dict[str, Any]]:
    """The field documents a report may name, each with what it may be (a dimension, a measure, a date)."""
    fields = []
    for raw in documents:
        spec = form.spec(raw["key"]) if isinstance(raw, Mapping) else None
        if spec is None:
            continue
        unit, own = value_unit(spec), unit_of(spec)
        may_be = {
            "dimension": bool((unit.dimension or own.dimension) and own.has_column),
            "measure": bool(unit.measure),
            "temporal": unit.temporal is not None,
        }
        fields.append({**raw, "may_be": may_be})
    return fields


def _messages(locale: str) -> dict[str, Any]:
    return {k: v for k, v in catalog(locale).items() if k.startswith(MESSAGE_PREFIXES)}


@router.get("/design/apps/{app}/reports")
async def new_report(app: str, request: Request, key: str = "") -> Response:
    """The design page's "new report" form: the designer of that key (a new one starts from a bar chart)."""
    return await _open_new(app, request, "reports", key)


@router.get("/design/apps/{app}/dashboards")
async def new_dashboard(app: str, request: Request, key: str = "") -> Response:
    return await _open_new(app, request, "dashboards", key)


async def _open_new(app: str, request: Request, kind: str, key: str) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    key = key.strip()
    if not _is_key(key):
        return redirect(f"/design/apps/{app}?bad_{kind}_key=1#{kind}-title")
    return redirect(f"/design/apps/{app}/{kind}/{key}")


@router.get("/design/apps/{app}/reports/{report}")
async def report_designer(app: str, report: str, request: Request, forms: Forms) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    if not _is_key(report):
        return not_found(page.ctx)
    draft, revision, published = await _draft(request, app, "report", report)
    async with request.app.state.db.session() as session:
        nav = await design_nav(session, app)
        sources = await _sources(session, forms, app)
    start = draft or {
        "key": report,
        "label": {"zh-CN": report, "en": report},
        "form": sources[0]["key"] if sources else "",
        "dimensions": [],
        "measures": [{"key": "count", "agg": "count", "label": {"zh-CN": "记录数", "en": "Records"}}],
        "display": {"type": "bar"},
    }
    boot = {
        "app": app,
        "report": report,
        "locale": page.ctx.t.locale,
        "draft": start,
        "draft_revision": revision,
        "published_version": published,
        "sources": sources,
        "field_types": [describe(unit) for unit in FIELD_TYPES.values()],
        "messages": _messages(page.ctx.t.locale),
        "urls": {
            "draft": f"/api/design/apps/{app}/reports/{report}",
            "preview": f"/api/design/apps/{app}/reports/preview",
            "publish": f"/api/design/apps/{app}/reports/{report}/publish",
            "view": f"/apps/{app}/reports/{report}",
        },
    }
    return render(page.ctx, "report_designer.html", nav=nav, boot=boot, app_key=app, title=start.get("label") or report)


@router.get("/design/apps/{app}/dashboards/{dashboard}")
async def dashboard_designer(app: str, dashboard: str, request: Request) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    if not _is_key(dashboard):
        return not_found(page.ctx)
    draft, revision, published = await _draft(request, app, "dashboard", dashboard)
    async with request.app.state.db.session() as session:
        nav = await design_nav(session, app)
        reports = []
        for item in nav["kinds"].get("report", []):
            if item["published_version"] is not None:
                reports.append({"key": item["key"], "label": item["label"]})
        processes = []  # forms whose records go through a published flow: their process views
        for key, document in await published_forms(session, app):
            if await flow_for_form(session, app, key) is not None:
                processes.append({"key": key, "label": document.get("label") or key})
    start = draft or {
        "key": dashboard,
        "label": {"zh-CN": dashboard, "en": dashboard},
        "columns": 12,
        "items": [],
        "filters": [{"kind": "date_range"}, {"kind": "department"}],
    }
    boot = {
        "app": app,
        "dashboard": dashboard,
        "locale": page.ctx.t.locale,
        "draft": start,
        "draft_revision": revision,
        "published_version": published,
        "reports": reports,
        "processes": processes,
        "messages": _messages(page.ctx.t.locale),
        "urls": {
            "draft": f"/api/design/apps/{app}/dashboards/{dashboard}",
            "publish": f"/api/design/apps/{app}/dashboards/{dashboard}/publish",
            "view": f"/apps/{app}/dashboards/{dashboard}",
        },
    }
    return render(
        page.ctx, "dashboard_designer.html", nav=nav, boot=boot, app_key=app, title=start.get("label") or dashboard
    )


def _is_key(text: str) -> bool:
    return re.fullmatch(KEY, text) is not None
