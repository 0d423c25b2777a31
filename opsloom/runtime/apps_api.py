"""Installed apps and their published forms, as the runtime serves them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from opsloom.platform import tables
from opsloom.platform.http import authenticated, principal_of
from opsloom.platform.permissions import form_access, visible_apps
from opsloom.runtime.forms import published_forms

router = APIRouter(prefix="/api/apps", tags=["apps"], dependencies=[Depends(authenticated)])


@router.get("", summary="Installed apps")
async def list_apps(request: Request) -> dict[str, Any]:
    async with request.app.state.db.session() as session:
        principal = principal_of(request)
        allowed = await visible_apps(session, principal)
        rows = await session.execute(select(tables.apps.c.document).order_by(tables.apps.c.key))
        items = []
        for (document,) in rows.all():
            if allowed is not None and document["key"] not in allowed:
                continue
            forms = []
            for key, form in await published_forms(session, document["key"]):
                access = await form_access(session, principal, document["key"], key)
                if access.can("read") or access.can("create"):
                    forms.append((key, form))
            items.append(
                {
                    "key": document["key"],
                    "label": document["label"],
                    "description": document.get("description"),
                    "forms": [{"key": k, "label": f["label"]} for k, f in forms],
                }
            )
    return {"items": items}
