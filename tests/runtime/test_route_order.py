"""The records API is matched first (it is the most called); that must never take another route's requests."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from opsloom.app import create_app
from opsloom.platform.settings import Settings


def routes_in_order(settings: Settings) -> list[APIRoute]:
    found: list[APIRoute] = []

    def walk(routes: list) -> None:  # type: ignore[type-arg]
        for route in routes:
            if isinstance(route, APIRoute):
                found.append(route)
            elif hasattr(route, "original_router"):  # an included router
                walk(route.original_router.routes)

    walk(create_app(settings).router.routes)
    return found


def test_the_records_api_comes_first_and_takes_no_other_routes_requests(settings: Settings) -> None:
    routes = routes_in_order(settings)
    records = [r for r in routes if r.endpoint.__module__ == "opsloom.runtime.records_api"]
    assert routes[0].path == "/api/health" and routes[1 : 1 + len(records)] == records
    others = [r for r in routes if r not in records]
    assert len(others) > 100
    for route in records:
        for other in others:
            path = re.sub(r"\{[^}:]+(:[^}]+)?\}", "1", other.path)  # each parameter filled in
            assert not (route.path_regex.match(path) and route.methods & other.methods), (route.path, other.path)
    # And the check can tell: a path of its own is taken.
    assert any(r.path_regex.match("/api/apps/a/forms/f/records/1") for r in records)
