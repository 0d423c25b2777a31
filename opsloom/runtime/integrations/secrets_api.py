"""HTTP edge of an app's secret store, for the app's admins: names in, values never out.

GET     /api/apps/{app}/secrets                  the names (and when each was set)
PUT     /api/apps/{app}/secrets/{secret_name}    {"value": "..."}: set it (encrypted at rest)
DELETE  /api/apps/{app}/secrets/{secret_name}
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from opsloom.platform import secrets
from opsloom.platform.api_document import json_body
from opsloom.platform.errors import FieldError, NotFound, ValidationFailed
from opsloom.platform.http import DB, authenticated, context_of, read_json, settings_of
from opsloom.runtime.fields import dump_datetime
from opsloom.runtime.integrations.api import _admin

router = APIRouter(prefix="/api/apps/{app}/secrets", tags=["integrations"], dependencies=[Depends(authenticated)])

SecretName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="The secret's name")]
SECRET_SCHEMA = {
    "type": "object",
    "required": ["value"],
    "properties": {"value": {"type": "string", "minLength": 1, "maxLength": 4000}},
}


@router.get("", summary="The names of the app's secrets (never their values)")
async def list_secrets(app: str, request: Request, db: DB) -> dict[str, Any]:
    await _admin(request, app)
    async with db.session() as session:
        found = await secrets.names(session, app)
    return {"items": [{k: dump_datetime(v) if k.endswith("_at") else v for k, v in s.items()} for s in found]}


@router.put("/{secret_name}", summary="Set a secret (stored encrypted)", openapi_extra=json_body(SECRET_SCHEMA))
async def put_secret(app: str, secret_name: SecretName, request: Request, db: DB, response: Response) -> dict[str, Any]:
    body = await read_json(request)
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str) or not 0 < len(value) <= 4000:
        raise ValidationFailed.of([FieldError("value", "give the secret's value: text of 1 to 4000 characters")])
    await _admin(request, app)
    key = settings_of(request).resolved_secret_key()
    async with db.session(write=True) as session:
        created = await secrets.put(session, key, app, secret_name, value, context_of(request).now)
    response.status_code = 201 if created else 200
    return {"name": secret_name, "created": created}


@router.delete("/{secret_name}", status_code=204, summary="Delete a secret")
async def delete_secret(app: str, secret_name: SecretName, request: Request, db: DB) -> Response:
    await _admin(request, app)
    async with db.session(write=True) as session:
        if not await secrets.remove(session, app, secret_name):
            raise NotFound(f"App '{app}' has no secret named {secret_name}")
    return Response(status_code=204)
