"""People: the list (search, filters), a person's page (roles, departments, manager, open tasks and
the approval chain they would get), creating and editing. Deactivating is in `accounts.py`.

Every change goes through the organisation service (`platform/org.py`), which validates and audits it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from opsloom.admin.pages.shell import (
    Admin,
    admin_nav,
    count_of,
    department_choices,
    field_errors,
    form_id,
    open_admin,
    people_choices,
    posted_form,
)
from opsloom.platform import org, tables
from opsloom.platform.errors import OpsloomError
from opsloom.platform.locales import LOCALES
from opsloom.runtime.flow.handover import open_tasks_of
from opsloom.runtime.pages.rendering import not_found, page_id, redirect, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
FORM_FIELDS = ("name", "email", "employee_no", "phone", "department_id", "manager_id", "locale", "password")


# ------------------------------------------------------------------ the list


@router.get("/admin/people")
async def people(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    params = request.query_params
    q = params.get("q", "").strip()[:100]
    department, role = form_id(params.get("department")), form_id(params.get("role"))
    active = params.get("active", "yes") if params.get("active") in ("yes", "no", "all") else "yes"
    page = max(1, min(int(params["page"]) if params.get("page", "").isdigit() else 1, 10_000))
    u, m = tables.users, tables.role_members
    where: list[Any] = []
    if q:
        where.append(
            or_(
                u.c.name.contains(q, autoescape=True),
                u.c.email.contains(q.lower(), autoescape=True),
                u.c.employee_no.contains(q, autoescape=True),
            )
        )
    if department:
        where.append(u.c.department_id == department)
    if role:
        where.append(u.c.id.in_(select(m.c.user_id).where(m.c.role_id == role)))
    if active != "all":
        where.append(u.c.active.is_(active == "yes"))
    async with request.app.state.db.session() as session:
        total = await count_of(session, select(func.count()).select_from(u).where(*where))
        rows = (
            await session.execute(
                select(u).where(*where).order_by(u.c.name, u.c.id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
            )
        ).all()
        departments = await department_choices(session)
        roles = await _role_choices(session)
        names = await _names(session, {r.manager_id for r in rows if r.manager_id})
    by_id = {d["id"]: d for d in departments}
    filters = {"q": q, "department": department, "role": role, "active": active}

    def page_link(number: int) -> str:
        shown = {k: v for k, v in filters.items() if v not in (None, "")} | {"page": number}
        return "/admin/people?" + urlencode(shown)

    return render(
        admin.ctx,
        "admin_people.html",
        nav=admin_nav("people"),
        people=[
            {**org.user_view(r), "department": by_id.get(r.department_id), "manager": names.get(r.manager_id)}
            for r in rows
        ],
        total=total,
        filters=filters,
        departments=departments,
        roles=roles,
        previous=page_link(page - 1) if page > 1 else None,
        next=page_link(page + 1) if page * PAGE_SIZE < total else None,
        page=page,
    )


async def _role_choices(session: AsyncSession) -> list[dict[str, Any]]:
    r, a = tables.roles, tables.apps
    rows = await session.execute(
        select(r.c.id, r.c.key, r.c.document, a.c.document.label("app"))
        .join(a, a.c.key == r.c.app_key)
        .order_by(r.c.app_key, r.c.key)
    )
    return [
        {"id": row.id, "key": row.key, "label": row.document.get("label") or row.key, "app": row.app.get("label")}
        for row in rows
    ]


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    u = tables.users
    rows = await session.execute(select(u.c.id, u.c.name, u.c.email, u.c.active).where(u.c.id.in_(sorted(ids))))
    return {row.id: dict(row._mapping) for row in rows}


# ------------------------------------------------------------------ one person


async def find_person(session: AsyncSession, user_id: int) -> dict[str, Any] | None:
    u = tables.users
    row = (await session.execute(select(u).where(u.c.id == user_id))).first()
    return None if row is None else org.user_view(row)


async def person_page_response(
    admin: Admin, session: AsyncSession, person: dict[str, Any], status: int = 200, **values: Any
) -> Response:
    r, m, a = tables.roles, tables.role_members, tables.apps
    roles = await session.execute(
        select(r.c.app_key, r.c.key, r.c.document, a.c.document.label("app"))
        .join(m, m.c.role_id == r.c.id)
        .join(a, a.c.key == r.c.app_key)
        .where(m.c.user_id == person["id"])
        .order_by(r.c.app_key, r.c.key)
    )
    chain = await org.manager_chain(session, person["id"])
    names = await _names(session, {*chain, *([person["manager_id"]] if person["manager_id"] else [])})
    departments = {d["id"]: d for d in await department_choices(session)}
    d = tables.departments
    headed = (
        await session.execute(select(d.c.id, d.c.name).where(d.c.head_id == person["id"]).order_by(d.c.name))
    ).all()
    apps = dict((await session.execute(select(a.c.key, a.c.document))).all())
    zone = admin.ctx.zone
    tasks = [
        {
            **task,
            "app_label": (apps.get(task["app"]) or {}).get("label") or task["app"],
            "since": datetime.fromisoformat(task["created_at"].replace("Z", "+00:00")).astimezone(zone),
        }
        for task in await open_tasks_of(session, person["id"])
    ]
    receivers = [p for p in await people_choices(session) if p["id"] != person["id"]]
    return render(
        admin.ctx,
        "admin_person.html",
        status=status,
        nav=admin_nav("people"),
        person=person,
        department=departments.get(person["department_id"]),
        manager=names.get(person["manager_id"]),
        explicit_manager=person["manager_id"] is not None,
        chain=[names[i] for i in chain],
        roles=[
            {
                "app": row.app.get("label") or row.app_key,
                "app_key": row.app_key,
                "label": row.document.get("label") or row.key,
            }
            for row in roles
        ],
        headed=[dict(row._mapping) for row in headed],
        tasks=tasks,
        receivers=receivers,
        errors=values.pop("errors", {}),
        notice=admin.request.query_params.get("notice", ""),
        notice_count=int(count) if (count := admin.request.query_params.get("count", "")).isdigit() else 0,
        **values,
    )


@router.get("/admin/people/new")
async def newfind_person(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    async with request.app.state.db.session() as session:
        return await _form_page(admin, session, None, {}, {})


async def _form_page(
    admin: Admin, session: AsyncSession, person: dict[str, Any] | None, entered: dict[str, Any], errors: dict[str, str]
) -> Response:
    shown = {k: "" if v is None else v for k, v in (person or {}).items()} | entered
    managers = [p for p in await people_choices(session) if person is None or p["id"] != person["id"]]
    return render(
        admin.ctx,
        "admin_person_form.html",
        status=400 if errors else 200,
        nav=admin_nav("people"),
        person=person,
        entered=shown,
        errors=errors,
        departments=await department_choices(session),
        managers=managers,
        languages=LOCALES,
    )


def _user_data(form: dict[str, str], *, creating: bool) -> dict[str, Any]:
    """The organisation service's input from the person form (empty optional texts are none)."""
    data: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "email": form.get("email", "").strip(),
        "employee_no": form.get("employee_no", "").strip() or None,
        "phone": form.get("phone", "").strip() or None,
        "department_id": form_id(form.get("department_id")),
        "manager_id": form_id(form.get("manager_id")),
        "locale": form.get("locale") if form.get("locale") in LOCALES else None,
        "is_admin": form.get("is_admin") == "on",
    }
    if creating:
        data["password"] = form.get("password") or None
    return data


@router.post("/admin/people")
async def createfind_person(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    data = _user_data(form, creating=True)
    async with request.app.state.db.session(write=True) as session:
        try:
            created = await org.create_user(session, admin.services_context(), data)
        except OpsloomError as error:
            entered = {k: form.get(k, "") for k in FORM_FIELDS if k != "password"} | {"is_admin": data["is_admin"]}
            return await _form_page(admin, session, None, entered, field_errors(admin.ctx.t, error))
    return redirect(f"/admin/people/{created['id']}?notice=created")


@router.get("/admin/people/{user_id}")
async def person_page(user_id: str, request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    found = page_id(user_id)
    async with request.app.state.db.session() as session:
        person = await find_person(session, found) if found else None
        if person is None:
            return not_found(admin.ctx)
        return await person_page_response(admin, session, person)


@router.get("/admin/people/{user_id}/edit")
async def editfind_person(user_id: str, request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    found = page_id(user_id)
    async with request.app.state.db.session() as session:
        person = await find_person(session, found) if found else None
        if person is None:
            return not_found(admin.ctx)
        return await _form_page(admin, session, person, {}, {})


@router.post("/admin/people/{user_id}")
async def updatefind_person(user_id: str, request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    found = page_id(user_id)
    data = _user_data(form, creating=False)
    if found == admin.user.user_id and not data["is_admin"]:
        data["is_admin"] = True  # an admin cannot take their own power away here (nobody might be left)
    async with request.app.state.db.session(write=True) as session:
        person = await find_person(session, found) if found else None
        if person is None:
            return not_found(admin.ctx)
        try:
            await org.update_user(session, admin.services_context(), person["id"], data)
        except OpsloomError as error:
            entered = {k: form.get(k, "") for k in FORM_FIELDS if k != "password"} | {"is_admin": data["is_admin"]}
            return await _form_page(admin, session, person, entered, field_errors(admin.ctx.t, error))
    return redirect(f"/admin/people/{person['id']}?notice=saved")
