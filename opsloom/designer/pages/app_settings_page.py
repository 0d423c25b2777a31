"""An app's settings on a page: its name in both languages, description, icon, colour, and the order of its
forms in the app's menu (dragged, or moved with buttons; without JavaScript the buttons still work).

Saved through `definitions.save_app`, with the app schema's checks, as `PUT /api/design/apps/{app}` does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from opsloom.designer import definitions
from opsloom.designer.pages.shell import Designer, design_nav, open_designer
from opsloom.platform.errors import OpsloomError
from opsloom.runtime.pages.rendering import forbidden, redirect, render, request_context
from opsloom.runtime.pages.security import CSRF_FIELD, form_token_ok

router = APIRouter(include_in_schema=False)

MAX_TEXT = 2000
# Offered as one click each (symbols every system font draws, white on the app's colour); any other
# character or emoji may be typed.
ICONS = ("★", "✓", "✉", "☎", "⚙", "✈", "✎", "♥", "☀", "⚑", "◆", "☰")
COLORS = ("#2563d0", "#0f766e", "#15803d", "#b45309", "#b42318", "#7c3aed", "#be185d", "#475569")


@router.get("/design/apps/{app}/settings")
async def settings_page(app: str, request: Request) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    async with request.app.state.db.session() as session:
        nav = await design_nav(session, app)
    return _render(page, nav, saved=bool(request.query_params.get("saved")))


@router.post("/design/apps/{app}/settings")
async def save_settings(app: str, request: Request) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    posted = await request.form()
    if not form_token_ok(request, str(posted.get(CSRF_FIELD, "")), page.user):
        return forbidden(page.ctx)
    async with request.app.state.db.session(write=True) as session:
        nav = await design_nav(session, app)
        forms = [f["key"] for f in nav["forms"]]
        menu = _menu(posted, forms)
        document = _document(await definitions.load_app(session, app), posted, menu)
        try:
            await definitions.save_app(session, request_context(request, page.user), document)
        except OpsloomError as error:
            return _render(page, {**nav, **_entered(document, nav)}, error=error)
    moved = str(posted.get("move", ""))
    anchor = f"#move-{moved.partition(':')[2]}" if moved else ""
    return redirect(f"/design/apps/{app}/settings?saved=1{anchor}")


def _menu(posted: FormData, forms: list[str]) -> list[str]:
    """The forms in the order posted (`menu`, one per form), with a `move=up:<key>` or `down:<key>` applied;
    forms the page did not know of keep their place at the end."""
    order = [k for k in dict.fromkeys(str(v) for v in posted.getlist("menu")) if k in forms]
    order += [k for k in forms if k not in order]
    direction, _, key = str(posted.get("move", "")).partition(":")
    if key in order:
        i = order.index(key)
        j = i - 1 if direction == "up" else i + 1 if direction == "down" else i
        if 0 <= j < len(order):
            order[i], order[j] = order[j], order[i]
    return order


def _document(current: dict[str, Any], posted: FormData, menu: list[str]) -> dict[str, Any]:
    document = {k: v for k, v in current.items() if k not in ("label", "description", "icon", "color", "menu")}
    document["label"] = _both(posted, "label") or current.get("label") or current["key"]
    if description := _both(posted, "description"):
        document["description"] = description
    # A typed icon or colour wins over the ones offered (which a typed one unticks in the browser).
    icon = str(posted.get("icon_own", "")).strip() or str(posted.get("icon", "")).strip()
    if icon:
        document["icon"] = icon[:64]
    color = str(posted.get("color", "")).strip() or str(posted.get("color_own", "")).strip()
    if color and posted.get("no_color") != "on":
        document["color"] = color
    document["menu"] = menu
    return document


def _both(posted: FormData, name: str) -> dict[str, str] | str:
    both = {code: str(posted.get(f"{name}_{s}", "")).strip()[:MAX_TEXT] for code, s in (("zh-CN", "zh"), ("en", "en"))}
    given = {code: text for code, text in both.items() if text}
    return next(iter(given.values())) if len(given) == 1 else given


def _entered(document: dict[str, Any], nav: dict[str, Any]) -> dict[str, Any]:
    """The nav as the refused document would have it, so the page shows what was typed."""
    by_key = {f["key"]: f for f in nav["forms"]}
    return {
        **{k: document.get(k) for k in ("label", "description", "icon", "color")},
        "forms": [by_key[k] for k in document["menu"] if k in by_key],
    }


def _render(page: Designer, nav: dict[str, Any], *, saved: bool = False, error: OpsloomError | None = None) -> Response:
    return render(
        page.ctx,
        "design_app_settings.html",
        status=error.status if error else 200,
        nav=nav,
        icons=ICONS,
        colors=COLORS,
        saved=saved,
        problem=error,
    )
