"""The designer's live preview of a report: run a document that need not be saved, on real data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from opsloom.designer.documents import schema_errors
from opsloom.platform.api_document import json_body
from opsloom.platform.errors import BadRequest, FieldError, ValidationFailed
from opsloom.platform.http import DB, authenticated, principal_of
from opsloom.platform.permissions import require_app_admin
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.reports.api import SHARED, Key, optional_json, viewer_of
from opsloom.runtime.reports.run import run_report

router = APIRouter(prefix="/api/design/apps", tags=["designer"], dependencies=[Depends(authenticated)])


@router.post(
    "/{app}/reports/preview",
    summary="Run a report document that need not be saved (the designer's live preview)",
    openapi_extra=json_body(
        {"type": "object", "required": ["document"], "properties": {"document": {"type": "object"}, "filters": SHARED}}
    ),
)
async def preview(app: Key, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        body = await optional_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("document"), dict):
            raise BadRequest(
                'Send {"document": {...a report...}, "filters": {...}}', [FieldError("document", "is required")]
            )
        document = {"key": "preview", "label": "preview", **body["document"]}
        errors = schema_errors("report", document, "document")
        if errors:
            raise ValidationFailed("The report document is not valid", errors)
        return await run_report(session, forms, viewer_of(request), app, document, body.get("filters"))
