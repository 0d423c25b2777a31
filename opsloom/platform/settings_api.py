"""The run-time settings over HTTP (platform admins): read them with their sources, change them, test mail."""

from __future__ import annotations

import smtplib
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from opsloom.platform.api_document import json_body, problems
from opsloom.platform.errors import FieldError, PermissionDenied, ValidationFailed
from opsloom.platform.http import DB, authenticated, context_of, read_json, settings_of
from opsloom.platform.mail import MailNotConfigured, new_message, send_mail
from opsloom.platform.site_settings import NAMES, SECRET_SETTINGS, ResolvedSettings, SiteSettings


async def require_platform_admin(request: Request) -> None:
    principal = request.state.principal
    if not principal.is_admin or not principal.can_write:
        raise PermissionDenied("Only platform admins may read and change the settings")


# Who may is judged before what they sent: a plain user learns nothing from a body's errors.
router = APIRouter(tags=["settings"], dependencies=[Depends(authenticated), Depends(require_platform_admin)])


def settings_view(resolved: ResolvedSettings) -> dict[str, Any]:
    """Each setting's value (a secret only as whether it is set), where it comes from, and its variable."""
    values = resolved.settings.model_dump()
    return {
        "version": resolved.version,
        "settings": {
            name: {
                "value": bool(values[name]) if name in SECRET_SETTINGS else values[name],
                "source": resolved.sources[name],
                "variable": f"OPSLOOM_{name.upper()}",
                "editable": not resolved.locked(name),
            }
            for name in NAMES
        },
    }


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """`schema` with pydantic's `$defs` references put in place (the OpenAPI document has no `$defs`)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def _change_schema() -> dict[str, Any]:
    described = SiteSettings.model_json_schema()
    fields = _inline(described["properties"], described.get("$defs", {}))
    return {
        "type": "object",
        "description": "Settings to change by name; null puts one back to its default",
        "properties": {name: {"anyOf": [fields[name], {"type": "null"}]} for name in NAMES},
        "additionalProperties": False,
    }


CHANGES = _change_schema()


class TestMail(BaseModel):
    to: str = Field(min_length=3, max_length=254, description="Where the test message goes")


@router.get("/api/settings", summary="The run-time settings, each with its source (platform admins)")
async def read_settings(request: Request, db: DB) -> dict[str, Any]:
    return settings_view(await request.app.state.site_settings.fresh(db))


@router.patch(
    "/api/settings",
    summary="Change run-time settings (platform admins); audited",
    openapi_extra=json_body(CHANGES),
    responses=problems(409, 422),
)
async def change_settings(request: Request, db: DB) -> dict[str, Any]:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ValidationFailed.of([FieldError("$", "send an object of settings by name")])
    expected = request.headers.get("if-match", "").strip('"')
    resolved = await request.app.state.site_settings.change(
        db, context_of(request), data, int(expected) if expected.isdigit() else None
    )
    return settings_view(resolved)


@router.post("/api/settings/test-mail", summary="Send a test message through the mail server set (platform admins)")
async def test_mail(body: TestMail, request: Request, db: DB) -> dict[str, Any]:
    smtp = (await request.app.state.site_settings.fresh(db)).settings
    problem = await send_test_mail(smtp, body.to, settings_of(request).outbound_timeout)
    if problem:
        raise ValidationFailed.of([FieldError("smtp_host", problem)], f"The test message was not sent: {problem}")
    return {"sent": True, "to": body.to}


async def send_test_mail(smtp: SiteSettings, to: str, seconds: float) -> str | None:
    """Send the test message; None when the server took it, else what went wrong."""
    if "@" not in to:
        return "the address to send to is not an e-mail address"
    mail = new_message(smtp, [to], "Opsloom test message", "The mail settings of Opsloom work: this message arrived.")
    try:
        await send_mail(smtp, mail, seconds)
    except MailNotConfigured:
        return "no mail server is set"
    except (OSError, smtplib.SMTPException) as error:
        return f"{type(error).__name__}: {error}"[:300]
    return None
