"""Installed apps and their published forms, as the runtime serves them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import Principal
from opsloom.platform.errors import NotFound
from opsloom.platform.http import DB, authenticated, principal_of
from opsloom.platform.permissions import form_access, visible_apps
from opsloom.runtime.access import reader_access
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.flow.instances import flow_for_form
from opsloom.runtime.forms import published_forms
from opsloom.runtime.openapi_paths import FormView, app_document

router = APIRouter(prefix="/api/apps", tags=["apps"], dependencies=[Depends(authenticated)])


@router.get("", summary="Installed apps")
async def list_apps(request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        return {"items": await app_summaries(session, principal_of(request))}


async def app_summaries(session: AsyncSession, principal: Principal, only: str | None = None) -> list[dict[str, Any]]:
    """The apps the principal may use (or just the app `only`), each with its icon and colour and the forms
    they may read or create in, in the order of the app's menu."""
    allowed = await visible_apps(session, principal)
    query = select(tables.apps.c.document).order_by(tables.apps.c.key)
    if only is not None:
        query = query.where(tables.apps.c.key == only)
    rows = await session.execute(query)
    items = []
    for (document,) in rows.all():
        if allowed is not None and document["key"] not in allowed:
            continue
        forms = []
        for key, form in await published_forms(session, document["key"]):
            access = await form_access(session, principal, document["key"], key)
            if access.can("read") or access.can("create"):
                forms.append((key, form, access.can("create")))
        items.append(
            {
                "key": document["key"],
                "label": document["label"],
                "description": document.get("description"),
                "icon": document.get("icon"),
                "color": document.get("color"),
                "forms": menu_order(
                    [{"key": k, "label": f["label"], "can_create": creates} for k, f, creates in forms], document
                ),
            }
        )
    return items


def menu_order(forms: list[dict[str, Any]], document: dict[str, Any]) -> list[dict[str, Any]]:
    """The forms in the order of the app's menu; forms the menu does not name come after, as listed."""
    menu = {key: position for position, key in enumerate(document.get("menu") or [])}
    return sorted(forms, key=lambda f: menu.get(f["key"], len(menu)))


@router.get("/{app}/openapi.json", summary="The app's OpenAPI 3.1 document, from its forms as you may see them")
async def app_openapi(app: str, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    async with db.session() as session:
        principal = principal_of(request)
        allowed = await visible_apps(session, principal)
        document = (
            await session.execute(select(tables.apps.c.document).where(tables.apps.c.key == app))
        ).scalar_one_or_none()
        if document is None or (allowed is not None and app not in allowed):
            raise NotFound(f"There is no app '{app}'")
        views = []
        for key, _ in await published_forms(session, app):
            access = await form_access(session, principal, app, key)
            if not access.can("read"):
                continue  # a form the caller cannot read is not part of their API
            compiled = await forms.get(session, app, key, with_related=False)
            access = await reader_access(session, principal, compiled)  # rollups over forms they cannot read
            has_flow = await flow_for_form(session, app, key) is not None
            views.append(FormView(compiled.restricted(access.hidden), access.read_only, has_flow, access.can("import")))
    return app_document(document, views)
