"""Access: every API token (owner, scope, last use; revoke) and every app's roles with their members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from opsloom.admin.pages.shell import Admin, admin_nav, open_admin, posted_form
from opsloom.platform import auth, tables
from opsloom.runtime.pages.rendering import not_found, page_id, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/admin/tokens")
async def tokens(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    show = request.query_params.get("show", "active")
    t, u = tables.api_tokens, tables.users
    query = (
        select(t, u.c.name.label("owner_name"), u.c.email.label("owner_email"), u.c.active.label("owner_active"))
        .join(u, u.c.id == t.c.user_id)
        .order_by(t.c.revoked_at.is_not(None), t.c.id.desc())
    )
    if show != "all":
        query = query.where(t.c.revoked_at.is_(None))
    async with request.app.state.db.session() as session:
        rows = (await session.execute(query)).all()
    items = [
        {
            **auth.token_view(row),
            "raw": {
                "created_at": row.created_at,
                "last_used_at": row.last_used_at,
                "expires_at": row.expires_at,
                "revoked_at": row.revoked_at,
            },
            "owner": {"id": row.user_id, "name": row.owner_name, "email": row.owner_email, "active": row.owner_active},
        }
        for row in rows
    ]
    return render(
        admin.ctx,
        "admin_tokens.html",
        nav=admin_nav("tokens"),
        tokens=items,
        show=show,
        zone=admin.ctx.zone,
        now=admin.services_context().now,
        notice=request.query_params.get("notice", ""),
    )


@router.post("/admin/tokens/{token_id}/revoke")
async def revoke(token_id: str, request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    found = page_id(token_id)
    async with request.app.state.db.session(write=True) as session:
        done = found is not None and await auth.revoke_token(session, admin.services_context(), found, None)
    if not done:
        return not_found(admin.ctx)
    return redirect("/admin/tokens?notice=revoked")


@router.get("/admin/roles")
async def roles(request: Request) -> Response:
    """Every app's roles and their members, read-only; each app links to its permission page."""
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    a, r, m, u = tables.apps, tables.roles, tables.role_members, tables.users
    async with request.app.state.db.session() as session:
        apps = (await session.execute(select(a.c.key, a.c.document).order_by(a.c.key))).all()
        role_rows = (
            await session.execute(
                select(r.c.id, r.c.app_key, r.c.key, r.c.document, r.c.everyone).order_by(r.c.app_key, r.c.key)
            )
        ).all()
        rd, d = tables.role_departments, tables.departments
        department_rows = (
            await session.execute(
                select(rd.c.role_id, d.c.id, d.c.name).join(d, d.c.id == rd.c.department_id).order_by(d.c.name)
            )
        ).all()
        member_rows = (
            await session.execute(
                select(m.c.role_id, u.c.id, u.c.name, u.c.email, u.c.active)
                .join(u, u.c.id == m.c.user_id)
                .order_by(u.c.name)
            )
        ).all()
    members: dict[int, list[dict[str, Any]]] = {}
    for row in member_rows:
        members.setdefault(row.role_id, []).append(
            {"id": row.id, "name": row.name, "email": row.email, "active": row.active}
        )
    departments: dict[int, list[dict[str, Any]]] = {}
    for row in department_rows:
        departments.setdefault(row.role_id, []).append({"id": row.id, "name": row.name})
    by_app: dict[str, list[dict[str, Any]]] = {}
    for row in role_rows:
        by_app.setdefault(row.app_key, []).append(
            {
                "key": row.key,
                "label": row.document.get("label") or row.key,
                "app_admin": bool(row.document.get("app_admin")),
                "forms": sorted(k for k in (row.document.get("permissions") or {})),
                "members": members.get(row.id, []),
                "departments": departments.get(row.id, []),
                "everyone": bool(row.everyone),
            }
        )
    listed = [
        {"key": app.key, "label": app.document.get("label") or app.key, "roles": by_app.get(app.key, [])}
        for app in apps
    ]
    return render(admin.ctx, "admin_roles.html", nav=admin_nav("roles"), apps=listed)
