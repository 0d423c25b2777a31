"""The flow designer page: the flow drawn as a vertical tree, a node's panel, the simulator, publishing.

As the form designer, the page is a shell: the designer (static/js/flow_designer/) reads what it starts
from out of one JSON block (the draft, its revision and problems, the app's forms with their fields, the
field-type registry, the published versions, the page's messages) and from then on talks only to the
API: the flow draft/publish/versions routes (documents_api.py) and the simulator, rollback and the
comparison of versions (flow_design_api.py). A flow that does not exist yet starts as submit → end on
the app's first form, and is created by the first autosave.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.responses import Response

from opsloom.designer import definitions
from opsloom.designer.field_types_api import describe
from opsloom.designer.flows import flow_problems
from opsloom.designer.pages.form_designer import _app_forms
from opsloom.designer.pages.shell import Designer, design_nav, open_designer
from opsloom.runtime.fields import FIELD_TYPES
from opsloom.runtime.pages.i18n import catalog
from opsloom.runtime.pages.rendering import redirect, render

router = APIRouter(include_in_schema=False)

PAGE = "/design/apps/{app}/flows/{flow}"
MESSAGE_PREFIXES = ("fl.", "cb.")  # the flow designer's and the condition builder's messages
KEY = r"^[a-z][a-z0-9_]{0,62}$"


@router.get(PAGE)
async def flow_designer(app: str, flow: str, request: Request) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    async with request.app.state.db.session() as session:
        nav = await design_nav(session, app)
        forms = await _app_forms(session, app)
        for item in forms:  # the flow's pickers need the fields whole (options, subform columns)
            found_form = await definitions.load_definition(session, app, "form", item["key"])
            item["fields"] = [f for f in (found_form.draft or {}).get("fields", []) if isinstance(f, dict)]
        found = await definitions.find_definition(session, app, "flow", flow)
        draft = found.draft if found is not None else None
        if draft is None:
            draft = _new_flow(flow, request.query_params.get("form") or (forms[0]["key"] if forms else flow))
        problems = await flow_problems(session, request.app.state.forms, app, draft)
        versions = await definitions.list_versions(session, found) if found is not None else []
    base = f"/api/design/apps/{app}/flows/{flow}"
    boot = {
        "app": app,
        "flow": flow,
        "locale": page.ctx.t.locale,
        "user": page.user.user_id,
        "draft": draft,
        "draft_revision": found.draft_revision if found is not None else 0,
        "published_version": found.published_version if found is not None else None,
        "versions": versions,
        "problems": [e.as_json() for e in problems],
        "forms": forms,
        "field_types": [describe(unit) for unit in FIELD_TYPES.values()],
        "messages": {k: v for k, v in catalog(page.ctx.t.locale).items() if k.startswith(MESSAGE_PREFIXES)},
        "urls": {
            "draft": base,
            "publish": base + "/publish",
            "versions": base + "/versions",
            "simulate": base + "/simulate",
            "rollback": base + "/rollback",
            "diff": base + "/diff",
            "users": "/api/users?limit=500",
            "departments": "/api/departments",
            "roles": f"/api/roles?app={app}",
        },
    }
    label = draft.get("label") or flow
    return render(page.ctx, "flow_designer.html", nav=nav, boot=boot, flow_label=label, app_key=app)


def _new_flow(key: str, form: str) -> dict[str, object]:
    return {
        "key": key,
        "label": key,
        "form": form,
        "nodes": [
            {"id": "start", "type": "start", "label": {"zh-CN": "提交", "en": "Submit"}, "next": "end"},
            {"id": "end", "type": "end", "label": {"zh-CN": "结束", "en": "End"}},
        ],
    }


@router.get("/design/apps/{app}/new-flow")
async def new_flow(app: str, request: Request, key: str = "", form: str = "") -> Response:
    """Where the app page's "design a new flow" goes: the designer of that key, on that form."""
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    if not re.fullmatch(KEY, key) or not re.fullmatch(KEY, form):
        return redirect(f"/design/apps/{app}")
    return redirect(f"/design/apps/{app}/flows/{key}?form={form}")
