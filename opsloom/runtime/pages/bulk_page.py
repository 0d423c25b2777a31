"""The list's actions on selected rows: export them, delete them, submit them.

Export leads to the export API with a filter naming the chosen ids (the export
permission and its row scope apply there). Delete and submit go one record at
a time through `bulk_actions` (the records service and the flow shell), and
the page that answers says, per record, what was done and what was refused.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from opsloom.platform.errors import NotFound, PermissionDenied
from opsloom.platform.http import DB
from opsloom.platform.permissions import form_access
from opsloom.runtime.bulk_actions import ACTIONS, MAX_IDS, run_bulk
from opsloom.runtime.dependencies import FlowServices
from opsloom.runtime.pages.navigation import app_navigation
from opsloom.runtime.pages.rendering import (
    forbidden,
    not_found,
    page_context,
    redirect,
    render,
    request_context,
    to_login,
)
from opsloom.runtime.pages.routes import current_user
from opsloom.runtime.pages.security import CSRF_FIELD, form_token_ok

router = APIRouter(include_in_schema=False)


@router.post("/apps/{app}/forms/{form}/bulk")
async def bulk_on_list(app: str, form: str, request: Request, db: DB, services: FlowServices) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    data = await request.form()
    token = data.get(CSRF_FIELD)
    if not form_token_ok(request, token if isinstance(token, str) else "", user):
        return forbidden(ctx)
    action = data.get("action")
    ids = list(dict.fromkeys(int(x) for x in data.getlist("ids") if isinstance(x, str) and x.isdigit() and len(x) < 19))
    back = f"/apps/{app}/forms/{form}"
    returned = data.get("back")
    if isinstance(returned, str) and returned.startswith(back + "?"):
        back = returned  # the list as it was, filter and view kept
    if not ids or len(ids) > MAX_IDS or (action != "export" and action not in ACTIONS):
        message = ctx.t("list.bulk.none_chosen") if not ids else ctx.t("list.bulk.too_many", count=MAX_IDS)
        return render(ctx, "error.html", status=422, message=message, back=back)
    if action == "export":
        chosen = json.dumps({"field": "id", "op": "in", "value": ids})
        fmt = data.get("format") if data.get("format") in ("csv", "xlsx") else "xlsx"
        query = urlencode({"format": fmt, "filter": chosen, "locale": ctx.t.locale})
        return redirect(f"/api/apps/{app}/forms/{form}/export?{query}")
    async with db.session() as session:
        try:
            compiled = await services.forms.get(session, app, form)
            (await form_access(session, user, app, form)).require("read")
        except (NotFound, PermissionDenied):
            return not_found(ctx)
        nav = await app_navigation(session, user, app)
    outcomes = await run_bulk(db, request_context(request, user), services, app, form, str(action), ids)
    return render(
        ctx,
        "bulk_result.html",
        status=200,
        app={"key": app, "label": nav["label"] if nav else app},
        nav=nav,
        form={"key": form, "label": compiled.label},
        action=action,
        done=[o for o in outcomes if o.ok],
        failed=[o for o in outcomes if not o.ok],
        back=back,
    )
