"""The import page of a form: upload a spreadsheet, map and clean it, try it, import it, follow it.

The page is a shell; its module (`static/js/import.js`) drives the steps through
the import API (`runtime/imports_api.py`), so the page and an integrator's script
do the same thing the same way.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from opsloom.platform.permissions import form_access
from opsloom.runtime.imports.cleaning import CLEANERS
from opsloom.runtime.pages.navigation import app_navigation
from opsloom.runtime.pages.rendering import not_found, page_context, render, to_login
from opsloom.runtime.pages.routes import current_user

router = APIRouter(include_in_schema=False)

TEXTS = (
    "import.skip_column", "import.choose", "import.empty", "import.no_key", "import.progress",
    "import.state.queued", "import.state.running", "import.state.done", "import.state.failed",
    "import.state.cancelled", "import.state.undone", "import.dry_run_result", "import.ready", "import.blocked",
    "import.row", "import.problems", "import.value", "import.count", "import.map_to", "import.column",
    "import.sample", "import.field", "import.errors", "import.undo", "import.cancel", "value.yes", "value.no",
)  # fmt: skip


@router.get("/apps/{app}/forms/{form}/import")
async def import_page(app: str, form: str, request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    async with request.app.state.db.session() as session:
        nav = await app_navigation(session, user, app)
        if nav is None:
            return not_found(ctx)
        try:
            compiled = await request.app.state.forms.get(session, app, form)
        except Exception:  # noqa: BLE001 - an unknown or unpublished form is this page's 404
            return not_found(ctx)
        access = await form_access(session, user, app, form)
    if not access.can("import"):
        return not_found(ctx)
    meta = {
        "api": f"/api/apps/{app}/forms/{form}/imports",
        "texts": {key: ctx.t(key) for key in TEXTS},
        "locale": ctx.t.locale,
    }
    return render(
        ctx,
        "import.html",
        app={"key": app, "label": nav["label"]},
        nav=nav,
        form={"key": form, "label": compiled.label},
        list_url=f"/apps/{app}/forms/{form}",
        template_url=f"/api/apps/{app}/forms/{form}/imports/template?locale={ctx.t.locale}",
        cleaners=[(c.name, ctx.t.label(c.label)) for c in CLEANERS.values()],
        meta=meta,
    )
