"""The record pages: the form to create or edit a record, the record's own page, and live previews.

Pages render; writes go through the JSON API from static/js/record_form.js
(create, PATCH with If-Match, submit to the flow), so the page and an
integrator meet the very same validation, permissions and errors. The one
page-only route is the preview: the form's formulas computed by the server
over the half-filled form, formatted for the reader, as the user types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.database import Database
from opsloom.platform.errors import NotFound, PermissionDenied, ValidationFailed
from opsloom.platform.http import DB, read_json
from opsloom.platform.permissions import FormAccess
from opsloom.runtime import records
from opsloom.runtime.access import reader_access
from opsloom.runtime.conditions import EvalContext
from opsloom.runtime.dependencies import FlowServices, Forms
from opsloom.runtime.fields import FieldSpec, dump_datetime, unit_of
from opsloom.runtime.fields.formatting import datetime_text
from opsloom.runtime.flow import instances
from opsloom.runtime.flow.instances import FlowCache, Services
from opsloom.runtime.flow.todo import submitter_actions
from opsloom.runtime.forms import CompiledForm, FormRegistry
from opsloom.runtime.link_titles import expand_links, is_link
from opsloom.runtime.pages.display import record_label, value_text
from opsloom.runtime.pages.field_views import (
    FormPlace,
    computed_draft,
    field_views,
    form_meta,
)
from opsloom.runtime.pages.flow_standing import standing_of_record
from opsloom.runtime.pages.i18n import Translator
from opsloom.runtime.pages.navigation import app_navigation
from opsloom.runtime.pages.related import linking_records
from opsloom.runtime.pages.rendering import (
    PageContext,
    not_found,
    page_context,
    page_id,
    redirect,
    render,
    request_context,
    to_login,
)
from opsloom.runtime.pages.routes import current_user
from opsloom.runtime.pages.security import form_token_ok
from opsloom.runtime.pages.timeline import timeline_text, user_names
from opsloom.runtime.rules import check_rules

router = APIRouter(include_in_schema=False)

FORM = "/apps/{app}/forms/{form}"


class Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def _open(
    session: AsyncSession, forms: FormRegistry, ctx: PageContext, app: str, form: str, action: str
) -> tuple[CompiledForm, FormAccess]:
    """The published form and the reader's access to it; a page they may not have is a 404."""
    assert ctx.user is not None
    try:
        compiled = await forms.get(session, app, form)
        access = await reader_access(session, ctx.user, compiled)
        access.require(action)
    except (NotFound, PermissionDenied):
        raise Refused(not_found(ctx)) from None
    return compiled, access


async def expand_row_links(
    session: AsyncSession, ctx: RequestContext, form: CompiledForm, record: dict[str, Any]
) -> None:
    """Links in subform rows as {id, title, access} or {id, name}, so people read names, not ids."""
    for key, child in form.children.items():
        specs = [spec for spec in child.fields if is_link(spec)]
        if specs and record.get(key):
            await expand_links(session, ctx, child, record[key], specs)


WIDTH_SPANS = {"1/4": 3, "1/3": 4, "1/2": 6, "2/3": 8, "3/4": 9, "1": 12}  # of a 12-column row


def sections(form: CompiledForm, views: list[Any]) -> list[dict[str, Any]]:
    """The form's layout sections holding the views they name; fields no section names come last.

    A section laid out in `rows` gives each row as [(view, span of 12)]; sections sharing a `tab` label
    are one tab (the page shows tabs when its script runs, one section after another without it)."""
    by_key = {view.spec.key: view for view in views}
    out: list[Any] = []
    placed: set[str] = set()
    for section in (form.document.get("layout") or {}).get("sections") or []:
        keys = list(section.get("fields", []))
        rows: list[list[tuple[Any, int]]] = []
        for row in section.get("rows") or []:
            cells = [
                (by_key[cell["field"]], WIDTH_SPANS.get(cell.get("width", "1"), 12))
                for cell in row
                if cell["field"] in by_key and cell["field"] not in placed and cell["field"] not in keys
            ]
            keys += [view.spec.key for view, _ in cells]
            if cells:
                rows.append(cells)
        members = [by_key[key] for key in dict.fromkeys(keys) if key in by_key and key not in placed]
        placed.update(view.spec.key for view in members)
        if members:
            out.append(
                {
                    "title": section.get("title"),
                    "tab": section.get("tab"),
                    "columns": section.get("columns", 1),
                    "fields": members,
                    "rows": rows if section.get("rows") and not section.get("fields") else None,
                }
            )
    rest = [view for view in views if view.spec.key not in placed]
    if rest:
        out.append({"title": None, "tab": None, "columns": 1, "fields": rest, "rows": None})
    return out


def browser_meta(
    ctx: PageContext, form: CompiledForm, place: FormPlace, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """form_meta plus what conditions.js needs about now and me, and where previews go.

    `values`: the record as stored, for rules that read fields the page shows only as text (a task page)."""
    user = ctx.user
    assert user is not None
    meta = form_meta(form)
    meta["context"] = {
        "now": dump_datetime(datetime.now(ctx.zone)),
        "timeZone": str(ctx.zone),
        "user": {"id": user.user_id, "department_id": user.department_id, "email": user.email},
    }
    meta["preview"] = f"/apps/{place.app}/forms/{place.form}/preview?locale={ctx.t.locale}"
    meta["messages"] = _validation_messages(form, ctx.t)
    meta["words"] = error_words(ctx.t)
    if values is not None:
        meta["values"] = {spec.key: _ids(values.get(spec.key)) for spec in form.fields}
    return meta


# The server words its problems in English; the page shows the commonest in the reader's
# language: (start of the server's message, catalog key, keep the rest of it, e.g. a limit).
ERROR_WORDS = (
    ("is required for this record", "error.required_here", False),
    ("is required", "error.required", False),
    ("needs at least one row", "error.one_row", False),
    ("expected a whole number", "error.integer", False),
    ("expected a decimal number", "error.decimal", False),
    ("is not a decimal number", "error.decimal", False),
    ("has more than", "error.decimals", True),
    ("is too large", "error.too_large", False),
    ("must be at least ", "error.at_least", True),
    ("must be at most ", "error.at_most", True),
    ("expected a date", "error.date", False),
    ("is hidden for this record", "error.hidden", False),
    ("is read-only for this record", "error.read_only", False),
    ("is not a valid e-mail address", "error.email", False),
    ("is longer than", "error.too_long", True),
    ("is already used", "error.unique", False),
    ("is needed to approve at this step", "error.signature_needed", False),
)


def error_words(t: Translator) -> list[tuple[str, str, bool]]:
    """ERROR_WORDS in the reader's language; English pages keep the server's own words."""
    if t.locale == "en":
        return []
    return [(start, t(key), keep) for start, key, keep in ERROR_WORDS]


def _ids(value: Any) -> Any:
    """An expanded link ({id, title, access}) back to the id the condition language compares."""
    if isinstance(value, dict) and "id" in value and set(value) <= {"id", "title", "access", "name"}:
        return value["id"]
    if isinstance(value, list):
        return [_ids(item) for item in value]
    return value


def _validation_messages(form: CompiledForm, t: Translator) -> dict[str, str]:
    """The server words a validation in English; the page shows the reader's language."""
    out = {}
    for rules in (form.rules, *(child.rules for child in form.children.values())):
        for validation in rules.validations:
            if isinstance(validation.label, dict):
                out[validation.message] = t.label(validation.label)
    return out


# ------------------------------------------------------------------ the form


@router.get(FORM + "/new")
async def new_record(app: str, form: str, request: Request, db: DB, forms: Forms) -> Response:
    return await _form_page(request, db, forms, app, form, None)


@router.get(FORM + "/records/{record_id}/edit")
async def edit_record(app: str, form: str, record_id: str, request: Request, db: DB, forms: Forms) -> Response:
    number = page_id(record_id)
    if number is None:
        return await _missing(request)
    return await _form_page(request, db, forms, app, form, number)


async def _defaults(session: AsyncSession, form: CompiledForm, rctx: RequestContext) -> dict[str, Any]:
    """A new record's defaults as the form starts with them: literal values and formulas such as
    TODAY(), CURRENT_USER() and CURRENT_DEPARTMENT() (people and departments shown by name)."""
    draft = computed_draft(form, {}, records.eval_context(rctx), creating=True)
    record = {
        spec.key: form.unit(spec).dump(spec, draft[spec.key])
        for spec in form.fields
        if unit_of(spec).entered and not unit_of(spec).child_rows and draft.get(spec.key) is not None
    }
    await expand_links(session, rctx, form, [record], [s for s in form.fields if is_link(s) and s.key in record])
    return record


async def _missing(request: Request) -> Response:
    """The 404 page for a URL naming no record (or, logged out, the login first)."""
    user = await current_user(request)
    return to_login(request) if user is None else not_found(page_context(request, user))


async def _form_page(
    request: Request, db: Database, forms: FormRegistry, app: str, form: str, record_id: int | None
) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    place = FormPlace(app, form)
    async with db.session() as session:
        try:
            compiled, access = await _open(session, forms, ctx, app, form, "update" if record_id else "create")
            visible = compiled.restricted(access.hidden)
            record: dict[str, Any] = {}
            if record_id is not None:
                expand = ",".join(s.key for s in visible.fields if is_link(s)) or None
                rctx = request_context(request, user)
                try:
                    record = await records.get_record(session, compiled, rctx, record_id, access, expand)
                except (NotFound, PermissionDenied):
                    return not_found(ctx)
                await expand_row_links(session, rctx, visible, record)
                if record["status"] in records.LOCKED_STATUSES:
                    return redirect(f"/apps/{app}/forms/{form}/records/{record_id}?locked=1")
            else:
                record = await _defaults(session, visible, request_context(request, user))
            views = await field_views(
                session,
                forms,
                place,
                visible,
                record,
                ctx.t,
                records.eval_context(request_context(request, user)),
                read_only=access.read_only,
                creating=record_id is None,
            )
            has_flow = await instances.flow_for_form(session, app, form) is not None
            nav = await app_navigation(session, user, app)
        except Refused as refused:
            return refused.response
    meta = browser_meta(ctx, visible, place)
    meta["record_id"] = record_id
    return render(
        ctx,
        "record_form.html",
        app={"key": app, "label": nav["label"] if nav else app},
        nav=nav,
        form={"key": form, "label": visible.label},
        sections=sections(visible, views),
        meta=meta,
        record=record,
        record_id=record_id,
        record_label=record_label(visible, record) if record_id else "",
        has_flow=has_flow,
    )


@router.post(FORM + "/preview")
async def preview(app: str, form: str, request: Request, db: DB, forms: Forms, locale: str = "") -> Response:
    """The formulas over a half-filled form: {values, text, rows, row_values} (JSON, for fields.js)."""
    user = await current_user(request)
    if user is None or not form_token_ok(request, request.headers.get("x-csrf-token"), user):
        return JSONResponse({"title": "Log in again"}, status_code=403)
    ctx = page_context(request, user)
    t = Translator(locale) if locale in ("en", "zh-CN") else ctx.t
    try:
        body = await read_json(request)
    except ClientDisconnect:  # the page moved on before the preview was read
        return Response(status_code=204)
    values = body.get("values") if isinstance(body, dict) else None
    record_id = body.get("record_id") if isinstance(body, dict) else None
    async with db.session() as session:
        try:
            compiled, access = await _open(session, forms, ctx, app, form, "update" if record_id else "create")
        except Refused:
            return JSONResponse({"title": "Not found"}, status_code=404)
    visible = compiled.restricted(access.hidden)
    eval_ctx = records.eval_context(request_context(request, user))
    payload = values if isinstance(values, dict) else {}
    draft = computed_draft(visible, payload, eval_ctx, creating=not record_id)
    answer = computed_answer(visible, draft, t, ctx.zone)
    answer["problems"] = draft_problems(visible, payload, draft, eval_ctx, creating=not record_id)
    return JSONResponse(answer)


def draft_problems(
    form: CompiledForm, payload: dict[str, Any], draft: dict[str, Any], ctx: EvalContext, *, creating: bool
) -> list[dict[str, str]]:
    """What a save of the half-filled form would refuse, as far as the form alone tells (the page clears
    the errors it shows once their fields are fixed; uniqueness and links are judged by the save)."""
    try:
        form.parse_input(payload, partial=not creating, zone=ctx.zone)
    except ValidationFailed as failed:
        return [error.as_json() for error in failed.errors]
    return [error.as_json() for error in check_rules(form.rules, draft, payload, None, ctx)]


def computed_answer(form: CompiledForm, draft: dict[str, Any], t: Translator, zone: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"values": {}, "text": {}, "rows": {}, "row_values": {}}
    for spec in form.fields:
        if unit_of(spec).computed:  # a number is given on save, not before
            answer["values"][spec.key] = form.unit(spec).dump(spec, draft.get(spec.key))
            answer["text"][spec.key] = value_text(t, zone, spec, answer["values"][spec.key])
    for key, child in form.children.items():
        columns = [s for s in child.fields if not unit_of(s).entered]
        rows = draft.get(key) or []
        answer["row_values"][key] = [{s.key: child.unit(s).dump(s, row.get(s.key)) for s in columns} for row in rows]
        answer["rows"][key] = [
            {s.key: value_text(t, zone, s, values[s.key]) for s in columns} for values in answer["row_values"][key]
        ]
    return answer


# ------------------------------------------------------------------ the record's page


@router.get(FORM + "/records/{record_id}")
async def record_page(
    app: str, form: str, record_id: str, request: Request, db: DB, services: FlowServices
) -> Response:
    number = page_id(record_id)
    if number is None:
        return await _missing(request)
    return await _record_page(request, db, services, app, form, number)


async def _record_page(
    request: Request, db: Database, services: Services, app: str, form: str, record_id: int
) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    rctx = request_context(request, user)
    async with db.session() as session:
        try:
            compiled, access = await _open(session, services.forms, ctx, app, form, "read")
        except Refused as refused:
            return refused.response
        visible = compiled.restricted(access.hidden)
        expand = ",".join(s.key for s in visible.fields if is_link(s)) or None
        try:
            record = await records.get_record(session, compiled, rctx, record_id, access, expand)
            history = await records.record_history(session, compiled, rctx, record_id, access)
        except (NotFound, PermissionDenied):
            return not_found(ctx)
        await expand_row_links(session, rctx, visible, record)
        flows = await instances.timeline(session, compiled, record_id, access.hidden)
        has_flow = await instances.flow_for_form(session, app, form) is not None
        text = await timeline_text(
            session, ctx, visible, flows, await _step_labels(session, services.flows, compiled, flows)
        )
        names = await user_names(session, [h["actor_id"] for h in history] + [record.get("created_by")])
        standing = await standing_of_record(session, services.flows, compiled, flows)
        nav = await app_navigation(session, user, app)
        linked = await history_links(session, rctx, visible, history)
        related = await linking_records(session, services.forms, rctx, ctx.t, app, form, record_id)
        latest = flows[-1] if flows else None
        mine = latest is not None and latest["submitter_id"] == user.user_id
        may = submitter_actions(latest["status"], await _state(session, latest["id"])) if latest and mine else {}
    locked = record["status"] in records.LOCKED_STATUSES
    view: dict[str, Any] = {
        "fields": [_shown(ctx, visible, spec, record) for spec in visible.fields],
        "can_edit": access.can("update") and not locked,
        "can_delete": access.can("delete") and not locked,
        "can_submit": has_flow and access.can("update") and record["status"] in ("draft", "rejected", "withdrawn"),
        "can_withdraw": may.get("can_withdraw", False),
        "can_urge": may.get("can_urge", False),
        "comment_files": _comment_upload(visible, access, app, form),
    }
    return render(
        ctx,
        "record_detail.html",
        app={"key": app, "label": nav["label"] if nav else app},
        nav=nav,
        form={"key": form, "label": visible.label},
        record=record,
        record_label=record_label(visible, record),
        status_text=ctx.t(f"status.{record['status']}"),
        sections=sections(visible, view["fields"]),
        view=view,
        timeline=flows,
        timeline_text=text,
        standing=standing,
        history=_named_history(ctx, visible, history, names, linked),
        created=datetime_text(record["created_at"], ctx.t.locale, ctx.zone),
        created_by=names.get(record.get("created_by") or 0) or ctx.t("timeline.by_system"),
        notice=request.query_params.get("notice", ""),
        related=related,
    )


def _comment_upload(form: CompiledForm, access: FormAccess, app: str, key: str) -> str:
    """Where the comment box uploads files: the form's first attachment field the reader may fill
    (uploads are made for a field; the comment then gives them to the record); "" when none."""
    if not (access.can("create") or access.can("update")):
        return ""
    for spec in form.fields:
        if unit_of(spec).holds_files and not unit_of(spec).renditions and spec.key not in access.read_only:
            return f"/api/apps/{app}/forms/{key}/files?field={spec.key}"
    return ""


async def _step_labels(
    session: AsyncSession, cache: FlowCache, form: CompiledForm, flows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Each step's label as its flow writes it (maybe in several languages), for the versions the record ran."""
    if not flows:
        return {}
    i = tables.flow_instances
    versions = await session.execute(
        select(i.c.flow_id, i.c.flow_version).where(i.c.id.in_([f["id"] for f in flows])).distinct()
    )
    labels: dict[str, Any] = {}
    for flow_id, version in versions.all():
        flow = await cache.get(session, flow_id, version, form)
        labels.update({key: node.get("label") for key, node in flow.nodes.items() if node.get("label")})
    return labels


async def _state(session: AsyncSession, instance_id: int) -> Any:
    i = tables.flow_instances
    return (await session.execute(select(i.c.state).where(i.c.id == instance_id))).scalar()


class _Shown:
    """A field on the record's page: its spec and its value as text (rows as a table)."""

    def __init__(self, spec: FieldSpec, text: str, value: Any, rows: list[list[str]], columns: list[FieldSpec]):
        self.spec, self.text, self.value, self.rows, self.columns = spec, text, value, rows, columns
        unit = unit_of(spec)
        self.child_rows = unit.child_rows  # shown as a table of its rows
        self.holds_files = unit.holds_files  # shown as links to its files
        # shown as safe markup (rich text, cleaned again as it is shown), never as a value's raw text
        markup = unit.markup(spec, value) if value is not None else None
        self.markup = Markup(markup) if markup else None
        self.pictures = "thumb" in unit.renditions  # shown as thumbnails


def _shown(ctx: PageContext, form: CompiledForm, spec: FieldSpec, record: dict[str, Any]) -> _Shown:
    value = record.get(spec.key)
    if unit_of(spec).child_rows:
        child = form.children[spec.key]
        columns = list(child.fields)
        rows = [[value_text(ctx.t, ctx.zone, s, row.get(s.key)) for s in columns] for row in value or []]
        return _Shown(spec, value_text(ctx.t, ctx.zone, spec, value), value, rows, columns)
    return _Shown(spec, value_text(ctx.t, ctx.zone, spec, value), value, [], [])


async def history_links(
    session: AsyncSession, ctx: RequestContext, form: CompiledForm, history: list[dict[str, Any]]
) -> dict[tuple[str, Any], Any]:
    """The linked records and people a history names by id, as {id, title, access} / {id, name}: (key, id) -> value."""
    specs = [spec for spec in form.fields if is_link(spec)]
    values = [
        (spec.key, change.get(side))
        for entry in history
        for spec in specs
        if isinstance(change := (entry.get("changes") or {}).get(spec.key), dict)
        for side in ("before", "after")
        if change.get(side) not in (None, [])
    ]
    if not values:
        return {}
    rows = [{key: value} for key, value in values]
    await expand_links(session, ctx, form, rows, specs)
    return {(key, _hashable(value)): row[key] for (key, value), row in zip(values, rows, strict=True)}


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _named_history(
    ctx: PageContext,
    form: CompiledForm,
    history: list[dict[str, Any]],
    names: dict[int, str],
    linked: dict[tuple[str, Any], Any],
) -> list[dict[str, Any]]:
    out = []
    for entry in reversed(history):
        changes = []
        for key, change in (entry.get("changes") or {}).items():
            spec = form.by_key.get(key)
            if key == "status" and isinstance(change, dict):  # the flow moved the record
                was, now = (ctx.t(f"status.{s}") if s else "" for s in (change.get("before"), change.get("after")))
                changes.append({"label": ctx.t("list.status"), "before": was, "after": now})
                continue
            if spec is None:
                continue
            before = change.get("before") if isinstance(change, dict) else None
            after = change.get("after") if isinstance(change, dict) else change
            if is_link(spec):  # ids in the history, names on the page
                before, after = linked.get((key, _hashable(before)), before), linked.get((key, _hashable(after)), after)
            changes.append(
                {
                    "label": ctx.t.label(spec.label),
                    "before": value_text(ctx.t, ctx.zone, spec, before) if entry["action"] == "update" else "",
                    "after": value_text(ctx.t, ctx.zone, spec, after),
                }
            )
        out.append(
            {
                "who": names.get(entry["actor_id"], ctx.t("timeline.by_system")),
                "when": datetime_text(entry["at"], ctx.t.locale, ctx.zone),
                "action": ctx.t.known(f"history.{entry['action']}", entry["action"]),
                "changes": changes,
            }
        )
    return out
