"""What every page response carries: security headers, and CSRF tokens for forms.

Logged-in forms carry the session's CSRF token. Before login there is no
session, so the login form (and the language switcher on it) uses a signed
double-submit token: a random nonce signed with the server key, sent both as a
cookie and as a hidden field; the two must match and the signature must hold.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.responses import Response

from opsloom.platform.context import Principal
from opsloom.platform.http import settings_of

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
LOGIN_CSRF_COOKIE = "opsloom_login_csrf"
CSRF_FIELD = "csrf_token"


def secure_headers(response: Response) -> Response:
    response.headers.update(PAGE_HEADERS)
    return response


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _signature(request: Request, nonce: str) -> str:
    key = settings_of(request).resolved_secret_key().encode()
    return hmac.new(key, b"login-csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def _well_signed(request: Request, token: str | None) -> bool:
    if not token or token.count(".") != 1:
        return False
    nonce, signature = token.split(".")
    return hmac.compare_digest(signature, _signature(request, nonce))


def anonymous_token(request: Request) -> str:
    """The signed token in the visitor's cookie, or a fresh one (set by `remember_anonymous_token`)."""
    current = request.cookies.get(LOGIN_CSRF_COOKIE)
    if _well_signed(request, current):
        return current  # type: ignore[return-value]
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_signature(request, nonce)}"


def remember_anonymous_token(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(LOGIN_CSRF_COOKIE) != token:
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request), path="/"
        )


def form_token_ok(request: Request, sent: str | None, principal: Principal | None) -> bool:
    """Does the token a form sent match the session's (or, before login, the signed cookie)?"""
    if not sent:
        return False
    if principal is not None:
        return bool(principal.csrf_token) and hmac.compare_digest(sent, principal.csrf_token or "")
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(cookie) and hmac.compare_digest(sent, cookie or "") and _well_signed(request, sent)
