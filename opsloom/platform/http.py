"""HTTP plumbing shared by every API: problem+json errors, body limits, request context."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from itertools import islice
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sql_errors
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.database import Database, WriteTurnTimeout, release_held
from opsloom.platform.errors import (
    BadRequest,
    FieldError,
    OpsloomError,
    PayloadTooLarge,
    PermissionDenied,
    ServiceUnavailable,
    ValidationFailed,
)
from opsloom.platform.routing import allowed_methods
from opsloom.platform.settings import Settings
from opsloom.platform.site_settings import SiteSettings
from opsloom.platform.storable_text import MAX_REPORTED, unstorable_text

log = logging.getLogger("opsloom")

PROBLEM = "application/problem+json"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM


def problem_response(error: OpsloomError, request: Request | None = None) -> Response:
    instance = request.url.path if request is not None else None
    headers = None if error.retry_after is None else {"Retry-After": str(error.retry_after)}
    return ProblemResponse(error.problem(instance), status_code=error.status, headers=headers)


def database_busy(error: Exception) -> ServiceUnavailable | None:
    """Overload, not a fault: no pooled connection came free in time, or SQLite's write lock stayed taken."""
    locked = isinstance(error, WriteTurnTimeout) or (
        isinstance(error, sql_errors.OperationalError) and "database is locked" in str(error.orig)
    )
    if locked:
        return ServiceUnavailable(
            "The server is busy: the database stayed locked by other writes; retry shortly", retry_after=1
        )
    if isinstance(error, sql_errors.TimeoutError):
        return ServiceUnavailable(
            "The server is busy: no database connection came free in time; retry shortly", retry_after=1
        )
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OpsloomError)
    async def _opsloom(request: Request, error: OpsloomError) -> Response:
        return problem_response(error, request)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, error: RequestValidationError) -> Response:
        errors = [
            FieldError(".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), e["msg"]) for e in error.errors()
        ]
        return problem_response(BadRequest("The request is not valid", errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        body = {
            "type": "about:blank",
            "title": str(error.detail),
            "status": error.status_code,
            "detail": _http_detail(error.status_code, request),
        }
        headers = dict(error.headers or {})
        if error.status_code == 405:  # every method the path answers, not only the first route's
            headers["Allow"] = ", ".join(allowed_methods(request.app.router.routes, request.scope))
        return ProblemResponse(body, status_code=error.status_code, headers=headers)

    @app.exception_handler(sql_errors.TimeoutError)
    @app.exception_handler(sql_errors.OperationalError)
    async def _database(request: Request, error: Exception) -> Response:
        busy = database_busy(error)
        return problem_response(busy, request) if busy else await _unexpected(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        body = {
            "type": "/problems/internal-error",
            "title": "Internal error",
            "status": 500,
            "detail": "Something went wrong on the server; nothing was changed. The error is logged.",
        }
        return ProblemResponse(body, status_code=500)


def _http_detail(status: int, request: Request) -> str:
    if status == 404:
        return f"There is nothing at {request.url.path}; see /api/docs for the routes"
    if status == 405:
        return f"{request.method} is not allowed on {request.url.path}"
    return "See the status code"


class BodySizeLimit:
    """Refuse bodies above a size before they are read into memory (413, problem+json).

    `overrides` give some routes a limit of their own, as (method, path pattern, bytes or a function
    answering them): file uploads stream to disk and may be far larger than a JSON body, and their
    limits are settings an admin may change while the server runs."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, overrides: Sequence[tuple[str, str, int | Callable[[], int]]] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = [(method, re.compile(path), limit) for method, path, limit in overrides]

    def limit_for(self, scope: Scope) -> int:
        for method, path, limit in self.overrides:
            if scope["method"] == method and path.fullmatch(scope["path"]):
                return limit() if callable(limit) else limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope)
        too_large = PayloadTooLarge(f"The request body is larger than {max_bytes} bytes; send less data per request")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await problem_response(too_large)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise too_large
            return message

        try:
            await self.app(scope, limited_receive, send)
        except PayloadTooLarge:
            await problem_response(too_large)(scope, receive, send)


async def read_json(request: Request) -> Any:
    """The JSON body, with decimals kept exact. Malformed JSON is a clear 400; unstorable text a 422 with its path."""
    raw = await request.body()
    if not raw:
        raise BadRequest("The request needs a JSON body", [FieldError("$", "send a JSON object")])
    try:
        return decode_json(raw)
    except UnstorableText as error:
        raise ValidationFailed.of(error.errors) from None
    except ValueError as error:
        raise BadRequest(f"The body is not valid JSON: {error}", [FieldError("$", "send valid JSON")]) from None


class UnstorableText(ValueError):
    """JSON that decodes to text no database can store, with where each piece is."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = errors


def decode_json(text: str | bytes) -> Any:
    """Strict JSON with exact decimals; anything a database could choke on is a ValueError.

    Refused: NaN and Infinity (not JSON), nesting too deep to parse, and text no
    database can store: NUL characters and lone UTF-16 surrogates such as "\\ud800"
    (an `UnstorableText` naming their JSON paths).
    """
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    errors = list(islice(unstorable_text(value), MAX_REPORTED))
    if errors:
        raise UnstorableText(errors)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


# Dependencies are `async def` even when they never wait: FastAPI runs a plain `def`
# dependency in its thread pool, a thread hop on every request.
async def database_of(request: Request) -> Database:
    return request.app.state.db


# A route handler's database: `async def handler(..., db: DB)`.
DB = Annotated[Database, Depends(database_of)]


def principal_of(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:  # a route without the `authenticated` dependency: a bug, not a guest
        raise RuntimeError("route is missing the authenticated dependency")
    return principal


async def authenticated(request: Request) -> Principal:
    """Router dependency: every route under it needs a logged-in user or an API token.

    It is also where an API token's app limit meets every route at once: a route
    whose path names an `{app}` the token may not use is refused before it runs.
    (Routes naming no app, such as the to-do lists, filter by the principal's apps.)
    The look-up's transaction is the one the route's first `db.session()` continues
    (one connection and one transaction where there were two); `ReleaseHeld` ends it
    if nothing took it. A dependency that yields would end it itself, but FastAPI
    wraps each in an exit stack and cancel scopes: a tenth of a create's time."""
    from opsloom.platform.auth import principal_for_request

    principal = await principal_for_request(request, hold=True)
    request.state.principal = principal
    app = request.path_params.get("app")
    if app is not None and not principal.may_use_app(app):
        raise PermissionDenied(f"This API token may not use app '{app}'; use a token made for that app")
    return principal


class ReleaseHeld:
    """Middleware: once a request is answered, end the session its authentication held for it
    (`authenticated`, `Database.hold`) if nothing took it, the request failed or not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            await release_held()


def site_of(request: Request) -> SiteSettings:
    """The run-time settings in force, as the request's authentication last refreshed them."""
    return request.app.state.site_settings.current.settings


def context_of(request: Request) -> RequestContext:
    ip = request.client.host if request.client else None
    return RequestContext.with_site(principal_of(request), site_of(request), ip)
