"""Error pages for browsers: an unknown URL asked for as a page answers the HTML 404 page.

The platform renders every HTTP error as problem+json (`platform/http.py`);
this wraps that handler, so API clients, `/api/...` and anything that does not
prefer HTML keep getting problem+json.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from opsloom.platform.errors import ValidationFailed
from opsloom.runtime.pages.rendering import not_found, page_context, render, safe_next
from opsloom.runtime.pages.routes import current_user


def install_page_errors(app: FastAPI) -> None:
    """Call after `install_error_handlers`: the problem+json handler stays the fallback."""
    problem = app.exception_handlers[StarletteHTTPException]

    async def page_or_problem(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 404 and wants_page(request):
            return not_found(page_context(request, await current_user(request)))
        return await problem(request, error)  # type: ignore[misc]

    app.add_exception_handler(StarletteHTTPException, page_or_problem)


async def unstorable_input_page(request: Request, error: ValidationFailed) -> Response:
    """A page or form sent text no database can store (the input guard refused it): say where, and go back."""
    ctx = page_context(request, await current_user(request))
    return render(
        ctx,
        "error.html",
        status=error.status,
        message=ctx.t("error.unstorable"),
        problems=error.errors,
        back=_referrer(request),
    )


def _referrer(request: Request) -> str | None:
    """The page the form was on, when it is one of ours."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc:
        return None
    target = safe_next(referer.path + (f"?{referer.query}" if referer.query else ""), "")
    return target or None


def wants_page(request: Request) -> bool:
    path = request.url.path
    api = path == "/api" or path.startswith("/api/")
    return request.method in ("GET", "HEAD") and not api and prefers_html(request.headers.get("accept", ""))


def prefers_html(accept: str) -> bool:
    """Does `Accept` rank text/html at least as high as JSON? Browsers do; `*/*` alone (curl, scripts) does not."""
    weights: dict[str, float] = {}
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        weights[media.lower()] = max(weights.get(media.lower(), 0.0), quality)
    html = weights.get("text/html", 0.0)
    return html > 0 and html >= max(weights.get("application/json", 0.0), weights.get("application/problem+json", 0.0))
