"""The end-user pages: login, logout, language switch, home, app home and record list.

Every handler works out who is looking (`current_user`), builds a
`PageContext`, and renders a template; POST forms are checked for their CSRF
token before anything changes.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import update
from starlette.responses import Response

from opsloom.platform import auth, tables
from opsloom.platform.audit import audit
from opsloom.platform.auth_api import context_of_anonymous
from opsloom.platform.context import Principal
from opsloom.platform.errors import OpsloomError
from opsloom.platform.http import DB
from opsloom.runtime.apps_api import app_summaries
from opsloom.runtime.dependencies import FlowServices, Forms
from opsloom.runtime.flow.summaries import attach_summaries
from opsloom.runtime.flow.todo import count_tasks, pending_tasks, unread_notifications
from opsloom.runtime.pages import list_page
from opsloom.runtime.pages.display import summary_lines
from opsloom.runtime.pages.i18n import FOLLOW_BROWSER, LOCALE_COOKIE, supported
from opsloom.runtime.pages.navigation import app_navigation
from opsloom.runtime.pages.rendering import (
    forbidden,
    not_found,
    page_context,
    redirect,
    render,
    request_context,
    safe_next,
    to_login,
)
from opsloom.runtime.pages.security import CSRF_FIELD, LOGIN_CSRF_COOKIE, form_token_ok, is_https

router = APIRouter(include_in_schema=False)

FIRST_TASKS = 5
MAX_FIELD = 256


async def current_user(request: Request) -> Principal | None:
    """The logged-in user behind the session cookie (pages never take API tokens), or None."""
    if not request.cookies.get(auth.SESSION_COOKIE):
        return None
    probe = Request({**request.scope, "method": "GET", "headers": _without_authorization(request)})
    try:
        principal = await auth.principal_for_request(probe)
    except OpsloomError:
        return None
    return principal if principal.via == "session" else None


def _without_authorization(request: Request) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)}


# ------------------------------------------------------------------ login


@router.get("/login")
async def login_page(request: Request) -> Response:
    user = await current_user(request)
    after = safe_next(request.query_params.get("next"))
    if user is not None:
        return redirect(after)
    return render(page_context(request, None), "login.html", email="", errors={}, after=after)


@router.post("/login")
async def login(request: Request, db: DB) -> Response:
    ctx = page_context(request, None)
    form = await _form(request)
    if not form_token_ok(request, form.get(CSRF_FIELD), None):
        return forbidden(ctx)
    email, password = form.get("email", "").strip(), form.get("password", "")
    after = safe_next(form.get("next"))
    errors = {key: ctx.t("login.required") for key, value in (("email", email), ("password", password)) if not value}
    if errors:
        return render(ctx, "login.html", status=400, email=email, errors=errors, after=after)
    try:
        visitor = await context_of_anonymous(request)
        token, _, principal = await auth.login(db, visitor, email, password)
    except (auth.TooManyAttempts, auth.Unauthenticated) as error:
        throttled = isinstance(error, auth.TooManyAttempts)
        message, status = (ctx.t("login.throttled"), 429) if throttled else (ctx.t("login.wrong"), 401)
        page = render(ctx, "login.html", status=status, email=email, errors={"password": message}, after=after)
        if error.retry_after is not None:
            page.headers["Retry-After"] = str(error.retry_after)
        return page
    response = redirect(after)
    auth.set_session_cookie(response, token, secure=is_https(request), site=visitor.site)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, db: DB) -> Response:
    user = await current_user(request)
    form = await _form(request)
    if user is None:
        return redirect("/login")
    if not form_token_ok(request, form.get(CSRF_FIELD), user):
        return forbidden(page_context(request, user))
    async with db.session(write=True) as session:
        await auth.logout(session, request.cookies[auth.SESSION_COOKIE])
        await audit(session, request_context(request, user), "logout")
    response = redirect("/login")
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


@router.post("/locale")
async def switch_locale(request: Request, db: DB) -> Response:
    user = await current_user(request)
    form = await _form(request)
    if not form_token_ok(request, form.get(CSRF_FIELD), user):
        return forbidden(page_context(request, user))
    choice = form.get("locale")
    locale = supported(choice)  # None with FOLLOW_BROWSER: forget the choice, the browser decides again
    response = redirect(safe_next(form.get("next")))
    if locale is None and choice != FOLLOW_BROWSER:
        return response
    if user is not None:  # the choice follows the user to other browsers and to what is sent to them
        async with db.session(write=True) as session:
            await session.execute(update(tables.users).where(tables.users.c.id == user.user_id).values(locale=locale))
    if locale is None:
        response.delete_cookie(LOCALE_COOKIE, path="/")
    else:
        response.set_cookie(
            LOCALE_COOKIE, locale, max_age=365 * 24 * 3600, samesite="lax", secure=is_https(request), path="/"
        )
    return response


# ------------------------------------------------------------------ home


@router.get("/")
async def home(request: Request, db: DB, services: FlowServices) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    async with db.session() as session:
        apps = await app_summaries(session, user)
        counts = await count_tasks(session, user)
        tasks = await pending_tasks(session, user, FIRST_TASKS)
        specs = await attach_summaries(session, services, request_context(request, user), tasks)
        unread = await unread_notifications(session, user)
    for task in tasks:
        task["summary_lines"] = summary_lines(ctx.t, ctx.zone, specs, task)
    return render(ctx, "home.html", apps=apps, counts=counts, tasks=tasks, unread=unread)


@router.get("/apps/{app}")
async def app_home(app: str, request: Request, db: DB) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    async with db.session() as session:
        nav = await app_navigation(session, user, app)
    if nav is None:
        return not_found(ctx)
    return render(ctx, "app_home.html", app=nav, forms=nav["forms"], nav=nav)


# ------------------------------------------------------------------ record list (see list_page.py)


@router.get("/apps/{app}/forms/{form}")
async def record_list(app: str, form: str, request: Request, db: DB, forms: Forms) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    return await list_page.show_list(request, db, forms, user, app, form)


@router.post("/apps/{app}/forms/{form}/views")
async def save_list_view(app: str, form: str, request: Request, db: DB, forms: Forms) -> Response:
    user = await current_user(request)
    if user is None:
        return redirect("/login")
    return await list_page.save_view(request, db, forms, user, app, form)


@router.post("/apps/{app}/forms/{form}/views/{view_id}")
async def update_list_view(app: str, form: str, view_id: int, request: Request, db: DB, forms: Forms) -> Response:
    user = await current_user(request)
    if user is None:
        return redirect("/login")
    return await list_page.save_view(request, db, forms, user, app, form, view_id)


@router.post("/apps/{app}/forms/{form}/views/{view_id}/delete")
async def delete_list_view(app: str, form: str, view_id: int, request: Request, db: DB) -> Response:
    user = await current_user(request)
    if user is None:
        return redirect("/login")
    return await list_page.delete_view(request, db, user, app, form, view_id)
