"""The record list page: what its URL asks for, and the page built from the records service.

The URL speaks the API's language (`filter=` a condition as JSON, `sort=-amount`,
`q=`, `cursor=`), plus `view=ID` for one of the user's saved views, whose
filter, sort and columns apply unless the URL names its own. Every link the
page draws (sort headers, chips, pages, export) keeps the rest of the state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from opsloom.platform.context import Principal
from opsloom.platform.database import Database
from opsloom.platform.errors import BadRequest, NotFound, OpsloomError, PermissionDenied
from opsloom.platform.http import decode_json, settings_of
from opsloom.runtime import records, saved_views
from opsloom.runtime.access import reader_access
from opsloom.runtime.fields import FieldSpec, unit_of
from opsloom.runtime.flow.instances import flow_for_form
from opsloom.runtime.forms import CompiledForm, FormRegistry
from opsloom.runtime.link_titles import is_link
from opsloom.runtime.pages import list_filters
from opsloom.runtime.pages.display import value_text
from opsloom.runtime.pages.navigation import app_navigation
from opsloom.runtime.pages.rendering import (
    PageContext,
    forbidden,
    not_found,
    page_context,
    redirect,
    render,
    request_context,
)
from opsloom.runtime.pages.security import CSRF_FIELD, form_token_ok

PAGE_SIZE = 20
LIST_PICTURES = 3  # thumbnails a list cell shows; "+N" says how many more
MAX_PARAM = 256
MAX_FILTER = 8192


@dataclass(frozen=True)
class ListQuery:
    """The state of the list in its URL. `filter`/`sort` are None when the URL does not name them."""

    q: str = ""
    filter: str | None = None
    sort: str | None = None
    view: int | None = None
    cursor: str = ""
    group: str | None = None  # a field key; "" for no grouping over a view's own; None: the view decides

    @classmethod
    def of(cls, request: Request) -> ListQuery:
        p = request.query_params
        view = p.get("view", "")
        return cls(
            q=p.get("q", "").strip()[:MAX_PARAM],
            filter=p["filter"][:MAX_FILTER] if "filter" in p else None,
            sort=p["sort"].strip()[:MAX_PARAM] if "sort" in p else None,
            view=int(view) if view.isdigit() and len(view) < 19 else None,
            cursor=p.get("cursor", "")[:4096],
            group=p["group"].strip()[:MAX_PARAM] if "group" in p else None,
        )

    def params(self, **changes: Any) -> dict[str, str]:
        state = replace(self, **changes)
        params: dict[str, str] = {}
        if state.view:
            params["view"] = str(state.view)
        # Empty filter or sort stay in the URL only to override a view's own.
        if state.filter is not None and (state.filter or state.view):
            params["filter"] = state.filter
        if state.sort is not None and (state.sort or state.view):
            params["sort"] = state.sort
        if state.q:
            params["q"] = state.q
        if state.group is not None and (state.group or state.view):
            params["group"] = state.group
        if state.cursor:
            params["cursor"] = state.cursor
        return params

    def url(self, path: str, **changes: Any) -> str:
        params = self.params(**{"cursor": "", **changes})
        return path + (f"?{urlencode(params)}" if params else "")


@dataclass(frozen=True)
class Cell:
    """A value in the list: its text, or for a field of pictures (images, a signature) small
    thumbnails (the files API's `size=thumb`, which it makes once and keeps) named by the files."""

    text: str
    pictures: tuple[tuple[str, str], ...] = ()  # (file name, thumbnail URL)
    more: int = 0  # pictures beyond those shown


def _cell(ctx: PageContext, files_url: str, spec: FieldSpec, value: Any) -> Cell:
    text = value_text(ctx.t, ctx.zone, spec, value)
    if not value or "thumb" not in unit_of(spec).renditions:
        return Cell(text)
    shown = value[:LIST_PICTURES]
    pictures = tuple((str(file["name"]), f"{files_url}/{file['id']}?size=thumb") for file in shown)
    return Cell(text, pictures, len(value) - len(shown))


@dataclass(frozen=True)
class Column:
    key: str
    label: Any
    sort_url: str | None  # None: the type cannot be sorted
    aria_sort: str | None


def _columns(specs: list[FieldSpec], state: ListQuery, sort: str, path: str) -> list[Column]:
    first = (sort or "-id").split(",")[0].strip()
    columns = []
    for spec in specs:
        if spec.key != "id" and not unit_of(spec).sortable_for(spec):
            columns.append(Column(spec.key, spec.label, None, None))
            continue
        aria = {spec.key: "ascending", f"+{spec.key}": "ascending", f"-{spec.key}": "descending"}.get(first)
        next_sort = f"-{spec.key}" if aria == "ascending" else spec.key
        columns.append(Column(spec.key, spec.label, state.url(path, sort=next_sort), aria))
    return columns


def _problem_message(ctx: PageContext, error: OpsloomError) -> str:
    paths = [e.path for e in error.errors] or [""]
    if paths[0].startswith("filter"):
        return ctx.t("list.bad_filter")
    if paths[0] == "sort":
        return ctx.t("list.bad_sort")
    return ctx.t("list.bad_request")


def _shown_columns(visible: CompiledForm, keys: list[str] | None) -> list[FieldSpec]:
    known = [visible.by_key[k] for k in keys or () if k in visible.by_key]
    chosen = [spec for spec in known if not unit_of(spec).child_rows]
    return chosen or [visible.by_key[k] for k in saved_views.default_columns(visible)]


async def show_list(
    request: Request, db: Database, forms: FormRegistry, user: Principal, app: str, form: str
) -> Response:
    ctx = page_context(request, user)
    state = ListQuery.of(request)
    path = request.url.path
    async with db.session() as session:
        try:
            compiled = await forms.get(session, app, form)
            access = await reader_access(session, user, compiled)
            access.require("read")
        except (NotFound, PermissionDenied):
            return not_found(ctx)
        visible = compiled.restricted(access.hidden)
        if "f_field" in request.query_params:
            return _apply_filter_bar(request, state, visible, path)
        views = await saved_views.list_views(session, user.user_id, app, form)
        view = next((v for v in views if v["id"] == state.view), None)
        if state.view is not None and view is None:
            return not_found(ctx)
        chosen = view or {}
        filter_text = state.filter if state.filter is not None else list_filters.as_filter_text(chosen.get("filter"))
        sort_text = state.sort if state.sort is not None else (chosen.get("sort") or "")
        shown = _shown_columns(visible, chosen.get("columns"))
        searchable = visible.title_field in visible.by_key
        group_spec = _group_spec(visible, state.group if state.group is not None else chosen.get("group_by"))
        linked = shown + ([group_spec] if group_spec else [])
        links = ",".join(dict.fromkeys(spec.key for spec in linked if is_link(spec)))
        query = records.ListRequest(
            filter=filter_text or None,
            sort=sort_text or None,
            limit=str(PAGE_SIZE),
            cursor=state.cursor or None,
            q=(state.q if searchable else None) or None,
            expand=links or None,
            with_rows=False,  # the list shows no subform columns
            group=group_spec.key if group_spec else None,
        )
        error: OpsloomError | None = None
        page: dict[str, Any] = {"items": [], "next_cursor": None}
        try:
            page = await records.list_records(
                session, compiled, request_context(request, user), query, access,
                exact_count_limit=settings_of(request).exact_count_limit,
            )  # fmt: skip
        except BadRequest as problem:
            error = problem
        nav = await app_navigation(session, user, app)
        can_submit = access.can("update") and await flow_for_form(session, app, form) is not None
    try:
        parts = list_filters.conjuncts(decode_json(filter_text)) if filter_text else []
    except ValueError:
        parts = []
    files_url = f"/api/apps/{app}/forms/{form}/files"
    rows = [
        {
            "id": item["id"],
            "cells": [_cell(ctx, files_url, spec, item.get(spec.key)) for spec in shown],
            "status": ctx.t(f"status.{item['status']}"),
            "status_key": item["status"],
            "title": _row_name(item, visible),
        }
        for item in page["items"]
    ]
    groups = _grouped(ctx, group_spec, page, rows) if group_spec else []
    bar_rows = [list_filters.row_of(part, visible) for part in parts]
    representable = all(row is not None for row in bar_rows)
    id_spec = compiled.spec("id")
    assert id_spec is not None
    export = None
    if access.can("export"):
        params = {"filter": filter_text, "sort": sort_text, "q": state.q if searchable else ""}
        params = {k: v for k, v in params.items() if v}
        export = {
            fmt: f"/api/apps/{app}/forms/{form}/export?" + urlencode({"format": fmt, **params, "locale": ctx.t.locale})
            for fmt in ("csv", "xlsx")
        }
    return render(
        ctx,
        "record_list.html",
        status=error.status if error else 200,
        app={"key": app, "label": nav["label"] if nav else app},
        nav=nav,
        form={"key": form, "label": visible.label},
        path=path,
        id_column=_columns([id_spec], state, sort_text, path)[0],
        key_index=_key_column(visible, shown),
        columns=_columns(shown, state, sort_text, path),
        shown_keys=[spec.key for spec in shown],
        rows=rows,
        q=state.q,
        state=state,
        searchable=searchable,
        total=page.get("total", len(rows)),
        total_exact=page.get("total_exact", True),
        next_url=state.url(path, cursor=page["next_cursor"]) if page["next_cursor"] else None,
        first_url=state.url(path),
        first_page=not state.cursor,
        error=_problem_message(ctx, error) if error else None,
        error_details=[f"{e.path}: {e.message}" for e in error.errors] if error else [],
        chips=list_filters.chips_of(parts, visible, ctx.t, ctx.zone),
        clear_url=state.url(path, filter=""),
        filter_fields=list_filters.filter_fields(visible, ctx.t),
        filter_rows=[row for row in bar_rows if row is not None] if representable else [],
        filter_hidden="" if representable else filter_text,
        input_of=lambda key, op: list_filters.input_of(visible.by_key[key], op),
        all_ops=list_filters.OPERATORS,
        op_labels={op: ctx.t(f"list.op.{op}") for op in list_filters.OPERATORS},
        filter_text=filter_text,
        sort_text=sort_text,
        views=views,
        current_view=view,
        view_url=lambda view_id: path + "?" + urlencode({"view": view_id}),
        all_columns=_column_choices(visible, shown),
        widths=chosen.get("widths") or {},
        groups=groups,
        group_key=group_spec.key if group_spec else "",
        group_fields=[spec for spec in visible.fields if unit_of(spec).groupable],
        bulk={
            "export": bool(export),
            "delete": access.can("delete"),
            "submit": can_submit,
        },
        export=export,
        can_create=access.can("create"),
        can_import=access.can("import"),
        notice=request.query_params.get("notice", ""),
    )


def _apply_filter_bar(request: Request, state: ListQuery, visible: CompiledForm, path: str) -> Response:
    """The filter bar's rows (plus any filter it carried along) as one `filter=`, then the list."""
    p = request.query_params
    rows = list_filters.rows_from_params(p.getlist("f_field"), p.getlist("f_op"), p.getlist("f_value"))
    try:
        carried = list_filters.conjuncts(decode_json(state.filter)) if state.filter else []
    except ValueError:
        carried = []
    parts = carried + [list_filters.condition_of(row, visible) for row in rows]
    return redirect(state.url(path, filter=list_filters.as_filter_text(list_filters.combine(parts))))


# ------------------------------------------------------------------ saved views from the page


async def save_view(
    request: Request,
    db: Database,
    forms: FormRegistry,
    user: Principal,
    app: str,
    form: str,
    view_id: int | None = None,
) -> Response:
    """The list's "save this view" form, or (with `view_id`) "update this view": name, filter, sort, columns
    (in the order chosen), their widths (JSON the page's script keeps) and grouping."""
    ctx = page_context(request, user)
    data = await request.form()
    if not form_token_ok(request, _text(data.get(CSRF_FIELD)), user):
        return forbidden(ctx)
    columns = [c for c in data.getlist("columns") if isinstance(c, str)]
    try:
        raw_filter = _text(data.get("filter"), MAX_FILTER).strip()
        document = decode_json(raw_filter) if raw_filter else None
        raw_widths = _text(data.get("widths"), MAX_FILTER).strip()
        widths = decode_json(raw_widths) if raw_widths else None
    except ValueError:
        return render(ctx, "error.html", status=400, message=ctx.t("list.bad_filter"))
    fields: dict[str, Any] = {
        "name": _text(data.get("name")),
        "filter": document,
        "sort": _text(data.get("sort")).strip() or None,
        "widths": widths or None,
        "group_by": _text(data.get("group_by")).strip() or None,
    }
    try:
        async with db.session(write=True) as session:
            compiled = await forms.get(session, app, form)
            access = await reader_access(session, user, compiled)
            access.require("read")
            visible = compiled.restricted(access.hidden)
            rctx = request_context(request, user)
            if view_id is None:
                view = saved_views.view_input({**fields, "columns": columns})
                saved = await saved_views.create_view(session, rctx, app, visible, view)
            else:
                changes = {**fields, "columns": columns}
                saved = await saved_views.update_view(session, rctx, app, visible, view_id, changes)
    except (NotFound, PermissionDenied):
        return not_found(ctx)
    except OpsloomError as problem:
        message = ctx.t("list.view_not_saved", detail="; ".join(e.message for e in problem.errors) or problem.detail)
        return render(ctx, "error.html", status=problem.status, message=message)
    return redirect(f"/apps/{app}/forms/{form}?" + urlencode({"view": saved["id"]}))


async def delete_view(request: Request, db: Database, user: Principal, app: str, form: str, view_id: int) -> Response:
    ctx = page_context(request, user)
    data = await request.form()
    if not form_token_ok(request, _text(data.get(CSRF_FIELD)), user):
        return forbidden(ctx)
    try:
        async with db.session(write=True) as session:
            await saved_views.delete_view(session, request_context(request, user), app, form, view_id)
    except NotFound:
        return not_found(ctx)
    return redirect(f"/apps/{app}/forms/{form}")


def _text(value: Any, limit: int = MAX_PARAM) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _group_spec(visible: CompiledForm, key: str | None) -> FieldSpec | None:
    """The field the rows are grouped by, if it is one the list can group by (else none: a stale view
    or a hand-made URL shows the list ungrouped rather than failing)."""
    spec = visible.by_key.get(key or "")
    return spec if spec is not None and unit_of(spec).groupable else None


def _grouped(ctx: PageContext, spec: FieldSpec, page: dict[str, Any], rows: list[dict[str, Any]]) -> list[Any]:
    """The page's rows in runs of one value of the group field, each with the count of all its rows."""
    counts = {entry["value"]: entry["count"] for entry in page.get("groups", [])}
    groups: list[dict[str, Any]] = []
    for item, row in zip(page["items"], rows, strict=True):
        value = item.get(spec.key)
        raw = value.get("id") if isinstance(value, dict) else value
        if not groups or groups[-1]["value"] != raw:
            text = value_text(ctx.t, ctx.zone, spec, value) if value is not None else ctx.t("list.group.empty")
            groups.append({"value": raw, "label": text, "count": counts.get(raw, 0), "rows": []})
        groups[-1]["rows"].append(row)
    return groups


def _column_choices(visible: CompiledForm, shown: list[FieldSpec]) -> list[FieldSpec]:
    """Every field a list can show, those shown first in their order, so the chooser keeps the order."""
    rest = [spec for spec in visible.fields if not unit_of(spec).child_rows and spec not in shown]
    return shown + rest


def _row_name(item: dict[str, Any], form: CompiledForm) -> str:
    """How a bulk result names a record: its number, else its title, else its id."""
    for spec in form.fields:
        if unit_of(spec).numbered and item.get(spec.key):
            return str(item[spec.key])
    title = item.get(form.title_field or "")
    return str(title) if title else f"#{item['id']}"


def _key_column(form: CompiledForm, shown: list[FieldSpec]) -> int | None:
    """The column people name a record by (its number, else its title), linked to the record in place of
    the internal id; None when neither is shown, and the id column links instead."""
    for wanted in (lambda s: unit_of(s).numbered, lambda s: s.key == form.title_field):
        found = next((i for i, spec in enumerate(shown) if wanted(spec)), None)
        if found is not None:
            return found
    return None
