"""`/api/docs`: the API browsable offline, with Swagger UI from npm served at `/vendor/`.

`?app=KEY` shows that app's generated document (`/api/apps/{app}/openapi.json`,
read with the visitor's session) instead of the platform's.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.responses import Response

from opsloom.runtime.pages.rendering import page_context, render
from opsloom.runtime.pages.security import CONTENT_SECURITY_POLICY

router = APIRouter(include_in_schema=False)

APP_KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")
# Swagger UI sets style attributes from its scripts; the rest of the policy is the pages' own.
DOCS_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


@router.get("/api/docs")
def api_docs(request: Request, app: str = "") -> Response:
    document = f"/api/apps/{app}/openapi.json" if APP_KEY.fullmatch(app) else "/api/openapi.json"
    response = render(page_context(request, None), "api_docs.html", document=document)
    response.headers["Content-Security-Policy"] = DOCS_POLICY
    return response
