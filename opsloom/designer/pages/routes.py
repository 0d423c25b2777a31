"""The designer's entry pages: the apps one may design, creating an app, an app's overview, a new form.

The form designer, the permission matrix and the publish dialog are pages of their own; these pages lead
to them. Every POST carries the page's CSRF token and goes through the same services as the designer API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from opsloom.designer import definitions
from opsloom.designer.pages.shell import Designer, design_nav, designable_apps, open_designer
from opsloom.platform.errors import ValidationFailed
from opsloom.runtime.pages.rendering import forbidden, redirect, render, request_context
from opsloom.runtime.pages.security import CSRF_FIELD, form_token_ok

router = APIRouter(include_in_schema=False)

MAX_FIELD = 256
KEY_HINT = "^[a-z][a-z0-9_]{0,62}$"


@router.get("/design")
async def design_home(request: Request) -> Response:
    page = await open_designer(request)
    if not isinstance(page, Designer):
        return page
    async with request.app.state.db.session() as session:
        apps = await designable_apps(session, page.user)
    return render(page.ctx, "design_home.html", apps=apps, may_create=page.may_create_apps, errors={}, entered={})


@router.post("/design/apps")
async def create_app(request: Request) -> Response:
    page = await open_designer(request)
    if not isinstance(page, Designer):
        return page
    form = await _form(request)
    if not form_token_ok(request, form.get(CSRF_FIELD), page.user):
        return forbidden(page.ctx)
    if not page.may_create_apps:
        return forbidden(page.ctx)
    key = form.get("key", "").strip()
    document: dict[str, Any] = {"key": key, "label": _label(form, "label")}
    if form.get("color"):
        document["color"] = form["color"]
    async with request.app.state.db.session(write=True) as session:
        errors = {} if key else {"key": page.ctx.t("design.key_required")}
        if not errors and await definitions.app_exists(session, key):
            errors = {"key": page.ctx.t("design.app_exists", name=key)}
        if not errors:
            try:
                await definitions.save_app(session, request_context(request, page.user), document)
            except ValidationFailed as failed:
                errors = {e.path.split("/")[0] or "key": e.message for e in failed.errors}
        if errors:
            apps = await designable_apps(session, page.user)
    if errors:
        return render(page.ctx, "design_home.html", status=400, apps=apps, may_create=True, errors=errors, entered=form)
    return redirect(f"/design/apps/{key}")


@router.get("/design/apps/{app}")
async def app_overview(app: str, request: Request) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    async with request.app.state.db.session() as session:
        nav = await design_nav(session, app)
    return render(page.ctx, "design_app.html", nav=nav, errors={}, entered={})


@router.post("/design/apps/{app}/forms")
async def create_form(app: str, request: Request) -> Response:
    """A new form starts with one text field, its title, so that it can be published and tried at once."""
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    form = await _form(request)
    if not form_token_ok(request, form.get(CSRF_FIELD), page.user):
        return forbidden(page.ctx)
    t = page.ctx.t
    key = form.get("key", "").strip()
    label = _label(form, "label") or key
    document = {
        "key": key,
        "label": label,
        "title_field": "name",
        "fields": [{"id": "f_name", "key": "name", "type": "text", "label": {"zh-CN": "名称", "en": "Name"}}],
    }
    async with request.app.state.db.session(write=True) as session:
        errors = {} if key else {"key": t("design.key_required")}
        if not errors and await definitions.find_definition(session, app, "form", key) is not None:
            errors = {"key": t("design.form_exists", name=key)}
        if not errors:
            try:
                await definitions.save_draft(session, request_context(request, page.user), app, "form", key, document)
            except ValidationFailed as failed:
                errors = {"key": "; ".join(e.message for e in failed.errors)}
        nav = await design_nav(session, app)
    if errors:
        return render(page.ctx, "design_app.html", status=400, nav=nav, errors=errors, entered=form)
    return redirect(f"/design/apps/{app}/forms/{key}")


def _label(form: dict[str, str], name: str) -> dict[str, str] | str:
    """A label typed in one or both languages (`label_zh`, `label_en`), as a document stores it."""
    both = {code: form.get(f"{name}_{suffix}", "").strip() for code, suffix in (("zh-CN", "zh"), ("en", "en"))}
    given = {code: text for code, text in both.items() if text}
    if len(given) == 1:
        return next(iter(given.values()))
    return given


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)}
