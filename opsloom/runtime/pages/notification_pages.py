"""My notifications (`/notifications`): what the approval flows told me, newest first, in my language.

Each names its request and links to where to act: the task when it is one of
mine, else the record. Reading the page changes nothing; "mark all as read"
posts to `POST /api/notifications/read` (static/js/notifications.js).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from opsloom.platform import tables
from opsloom.platform.http import DB
from opsloom.runtime.fields.formatting import datetime_text
from opsloom.runtime.pages.rendering import page_context, render, to_login
from opsloom.runtime.pages.routes import current_user

router = APIRouter(include_in_schema=False)

SHOWN = 100


@router.get("/notifications")
async def my_notifications(request: Request, db: DB) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    n, i = tables.notifications, tables.flow_instances
    query = (
        select(n, i.c.title, i.c.app_key, i.c.form_key, i.c.record_id)
        .outerjoin(i, i.c.id == n.c.instance_id)
        .where(n.c.user_id == user.user_id)
        .order_by(n.c.id.desc())
        .limit(SHOWN)
    )
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    items = [_item(ctx, row) for row in rows]
    return render(ctx, "notifications.html", items=items, unread=sum(not item["read"] for item in items))


def _item(ctx: Any, row: Any) -> dict[str, Any]:
    title = row.title or (f"#{row.record_id}" if row.record_id else "")
    if row.task_id:
        url = f"/tasks/{row.task_id}"
    elif row.record_id:
        url = f"/apps/{row.app_key}/forms/{row.form_key}/records/{row.record_id}"
    else:
        url = ""
    return {
        "text": ctx.t(key, title=title) if ctx.t.known(key := f"notification.{row.kind}", "") else row.text,
        "url": url,
        "when": datetime_text(row.created_at, ctx.t.locale, ctx.zone),
        "read": row.read_at is not None,
        "kind": row.kind,
    }
