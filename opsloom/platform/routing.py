"""Which routes a request's path matches, before or after routing.

FastAPI keeps the routes of an included router behind the router itself, so
a walk over `app.router.routes` descends into them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import Scope


def matching_routes(routes: Sequence[BaseRoute], scope: Scope) -> Iterator[tuple[BaseRoute, dict[str, Any]]]:
    """Every route whose path matches the request's (whatever its method), with the path parameters it reads."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from matching_routes(included.routes, scope)
            continue
        match, child = route.matches(scope)
        if match != Match.NONE:
            yield route, child.get("path_params", {})


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """The methods some route answers at this path, for the `Allow` header of a 405."""
    methods: set[str] = set()
    for route in routes:
        for matched, _ in matching_routes([route], scope):
            methods.update(getattr(matched, "methods", None) or ())
    return sorted(methods)
