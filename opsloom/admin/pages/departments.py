"""Departments: the tree, creating one, moving one (drag and drop, or the "move under" picker that needs
no mouse), renaming it, setting its head, and its members.

Moves go through `org.update_department`, which refuses a cycle (a department under itself or one of
its own sub-departments); the page says so in words.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from opsloom.admin.pages.shell import (
    Admin,
    admin_nav,
    department_choices,
    field_errors,
    form_id,
    open_admin,
    people_choices,
    posted_form,
)
from opsloom.platform import org, tables
from opsloom.platform.errors import OpsloomError
from opsloom.runtime.pages.rendering import not_found, page_id, redirect, render

router = APIRouter(include_in_schema=False)
TOP = "top"  # the picker's value for "no parent"
CYCLE = "would put the department under itself"


async def _tree(session: AsyncSession) -> list[dict[str, Any]]:
    """Every department with its children (nested), head and number of members, by name."""
    d, u = tables.departments, tables.users
    rows = (await session.execute(select(d).order_by(d.c.name, d.c.id))).all()
    members: dict[int | None, int] = dict(
        (
            await session.execute(
                select(u.c.department_id, func.count()).where(u.c.active.is_(True)).group_by(u.c.department_id)
            )
        ).all()
    )
    heads = {p["id"]: p for p in await people_choices(session, active_only=False)}
    nodes = {
        r.id: {
            "id": r.id,
            "name": r.name,
            "parent_id": r.parent_id,
            "head": heads.get(r.head_id),
            "members": members.get(r.id, 0),
            "children": [],
        }
        for r in rows
    }
    roots: list[dict[str, Any]] = []
    for node in nodes.values():
        parent = nodes.get(node["parent_id"])
        (parent["children"] if parent else roots).append(node)
    return roots


def _below(tree: list[dict[str, Any]], department_id: int) -> set[int]:
    """The department and everything under it: the places it cannot move to."""
    found: set[int] = set()

    def walk(nodes: list[dict[str, Any]], inside: bool) -> None:
        for node in nodes:
            here = inside or node["id"] == department_id
            if here:
                found.add(node["id"])
            walk(node["children"], here)

    walk(tree, False)
    return found


async def _tree_page(admin: Admin, session: AsyncSession, status: int = 200, **values: Any) -> Response:
    tree = await _tree(session)
    choices = await department_choices(session)
    targets = {c["id"]: [o for o in choices if o["id"] not in _below(tree, c["id"])] for c in choices}
    return render(
        admin.ctx,
        "admin_departments.html",
        status=status,
        nav=admin_nav("departments"),
        tree=tree,
        choices=choices,
        targets=targets,
        people=await people_choices(session),
        errors=values.pop("errors", {}),
        entered=values.pop("entered", {}),
        notice=admin.request.query_params.get("notice", ""),
        **values,
    )


@router.get("/admin/departments")
async def departments(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    async with request.app.state.db.session() as session:
        return await _tree_page(admin, session)


@router.post("/admin/departments")
async def create_department(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    data = {
        "name": form.get("name", ""),
        "parent_id": form_id(form.get("parent_id")),
        "head_id": form_id(form.get("head_id")),
    }
    async with request.app.state.db.session(write=True) as session:
        try:
            created = await org.create_department(session, admin.services_context(), data)
        except OpsloomError as error:
            errors = (
                {"name": admin.ctx.t("admin.error.department_name")}
                if any(e.path == "name" for e in error.errors)
                else field_errors(admin.ctx.t, error)
            )
            return await _tree_page(admin, session, 400, errors=errors, entered=form)
    return redirect(f"/admin/departments?notice=created#department-{created['id']}")


@router.post("/admin/departments/{department_id}/move")
async def move_department(department_id: str, request: Request) -> Response:
    """Put a department under another (or at the top). The picker posts it; so does a drop, by script."""
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    found = page_id(department_id)
    target = form.get("parent_id", "")
    parent = None if target == TOP else form_id(target)
    async with request.app.state.db.session(write=True) as session:
        if found is None or (parent is None and target != TOP):
            return not_found(admin.ctx)
        try:
            await org.update_department(session, admin.services_context(), found, {"parent_id": parent})
        except OpsloomError as error:
            t = admin.ctx.t
            cycle = any(e.message == CYCLE for e in error.errors)
            message = t("admin.error.department_cycle") if cycle else "; ".join(field_errors(t, error).values())
            if error.status == 404:
                return not_found(admin.ctx)
            return await _tree_page(admin, session, 400, errors={"move": message, "moved": found})
    return redirect(f"/admin/departments?notice=moved#department-{found}")


@router.get("/admin/departments/{department_id}")
async def department_page(department_id: str, request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    found = page_id(department_id)
    async with request.app.state.db.session() as session:
        department = await _department(session, found) if found else None
        if department is None:
            return not_found(admin.ctx)
        return await _department_page(admin, session, department)


async def _department(session: AsyncSession, department_id: int) -> dict[str, Any] | None:
    d = tables.departments
    row = (await session.execute(select(d).where(d.c.id == department_id))).first()
    return None if row is None else org.department_view(row)


async def _department_page(
    admin: Admin, session: AsyncSession, department: dict[str, Any], status: int = 200, **values: Any
) -> Response:
    u = tables.users
    members = (
        await session.execute(
            select(u.c.id, u.c.name, u.c.email, u.c.employee_no, u.c.active)
            .where(u.c.department_id == department["id"])
            .order_by(u.c.active.desc(), u.c.name)
        )
    ).all()
    choices = await department_choices(session)
    path = next((c["path"] for c in choices if c["id"] == department["id"]), department["name"])
    d = tables.departments
    sub = (
        await session.execute(select(d.c.id, d.c.name).where(d.c.parent_id == department["id"]).order_by(d.c.name))
    ).all()
    return render(
        admin.ctx,
        "admin_department.html",
        status=status,
        nav=admin_nav("departments"),
        department=department,
        path=path,
        children=[dict(c._mapping) for c in sub],
        members=[dict(m._mapping) for m in members],
        people=await people_choices(session),
        errors=values.pop("errors", {}),
        notice=admin.request.query_params.get("notice", ""),
        **values,
    )


@router.post("/admin/departments/{department_id}")
async def update_department(department_id: str, request: Request) -> Response:
    """Rename a department and set (or clear) its head."""
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    found = page_id(department_id)
    async with request.app.state.db.session(write=True) as session:
        department = await _department(session, found) if found else None
        if department is None:
            return not_found(admin.ctx)
        data = {"name": form.get("name", ""), "head_id": form_id(form.get("head_id"))}
        try:
            await org.update_department(session, admin.services_context(), department["id"], data)
        except OpsloomError:
            errors = {"name": admin.ctx.t("admin.error.department_name")}
            return await _department_page(
                admin, session, department | {"name": form.get("name", "")}, 400, errors=errors
            )
    return redirect(f"/admin/departments/{department['id']}?notice=saved")
