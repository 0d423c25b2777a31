"""The app's roles on a page: a matrix of forms × actions with a row scope per cell, hidden and read-only
fields per form, members (people, everyone in a department and below, or everyone), and adding, renaming
and deleting roles.

Every change is saved through the roles service (`designer.roles`), with the checks of `/api/roles`: a
role that names an unpublished form, a field the form does not have or a bad condition is refused, and
the page says where.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import Response

from opsloom.designer import definitions, roles
from opsloom.designer.field_types_api import describe
from opsloom.designer.pages import STATIC_DIR
from opsloom.designer.pages.shell import Designer, design_nav, open_designer
from opsloom.platform import tables
from opsloom.platform.errors import FieldError, NotFound, OpsloomError, ValidationFailed
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.fields import FIELD_TYPES
from opsloom.runtime.pages.i18n import catalog
from opsloom.runtime.pages.rendering import forbidden, not_found, page_id, redirect, render, request_context
from opsloom.runtime.pages.security import CSRF_FIELD, form_token_ok

router = APIRouter(include_in_schema=False)

ACTIONS = ("create", "read", "update", "delete", "export", "import", "manage")
SCOPES = ("all", "own", "department", "department_tree")
FIELD_ACCESS = ("editable", "read_only", "hidden")
EVERY_FORM = "*"
MAX_VALUE = 20_000  # a condition's JSON
MAX_PEOPLE = 500  # people offered by the picker before one types
# The condition builder (static/js/condition_builder.js), mounted in each condition cell with the form's fields,
# the field-type registry (each field offers its type's operators and value widget; a formula, those of what it
# produces) and the page's messages; without it a cell's condition is kept and shown as text.
CONDITION_BUILDER = "js/condition_builder.js"
CONDITION_BUILDER_URL = f"/static/design/{CONDITION_BUILDER}"
BUILDER_MESSAGES = "cb."  # the condition builder's messages, in the page's language


@dataclass(frozen=True)
class GrantCell:
    """One cell of the matrix: which rows an action reaches (`''`: none), or its condition."""

    action: str
    scope: str
    condition: Any = None

    @property
    def condition_json(self) -> str:
        return json.dumps(self.condition, ensure_ascii=False) if self.condition is not None else ""

    @property
    def condition_text(self) -> str:
        return describe_condition(self.condition) if self.condition is not None else ""


OPERATOR_SIGNS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}


def describe_condition(condition: Any) -> str:
    """A condition as a line of read-only text (`amount > 100000 and dept in sales`), until the
    condition builder shows it as controls."""
    if not isinstance(condition, dict):
        return json.dumps(condition, ensure_ascii=False)
    for joiner in ("and", "or"):
        if isinstance(condition.get(joiner), list):
            parts = [describe_condition(c) for c in condition[joiner]]
            return f" {joiner} ".join(f"({p})" if " and " in p or " or " in p else p for p in parts)
    if "not" in condition:
        return f"not ({describe_condition(condition['not'])})"
    op = str(condition.get("op", ""))
    value = condition.get("value")
    if isinstance(value, dict) and "var" in value:
        shown = str(value["var"])
    elif isinstance(value, list):
        shown = ", ".join(map(str, value))
    else:
        shown = "" if value is None else str(value)
    return " ".join(
        p for p in (str(condition.get("field", "")), OPERATOR_SIGNS.get(op, op.replace("_", " ")), shown) if p
    )


def _cells(grant: dict[str, Any]) -> list[GrantCell]:
    out = []
    for action in ACTIONS:
        spec = grant.get(action)
        if spec is True:
            out.append(GrantCell(action, "all"))
        elif isinstance(spec, dict) and "condition" in spec:
            out.append(GrantCell(action, "condition", spec["condition"]))
        elif spec in SCOPES:
            out.append(GrantCell(action, str(spec)))
        else:
            out.append(GrantCell(action, ""))
    return out


def role_from_form(role: dict[str, Any], posted: FormData, forms: list[dict[str, Any]]) -> dict[str, Any]:
    """The role document the matrix describes (cells `scope:<form>:<action>`, conditions
    `condition:<form>:<action>`, fields `field:<form>:<key>`), keeping what the page does not show."""
    errors: list[FieldError] = []
    permissions: dict[str, Any] = {}
    for form_key in [EVERY_FORM, *(f["key"] for f in forms)]:
        grant: dict[str, Any] = {}
        for action in ACTIONS:
            scope = str(posted.get(f"scope:{form_key}:{action}", ""))
            if scope in SCOPES:
                grant[action] = scope
            elif scope == "condition":
                text = str(posted.get(f"condition:{form_key}:{action}", ""))[:MAX_VALUE]
                try:
                    condition = json.loads(text)
                except ValueError:
                    condition = None
                if not isinstance(condition, dict):
                    errors.append(FieldError(f"permissions.{form_key}.{action}.condition", "is not a condition"))
                    continue
                grant[action] = {"condition": condition}
        fields = {}
        for name, value in posted.multi_items():
            prefix = f"field:{form_key}:"
            if name.startswith(prefix) and value in ("read_only", "hidden"):
                fields[name.removeprefix(prefix)] = value
        if fields:
            grant["fields"] = fields
        if grant:
            permissions[form_key] = grant
    if errors:
        raise ValidationFailed("The role is not valid", errors)
    label = _label(posted) or role.get("label") or role["key"]
    shown = ("id", "app", "members", "departments", "everyone", "permissions", "label")
    document = {k: v for k, v in role.items() if k not in shown}
    return {**document, "label": label, "app_admin": posted.get("app_admin") == "on", "permissions": permissions}


def _label(posted: FormData) -> dict[str, str] | str:
    both = {
        code: str(posted.get(f"label_{suffix}", "")).strip()[:200] for code, suffix in (("zh-CN", "zh"), ("en", "en"))
    }
    given = {code: text for code, text in both.items() if text}
    return next(iter(given.values())) if len(given) == 1 else given


# ------------------------------------------------------------------ pages


@router.get("/design/apps/{app}/permissions")
async def permissions_page(app: str, request: Request) -> Response:
    return await _page(request, app, request.query_params.get("role"))


async def _page(
    request: Request,
    app: str,
    chosen: str | None,
    *,
    error: OpsloomError | None = None,
    entered: FormData | None = None,
) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    async with request.app.state.db.session() as session:
        nav = await design_nav(session, app)
        all_roles = await roles.list_roles(session, app)
        forms = await _published_forms(session, app)
        people = await _people(session)
        departments = await _departments(session)
    role = next((r for r in all_roles if r["key"] == chosen), all_roles[0] if all_roles and not chosen else None)
    if chosen and role is None:
        return not_found(page.ctx)
    names = {p["id"]: p for p in people}
    matrix = []
    if role is not None:
        grants = role.get("permissions") or {}
        every = {"key": EVERY_FORM, "label": page.ctx.t("perm.every_form"), "fields": []}
        for f in [every, *forms]:
            grant = grants.get(f["key"]) or {}
            matrix.append({"form": f, "cells": _cells(grant), "fields": grant.get("fields") or {}})
    status = error.status if error is not None else 200
    return render(
        page.ctx,
        "design_permissions.html",
        status=status,
        nav=nav,
        roles=all_roles,
        role=role,
        matrix=matrix,
        builder={
            "forms": {f["key"]: f["fields"] for f in forms},
            "field_types": [describe(unit) for unit in FIELD_TYPES.values()],
            "locale": page.ctx.t.locale,
            "messages": {k: v for k, v in catalog(page.ctx.t.locale).items() if k.startswith(BUILDER_MESSAGES)},
        },
        condition_builder=CONDITION_BUILDER_URL if (STATIC_DIR / CONDITION_BUILDER).is_file() else None,
        actions=ACTIONS,
        scopes=SCOPES,
        members=[
            names.get(uid, {"id": uid, "name": f"#{uid}", "email": ""}) for uid in (role or {}).get("members", [])
        ],
        member_departments=[d for d in departments if d["id"] in set((role or {}).get("departments", []))],
        people=people[:MAX_PEOPLE],
        departments=departments,
        drafts=[page.ctx.t.label(f["label"]) for f in nav["forms"] if f["published_version"] is None],
        problem=error,
        saved=request.query_params.get("saved"),
        entered=entered or {},
    )


@router.post("/design/apps/{app}/permissions/roles")
async def create_role(app: str, request: Request, forms: Forms) -> Response:
    page, posted = await _posted(request, app)
    if not isinstance(page, Designer):
        return page
    key = str(posted.get("key", "")).strip()[:63]
    document = {"key": key, "label": _label(posted) or key, "permissions": {}}
    try:
        async with request.app.state.db.session(write=True) as session:
            if any(r["key"] == key for r in await roles.list_roles(session, app)):
                raise ValidationFailed.of([FieldError("key", page.ctx.t("perm.role_exists", name=key))])
            await roles.save_role(session, request_context(request, page.user), forms, app, document)
    except OpsloomError as error:
        return await _page(request, app, None, error=error, entered=posted)
    return redirect(f"/design/apps/{app}/permissions?role={key}&saved=created")


@router.post("/design/apps/{app}/permissions/roles/{role}")
async def save_role(app: str, role: str, request: Request, forms: Forms) -> Response:
    page, posted = await _posted(request, app)
    if not isinstance(page, Designer):
        return page
    try:
        async with request.app.state.db.session(write=True) as session:
            current = await roles.role_view(session, await roles.find_role(session, app, role))
            published = await _published_forms(session, app)
            document = role_from_form(current, posted, published)
            await roles.save_role(session, request_context(request, page.user), forms, app, document)
    except NotFound:
        return not_found(page.ctx)
    except OpsloomError as error:
        return await _page(request, app, role, error=error)
    return redirect(f"/design/apps/{app}/permissions?role={role}&saved=saved")


@router.post("/design/apps/{app}/permissions/roles/{role}/members")
async def change_members(app: str, role: str, request: Request) -> Response:
    """Add a person (by e-mail, as the picker offers them) or a department (everyone in it and below, as they
    are at each request), switch 'everyone' on or off, or remove the people and departments ticked."""
    page, posted = await _posted(request, app)
    if not isinstance(page, Designer):
        return page
    department = page_id(str(posted.get("add_department", "")))
    change = roles.MemberChange(
        remove=_ids(posted.getlist("remove")),
        add_departments=(department,) if department is not None else (),
        remove_departments=_ids(posted.getlist("remove_department")),
        everyone=posted.get("everyone") == "on" if posted.get("everyone_shown") == "1" else None,
    )
    try:
        async with request.app.state.db.session(write=True) as session:
            add = await _person_to_add(session, page, posted)
            await roles.set_members(session, request_context(request, page.user), app, role, replace(change, add=add))
    except NotFound:
        return not_found(page.ctx)
    except OpsloomError as error:
        return await _page(request, app, role, error=error)
    return redirect(f"/design/apps/{app}/permissions?role={role}&saved=members#members")


def _ids(values: list[Any]) -> tuple[int, ...]:
    return tuple(i for v in values if isinstance(v, str) and (i := page_id(v)) is not None)


@router.post("/design/apps/{app}/permissions/roles/{role}/delete")
async def delete_role(app: str, role: str, request: Request) -> Response:
    page, posted = await _posted(request, app)
    if not isinstance(page, Designer):
        return page
    try:
        async with request.app.state.db.session(write=True) as session:
            await roles.delete_role(session, request_context(request, page.user), app, role)
    except NotFound:
        return not_found(page.ctx)
    return redirect(f"/design/apps/{app}/permissions?saved=deleted")


async def _posted(request: Request, app: str) -> tuple[Designer | Response, FormData]:
    page = await open_designer(request, app)
    posted = await request.form()
    if isinstance(page, Designer) and not form_token_ok(request, str(posted.get(CSRF_FIELD, "")), page.user):
        return forbidden(page.ctx), posted
    return page, posted


async def _person_to_add(session: AsyncSession, page: Designer, posted: FormData) -> tuple[int, ...]:
    person = str(posted.get("add_person", "")).strip()[:320]
    if not person:
        return ()
    email = person.rsplit("<", 1)[-1].rstrip(">").strip().lower()
    u = tables.users
    found = (await session.execute(select(u.c.id).where(u.c.email == email))).scalar_one_or_none()
    if found is None:
        raise ValidationFailed.of([FieldError("add_person", page.ctx.t("perm.no_such_person", who=person))])
    return (int(found),)


async def _published_forms(session: AsyncSession, app: str) -> list[dict[str, Any]]:
    """The app's published forms in menu order, each with its fields (subforms' rows aside)."""
    nav = await design_nav(session, app)
    out = []
    for item in nav["forms"]:
        if item["published_version"] is None:
            continue
        found = await definitions.load_definition(session, app, "form", item["key"])
        document = await definitions.published_document(session, found, item["published_version"])
        out.append({"key": item["key"], "label": document.get("label") or item["key"], "fields": document["fields"]})
    return out


async def _people(session: AsyncSession) -> list[dict[str, Any]]:
    u = tables.users
    rows = await session.execute(select(u.c.id, u.c.name, u.c.email).order_by(u.c.name, u.c.id))
    return [{"id": r.id, "name": r.name or r.email, "email": r.email} for r in rows]


async def _departments(session: AsyncSession) -> list[dict[str, Any]]:
    """Departments as a tree, flattened in order, each with its depth (for the picker's indentation)."""
    d = tables.departments
    rows = (await session.execute(select(d.c.id, d.c.name, d.c.parent_id).order_by(d.c.name, d.c.id))).all()
    children: dict[int | None, list[Any]] = {}
    for r in rows:
        children.setdefault(r.parent_id, []).append(r)
    out: list[dict[str, Any]] = []

    def walk(parent: int | None, depth: int) -> None:
        for r in children.get(parent, []):
            out.append({"id": r.id, "name": r.name, "depth": depth})
            walk(r.id, depth + 1)

    walk(None, 0)
    return out
