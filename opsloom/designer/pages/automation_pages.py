"""Automation pages: the app's automations (switch on and off, last runs, a new one) and the editor.

The list is rendered here and works without JavaScript (its buttons are forms). The editor is a shell
like the form designer's: static/js/automation_designer.js reads what it starts from out of one JSON
block (the draft, the app's forms with their fields, channels, secret names, the field-type registry
for the condition builder, the page's messages) and from then on talks only to the designer API:
autosave, test run, publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select, update
from starlette.responses import Response

from opsloom.designer import definitions
from opsloom.designer.automations import automation_problems
from opsloom.designer.field_types_api import describe
from opsloom.designer.pages.shell import Designer, design_nav, open_designer
from opsloom.platform import secrets, tables
from opsloom.platform.errors import NotFound, ValidationFailed
from opsloom.runtime.fields import FIELD_TYPES
from opsloom.runtime.integrations import subscriptions
from opsloom.runtime.pages.i18n import catalog
from opsloom.runtime.pages.rendering import forbidden, not_found, redirect, render, request_context
from opsloom.runtime.pages.security import CSRF_FIELD, form_token_ok
from opsloom.runtime.reports.published import published_documents

router = APIRouter(include_in_schema=False)

LIST = "/design/apps/{app}/automations"
MESSAGE_PREFIXES = ("au.", "cb.")
RUNS_SHOWN = 3


@router.get(LIST)
async def automations_page(app: str, request: Request) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    async with request.app.state.db.session() as session:
        nav = await design_nav(session, app)
        items = await _automations(session, app, request.app.state.settings.zone)
    return render(page.ctx, "design_automations.html", nav=nav, items=items, errors={}, entered={})


@router.post(LIST)
async def create_automation(app: str, request: Request) -> Response:
    """A new automation starts as a draft on the chosen form: when a record is created, notify nobody yet."""
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    posted = {k: v[:200] for k, v in (await request.form()).items() if isinstance(v, str)}
    if not form_token_ok(request, posted.get(CSRF_FIELD), page.user):
        return forbidden(page.ctx)
    t = page.ctx.t
    key, form = posted.get("key", "").strip(), posted.get("form", "").strip()
    document = {
        "key": key,
        "label": posted.get("label", "").strip() or key,
        "form": form,
        "trigger": {"on": "record.created"},
        "actions": [],
    }
    errors: dict[str, str] = {}
    async with request.app.state.db.session(write=True) as session:
        if not key:
            errors["key"] = t("design.key_required")
        elif await definitions.find_definition(session, app, "automation", key) is not None:
            errors["key"] = t("au.exists", name=key)
        if not errors:
            try:
                ctx = request_context(request, page.user)
                await definitions.save_draft(session, ctx, app, "automation", key, document)
            except ValidationFailed as failed:
                errors["key"] = "; ".join(e.message for e in failed.errors)
        nav = await design_nav(session, app)
        items = await _automations(session, app, request.app.state.settings.zone)
    if errors:
        return render(
            page.ctx, "design_automations.html", status=400, nav=nav, items=items, errors=errors, entered=posted
        )
    return redirect(f"/design/apps/{app}/automations/{key}")


@router.post(LIST + "/{key}/switch")
async def switch(app: str, key: str, request: Request) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    posted = await request.form()
    if not form_token_ok(request, str(posted.get(CSRF_FIELD, "")), page.user):
        return forbidden(page.ctx)
    async with request.app.state.db.session(write=True) as session:
        found = await definitions.find_definition(session, app, "automation", key, lock=True)
        if found is None or found.published_version is None:
            return not_found(page.ctx)
        storage = dict(found.storage or {}) | {"paused": posted.get("enabled") != "true"}
        d = tables.definitions
        await session.execute(update(d).where(d.c.id == found.id).values(storage=storage))
    return redirect(f"/design/apps/{app}/automations#automation-{key}")


@router.get(LIST + "/{key}")
async def automation_designer(app: str, key: str, request: Request) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    forms = request.app.state.forms
    async with request.app.state.db.session() as session:
        try:
            found = await definitions.load_definition(session, app, "automation", key)
        except NotFound:
            return not_found(page.ctx)
        nav = await design_nav(session, app)
        draft = found.draft or {
            "key": key,
            "label": key,
            "form": "",
            "trigger": {"on": "record.created"},
            "actions": [],
        }
        problems = await automation_problems(session, forms, app, draft)
        channels = [
            {"id": c["id"], "name": c["name"], "channel": c["channel"]}
            for c in await subscriptions.listed(session, app, webhook=False)
        ]
        boot = {
            "app": app,
            "key": key,
            "locale": page.ctx.t.locale,
            "draft": draft,
            "draft_revision": found.draft_revision,
            "published_version": found.published_version,
            "problems": [e.as_json() for e in problems],
            "forms": await _published_forms(session, app),
            "flows": [f["key"] for f in nav["flows"] if f["published_version"] is not None],
            "reports": [
                {"key": r["key"], "label": r.get("label"), "form": r["form"], "measures": r.get("measures") or []}
                for r in await published_documents(session, app, "report")
            ],
            "channels": channels,
            "secrets": [s["name"] for s in await secrets.names(session, app)],
            "field_types": [describe(unit) for unit in FIELD_TYPES.values()],
            "timezone": request.app.state.settings.timezone,
            "messages": {k: v for k, v in catalog(page.ctx.t.locale).items() if k.startswith(MESSAGE_PREFIXES)},
            "urls": {
                "draft": f"/api/design/apps/{app}/automations/{key}",
                "publish": f"/api/design/apps/{app}/automations/{key}/publish",
                "test_run": f"/api/design/apps/{app}/automations/{key}/test-run",
                "list": f"/design/apps/{app}/automations",
            },
        }
    label = draft.get("label") or key
    return render(page.ctx, "automation_designer.html", nav=nav, boot=boot, automation_label=label, app_key=app)


async def _automations(session: Any, app: str, zone: tzinfo) -> list[dict[str, Any]]:
    d, v, r = tables.definitions, tables.definition_versions, tables.automation_runs
    rows = await session.execute(
        select(d, v.c.document.label("published"))
        .outerjoin(v, (v.c.definition_id == d.c.id) & (v.c.version == d.c.published_version))
        .where(d.c.app_key == app, d.c.kind == "automation")
        .order_by(d.c.key)
    )
    items = []
    for row in rows.all():
        document = row.published or row.draft or {}
        runs = await session.execute(
            select(r.c.at, r.c.outcome, r.c.record_id)
            .where(r.c.app_key == app, r.c.automation_key == row.key, r.c.outcome != "skipped")
            .order_by(r.c.id.desc())
            .limit(RUNS_SHOWN)
        )
        items.append(
            {
                "key": row.key,
                "label": document.get("label") or row.key,
                "form": document.get("form"),
                "on": (document.get("trigger") or {}).get("on"),
                "published_version": row.published_version,
                "changed": row.published is not None and row.draft is not None and row.draft != row.published,
                "enabled": row.published_version is not None
                and not (row.storage or {}).get("paused")
                and document.get("active", True),
                "runs": [
                    {"at": run.at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), "outcome": run.outcome} for run in runs
                ],
            }
        )
    return items


async def _published_forms(session: Any, app: str) -> list[dict[str, Any]]:
    """The app's forms with the fields of their drafts: key, label, type, options, and subforms' columns."""
    nav = await design_nav(session, app)
    out = []
    for item in nav["forms"]:
        found = await definitions.load_definition(session, app, "form", item["key"])
        fields = [f for f in (found.draft or {}).get("fields", []) if isinstance(f, Mapping)]
        out.append({"key": item["key"], "label": item["label"], "fields": [dict(f) for f in fields]})
    return out
