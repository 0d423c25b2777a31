"""The designer API: app documents, form drafts, publishing and versions."""

from __future__ import annotations

import copy
import re
from itertools import count
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from opsloom.designer import definitions
from opsloom.designer.migration_plan import diff_with_rows
from opsloom.designer.publish_jobs import latest_job
from opsloom.designer.publishing import form_problems, parse_resolutions, publish_form, publish_in_batches
from opsloom.platform.api_document import json_body
from opsloom.platform.errors import BadRequest, Conflict, FieldError, PermissionDenied, ValidationFailed
from opsloom.platform.http import DB, authenticated, context_of, principal_of, read_json
from opsloom.platform.permissions import require_app_admin

router = APIRouter(prefix="/api/design/apps", tags=["designer"], dependencies=[Depends(authenticated)])

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="An identifier")]


@router.put(
    "/{app}",
    summary="Create or replace an app document",
    openapi_extra=json_body(description="An app document (schemas/app.schema.json)"),
)
async def put_app(app: Key, request: Request, db: DB) -> dict[str, Any]:
    document = await read_json(request)
    if isinstance(document, dict):
        document.setdefault("key", app)
    if isinstance(document, dict) and document["key"] != app:
        raise ValidationFailed.of([FieldError("key", f"must be '{app}', as in the address")])
    async with db.session(write=True) as session:
        await _require_designer(session, request, app, creating=True)
        return await definitions.save_app(session, context_of(request), document)


@router.get("/{app}", summary="Read an app document")
async def get_app(app: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await _require_designer(session, request, app)
        return await definitions.load_app(session, app)


@router.put(
    "/{app}/forms/{form}",
    summary="Save a form draft",
    openapi_extra=json_body(description="A form document (schemas/form.schema.json)"),
    responses={412: {"description": "If-Match named a draft revision that is no longer the latest"}},
)
async def put_form(
    app: Key,
    form: Key,
    request: Request,
    response: Response,
    db: DB,
    if_match: Annotated[
        str | None, Header(description='The draft_revision you read, e.g. "4": 412 if another was saved since')
    ] = None,
) -> dict[str, Any]:
    expected = parse_revision(if_match)
    document = await read_json(request)
    async with db.session(write=True) as session:
        await _require_designer(session, request, app)
        saved = await definitions.save_draft(
            session, context_of(request), app, "form", form, document, expected_revision=expected
        )
    response.headers["ETag"] = f'"{saved.draft_revision}"'
    return _draft_view(saved)


def parse_revision(value: str | None) -> int | None:
    """`"4"` (an ETag, quoted or not) -> 4; no header -> None (save whatever was saved in between)."""
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise BadRequest(
            "If-Match must hold the draft revision you read",
            [FieldError("If-Match", 'send the draft_revision of the draft, e.g. "4"')],
        )
    return int(text)


@router.get("/{app}/forms/{form}", summary="Read a form draft and its state")
async def get_form(app: Key, form: Key, request: Request, response: Response, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await _require_designer(session, request, app)
        found = await definitions.load_definition(session, app, "form", form)
    response.headers["ETag"] = f'"{found.draft_revision}"'
    return _draft_view(found)


@router.post(
    "/{app}/forms/{form}/publish",
    summary="Publish the draft (dry_run: plan only)",
    openapi_extra=json_body(
        required=False, description="How to convert the rows the migration plan names, by field key (optional)"
    ),
)
async def publish(
    app: Key, form: Key, request: Request, db: DB, dry_run: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    resolutions = parse_resolutions(await _optional_json(request))
    context = context_of(request)
    async with db.session() as session:
        await _require_designer(session, request, app)
        if dry_run:
            result = await publish_form(session, context, app, form, dry_run=True, resolutions=resolutions)
    if not dry_run:
        result = await publish_in_batches(db, context, app, form, resolutions=resolutions)
    return {"dry_run": dry_run, **result.as_json()}


@router.post(
    "/{app}/forms/{form}/options",
    summary="Add options to a field with options and publish (an import's new values)",
    openapi_extra=json_body(
        description='{"field": "category", "options": [{"value": "硬件", "label": "硬件"}]}: '
        "options already there are left as they are"
    ),
)
async def add_options(app: Key, form: Key, request: Request, db: DB) -> dict[str, Any]:
    """New options straight into the published form: its draft must have no other changes (they
    would be published with them), and only the app's designers may."""
    field_key, wanted = _options_body(await read_json(request))
    context = context_of(request)
    async with db.session(write=True) as session:
        try:
            await _require_designer(session, request, app)
        except PermissionDenied:
            raise PermissionDenied(
                f"Adding an option changes the form {form}: only those who design the app {app} may; "
                "map the value to an option it has, or ask one of them to add it"
            ) from None
        found = await definitions.load_definition(session, app, "form", form, lock=True)
        if found.published_version is None:
            raise Conflict(f"{form} is not published yet", [FieldError("$", "publish the form first")])
        published = await definitions.published_document(session, found, found.published_version)
        if found.draft is not None and dict(found.draft) != published:
            raise Conflict(
                f"The draft of {form} has unpublished changes: adding options now would publish them too",
                [FieldError("$", "publish or undo the draft's changes in the designer first")],
            )
        document = copy.deepcopy(published)
        spec = next((f for f in document.get("fields", []) if f.get("key") == field_key), None)
        if spec is None or not isinstance(spec.get("options"), list):
            raise BadRequest(
                f"{form} has no field {field_key!r} with options", [FieldError("field", "not a field with options")]
            )
        added = _new_options(spec["options"], wanted)
        spec["options"] = [*spec["options"], *added]
        if added:
            problems = form_problems(document)
            if problems:
                raise ValidationFailed.of(problems)
            await definitions.save_draft(session, context, app, "form", form, document)
    version: int | None = found.published_version
    if added:
        version = (await publish_in_batches(db, context, app, form)).version
    return {"field": field_key, "added": added, "version": version}


OPTION_VALUE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # as schemas/form.schema.json has it


def _new_options(options: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The wanted options the field lacks (by value or by a label), each with a value: the one
    asked for, the label if it can be one, else the next free `option_N`."""
    taken = {str(o.get("value")) for o in options}
    names = taken | {str(v) for o in options for v in _labels(o.get("label"))}
    added: list[dict[str, Any]] = []
    for option in wanted:
        label = option.get("label") or option.get("value")
        if names & ({str(option.get("value"))} | set(_labels(label))):
            continue
        value = option.get("value") or (str(label) if OPTION_VALUE.match(str(label)) else None)
        if value is None or value in taken:
            value = next(f"option_{n}" for n in count(len(taken) + 1) if f"option_{n}" not in taken)
        taken.add(value)
        names |= {value, *_labels(label)}
        added.append({"value": value, "label": label})
    return added


def _labels(label: Any) -> list[str]:
    return [str(v) for v in label.values()] if isinstance(label, dict) else [str(label)] if label else []


def _options_body(body: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(body, dict) or not isinstance(body.get("field"), str):
        raise BadRequest("Name the field", [FieldError("field", "expected a field key")])
    options = body.get("options")
    if not isinstance(options, list) or not options:
        raise BadRequest("Send the options to add", [FieldError("options", "expected a non-empty list")])
    wanted = []
    for i, option in enumerate(options):
        option = option if isinstance(option, dict) else {}
        value, label = option.get("value"), option.get("label")
        if value is not None and not (isinstance(value, str) and OPTION_VALUE.match(value)):
            raise BadRequest(
                "An option's value is letters, digits, '_', '.' or '-'",
                [FieldError(f"options[{i}].value", "expected up to 64 letters, digits, _ . -; or leave it out")],
            )
        if isinstance(label, str):
            label = label.strip()
        if not label and value is None:
            raise BadRequest("Each option needs a label", [FieldError(f"options[{i}].label", "expected text")])
        if label and not isinstance(label, (str, dict)):
            raise BadRequest("A label is text", [FieldError(f"options[{i}].label", "expected text")])
        wanted.append({"value": value, "label": label or value})
    return body["field"], wanted


@router.get(
    "/{app}/forms/{form}/publish/progress",
    summary="How far the latest publish in batches has got (none yet: status none)",
)
async def publish_progress(app: Key, form: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await _require_designer(session, request, app)
        found = await definitions.load_definition(session, app, "form", form)
        job = await latest_job(session, found.id)
    if job is None:  # the page asks while any publish runs: nothing converted in batches yet is an answer too
        return {"job": 0, "status": "none", "done": 0, "total": 0, "version": None, "error": None}
    return job


@router.post(
    "/{app}/forms/{form}/rollback",
    summary="Publish an earlier version again",
    openapi_extra=json_body(
        {
            "type": "object",
            "required": ["version"],
            "properties": {"version": {"type": "integer", "minimum": 1}},
            "description": "The version, and how to convert rows the plan names",
        }
    ),
)
async def rollback(
    app: Key, form: Key, request: Request, db: DB, dry_run: Annotated[bool, Query()] = False
) -> dict[str, Any]:
    body = await read_json(request)
    target = body.get("version") if isinstance(body, dict) else None
    if isinstance(target, bool) or not isinstance(target, int):
        raise BadRequest("Say which version to go back to", [FieldError("version", "expected a version number")])
    resolutions = parse_resolutions({k: v for k, v in body.items() if k != "version"} or None)
    context = context_of(request)
    async with db.session() as session:
        await _require_designer(session, request, app)
        found = await definitions.load_definition(session, app, "form", form)
        document = await definitions.published_document(session, found, target)
        if dry_run:
            result = await publish_form(
                session, context, app, form, dry_run=True, resolutions=resolutions, document=document
            )
    if not dry_run:
        result = await publish_in_batches(db, context, app, form, resolutions=resolutions, document=document)
    return {"dry_run": dry_run, "rolled_back_to": target, **result.as_json()}


@router.get("/{app}/forms/{form}/diff", summary="Field-level differences between two versions")
async def diff(
    app: Key,
    form: Key,
    request: Request,
    db: DB,
    from_: Annotated[str, Query(alias="from", description="A version number")] = "",
    to: Annotated[str, Query(description="A version number, or 'draft'")] = "draft",
) -> dict[str, Any]:
    async with db.session() as session:
        await _require_designer(session, request, app)
        found = await definitions.load_definition(session, app, "form", form)
        before = await _version_or_draft(session, found, from_ or str(found.published_version or ""), "from")
        after = await _version_or_draft(session, found, to, "to")
    changes = diff_with_rows(before, after, found.storage or {}) if after is not None else []
    return {
        "from": from_ or found.published_version,
        "to": to,
        "changes": [c.as_json() for c in changes],
    }


async def _version_or_draft(session: Any, found: Any, which: str, name: str) -> Any:
    if which == "draft":
        return found.draft
    if not which.isdigit():
        raise BadRequest(f"'{name}' must be a version number or 'draft'", [FieldError(name, "e.g. 2")])
    return await definitions.published_document(session, found, int(which))


async def _optional_json(request: Request) -> Any:
    if not await request.body():
        return None
    return await read_json(request)


@router.get("/{app}/forms/{form}/versions", summary="Published versions, newest first")
async def versions(app: Key, form: Key, request: Request, db: DB) -> dict[str, Any]:
    async with db.session() as session:
        await _require_designer(session, request, app)
        found = await definitions.load_definition(session, app, "form", form)
        return {"items": await definitions.list_versions(session, found)}


@router.get("/{app}/forms/{form}/versions/{version}", summary="One published version")
async def version(
    app: Key, form: Key, version: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, db: DB
) -> dict[str, Any]:
    async with db.session() as session:
        await _require_designer(session, request, app)
        found = await definitions.load_definition(session, app, "form", form)
        return {
            "version": version,
            "document": await definitions.published_document(session, found, version),
        }


def _draft_view(d: definitions.Definition) -> dict[str, Any]:
    return {
        "key": d.key,
        "draft": d.draft,
        "draft_revision": d.draft_revision,
        "published_version": d.published_version,
        "problems": [e.as_json() for e in form_problems(d.draft)] if d.draft is not None else [],
        "archived_fields": [entry["field"] for entry in ((d.storage or {}).get("archived") or {}).values()],
    }


async def _require_designer(session: Any, request: Request, app: str, creating: bool = False) -> None:
    """Designing an app is for its admins; creating a new app is for platform admins."""
    principal = principal_of(request)
    if creating and not await definitions.app_exists(session, app):
        if not (principal.is_admin and principal.can_write):
            raise PermissionDenied("Only platform admins may create apps (an API token limited to some apps may not)")
        return
    await require_app_admin(session, principal, app)
