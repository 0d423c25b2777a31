"""Organisation over HTTP: users and departments. Everyone may look people up; admins change them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import or_, select

from opsloom.platform import org, tables
from opsloom.platform.api_document import MAX_ID, json_body
from opsloom.platform.errors import NotFound, PermissionDenied
from opsloom.platform.http import DB, authenticated, context_of, read_json

router = APIRouter(tags=["organisation"], dependencies=[Depends(authenticated)])
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
AN_ID = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}
USER = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "maxLength": 254},
        "name": {"type": "string", "minLength": 1},
        "password": {"type": "string"},
        "phone": {"type": ["string", "null"]},
        "employee_no": {"type": ["string", "null"], "maxLength": 32},
        "locale": {"type": ["string", "null"]},
        "active": {"type": "boolean"},
        "is_admin": {"type": "boolean"},
        "department_id": AN_ID,
        "manager_id": AN_ID,
    },
}
USER_CREATE = {**USER, "required": ["email", "name"]}
DEPARTMENT = {
    "type": "object",
    "properties": {"name": {"type": "string", "minLength": 1}, "parent_id": AN_ID, "head_id": AN_ID},
}


def require_admin(request: Request) -> None:
    principal = request.state.principal
    if not principal.is_admin or not principal.can_write:
        raise PermissionDenied("Only platform admins may change users and departments")


@router.get("/api/users", summary="Users (search by name or e-mail)")
async def list_users(
    request: Request,
    db: DB,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    u = tables.users
    query = select(u).order_by(u.c.name, u.c.id).limit(limit)
    if q:
        query = query.where(or_(u.c.name.contains(q, autoescape=True), u.c.email.contains(q.lower(), autoescape=True)))
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    admin = request.state.principal.is_admin
    return {"items": [org.user_view(r) if admin else _public_user(r) for r in rows]}


def _public_user(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "email": row.email, "department_id": row.department_id}


@router.post("/api/users", status_code=201, summary="Create a user (admins)", openapi_extra=json_body(USER_CREATE))
async def create_user(request: Request, db: DB) -> dict[str, Any]:
    require_admin(request)
    data = await read_json(request)
    async with db.session(write=True) as session:
        return await org.create_user(session, context_of(request), data if isinstance(data, dict) else {})


@router.get("/api/users/{user_id}", summary="One user")
async def get_user(user_id: Id, request: Request, db: DB) -> dict[str, Any]:
    u = tables.users
    async with db.session() as session:
        row = (await session.execute(select(u).where(u.c.id == user_id))).first()
    if row is None:
        raise NotFound(f"There is no user {user_id}")
    return org.user_view(row) if request.state.principal.is_admin else _public_user(row)


@router.patch("/api/users/{user_id}", summary="Change a user (admins)", openapi_extra=json_body(USER))
async def patch_user(user_id: Id, request: Request, db: DB) -> dict[str, Any]:
    require_admin(request)
    data = await read_json(request)
    async with db.session(write=True) as session:
        return await org.update_user(session, context_of(request), user_id, data if isinstance(data, dict) else {})


@router.get("/api/departments", summary="Departments (a tree: parent_id, head_id)")
async def list_departments(request: Request, db: DB) -> dict[str, Any]:
    d = tables.departments
    async with db.session() as session:
        rows = (await session.execute(select(d).order_by(d.c.id))).all()
    return {"items": [org.department_view(r) for r in rows]}


@router.post(
    "/api/departments",
    status_code=201,
    summary="Create a department (admins)",
    openapi_extra=json_body({**DEPARTMENT, "required": ["name"]}),
)
async def create_department(request: Request, db: DB) -> dict[str, Any]:
    require_admin(request)
    data = await read_json(request)
    async with db.session(write=True) as session:
        return await org.create_department(session, context_of(request), data if isinstance(data, dict) else {})


@router.patch(
    "/api/departments/{department_id}", summary="Change a department (admins)", openapi_extra=json_body(DEPARTMENT)
)
async def patch_department(department_id: Id, request: Request, db: DB) -> dict[str, Any]:
    require_admin(request)
    data = await read_json(request)
    async with db.session(write=True) as session:
        return await org.update_department(
            session, context_of(request), department_id, data if isinstance(data, dict) else {}
        )
