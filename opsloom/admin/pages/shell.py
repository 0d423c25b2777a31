"""What every administration page needs: an admin behind the request, its form, and the people to pick from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from opsloom.platform import tables
from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.errors import OpsloomError
from opsloom.platform.site_settings import CHARACTER_CLASSES, CLASS_WORDS
from opsloom.runtime.pages.i18n import Translator
from opsloom.runtime.pages.rendering import PageContext, forbidden, not_found, page_context, request_context, to_login
from opsloom.runtime.pages.routes import current_user
from opsloom.runtime.pages.security import CSRF_FIELD, form_token_ok

MAX_FIELD = 256
SECTIONS = ("people", "departments", "roles", "tokens", "audit", "status", "settings")  # the side navigation, in order


@dataclass(frozen=True)
class Admin:
    """A page's administrator: logged in with a session, and a platform admin."""

    ctx: PageContext
    user: Principal
    request: Request

    def services_context(self) -> RequestContext:
        return request_context(self.request, self.user)


async def open_admin(request: Request) -> Admin | Response:
    """The admin behind the request, or the response that sends anyone else away: the login page for a
    visitor, the 404 page for a person who is not a platform admin (the pages do not admit they exist)."""
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    if not user.is_admin or not user.can_write:
        return not_found(ctx)
    return Admin(ctx, user, request)


async def posted_form(request: Request, admin: Admin) -> dict[str, str] | Response:
    """The posted form's text fields (each cut to a sane length), or the 403 page when its CSRF token is wrong."""
    form = await request.form()
    values = {k: v[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)}
    if not form_token_ok(request, values.get(CSRF_FIELD), admin.user):
        return forbidden(admin.ctx)
    return values


def admin_nav(section: str) -> dict[str, Any]:
    """What `admin_base.html` needs for its side navigation (`nav` also turns the shell's sidebar on)."""
    return {"key": "admin", "section": section, "sections": SECTIONS, "label": "admin", "color": None}


async def people_choices(session: AsyncSession, *, active_only: bool = True) -> list[dict[str, Any]]:
    """People to pick in a select (manager, head, receiver of tasks): id, name and e-mail, by name."""
    u = tables.users
    query = select(u.c.id, u.c.name, u.c.email, u.c.active).order_by(u.c.name, u.c.id)
    if active_only:
        query = query.where(u.c.active.is_(True))
    return [dict(row) for row in (await session.execute(query)).mappings()]


async def department_choices(session: AsyncSession) -> list[dict[str, Any]]:
    """Departments to pick in a select, in tree order, each with its depth (for indenting) and path."""
    d = tables.departments
    rows = (await session.execute(select(d.c.id, d.c.name, d.c.parent_id).order_by(d.c.name, d.c.id))).all()
    children: dict[int | None, list[Any]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    ordered: list[dict[str, Any]] = []

    def walk(parent: int | None, depth: int, path: tuple[str, ...]) -> None:
        for row in children.get(parent, []):
            ordered.append({"id": row.id, "name": row.name, "depth": depth, "path": " / ".join((*path, row.name))})
            walk(row.id, depth + 1, (*path, row.name))

    walk(None, 0, ())
    return ordered


def form_id(text: str | None) -> int | None:
    """An id chosen in a form's select ("" is none)."""
    text = (text or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) <= 2**63 - 1 else None


async def count_of(session: AsyncSession, query: Any) -> int:
    return int((await session.execute(query)).scalar_one())


# Problems the organisation service names -> the message a person reads (others are shown as the service says).
KNOWN_PROBLEMS = {
    ("email", "is taken"): "admin.error.email_taken",
    ("employee_no", "is taken"): "admin.error.employee_no_taken",
    ("email", "expected an e-mail address like name@example.com"): "admin.error.email_invalid",
    ("name", "is required"): "admin.error.name_required",
    ("name", "expected a text of 1 to 120 characters"): "admin.error.name_required",
    ("email", "is required"): "admin.error.email_required",
    ("manager_id", "a user cannot be their own manager"): "admin.error.own_manager",
}


def password_text(t: Translator, message: str) -> str:
    """The password policy's refusal (site_settings.password_problem) in the reader's language."""
    if shortest := re.match(r"use at least (\d+) characters", message):
        return t("admin.error.password_short", min=int(shortest.group(1)))
    if message.startswith("add "):
        missing = [c for c in CHARACTER_CLASSES if CLASS_WORDS[c] in message]
        joined = "、" if t.locale == "zh-CN" else ", "
        return t("admin.error.password_classes", classes=joined.join(t(f"admin.settings.class.{c}") for c in missing))
    return message


def field_errors(t: Translator, error: OpsloomError) -> dict[str, str]:
    """A service's refusal as messages by form field, in the reader's language where we know the problem."""
    found: dict[str, str] = {}
    for e in error.errors:
        key = KNOWN_PROBLEMS.get((e.path, e.message))
        if key is None and e.path in ("password", "new_password"):
            found[e.path] = password_text(t, e.message)
            continue
        found.setdefault(e.path or "form", t(key) if key else e.message)
    return found or {"form": error.detail}
