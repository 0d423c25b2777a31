"""The settings page: the run-time settings an admin may change, each with where its value comes from.

A value set in the environment (`OPSLOOM_…`, or the `.env` file) wins and is shown read-only; the
others are saved through the settings store (`platform/settings_store.py`), which validates, audits
and tells other processes. Each field's kind says how it is shown and how the posted text is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from annotated_types import Ge, Le
from fastapi import APIRouter, Request
from starlette.responses import Response

from opsloom.admin.pages.shell import Admin, admin_nav, open_admin, posted_form
from opsloom.platform.errors import OpsloomError
from opsloom.platform.locales import LOCALES
from opsloom.platform.settings_api import send_test_mail
from opsloom.platform.site_settings import (
    CHARACTER_CLASSES,
    DEFAULTS,
    MEGABYTE,
    ResolvedSettings,
    SiteSettings,
    zone_names,
)
from opsloom.runtime.pages.i18n import Translator
from opsloom.runtime.pages.rendering import redirect, render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Field:
    name: str  # the setting's name (and the form field's)
    kind: str  # zone, language, megabytes, integer, text, email, secret, flag, classes


GROUPS: tuple[tuple[str, tuple[Field, ...]], ...] = (
    ("general", (Field("timezone", "zone"), Field("default_language", "language"))),
    ("uploads", (Field("max_upload_bytes", "megabytes"), Field("max_import_bytes", "megabytes"))),
    (
        "sign_in",
        (
            Field("session_lifetime_hours", "integer"),
            Field("login_max_failures", "integer"),
            Field("login_lockout_minutes", "integer"),
        ),
    ),
    ("passwords", (Field("password_min_length", "integer"), Field("password_classes", "classes"))),
    (
        "mail",
        (
            Field("smtp_host", "text"),
            Field("smtp_port", "integer"),
            Field("smtp_username", "text"),
            Field("smtp_password", "secret"),
            Field("smtp_from", "email"),
            Field("smtp_starttls", "flag"),
        ),
    ),
)
FIELDS = {f.name: f for _, fields in GROUPS for f in fields}


def bounds(name: str) -> tuple[int | None, int | None]:
    """The smallest and largest value a number setting takes (from the model's own constraints)."""
    low = high = None
    for rule in SiteSettings.model_fields[name].metadata:
        if isinstance(rule, Ge):
            low = int(rule.ge)  # type: ignore[call-overload]
        elif isinstance(rule, Le):
            high = int(rule.le)  # type: ignore[call-overload]
    return low, high


def shown_value(field: Field, value: Any) -> Any:
    if field.kind == "megabytes":
        return f"{value / MEGABYTE:g}"
    if field.kind == "secret":
        return bool(value)
    return value


def _rows(resolved: ResolvedSettings, entered: dict[str, Any] | None) -> list[dict[str, Any]]:
    values = resolved.settings.model_dump()
    groups = []
    for group, fields in GROUPS:
        rows = []
        for f in fields:
            low, high = bounds(f.name) if f.kind in ("integer", "megabytes") else (None, None)
            if f.kind == "megabytes":
                low, high = 1, (high or 0) // MEGABYTE
            value = shown_value(f, values[f.name])
            if entered is not None and f.name in entered and f.kind != "secret":
                value = entered[f.name]
            rows.append(
                {
                    "name": f.name,
                    "kind": f.kind,
                    "value": value,
                    "source": resolved.sources[f.name],
                    "locked": resolved.locked(f.name),
                    "variable": f"OPSLOOM_{f.name.upper()}",
                    "min": low,
                    "max": high,
                }
            )
        groups.append({"key": group, "fields": rows})
    return groups


def _page(admin: Admin, resolved: ResolvedSettings, status: int = 200, **values: Any) -> Response:
    return render(
        admin.ctx,
        "admin_settings.html",
        status=status,
        nav=admin_nav("settings"),
        groups=_rows(resolved, values.pop("entered", None)),
        version=resolved.version,
        zones=zone_names(),
        languages=LOCALES,
        classes=CHARACTER_CLASSES,
        errors=values.pop("errors", {}),
        test_to=values.pop("test_to", ""),
        notice=admin.request.query_params.get("notice", ""),
        request_to=admin.request.query_params.get("to", "")[:254],
        **values,
    )


@router.get("/admin/settings")
async def settings_page(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    return _page(admin, await request.app.state.site_settings.fresh(request.app.state.db))


def read_form(
    form: dict[str, str], selected: list[str], resolved: ResolvedSettings, t: Translator
) -> tuple[dict[str, Any], dict[str, str]]:
    """The changes the posted form asks for (a value equal to the default goes back to the default), and
    what could not be read, by field. Fields the environment fixes are left out."""
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, field in FIELDS.items():
        if resolved.locked(name):
            continue
        text = form.get(name, "").strip()
        value: Any
        if field.kind in ("integer", "megabytes"):
            try:
                number = float(text) if field.kind == "megabytes" else int(text)
            except ValueError:
                errors[name] = t("admin.settings.error.number")
                continue
            value = int(number * MEGABYTE) if field.kind == "megabytes" else number
        elif field.kind == "flag":
            value = form.get(name) == "on"
        elif field.kind == "classes":
            value = [c for c in CHARACTER_CLASSES if c in selected]
        elif field.kind == "secret":
            if form.get("smtp_password_clear") == "on":
                value = ""
            elif not text:
                continue  # left empty: the password stays as it is (it is never shown)
            else:
                value = form.get(name, "")
        else:
            value = text
        default = getattr(DEFAULTS, name)
        same = list(value) == list(default) if field.kind == "classes" else value == default
        changes[name] = None if same else value
    return changes, errors


def error_text(t: Translator, name: str, message: str) -> str:
    """A setting's refusal in the reader's language where we know it."""
    field = FIELDS.get(name)
    if field is None:
        return message
    if message.startswith("is set by the environment"):
        return t("admin.settings.error.locked", variable=f"OPSLOOM_{name.upper()}")
    if field.kind in ("integer", "megabytes"):
        low, high = bounds(name)
        if field.kind == "megabytes":
            low, high = 1, (high or 0) // MEGABYTE
        return t("admin.settings.error.range", min=low, max=high)
    if field.kind == "zone":
        return t("admin.settings.error.timezone")
    if field.kind == "email":
        return t("admin.settings.error.address")
    return message


@router.post("/admin/settings")
async def save_settings(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    selected = [v for v in (await request.form()).getlist("password_classes") if isinstance(v, str)]
    store, db, t = request.app.state.site_settings, request.app.state.db, admin.ctx.t
    resolved = await store.fresh(db)
    changes, errors = read_form(form, selected, resolved, t)
    entered: dict[str, Any] = {k: v for k, v in form.items() if k in FIELDS} | {"password_classes": selected}
    if "smtp_starttls" not in form:
        entered["smtp_starttls"] = False
    if errors:
        return _page(admin, resolved, 400, errors=errors, entered=entered)
    version = form.get("version", "")
    try:
        await store.change(db, admin.services_context(), changes, int(version) if version.isdigit() else None)
    except OpsloomError as error:
        found = {e.path.split(".")[0]: error_text(t, e.path.split(".")[0], e.message) for e in error.errors}
        if error.status == 409:
            found["form"] = t("admin.settings.error.conflict")
        return _page(admin, await store.fresh(db), 400 if error.status != 409 else 409, errors=found, entered=entered)
    return redirect("/admin/settings?notice=saved")


@router.post("/admin/settings/test-mail")
async def test_mail(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await posted_form(request, admin)
    if not isinstance(form, dict):
        return form
    store, db = request.app.state.site_settings, request.app.state.db
    resolved = await store.fresh(db)
    to = form.get("to", "").strip()
    problem = await send_test_mail(resolved.settings, to, request.app.state.settings.outbound_timeout)
    if problem:
        message = admin.ctx.t("admin.settings.test_failed", detail=problem)
        return _page(admin, resolved, 400, errors={"to": message}, test_to=to)
    return redirect("/admin/settings?" + urlencode({"notice": "test_sent", "to": to}) + "#mail")
