"""The settings page: what the server runs with, and where each value comes from (read-only).

Each value is the environment's (`OPSLOOM_…`, or the `.env` file) or built into Opsloom; none can be
changed at run time yet, so the page says how to change each one rather than offering a form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from opsloom.admin.pages.shell import Admin, admin_nav, open_admin
from opsloom.platform.auth import SESSION_LIFETIME
from opsloom.platform.locales import DEFAULT_LOCALE
from opsloom.platform.passwords import MIN_PASSWORD_LENGTH
from opsloom.platform.settings import Settings
from opsloom.runtime.pages.rendering import render

router = APIRouter(include_in_schema=False)


def _from_environment(settings: Settings, field: str, value: Any) -> dict[str, Any]:
    return {
        "value": value,
        "source": "environment" if field in settings.model_fields_set else "environment_default",
        "variable": f"OPSLOOM_{field.upper()}",
    }


def current_settings(settings: Settings) -> dict[str, dict[str, Any]]:
    """The run-time settings an admin looks after, each with its value and its source."""
    megabytes = settings.max_upload_bytes / (1024 * 1024)
    return {
        "timezone": _from_environment(settings, "timezone", settings.timezone),
        "default_language": {"value": DEFAULT_LOCALE, "source": "built_in", "variable": None},
        "password_min_length": {"value": MIN_PASSWORD_LENGTH, "source": "built_in", "variable": None},
        "session_lifetime": {"value": SESSION_LIFETIME.days, "source": "built_in", "variable": None},
        "upload_limit": _from_environment(settings, "max_upload_bytes", f"{megabytes:g} MB"),
    }


@router.get("/admin/settings")
async def settings_page(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    return render(
        admin.ctx,
        "admin_settings.html",
        nav=admin_nav("settings"),
        settings=current_settings(request.app.state.settings),
    )
