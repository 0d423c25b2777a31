"""What every designer page needs: who is designing which app, and the designer's side navigation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from opsloom.designer import definitions
from opsloom.platform import tables
from opsloom.platform.context import Principal
from opsloom.platform.permissions import is_app_admin
from opsloom.runtime.pages.rendering import PageContext, not_found, page_context, to_login
from opsloom.runtime.pages.routes import current_user


@dataclass(frozen=True)
class Designer:
    """A page's designer: logged in, and allowed to change the app's design (its `manage` right or platform admin)."""

    ctx: PageContext
    user: Principal

    @property
    def may_create_apps(self) -> bool:
        return self.user.is_admin and self.user.can_write


async def open_designer(request: Request, app: str | None = None) -> Designer | Response:
    """The designer behind the request, or the response that sends a visitor away (login, or a 404 that does
    not tell an outsider whether the app exists)."""
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    if app is None:
        return Designer(ctx, user)
    async with request.app.state.db.session() as session:
        allowed = await definitions.app_exists(session, app) and await is_app_admin(session, user, app)
    if not allowed or not user.can_write:
        return not_found(ctx)
    return Designer(ctx, user)


async def designable_apps(session: AsyncSession, user: Principal) -> list[dict[str, Any]]:
    """Every app the user may design, with its document, by label order of keys."""
    rows = await session.execute(select(tables.apps.c.key, tables.apps.c.document).order_by(tables.apps.c.key))
    return [_app_view(row.document) for row in rows if await is_app_admin(session, user, row.key)]


def _app_view(document: dict[str, Any]) -> dict[str, Any]:
    """An app document with its optional parts present, as templates read them."""
    return {"icon": None, "color": None, "description": None, "menu": [], **document}


async def design_nav(session: AsyncSession, app: str) -> dict[str, Any]:
    """The app's document and its definitions by kind, each with its state (draft only, published, changed),
    forms in the app menu's order. Designer pages pass it to `design_base.html` as `nav`."""
    document = _app_view(await definitions.load_app(session, app))
    d = tables.definitions
    rows = await session.execute(
        select(d.c.kind, d.c.key, d.c.draft, d.c.draft_revision, d.c.published_version)
        .where(d.c.app_key == app)
        .order_by(d.c.key)
    )
    kinds: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        draft = row.draft or {}
        kinds.setdefault(row.kind, []).append(
            {
                "key": row.key,
                "label": draft.get("label") or row.key,
                "published_version": row.published_version,
                "draft_revision": row.draft_revision,
            }
        )
    menu = document["menu"]
    forms = sorted(kinds.get("form", []), key=lambda f: menu.index(f["key"]) if f["key"] in menu else len(menu))
    return {**document, "forms": forms, "flows": kinds.get("flow", []), "kinds": kinds}
