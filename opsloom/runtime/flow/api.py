"""The to-do API and the flow actions on records.

    GET  /api/tasks?box=pending|submitted|cc|done     my lists, newest first
    GET  /api/tasks/counts                            how many in each box
    GET  /api/tasks/{task}                            the task, its record (as the step shows it), the timeline
    POST /api/tasks/{task}/{action}                   approve, reject, return, transfer, delegate, add_signer
    POST /api/apps/{app}/forms/{form}/records/{id}/submit | withdraw | urge | comments
    GET  /api/apps/{app}/forms/{form}/records/{id}/timeline
    GET|PUT|DELETE /api/me/delegation                 standing out-of-office delegation
    GET  /api/notifications · GET /api/notifications/counts · POST /api/notifications/read

Every POST takes an optional `Idempotency-Key` header: a repeated request with
the same key is applied once and answered as the first time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from sqlalchemy import and_, delete, insert, select

from opsloom.platform import tables
from opsloom.platform.api_document import json_body
from opsloom.platform.context import Principal
from opsloom.platform.errors import BadRequest, FieldError, NotFound, PermissionDenied, ValidationFailed
from opsloom.platform.http import DB, authenticated, context_of, principal_of, read_json
from opsloom.platform.permissions import form_access
from opsloom.runtime import records
from opsloom.runtime.dependencies import FlowServices, Forms
from opsloom.runtime.fields import dump_datetime
from opsloom.runtime.flow import instances, summaries, todo
from opsloom.runtime.flow.engine import ACTIONS
from opsloom.runtime.flow.instances import Idempotency
from opsloom.runtime.flow.model import Act, Comment, Submit, Urge, Withdraw

router = APIRouter(tags=["flows"], dependencies=[Depends(authenticated)])

TaskId = Annotated[int, Path(ge=1, le=2**63 - 1)]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
TASK_ACTION = {
    "type": "object",
    "properties": {
        "comment": {"type": "string", "maxLength": 4000},
        "values": {"type": "object", "description": "Field values, with approve"},
        "users": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}},
        "to": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    },
}
COMMENT_ONLY = {"type": "object", "properties": {"comment": {"type": "string", "maxLength": 4000}}}
SUBMIT = {
    "type": "object",
    "properties": {
        "chosen": {"type": "object", "description": "Approvers the submitter picks, by node id"},
        "comment": {"type": "string", "maxLength": 4000},
    },
}
COMMENT = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 4000},
        "files": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 20},
        "mentions": {
            "description": "People to tell (user ids): each gets a notification, even outside the flow",
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
            "maxItems": 20,
        },
    },
}
DELEGATION = {
    "type": "object",
    "required": ["delegate_id", "starts_at", "ends_at"],
    "properties": {
        "delegate_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
    },
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description="Apply a retried request once")]


def _me(request: Request) -> int:
    user = principal_of(request).user_id
    if user is None:
        raise BadRequest("A to-do list belongs to a person; log in as one")
    return user


def _person(request: Request) -> Principal:
    """The caller as a person: their lists and notifications, in the apps their credentials reach."""
    _me(request)
    return principal_of(request)


def _whole_account(request: Request) -> int:
    """For changes that reach every app of the account (a standing delegation): not through an app-limited token."""
    if principal_of(request).token_apps is not None:
        raise PermissionDenied("This API token is limited to some apps; this changes every app, so use another way in")
    return _me(request)


# ------------------------------------------------------------------ to-do lists


@router.get("/api/tasks", summary="My to-do lists; each item with `summary`, a few fields of its record")
async def list_tasks(
    request: Request,
    db: DB,
    services: FlowServices,
    box: Annotated[str, Query(description="pending, submitted, cc or done")] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    who = _person(request)
    async with db.session() as session:
        page = await todo.list_box(session, who, box, limit, cursor)
        await summaries.attach_summaries(session, services, context_of(request), page["items"])
    return page


@router.get("/api/tasks/counts", summary="How many items each of my lists holds")
async def task_counts(request: Request, db: DB) -> dict[str, int]:
    async with db.session() as session:
        return await todo.count_tasks(session, _person(request))


@router.get("/api/tasks/{task}", summary="A task with its record as the step shows it, and the timeline")
async def get_task(task: TaskId, request: Request, db: DB, services: FlowServices) -> dict[str, Any]:
    async with db.session() as session:
        details = await todo.task_details(session, services, context_of(request), task)
    return details.as_json()


@router.post(
    "/api/tasks/{task}/{action}",
    summary="Act on a task",
    openapi_extra=json_body(TASK_ACTION, required=False),
)
async def act(
    task: TaskId,
    action: Annotated[str, Path(pattern=r"^[a-z_]{1,32}$")],
    request: Request,
    db: DB,
    services: FlowServices,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    body = await _optional_body(request)
    if action not in ACTIONS:
        raise NotFound(f"There is no action '{action}'; use one of {', '.join(sorted(ACTIONS))}")
    me = _me(request)
    values = body.get("values")
    if values is not None and (not isinstance(values, dict) or action != "approve"):
        raise BadRequest("values are sent with approve, as an object", [FieldError("values", "expected an object")])
    users = body.get("users") or ()
    if not isinstance(users, list | tuple) or not all(isinstance(u, int) and not isinstance(u, bool) for u in users):
        raise BadRequest("users is a list of user ids", [FieldError("users", "expected a list of ids")])
    to = body.get("to")
    if to is not None and (not isinstance(to, int) or isinstance(to, bool)):
        raise BadRequest("to is a user id", [FieldError("to", "expected a user id")])

    def event_of(local_id: int, changes: dict[str, Any]) -> Act:
        return Act(
            actor=me,
            task=local_id,
            action=action,
            comment=_text(body.get("comment"), "comment"),
            target=_text(body.get("target"), "target"),
            to=to,
            users=tuple(users),
            position=str(body.get("position", "after")),
            changes=changes,
        )

    idem = Idempotency.of(idempotency_key, "POST", request.url.path, body)
    async with db.session(write=True) as session:
        return await instances.act_on_task(session, context_of(request), services, task, event_of, values, idem)


# ------------------------------------------------------------------ records


RECORD = "/api/apps/{app}/forms/{form}/records/{record_id}"


async def _record_call(
    request: Request, db: DB, services: FlowServices, app: str, form: str, record_id: int, event: Any, key: str | None
) -> Any:
    body = await _optional_body(request)
    idem = Idempotency.of(key, "POST", request.url.path, body)
    async with db.session(write=True) as session:
        compiled = await services.forms.get(session, app, form)
        access = await form_access(session, principal_of(request), app, form)
        built = event(body)
        call = instances.submit_record if isinstance(built, Submit) else instances.record_event
        return await call(session, context_of(request), services, compiled, access, record_id, built, idem)


@router.post(
    RECORD + "/submit",
    summary="Submit the record to its form's flow",
    openapi_extra=json_body(SUBMIT, required=False),
)
async def submit(
    app: str,
    form: str,
    record_id: RecordId,
    request: Request,
    db: DB,
    services: FlowServices,
    idempotency_key: IdempotencyKey = None,
):
    me = _me(request)

    def event(body: dict[str, Any]) -> Submit:
        chosen = body.get("chosen") or {}
        valid = isinstance(chosen, dict) and all(
            isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
            for v in chosen.values()
        )
        if not valid:
            raise BadRequest("chosen maps node ids to lists of user ids", [FieldError("chosen", "expected an object")])
        return Submit(me, chosen, _text(body.get("comment"), "comment"))

    return await _record_call(request, db, services, app, form, record_id, event, idempotency_key)


@router.post(
    RECORD + "/withdraw",
    summary="Withdraw a submitted record (before anyone acted)",
    openapi_extra=json_body(COMMENT_ONLY, required=False),
)
async def withdraw(
    app: str,
    form: str,
    record_id: RecordId,
    request: Request,
    db: DB,
    services: FlowServices,
    idempotency_key: IdempotencyKey = None,
):
    me = _me(request)
    return await _record_call(
        request,
        db,
        services,
        app,
        form,
        record_id,
        lambda b: Withdraw(me, _text(b.get("comment"), "comment")),
        idempotency_key,
    )


@router.post(
    RECORD + "/urge",
    summary="Remind the people whose turn it is",
    openapi_extra=json_body(COMMENT_ONLY, required=False),
)
async def urge(
    app: str,
    form: str,
    record_id: RecordId,
    request: Request,
    db: DB,
    services: FlowServices,
    idempotency_key: IdempotencyKey = None,
):
    me = _me(request)
    return await _record_call(
        request,
        db,
        services,
        app,
        form,
        record_id,
        lambda b: Urge(me, _text(b.get("comment"), "comment")),
        idempotency_key,
    )


@router.post(
    RECORD + "/comments",
    summary="Comment on a record's flow (with attachments)",
    openapi_extra=json_body(COMMENT),
)
async def comment(
    app: str,
    form: str,
    record_id: RecordId,
    request: Request,
    db: DB,
    services: FlowServices,
    idempotency_key: IdempotencyKey = None,
):
    me = _me(request)

    def event(body: dict[str, Any]) -> Comment:
        text = _text(body.get("text"), "text")
        if not text:
            raise BadRequest("Write the comment's text", [FieldError("text", "is required")])
        files = body.get("files") or []
        if not _ids(files):
            raise BadRequest("files is a list of up to 20 uploaded file ids", [FieldError("files", "expected a list")])
        mentions = body.get("mentions") or []
        if not _ids(mentions):
            raise BadRequest("mentions is a list of up to 20 user ids", [FieldError("mentions", "expected a list")])
        return Comment(me, text, tuple(files), tuple(dict.fromkeys(mentions)))

    await _refuse_unknown_people(request, db, "mentions")
    return await _record_call(request, db, services, app, form, record_id, event, idempotency_key)


async def _refuse_unknown_people(request: Request, db: DB, key: str) -> None:
    """Every id in the body's `key` list names an active user (422 at the ones that do not)."""
    body = await _optional_body(request)
    ids = body.get(key) if isinstance(body, dict) else None
    if not ids or not _ids(ids):
        return  # absent, or refused with its shape by the event's own check
    u = tables.users
    async with db.session() as session:
        known = set((await session.execute(select(u.c.id).where(u.c.id.in_(ids), u.c.active))).scalars())
    unknown = [FieldError(f"{key}[{i}]", "is not an active user") for i, user in enumerate(ids) if user not in known]
    if unknown:
        raise ValidationFailed.of(unknown)


@router.get(RECORD + "/timeline", summary="The record's flows: who did what, when, with which comment")
async def timeline(app: str, form: str, record_id: RecordId, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    async with db.session() as session:
        compiled = await forms.get(session, app, form)
        access = await form_access(session, principal_of(request), app, form)
        await records.get_record(session, compiled, context_of(request), record_id, access)
        return {"items": await instances.timeline(session, compiled, record_id, access.hidden)}


# ------------------------------------------------------------------ delegation, notifications


@router.get("/api/me/delegation", summary="My out-of-office delegations that have not ended")
async def my_delegation(request: Request, db: DB) -> dict[str, Any]:
    me = _me(request)
    g = tables.delegations
    async with db.session() as session:
        rows = await session.execute(
            select(g).where(g.c.user_id == me, g.c.ends_at > context_of(request).now).order_by(g.c.starts_at)
        )
        return {"items": [_delegation_view(r) for r in rows]}


@router.put(
    "/api/me/delegation",
    summary="Hand my new tasks to someone for a period (out of office)",
    openapi_extra=json_body(DELEGATION),
)
async def set_delegation(request: Request, db: DB) -> dict[str, Any]:
    me = _whole_account(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("Send {delegate_id, starts_at, ends_at}", [FieldError("$", "expected an object")])
    delegate = body.get("delegate_id")
    starts, ends = _when(body.get("starts_at"), "starts_at"), _when(body.get("ends_at"), "ends_at")
    errors = []
    if not isinstance(delegate, int) or isinstance(delegate, bool) or not 0 < delegate < 2**63 or delegate == me:
        errors.append(FieldError("delegate_id", "name another person's user id"))
    if ends <= starts:
        errors.append(FieldError("ends_at", "must be after starts_at"))
    ctx = context_of(request)
    async with db.session(write=True) as session:
        u = tables.users
        if not errors and (await session.execute(select(u.c.id).where(u.c.id == delegate, u.c.active))).first() is None:
            errors.append(FieldError("delegate_id", f"there is no active user {delegate}"))
        if errors:
            raise BadRequest("The delegation is not valid", errors)
        g = tables.delegations
        overlapping = and_(g.c.starts_at < ends, g.c.ends_at > starts)
        await session.execute(delete(g).where(g.c.user_id == me, overlapping))
        await session.execute(
            insert(g).values(user_id=me, delegate_id=delegate, starts_at=starts, ends_at=ends, created_at=ctx.now)
        )
        rows = await session.execute(select(g).where(g.c.user_id == me, g.c.ends_at > ctx.now).order_by(g.c.starts_at))
        return {"items": [_delegation_view(r) for r in rows]}


@router.delete("/api/me/delegation", status_code=204, summary="End my delegations")
async def end_delegation(request: Request, db: DB) -> None:
    me = _whole_account(request)
    g = tables.delegations
    async with db.session(write=True) as session:
        await session.execute(delete(g).where(g.c.user_id == me))


def _delegation_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "delegate_id": row.delegate_id,
        "starts_at": dump_datetime(row.starts_at),
        "ends_at": dump_datetime(row.ends_at),
    }


def _when(value: Any, path: str) -> datetime:
    from opsloom.runtime.fields import FieldSpec, Invalid
    from opsloom.runtime.fields.datetime import DateTime

    spec = FieldSpec(path, path, DateTime.name, path, path)
    try:
        moment = DateTime().parse(spec, value)
    except Invalid as problem:
        raise BadRequest(f"{path} is not a date and time", [FieldError(path, str(problem))]) from None
    if moment is None:
        raise BadRequest(f"{path} is required", [FieldError(path, "is required")])
    return moment


@router.get("/api/notifications", summary="My notifications, newest first")
async def notifications(
    request: Request, db: DB, unread: bool = False, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    who = _person(request)
    async with db.session() as session:
        return {"items": await todo.list_notifications(session, who, unread, limit)}


@router.get("/api/notifications/counts", summary="How many of my notifications are unread")
async def notification_counts(request: Request, db: DB) -> dict[str, int]:
    who = _person(request)
    async with db.session() as session:
        return {"unread": await todo.unread_notifications(session, who)}


@router.post("/api/notifications/read", summary="Mark my notifications read")
async def read_notifications(request: Request, db: DB) -> dict[str, int]:
    who = _person(request)
    async with db.session(write=True) as session:
        return {"marked": await todo.mark_notifications_read(session, who, context_of(request).now)}


# ------------------------------------------------------------------ helpers


async def _optional_body(request: Request) -> dict[str, Any]:
    if not (await request.body()).strip():
        return {}
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object", [FieldError("$", "expected an object")])
    return body


def _ids(value: Any) -> bool:
    """A list of up to 20 positive ids."""
    return (
        isinstance(value, list)
        and len(value) <= 20
        and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= 2**63 - 1 for i in value)
    )


def _text(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 4000 or "\x00" in value:
        raise BadRequest(f"{path} must be a text of at most 4000 characters", [FieldError(path, "expected a text")])
    return value.strip() or None
