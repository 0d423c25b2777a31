"""The audit log page: filter by person, app, kind and time; pages; export to CSV or XLSX.

Read-only by design: there is no route here (nor anywhere) that changes or deletes an entry.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from opsloom.admin import audit_trail
from opsloom.admin.audit_trail import KINDS, AuditFilter
from opsloom.admin.pages.shell import Admin, admin_nav, form_id, open_admin, people_choices
from opsloom.runtime.export import FORMATS, chunks, content_disposition
from opsloom.runtime.pages.i18n import Translator
from opsloom.runtime.pages.rendering import not_found, render
from opsloom.runtime.pages.security import secure_headers

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filter(request: Request) -> tuple[AuditFilter, dict[str, Any]]:
    """The filter in the query string; unknown or malformed values are ignored (the page shows what it used)."""
    params = request.query_params
    app = params.get("app", "")
    wanted = AuditFilter(
        person=form_id(params.get("person")),
        app=app if app.replace("_", "").isalnum() and app[:1].isalpha() and app.islower() else None,
        kind=params.get("kind") if params.get("kind") in KINDS else None,
        since=_day(params.get("from")),
        until=_day(params.get("to")),
    )
    shown = {
        "person": wanted.person,
        "app": wanted.app,
        "kind": wanted.kind,
        "from": wanted.since.isoformat() if wanted.since else None,
        "to": wanted.until.isoformat() if wanted.until else None,
    }
    return wanted, {k: v for k, v in shown.items() if v is not None}


def action_text(t: Translator, action: str) -> str:
    return t.known(f"admin.action.{action}", action)


@router.get("/admin/audit")
async def audit_page(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    wanted, shown = _filter(request)
    raw_page = request.query_params.get("page", "")
    page = max(1, min(int(raw_page) if raw_page.isdigit() else 1, 100_000))
    async with request.app.state.db.session() as session:
        entries, total = await audit_trail.read_page(session, wanted, admin.ctx.zone, page, PAGE_SIZE)
        people = await people_choices(session, active_only=False)
        apps = await audit_trail.apps_in_log(session)

    def link(**changes: Any) -> str:
        return "?" + urlencode({**shown, **changes})

    return render(
        admin.ctx,
        "admin_audit.html",
        nav=admin_nav("audit"),
        entries=[
            {
                **e,
                "action_text": action_text(admin.ctx.t, e["action"]),
                "detail_text": _detail(e["detail"]),
                "link": target_link(e["target"]),
            }
            for e in entries
        ],
        total=total,
        filters=shown,
        people=people,
        apps=apps,
        kinds=list(KINDS),
        zone=admin.ctx.zone,
        page=page,
        previous=link(page=page - 1) if page > 1 else None,
        next=link(page=page + 1) if page * PAGE_SIZE < total else None,
        exports={fmt: "/admin/audit/export" + link(format=fmt) for fmt in FORMATS},
    )


def target_link(target: str | None) -> str | None:
    """Where the entry's target can be seen: a record's page, a person's or a department's admin page."""
    if not target:
        return None
    kind, _, number = target.partition(":")
    if number.isdigit() and kind in ("user", "department"):
        return f"/admin/{'people' if kind == 'user' else 'departments'}/{number}"
    parts = target.split("/")
    if len(parts) == 3 and parts[2].isdigit() and "role" not in parts:
        return f"/apps/{parts[0]}/forms/{parts[1]}/records/{parts[2]}"
    return None


def _detail(detail: Any) -> str:
    """An entry's detail as a person reads it: `key: value` pairs, empty ones left out (shortened)."""
    if not isinstance(detail, dict):
        return _json(detail)[:300] if detail else ""
    parts = []
    for key, value in sorted(detail.items()):
        if value in (None, [], {}, ""):
            continue
        plain = isinstance(value, list) and not any(isinstance(v, dict | list) for v in value)
        text = (
            ", ".join(str(v) for v in value)
            if plain
            else _json(value)
            if isinstance(value, dict | list)
            else str(value)
        )
        parts.append(f"{key}: {text}")
    text = " · ".join(parts)
    return text if len(text) <= 300 else text[:299] + "…"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@router.get("/admin/audit/export")
async def export(request: Request) -> Response:
    """The filtered log as a file: `?format=csv` (the default) or `xlsx`, with the page's filters."""
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    chosen = FORMATS.get(request.query_params.get("format", "csv"))
    if chosen is None:
        return not_found(admin.ctx)
    wanted, _ = _filter(request)
    t, zone = admin.ctx.t, admin.ctx.zone
    writer = chosen.writer(t("admin.audit.title"))
    writer.add(
        [t(f"admin.audit.column.{c}") for c in ("time", "person", "email", "kind", "action", "target", "ip", "detail")]
    )
    async with request.app.state.db.session() as session:
        async for e in audit_trail.all_entries(session, wanted, zone):
            kind = t(f"admin.kind.{e['kind']}") if e["kind"] else ""
            at = e["at"].astimezone(zone)  # CSV: ISO 8601 with the offset; XLSX: a date-time cell
            writer.add(
                [
                    at,
                    e["actor_name"] or "",
                    e["actor_email"] or "",
                    kind,
                    action_text(t, e["action"]),
                    e["target"] or "",
                    e["ip"] or "",
                    _json(e["detail"]) if e["detail"] else "",  # the whole detail, as stored
                ]
            )
    name = f"audit-{date.today().isoformat()}"
    response = StreamingResponse(
        chunks(writer.finish()),
        media_type=chosen.media_type,
        headers={"Content-Disposition": content_disposition(name, chosen.extension, "audit")},
    )
    return secure_headers(response)
