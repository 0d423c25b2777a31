"""The generic records API: one set of routes serves every published form."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.api_document import json_body, problems, query_parameters
from opsloom.platform.database import Database
from opsloom.platform.errors import BadRequest, FieldError, OpsloomError
from opsloom.platform.files import FileStore
from opsloom.platform.http import DB, authenticated, context_of, principal_of, read_json, settings_of
from opsloom.platform.permissions import FormAccess, form_access
from opsloom.runtime import records
from opsloom.runtime.access import reader_access
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.forms import CompiledForm, FormRegistry, StaleForm

EXPAND = "Link fields to show as {id, title, access} ({id, null, false} for a record you may not read) or {id, name}"

router = APIRouter(
    prefix="/api/apps/{app}/forms/{form}/records", tags=["records"], dependencies=[Depends(authenticated)]
)

RecordId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The record id")]
IfMatch = Annotated[str | None, Header(description='The version you read, e.g. "3"')]


def _registries(request: Request) -> tuple[Database, FormRegistry]:
    """The database and the compiled forms, for the most called routes here: taken from the app
    rather than through `DB` and `Forms`, as each dependency costs FastAPI work on every request."""
    return request.app.state.db, request.app.state.forms


async def _open(
    request: Request, forms: FormRegistry, session: AsyncSession, app: str, form: str
) -> tuple[CompiledForm, FormAccess]:
    """The published form and what the caller may do with it (the policy service decides)."""
    compiled = await forms.get(session, app, form)
    return compiled, await reader_access(session, principal_of(request), compiled)


async def _read(request: Request, db: DB, forms: FormRegistry, app: str, form: str, work: Any) -> Any:
    """Run a read, first with the form as this process has it cached (checked inside the read's
    own statement, so no extra round trip), and again with the current form if that is stale."""
    return await _cached_first(request, db.reading, forms, app, form, work)


async def _cached_first(
    request: Request,
    begin: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    forms: FormRegistry,
    app: str,
    form: str,
    work: Any,
) -> Any:
    """Run `work(session, form, access, unconfirmed)` in a session `begin()` gives, first with the form
    as this process has it cached, unasked (`unconfirmed`: the work's own statement confirms it and
    raises `StaleForm` if it is not the published one), and again with the current form if it was
    stale. A refusal made with the cached form stands only once the form is known to be current: a
    field published since must not be refused by a process that had not heard of it yet."""
    cached = forms.peek(app, form)
    if cached is not None:
        try:
            async with begin() as session:
                access = await form_access(session, principal_of(request), app, form)
                try:
                    return await work(session, cached, access, True)
                except OpsloomError:
                    if await forms.is_current(session, cached):
                        raise
                    raise StaleForm(form) from None  # and what the work did is rolled back
        except OpsloomError:
            raise  # an answer about the request itself (not found, not allowed, not valid)
        except Exception:  # noqa: BLE001 - StaleForm, or a statement or stored value the changed table no longer fits
            pass  # the form changed since it was cached (a changed type fails as it is read): again
    async with begin() as session:
        compiled, access = await _open(request, forms, session, app, form)
        return await work(session, compiled, access, False)


def _etag(record: dict[str, Any], response: Response) -> dict[str, Any]:
    response.headers["ETag"] = f'"{record["version"]}"'
    return record


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise BadRequest(
            "If-Match must hold the record version you read",
            [FieldError("If-Match", 'send the ETag of the record, e.g. "3"')],
        )
    return int(text)


@router.post(
    "",
    status_code=201,
    summary="Create a record",
    openapi_extra=json_body(description="The record's fields by key; see the app's own OpenAPI document"),
)
async def create(app: str, form: str, request: Request, response: Response) -> dict[str, Any]:
    db, forms = _registries(request)
    payload = await read_json(request)

    async def work(session: AsyncSession, compiled: CompiledForm, access: FormAccess, unconfirmed: bool) -> Any:
        ctx = context_of(request)
        return await records.create_record(session, compiled, ctx, payload, access, unconfirmed=unconfirmed)

    # The INSERT confirms the cached form, and holds it against a publish: a statement fewer
    # (see CompiledForm.confirmed_insert)
    record = await _cached_first(request, partial(db.session, write=True), forms, app, form, work)
    response.headers["Location"] = f"{request.scope['path']}/{record['id']}"
    return _etag(record, response)


@router.post(
    "/bulk",
    status_code=201,
    summary="Create many records, all or nothing",
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["records"],
            "properties": {"records": {"type": "array", "items": {"type": "object"}, "maxItems": 1000}},
        }
    ),
)
async def create_many(app: str, form: str, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    payload = await read_json(request)
    if not isinstance(payload, dict) or "records" not in payload:
        raise BadRequest('Send {"records": [...]}', [FieldError("records", "is required")])
    async with db.session(write=True) as session:
        compiled, access = await _open(request, forms, session, app, form)
        items = await records.create_records(session, compiled, context_of(request), payload["records"], access)
    return {"items": items}


LIST_PARAMETERS = query_parameters(
    filter="A condition as JSON",
    sort="Field keys, '-' for descending",
    limit="Page size, 1 to 500; 0 for the count alone",
    cursor="next_cursor of the previous page",
    q="Search in the title field",
    count="auto (default), exact or none",
    expand=EXPAND,
    group="A single-choice, person or department field: sorted by it first, and `groups` counts each value",
)


@router.get("", summary="List records", openapi_extra=LIST_PARAMETERS)
async def list_(app: str, form: str, request: Request) -> dict[str, Any]:
    db, forms = _registries(request)
    params = request.query_params
    count = params.get("count")
    if count not in (None, "auto", "exact", "none"):
        raise BadRequest("Unknown count mode", [FieldError("count", "use auto, exact or none")])
    query = records.ListRequest(
        filter=params.get("filter"),
        sort=params.get("sort"),
        limit=params.get("limit"),
        cursor=params.get("cursor"),
        q=params.get("q"),
        count=count,
        expand=params.get("expand"),
        group=params.get("group"),
    )
    limit_count = settings_of(request).exact_count_limit

    async def work(session: AsyncSession, compiled: CompiledForm, access: FormAccess, probe: bool) -> Any:
        ctx = context_of(request)
        return await records.list_records(
            session, compiled, ctx, query, access, exact_count_limit=limit_count, probe=probe
        )

    return await _read(request, db, forms, app, form, work)


@router.get("/{record_id}", summary="Read a record", openapi_extra=query_parameters(expand=EXPAND))
async def read(app: str, form: str, record_id: RecordId, request: Request, response: Response) -> dict[str, Any]:
    db, forms = _registries(request)
    expand = request.query_params.get("expand")

    async def work(session: AsyncSession, compiled: CompiledForm, access: FormAccess, probe: bool) -> Any:
        ctx = context_of(request)
        return await records.get_record(session, compiled, ctx, record_id, access, expand, probe=probe)

    return _etag(await _read(request, db, forms, app, form, work), response)


@router.patch(
    "/{record_id}",
    summary="Change some fields of a record",
    responses=problems(412),
    openapi_extra=json_body(description="The fields to change, by key"),
)
async def patch(
    app: str,
    form: str,
    record_id: RecordId,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> dict[str, Any]:
    db, forms = _registries(request)
    expected = parse_if_match(if_match)
    payload = await read_json(request)
    async with db.session(write=True) as session:
        compiled, access = await _open(request, forms, session, app, form)
        record = await records.update_record(
            session, compiled, context_of(request), record_id, payload, expected, access
        )
    return _etag(record, response)


@router.delete(
    "/{record_id}",
    status_code=204,
    summary="Delete a record (it can be restored), or purge a deleted one",
    responses=problems(412),
)
async def delete(
    app: str,
    form: str,
    record_id: RecordId,
    request: Request,
    db: DB,
    forms: Forms,
    if_match: IfMatch = None,
    purge: Annotated[bool, Query(description="Remove a deleted record for good, files included")] = False,
) -> Response:
    expected = parse_if_match(if_match)
    async with db.session(write=True) as session:
        compiled, access = await _open(request, forms, session, app, form)
        if purge:
            store = FileStore(settings_of(request).files_dir)
            await records.purge_record(session, compiled, context_of(request), record_id, access, store)
            return Response(status_code=204)
        referrers = await forms.referrers(session, app, form)
        await records.delete_record(session, compiled, context_of(request), record_id, expected, access, referrers)
    return Response(status_code=204)


@router.post("/{record_id}/restore", summary="Restore a deleted record")
async def restore(
    app: str, form: str, record_id: RecordId, request: Request, response: Response, db: DB, forms: Forms
) -> dict[str, Any]:
    async with db.session(write=True) as session:
        compiled, access = await _open(request, forms, session, app, form)
        record = await records.restore_record(session, compiled, context_of(request), record_id, access)
    return _etag(record, response)


@router.get("/{record_id}/history", summary="Who changed what, when")
async def history(app: str, form: str, record_id: RecordId, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
    async with db.session() as session:
        compiled, access = await _open(request, forms, session, app, form)
        items = await records.record_history(session, compiled, context_of(request), record_id, access)
    return {"items": items}
