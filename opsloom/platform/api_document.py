"""The API's own OpenAPI document (/api/openapi.json), complete about its errors.

FastAPI lists what a route returns and pydantic's 422; but every error here is
RFC 9457 problem+json from one handler (`http.py`), a failed pydantic check is
a 400, the input guard answers 422 before any route, and a logged-in route
can answer 401, 403 and 404. This completes each operation with the statuses
it can answer, all sharing one Problem schema (used by the per-app documents too).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from opsloom.platform.http import PROBLEM, authenticated

Schema = dict[str, Any]

# status -> (component name, when it happens)
PROBLEMS: dict[str, tuple[str, str]] = {
    "400": ("BadRequest", "The request is malformed: a bad body, parameter, filter, sort, cursor or header"),
    "401": ("Unauthorized", "Log in, or send Authorization: Bearer <token>"),
    "403": ("Forbidden", "Your roles do not allow this (or a form's CSRF token is missing)"),
    "404": ("NotFound", "There is no such thing, or you may not see it"),
    "409": ("Conflict", "The change conflicts with stored data (a unique value, a link, the flow's state)"),
    "412": ("PreconditionFailed", "If-Match names an older version: read it again"),
    "413": ("PayloadTooLarge", "The body (or file) is too large"),
    "415": ("UnsupportedMediaType", "The body (or file) is of a type this route does not take"),
    "422": (
        "ValidationFailed",
        "Some values are wrong (or hold text no database can store, such as a NUL character); "
        "see errors[].path and errors[].message",
    ),
    "429": ("TooManyRequests", "Too many failed attempts; wait a while"),
}
BODY_METHODS = frozenset({"post", "put", "patch"})
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
MAX_ID = 2**63 - 1


def ref(name: str, kind: str = "schemas") -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


def problem_schemas() -> dict[str, Schema]:
    return {
        "FieldError": {
            "type": "object",
            "required": ["path", "message"],
            "properties": {
                "path": {"type": "string", "examples": ["items[3].qty"]},
                "message": {"type": "string"},
            },
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "examples": ["/problems/validation-failed"]},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {"type": "array", "items": ref("FieldError")},
            },
        },
    }


def problem_responses() -> dict[str, Schema]:
    content = {PROBLEM: {"schema": ref("Problem")}}
    return {name: {"description": text, "content": content} for name, text in PROBLEMS.values()}


def problem_refs(statuses: Iterable[str]) -> dict[str, Schema]:
    return {code: ref(PROBLEMS[code][0], "responses") for code in statuses}


def json_body(schema: Schema | None = None, *, required: bool = True, description: str = "") -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body itself (`read_json`)."""
    body: Schema = {"required": required, "content": {"application/json": {"schema": schema or {"type": "object"}}}}
    if description:
        body["description"] = description
    return {"requestBody": body}


def query_parameters(**descriptions: str) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its query string itself (`request.query_params`), each
    parameter an optional string: for the most called routes, where FastAPI's check of each declared
    parameter costs more than the route's own reading of it (a tenth of a list's time, for eight)."""
    parameters = [
        {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
        for name, text in descriptions.items()
    ]
    return {"parameters": parameters}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses` for a route that answers a status the common rules below do not give it (e.g. 429)."""
    return {status: {"description": PROBLEMS[str(status)][1]} for status in statuses}


def statuses_for(method: str, logged_in: bool) -> list[str]:
    """What any operation can answer besides its own: a bad request or guarded input; then by its kind."""
    found = ["400", "422"]
    if method in BODY_METHODS:
        found.append("413")
    if logged_in:
        found += ["401", "403", "404"]
        if method in WRITE_METHODS:
            found.append("409")
    return found


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)
        elif isinstance(route, APIRoute) and route.include_in_schema:
            yield route


def complete(document: Schema, logged_in: Mapping[tuple[str, str], bool]) -> Schema:
    """Every operation with every problem status it can answer; pydantic's own 422 shape gives way to Problem."""
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            own = [code for code in responses if code in PROBLEMS]
            wanted = statuses_for(method, logged_in.get((method, path), False))
            responses.update(problem_refs(sorted({*own, *wanted})))
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(problem_schemas())
    components["responses"] = problem_responses()
    return document


def install_api_document(app: FastAPI) -> None:
    """Serve the completed document at the app's openapi_url (built once, like FastAPI's own)."""

    def openapi() -> Schema:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            logged_in = {
                (method.lower(), route.path_format): any(d.dependency is authenticated for d in route.dependencies)
                for route in _api_routes(app.router.routes)
                for method in route.methods or ()
            }
            app.openapi_schema = complete(document, logged_in)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
