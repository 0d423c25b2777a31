"""The administration's front page: what there is to look after, with counts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from starlette.responses import Response

from opsloom.admin.pages.shell import Admin, admin_nav, count_of, open_admin
from opsloom.platform import tables
from opsloom.runtime.pages.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/admin")
async def admin_home(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    u, d, t = tables.users, tables.departments, tables.api_tokens
    async with request.app.state.db.session() as session:
        counts = {
            "people": await count_of(session, select(func.count()).select_from(u).where(u.c.active.is_(True))),
            "departments": await count_of(session, select(func.count()).select_from(d)),
            "roles": await count_of(session, select(func.count()).select_from(tables.roles)),
            "tokens": await count_of(session, select(func.count()).select_from(t).where(t.c.revoked_at.is_(None))),
        }
    return render(admin.ctx, "admin_home.html", nav=admin_nav("home"), counts=counts)
