"""Publishing a form from the designer's pages: the plan in plain words, choices for the records it does
not fit, then the publish; versions with who and when, a diff of any two in plain words, and rollback.

The same services as the designer API (`plan_publish` for the dry run, `parse_resolutions`,
`publish_in_batches`); a refusal or a bad choice is told on the page, with the plan, never as a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from opsloom.designer import definitions
from opsloom.designer.migration_plan import Resolution, diff_with_rows
from opsloom.designer.pages.plan_sentences import Issue, Names, change_sentences, issues, step_sentences
from opsloom.designer.pages.shell import Designer, design_nav, open_designer
from opsloom.designer.publish_jobs import latest_job
from opsloom.designer.publishing import Planned, parse_resolutions, plan_publish, publish_in_batches
from opsloom.platform import tables
from opsloom.platform.errors import FieldError, NotFound, OpsloomError, ValidationFailed
from opsloom.runtime.fields import Invalid, unit_of
from opsloom.runtime.forms import compile_form, initial_storage
from opsloom.runtime.pages.rendering import forbidden, not_found, page_id, redirect, render, request_context
from opsloom.runtime.pages.security import CSRF_FIELD, form_token_ok

router = APIRouter(include_in_schema=False)

MAX_VALUE = 1000


@dataclass(frozen=True)
class PlanView:
    """What the publish page shows of a plan: its steps in words, the issues, whether it can be applied."""

    steps: list[str]
    issues: list[Issue]
    can_apply: bool
    changes_anything: bool
    from_version: int | None


def _plan_view(page: Designer, planned: Planned, resolutions: dict[str, Resolution]) -> PlanView:
    old = planned.state.old_document if planned.state is not None else None
    storage = planned.definition.storage or planned.plan.storage
    names = Names.of(page.ctx.t, old, planned.document, storage=storage)
    return PlanView(
        step_sentences(names, planned.plan),
        issues(names, planned.plan, planned.facts, resolutions),
        not planned.plan.blockers,
        planned.plan.changes_anything,
        planned.definition.published_version,
    )


@router.get("/design/apps/{app}/forms/{form}/publish")
async def publish_page(app: str, form: str, request: Request) -> Response:
    return await _plan_page(request, app, form, None, {}, {})


@router.post("/design/apps/{app}/forms/{form}/publish")
async def publish_post(app: str, form: str, request: Request) -> Response:
    return await _post(request, app, form, None)


@router.get("/design/apps/{app}/forms/{form}/rollback")
async def rollback_page(app: str, form: str, request: Request) -> Response:
    version = page_id(request.query_params.get("version", ""))
    if version is None:
        page = await open_designer(request, app)
        return not_found(page.ctx) if isinstance(page, Designer) else page
    return await _plan_page(request, app, form, version, {}, {})


@router.post("/design/apps/{app}/forms/{form}/rollback")
async def rollback_post(app: str, form: str, request: Request) -> Response:
    posted = await request.form()
    version = page_id(str(posted.get("version", "")))
    if version is None:
        page = await open_designer(request, app)
        return not_found(page.ctx) if isinstance(page, Designer) else page
    return await _post(request, app, form, version)


async def _post(request: Request, app: str, form: str, version: int | None) -> Response:
    """`action=check` plans again with the choices made; `action=publish` applies them."""
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    posted = {k: v[:MAX_VALUE] for k, v in (await request.form()).items() if isinstance(v, str)}
    if not form_token_ok(request, posted.get(CSRF_FIELD), page.user):
        return forbidden(page.ctx)
    body = _resolutions_body(posted)
    try:
        resolutions = parse_resolutions(body)
    except OpsloomError as error:
        return await _plan_page(request, app, form, version, {}, posted, error=error)
    if posted.get("action") != "publish":
        return await _plan_page(request, app, form, version, resolutions, posted)
    ctx = request_context(request, page.user)
    db = request.app.state.db
    try:
        async with db.session() as session:
            found = await definitions.load_definition(session, app, "form", form)
            document = await definitions.published_document(session, found, version) if version else None
        _check_values(app, document if document is not None else found.draft, resolutions, ctx.zone)
        result = await publish_in_batches(db, ctx, app, form, resolutions=resolutions, document=document)
    except NotFound:
        return not_found(page.ctx)
    except OpsloomError as error:
        return await _plan_page(request, app, form, version, resolutions, posted, error=error)
    notice = f"published={result.version}" if result.applied else "unchanged=1"
    return redirect(f"/design/apps/{app}/forms/{form}/versions?{notice}")


def _check_values(app: str, document: Any, resolutions: dict[str, Resolution], zone: Any) -> None:
    """The values typed for records that do not fit must fit the changed field themselves: say so before the
    publish starts, rather than fail in the middle of it. (Values for a subform's rows, and option values
    kept in a multiple choice, are checked by the publish itself.)"""
    try:
        fields = compile_form(app, document, form_id=0, version=0, storage=initial_storage(app, document)).by_key
    except (OpsloomError, KeyError, TypeError):
        return  # the publish reports what is wrong with the draft
    errors = []
    for key, chosen in resolutions.items():
        spec = fields.get(key)
        if spec is None or (unit_of(spec).options and unit_of(spec).multiple):
            continue
        given = {"value": chosen.value if chosen.on_invalid == "set_value" else None, "fill_empty": chosen.fill_empty}
        for name, value in given.items():
            if value is None:
                continue
            try:
                unit_of(spec).parse(spec, value, zone)
            except Invalid as problem:
                errors.append(FieldError(f"resolutions.{key}.{name}", str(problem)))
    if errors:
        raise ValidationFailed("A value given for the records that do not fit does not fit the field either", errors)


def _resolutions_body(posted: dict[str, str]) -> dict[str, Any] | None:
    """The page's choices (`choice:amount`, `value:amount`, `fill:amount`) as the API's resolutions body."""
    raw: dict[str, dict[str, Any]] = {}
    for name, value in posted.items():
        kind, _, key = name.partition(":")
        if not key:
            continue
        if kind == "choice" and value in ("set_empty", "set_value", "archive"):
            raw.setdefault(key, {})["on_invalid"] = value
        elif kind == "fill" and value.strip():
            raw.setdefault(key, {})["fill_empty"] = value.strip()
    for key, item in raw.items():
        if item.get("on_invalid") == "set_value":
            given = posted.get(f"value:{key}", "").strip()
            item["value"] = given or None
    return {"resolutions": raw} if raw else None


async def _plan_page(
    request: Request,
    app: str,
    form: str,
    version: int | None,
    resolutions: dict[str, Resolution],
    posted: dict[str, str],
    error: OpsloomError | None = None,
) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    view: PlanView | None = None
    problem: OpsloomError | None = error
    async with request.app.state.db.session() as session:
        nav = await design_nav(session, app)
        found = await definitions.find_definition(session, app, "form", form)
        if found is None:
            return not_found(page.ctx)
        document = None
        try:
            if version is not None:
                document = await definitions.published_document(session, found, version)
            planned = await plan_publish(session, app, form, page.ctx.zone, resolutions=resolutions, document=document)
            view = _plan_view(page, planned, resolutions)
        except NotFound:
            return not_found(page.ctx)
        except OpsloomError as refused:
            problem = problem or refused
        job = await latest_job(session, found.id)
    status = 200 if error is None else error.status
    return render(
        page.ctx,
        "design_publish.html",
        status=status,
        nav=nav,
        form_key=form,
        form_label=(found.draft or {}).get("label") or form,
        plan=view,
        problem=problem,
        rollback_to=version,
        posted=posted,
        last_job=job["job"] if job else 0,
    )


# ------------------------------------------------------------------ versions


@router.get("/design/apps/{app}/forms/{form}/versions")
async def versions_page(app: str, form: str, request: Request) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    query = request.query_params
    async with request.app.state.db.session() as session:
        nav = await design_nav(session, app)
        found = await definitions.find_definition(session, app, "form", form)
        if found is None:
            return not_found(page.ctx)
        items = await definitions.list_versions(session, found)
        people = await _people(session, {i["published_by"] for i in items if i["published_by"]})
        diff = await _diff(session, page, found, query.get("from", ""), query.get("to", ""))
    for item in items:
        item["by"] = people.get(item["published_by"], "")
        item["when"] = datetime.fromisoformat(item["published_at"]).astimezone(page.ctx.zone).strftime("%Y-%m-%d %H:%M")
    return render(
        page.ctx,
        "design_versions.html",
        nav=nav,
        form_key=form,
        form_label=(found.draft or {}).get("label") or form,
        versions=items,
        published=found.published_version,
        has_draft=found.draft is not None,
        diff=diff,
        notice_published=page_id(query.get("published", "")),
        notice_unchanged=bool(query.get("unchanged")),
    )


async def _diff(
    session: AsyncSession, page: Designer, found: definitions.Definition, from_: str, to: str
) -> dict[str, Any] | None:
    """Two versions (or a version and the draft) compared in plain words; None until both are chosen."""
    if not from_ or not to:
        return None
    docs = []
    for which in (from_, to):
        if which == "draft":
            docs.append(found.draft)
            continue
        number = page_id(which)
        try:
            docs.append(await definitions.published_document(session, found, number) if number else None)
        except NotFound:
            docs.append(None)
    before, after = docs
    if before is None or after is None:
        return {"from": from_, "to": to, "missing": True, "sentences": []}
    storage = found.storage or {}
    names = Names.of(page.ctx.t, before, after, storage=storage)
    # Between two versions a field either side lacks was added or removed; what the archive holds today
    # (which would make it "restored") is about the table now, not about those versions.
    sentences = change_sentences(names, diff_with_rows(before, after, {**storage, "archived": {}}))
    return {"from": from_, "to": to, "missing": False, "sentences": sentences}


async def _people(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    u = tables.users
    rows = await session.execute(select(u.c.id, u.c.name, u.c.email).where(u.c.id.in_(ids)))
    return {r.id: r.name or r.email for r in rows}
