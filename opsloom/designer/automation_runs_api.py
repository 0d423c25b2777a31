"""The designer's tools around automations: the app's list with last runs, switching on and off,
the run log, and a test run of a draft on a sample record (a dry run: nothing written, nothing sent).

GET   /api/design/apps/{app}/automation-overview
PUT   /api/design/apps/{app}/automations/{automation}/enabled      {"enabled": false}
GET   /api/design/apps/{app}/automations/{automation}/runs
POST  /api/design/apps/{app}/automations/{automation}/test-run     {"record_id": 7, "document": {...}}
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from cronsim import CronSim
from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.automations import automation_problems
from opsloom.platform import tables
from opsloom.platform.api_document import json_body
from opsloom.platform.errors import BadRequest, FieldError, ValidationFailed
from opsloom.platform.http import DB, authenticated, context_of, principal_of, read_json, settings_of
from opsloom.platform.permissions import require_app_admin
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.fields import dump_datetime
from opsloom.runtime.integrations.automations import Tools, automation_context, perform, zone_of
from opsloom.runtime.integrations.metrics import read_metric
from opsloom.runtime.integrations.timed import latest_slot

router = APIRouter(prefix="/api/design/apps", tags=["designer"], dependencies=[Depends(authenticated)])

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="An identifier")]
LAST_RUNS = 5
ENABLED_SCHEMA = {"type": "object", "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}}}
TEST_RUN_SCHEMA = {
    "type": "object",
    "properties": {
        "record_id": {"type": "integer", "minimum": 1, "description": "The sample record (default: the newest)"},
        "document": {"type": "object", "description": "The automation as edited (default: its saved draft)"},
    },
}


def _run_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "fire_key": row.fire_key,
        "record_id": row.record_id,
        "at": dump_datetime(row.at),
        "outcome": row.outcome,
        "detail": row.detail,
    }


async def _runs(session: AsyncSession, app: str, key: str, limit: int) -> list[dict[str, Any]]:
    r = tables.automation_runs
    query = (
        select(r).where(r.c.app_key == app, r.c.automation_key == key, r.c.outcome != "skipped").order_by(r.c.id.desc())
    )
    return [_run_view(row) for row in await session.execute(query.limit(limit))]


@router.get("/{app}/automation-overview", summary="The app's automations: state and last runs")
async def overview(app: Key, request: Request, db: DB) -> dict[str, Any]:
    d, v = tables.definitions, tables.definition_versions
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        await definitions.load_app(session, app)
        rows = await session.execute(
            select(d, v.c.document.label("published"))
            .outerjoin(v, (v.c.definition_id == d.c.id) & (v.c.version == d.c.published_version))
            .where(d.c.app_key == app, d.c.kind == "automation")
            .order_by(d.c.key)
        )
        items = []
        for row in rows:
            document = row.published or row.draft or {}
            items.append(
                {
                    "key": row.key,
                    "label": document.get("label", row.key),
                    "form": document.get("form"),
                    "trigger": document.get("trigger"),
                    "published_version": row.published_version,
                    "enabled": not (row.storage or {}).get("paused") and document.get("active", True),
                    "runs": await _runs(session, app, row.key, LAST_RUNS),
                }
            )
    return {"items": items}


@router.put(
    "/{app}/automations/{automation}/enabled",
    summary="Switch a published automation on or off",
    openapi_extra=json_body(
        {"type": "object", "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}}}
    ),
)
async def set_enabled(app: Key, automation: Key, request: Request, db: DB) -> dict[str, Any]:
    body = await read_json(request)
    enabled = body.get("enabled") if isinstance(body, dict) else None
    if not isinstance(enabled, bool):
        raise ValidationFailed.of([FieldError("enabled", "expected true or false")])
    async with db.session(write=True) as session:
        await require_app_admin(session, principal_of(request), app)
        found = await definitions.load_definition(session, app, "automation", automation, lock=True)
        if found.published_version is None:
            raise BadRequest(
                "Publish the automation first", [FieldError("enabled", "an unpublished automation runs nothing")]
            )
        storage = dict(found.storage or {}) | {"paused": not enabled}
        d = tables.definitions
        await session.execute(update(d).where(d.c.id == found.id).values(storage=storage))
    return {"key": automation, "enabled": enabled}


@router.get("/{app}/automations/{automation}/runs", summary="An automation's runs, newest first")
async def runs(
    app: Key, automation: Key, request: Request, db: DB, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        await definitions.load_definition(session, app, "automation", automation)
        return {"items": await _runs(session, app, automation, limit)}


@router.post(
    "/{app}/automations/{automation}/test-run",
    summary="Try the automation on a sample record: what its actions would do (nothing is written or sent)",
    openapi_extra=json_body(TEST_RUN_SCHEMA, required=False),
)
async def test_run(app: Key, automation: Key, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    body = await read_json(request) if await request.body() else {}
    if not isinstance(body, dict):
        raise ValidationFailed.of([FieldError("$", "send an object")])
    record_id = body.get("record_id")
    if record_id is not None and (not isinstance(record_id, int) or isinstance(record_id, bool) or record_id < 1):
        raise ValidationFailed.of([FieldError("record_id", "give a record's id, or leave it out for the newest")])
    ctx, settings = context_of(request), settings_of(request)
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        document = body.get("document")
        if document is None:
            document = (await definitions.load_definition(session, app, "automation", automation)).draft
        problems = await automation_problems(session, forms, app, document)
        if problems:
            raise ValidationFailed("Fix the automation before trying it", problems)
        assert isinstance(document, dict)
        form = await forms.get(session, app, document["form"])
        trigger = document["trigger"]
        recordless = trigger["on"] == "metric" or (trigger["on"] == "schedule" and document.get("condition") is None)
        if record_id is None and not recordless:
            t = form.table
            newest = select(func.max(t.c.id)).where(t.c.deleted_at.is_(None))
            record_id = (await session.execute(newest)).scalar()
            if record_id is None:
                raise BadRequest(
                    f"Form {form.key} has no record to try the automation on",
                    [FieldError("record_id", "add a record first, or name one")],
                )
        elif record_id is not None:
            t = form.table
            if (await session.execute(select(t.c.id).where(t.c.id == record_id))).first() is None:
                raise ValidationFailed.of([FieldError("record_id", f"form {form.key} has no record {record_id}")])
        tools = Tools(forms, None, "", settings.zone)
        done = await perform(session, tools, app, document, None if recordless else record_id, ctx.now, dry=True)
        reading = None
        if trigger["on"] == "metric":  # the number now, and whether a check now would run the actions
            auto = automation_context(document, ctx.now)
            reading = await read_metric(session, forms, app, automation, trigger, auto)
        await session.rollback()
    answer: dict[str, Any] = {
        "record_id": None if recordless else record_id,
        "condition_met": done is not None,
        "actions": done or [],
        "dry_run": True,
    }
    if trigger["on"] in ("schedule", "metric"):
        answer["next_runs"] = _next_runs(trigger, ctx.now, settings.zone)
    if reading is not None:
        answer |= {"metric": reading.detail()["metric"], "holds": reading.holds, "would_fire": reading.fires}
    return answer


def _next_runs(trigger: dict[str, Any], now: datetime, zone: Any, count: int = 3) -> list[str]:
    """The schedule's next times, in its zone, for people to check what they wrote."""
    latest = latest_slot(trigger, now, zone)
    times = CronSim(trigger["cron"], (latest + timedelta(seconds=1)).astimezone(zone_of(trigger, zone)))
    return [next(times).isoformat() for _ in range(count)]
