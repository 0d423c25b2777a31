"""The template gallery (`/design/templates`): the bundled template apps, each installed or upgraded after
its plan is shown; the same import service as `POST /api/packages/import`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import FileResponse, Response

from opsloom.designer import definitions
from opsloom.designer.package_upgrade import ImportPlan, apply_import, plan_import
from opsloom.designer.packages import manifest_of, read_package, version_tuple
from opsloom.designer.pages.shell import Designer, open_designer
from opsloom.platform import tables
from opsloom.platform.errors import OpsloomError
from opsloom.platform.permissions import is_app_admin
from opsloom.resources import data_path
from opsloom.runtime.pages.rendering import forbidden, not_found, redirect, render, request_context
from opsloom.runtime.pages.security import CSRF_FIELD, form_token_ok

router = APIRouter(include_in_schema=False)

MAX_FIELD = 512
# A template's screenshots: examples/<key>/screenshots/<n>.<locale>.jpg, shown in the gallery in the page's language.
SCREENSHOT = re.compile(r"^(?P<n>[1-9])\.(?P<locale>zh-CN|en)\.jpg$")


@dataclass(frozen=True)
class Template:
    key: str
    version: str
    package: dict[str, Any]
    folder: Path

    @property
    def app(self) -> dict[str, Any]:
        return dict(self.package["app"])

    def _forms_in_menu_order(self) -> list[dict[str, Any]]:
        menu = list(self.app.get("menu") or [])
        return sorted(self.package["forms"], key=lambda f: _menu_position(menu, f["key"]))

    def screenshots(self) -> dict[str, list[str]]:
        """The screenshots' file names by locale, in order."""
        found: dict[str, list[str]] = {}
        for path in sorted((self.folder / "screenshots").glob("*.jpg")):
            match = SCREENSHOT.match(path.name)
            if match:
                found.setdefault(match["locale"], []).append(path.name)
        return found

    def view(self, installed: str | None, may_install: bool, may_upgrade: bool) -> dict[str, Any]:
        newer = installed is not None and version_tuple(self.version) > version_tuple(installed)
        return {
            "key": self.key,
            "label": self.app.get("label", self.key),
            "description": self.app.get("description"),
            "color": self.app.get("color"),
            "version": self.version,
            "forms": [f.get("label", f["key"]) for f in self._forms_in_menu_order()],
            "form_labels": {f["key"]: f.get("label", f["key"]) for f in self.package["forms"]},
            "roles": len(self.package.get("roles", [])),
            "flows": len(self.package.get("flows", [])),
            "reports": len(self.package.get("reports", [])),
            "dashboards": [d.get("label", d["key"]) for d in self.package.get("dashboards", [])],
            "automations": len(self.package.get("automations", [])),
            "screenshots": self.screenshots(),
            "installed": installed,
            "may_install": installed is None and may_install,
            "may_upgrade": newer and may_upgrade,
        }


def _menu_position(menu: list[str], key: str) -> int:
    return menu.index(key) if key in menu else len(menu)


def bundled_templates() -> list[Template]:
    """The template packages shipped in `examples/`, by key."""
    found = []
    for folder in sorted(data_path("examples").iterdir()):
        if (folder / "app.json").exists():
            package = read_package(folder)
            found.append(Template(package["app"]["key"], manifest_of(package)["version"], package, folder))
    return found


async def _installed_versions(session: Any) -> dict[str, str]:
    a = tables.apps
    rows = await session.execute(select(a.c.key, a.c.package_version, a.c.document))
    return {r.key: r.package_version or str(r.document.get("version") or "1.0.0") for r in rows}


@router.get("/design/templates")
async def gallery(request: Request) -> Response:
    page = await open_designer(request)
    if not isinstance(page, Designer):
        return page
    async with request.app.state.db.session() as session:
        installed = await _installed_versions(session)
        cards = [
            t.view(
                installed.get(t.key),
                page.may_create_apps,
                t.key in installed and page.user.can_write and await is_app_admin(session, page.user, t.key),
            )
            for t in bundled_templates()
        ]
    done = request.query_params.get("done", "")[:64]
    done_card = next((c for c in cards if c["key"] == done), None)
    return render(page.ctx, "design_templates.html", cards=cards, done=done_card)


def _template(key: str) -> Template | None:
    return next((t for t in bundled_templates() if t.key == key), None)


@router.get("/design/templates/{key}/screenshots/{name}")
async def screenshot(key: str, name: str, request: Request) -> Response:
    """One of a bundled template's screenshots, to whoever may see the gallery."""
    page = await open_designer(request)
    if not isinstance(page, Designer):
        return page
    template = _template(key)
    path = template.folder / "screenshots" / name if template is not None and SCREENSHOT.match(name) else None
    if path is None or not path.is_file():
        return not_found(page.ctx)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.get("/design/templates/{key}")
async def plan_page(key: str, request: Request) -> Response:
    return await _plan_or_apply(key, request, {}, apply=False, sample_data=True)


@router.post("/design/templates/{key}")
async def install(key: str, request: Request) -> Response:
    form = await request.form()
    fields = {k: v[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)}
    page = await open_designer(request)
    if not isinstance(page, Designer):
        return page
    if not form_token_ok(request, fields.get(CSRF_FIELD), page.user):
        return forbidden(page.ctx)
    resolutions = {
        fields[f"p{i}"]: fields[f"r{i}"]
        for i in range(200)
        if f"p{i}" in fields and fields.get(f"r{i}") in ("keep_mine", "take_theirs")
    }
    apply = fields.get("action") == "apply"
    return await _plan_or_apply(key, request, resolutions, apply=apply, sample_data=fields.get("sample_data") == "on")


async def _plan_or_apply(
    key: str, request: Request, resolutions: dict[str, str], *, apply: bool, sample_data: bool
) -> Response:
    page = await open_designer(request)
    if not isinstance(page, Designer):
        return page
    template = _template(key)
    if template is None:
        return not_found(page.ctx)
    ctx = request_context(request, page.user)
    problem = None
    plan: ImportPlan | None = None
    try:
        async with request.app.state.db.session(write=apply) as session:
            exists = await definitions.app_exists(session, key)
            if exists:
                allowed = page.user.can_write and await is_app_admin(session, page.user, key)
            else:
                allowed = page.may_create_apps
            if not allowed:
                return forbidden(page.ctx)
            plan = await plan_import(
                session,
                ctx,
                template.package,
                page.ctx.t,
                resolutions=resolutions,
                with_sample_data=sample_data,
                lock=apply,
            )
            if apply and not plan.conflicts:
                await apply_import(
                    session, ctx, request.app.state.forms, template.package, plan, with_sample_data=sample_data
                )
    except OpsloomError as error:  # the transaction is rolled back: nothing was installed
        problem = {"detail": error.detail, "errors": [e.as_json() for e in error.errors]}
    if apply and plan is not None and not plan.conflicts and problem is None:
        return redirect(f"/design/templates?done={key}")
    view = template.view(None, True, True)
    return render(
        page.ctx,
        "design_template_plan.html",
        status=400 if problem or (apply and plan is not None and plan.conflicts) else 200,
        card=view,
        plan=plan.as_json() if plan is not None else None,
        problem=problem,
        resolutions=resolutions,
        sample_data=sample_data,
    )
