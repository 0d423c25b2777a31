"""Turning a template and its values into a page response (escaped, translated, with security headers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.http import site_of
from opsloom.runtime.pages.i18n import LOCALE_NAMES, LOCALES, Translator, choose_locale
from opsloom.runtime.pages.security import anonymous_token, remember_anonymous_token, secure_headers

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class PageContext:
    """Who is looking, in which language, and the token their forms must carry."""

    request: Request
    user: Principal | None
    t: Translator
    csrf_token: str
    zone: tzinfo


def add_template_folder(folder: Path) -> None:
    """Another part of the pages (designer, admin) brings templates that may extend `base.html`."""
    loader = _templates.loader
    assert isinstance(loader, FileSystemLoader)
    if str(folder) not in loader.searchpath:
        loader.searchpath.append(str(folder))


def page_context(request: Request, user: Principal | None) -> PageContext:
    locale = choose_locale(request, user.locale if user else None)
    token = user.csrf_token if user and user.csrf_token else anonymous_token(request)
    return PageContext(request, user, Translator(locale), token, site_of(request).zone)


def render(ctx: PageContext, template: str, status: int = 200, **values: Any) -> Response:
    html = _templates.get_template(template).render(
        t=ctx.t,
        label=ctx.t.label,
        locale=ctx.t.locale,
        locales=[(code, LOCALE_NAMES[code]) for code in LOCALES],
        user=ctx.user,
        csrf_token=ctx.csrf_token,
        current_path=_local_path(ctx.request),
        **values,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Language"] = ctx.t.locale
    if ctx.user is None:
        remember_anonymous_token(ctx.request, response, ctx.csrf_token)
    return secure_headers(response)


MAX_ID = 2**63 - 1


def page_id(text: str) -> int | None:
    """A positive id from a page's URL, or None: a page answers a bad id with its 404, not a validation problem."""
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


def not_found(ctx: PageContext) -> Response:
    return render(ctx, "error.html", status=404, message=ctx.t("error.not_found"))


def forbidden(ctx: PageContext) -> Response:
    """A form posted without its CSRF token (or with a stale one)."""
    return render(ctx, "error.html", status=403, message=ctx.t("error.forbidden"))


def request_context(request: Request, user: Principal) -> RequestContext:
    """What the services need to know about a page's caller: who, when, in which zone, from where."""
    ip = request.client.host if request.client else None
    return RequestContext.with_site(user, site_of(request), ip)


def redirect(url: str) -> Response:
    return secure_headers(RedirectResponse(url, status_code=303))


def to_login(request: Request) -> Response:
    """To the login page, which comes back here once the visitor has logged in."""
    return redirect("/login?" + urlencode({"next": _local_path(request)}))


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to; anything that could leave the site becomes `default`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return default
    return target


def _local_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")
