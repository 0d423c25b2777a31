"""Installed apps and their published forms, as the runtime serves them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from opsloom.platform import tables
from opsloom.runtime.forms import published_forms

router = APIRouter(prefix="/api/apps", tags=["apps"])


@router.get("", summary="Installed apps")
async def list_apps(request: Request) -> dict[str, Any]:
    async with request.app.state.db.session() as session:
        rows = await session.execute(select(tables.apps.c.document).order_by(tables.apps.c.key))
        items = []
        for (document,) in rows:
            forms = await published_forms(session, document["key"])
            items.append(
                {
                    "key": document["key"],
                    "label": document["label"],
                    "description": document.get("description"),
                    "forms": [{"key": k, "label": f["label"]} for k, f in forms],
                }
            )
    return {"items": items}
