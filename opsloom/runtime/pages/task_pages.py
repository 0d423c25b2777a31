"""The to-do pages: my four boxes (`/tasks?box=...`) and one task with its action dialogs (`/tasks/{id}`).

What is listed and what a task shows come from `flow/todo.py`, the same
functions `GET /api/tasks` and `GET /api/tasks/{id}` answer with; this module
only turns them into text for the reader. The dialogs post to the flow API
from static/js/task.js.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from opsloom.platform import tables
from opsloom.platform.errors import NotFound
from opsloom.platform.http import DB
from opsloom.runtime import records
from opsloom.runtime.dependencies import FlowServices
from opsloom.runtime.fields import FieldSpec, unit_of
from opsloom.runtime.fields.formatting import datetime_text
from opsloom.runtime.flow import step_rules
from opsloom.runtime.flow.instances import Services
from opsloom.runtime.flow.summaries import attach_summaries
from opsloom.runtime.flow.todo import BOXES, TaskDetails, count_tasks, list_box, task_details
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.link_titles import expand_links, is_link
from opsloom.runtime.pages.display import summary_lines, value_text
from opsloom.runtime.pages.field_views import FieldView, FormPlace, field_views
from opsloom.runtime.pages.flow_standing import standing_in
from opsloom.runtime.pages.record_pages import browser_meta, sections
from opsloom.runtime.pages.rendering import (
    PageContext,
    not_found,
    page_context,
    page_id,
    render,
    request_context,
    to_login,
)
from opsloom.runtime.pages.routes import current_user
from opsloom.runtime.pages.timeline import timeline_text, user_names

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
DONE_MESSAGES = ("approved", "rejected", "returned", "transferred", "delegated", "add_signer", "withdrawn", "urged")


# ------------------------------------------------------------------ the boxes


@router.get("/tasks")
async def task_list(
    request: Request, db: DB, services: FlowServices, box: str = "pending", cursor: str = "", done: str = ""
) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    box = box if box in BOXES else "pending"
    async with db.session() as session:
        counts = await count_tasks(session, user)
        page = await list_box(session, user, box, PAGE_SIZE, page_id(cursor))
        specs = await attach_summaries(session, services, request_context(request, user), page["items"])
        items = await _list_items(session, ctx, services, page["items"], box)
    for item in items:
        item["summary_lines"] = summary_lines(ctx.t, ctx.zone, specs, item)
    next_url = f"/tasks?{urlencode({'box': box, 'cursor': page['next_cursor']})}" if page["next_cursor"] else None
    return render(
        ctx,
        "tasks.html",
        box=box,
        boxes=BOXES,
        counts=counts,
        items=items,
        next_url=next_url,
        first_page=not page_id(cursor),
        done=done if done in DONE_MESSAGES else "",
    )


async def _list_items(
    session: AsyncSession, ctx: PageContext, services: Services, items: list[dict[str, Any]], box: str
) -> list[dict[str, Any]]:
    names = await user_names(session, (i.get("submitter_id") for i in items))
    labels = await _form_labels(session, services, {(i["app"], i["form"]) for i in items})
    shown = []
    for item in items:
        app_label, form_label = labels.get((item["app"], item["form"]), (item["app"], item["form"]))
        record_url = f"/apps/{item['app']}/forms/{item['form']}/records/{item['record_id']}"
        shown.append(
            {
                **item,
                "url": record_url if box == "submitted" else f"/tasks/{item['id']}",
                "title": item["title"] or f"{ctx.t.label(form_label)} #{item['record_id']}",
                "app_label": ctx.t.label(app_label),
                "form_label": ctx.t.label(form_label),
                "step": ctx.t.label(item.get("node_labels")) or item.get("node") or "",
                "submitter": names.get(item.get("submitter_id"), ""),  # type: ignore[arg-type]
                "when": datetime_text(item["created_at"], ctx.t.locale, ctx.zone),
                "status": ctx.t(f"tasks.flow_status.{item['flow_status']}"),
                "state": ctx.t(f"task.state.{item['state']}") if "state" in item else "",
            }
        )
    return shown


async def _form_labels(
    session: AsyncSession, services: Services, places: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[Any, Any]]:
    """(app label, form label) of each (app, form); a form removed since keeps its key."""
    apps = {app for app, _ in places}
    a = tables.apps
    documents = dict((await session.execute(select(a.c.key, a.c.document).where(a.c.key.in_(apps)))).all())
    labels = {}
    for app, form in places:
        try:
            form_label = (await services.forms.get(session, app, form)).label
        except NotFound:
            form_label = form
        labels[(app, form)] = ((documents.get(app) or {}).get("label") or app, form_label)
    return labels


# ------------------------------------------------------------------ one task


@dataclass
class FieldItem:
    """A field of the task's record: a widget when the step makes it editable, text otherwise."""

    spec: FieldSpec
    view: FieldView
    editable: bool
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)  # a subform, as text
    columns: list[FieldSpec] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def child_rows(self) -> bool:
        """Shown as a table of its rows."""
        return unit_of(self.spec).child_rows

    @property
    def holds_files(self) -> bool:
        """Shown as links to its files."""
        return unit_of(self.spec).holds_files

    @property
    def pictures(self) -> bool:
        """Its files shown as thumbnails."""
        return "thumb" in unit_of(self.spec).renditions


@router.get("/tasks/{task}")
async def task_page(task: str, request: Request, db: DB, services: FlowServices) -> Response:
    user = await current_user(request)
    if user is None:
        return to_login(request)
    ctx = page_context(request, user)
    task_id = page_id(task)
    if task_id is None:
        return not_found(ctx)
    request_ctx = request_context(request, user)
    async with db.session() as session:
        try:
            details = await task_details(session, services, request_ctx, task_id)
        except NotFound:
            return not_found(ctx)
        form, record = details.form, details.record
        links = [s for s in form.fields if is_link(s)]
        await expand_links(session, request_ctx, form, [record], links)
        place = FormPlace(form.app, form.key)
        # a closed task shows the record as text: its step no longer lets anyone change it
        editable = frozenset(k for k, v in details.fields.items() if v == "editable" and details.actions)
        views = await field_views(
            session,
            services.forms,
            place,
            form,
            record,
            ctx.t,
            records.eval_context(request_ctx),
            read_only=frozenset(s.key for s in form.fields) - editable,
        )
        steps = {key: node.get("label") for key, node in details.flow.nodes.items() if node.get("label")}
        text = await timeline_text(session, ctx, form, details.timeline, steps)
        names = await user_names(session, _people_of(details))
        labels = await _form_labels(session, services, {(form.app, form.key)})
    for view in views:  # the task lets its assignee upload to the fields its step makes editable
        if view.upload_url and view.spec.key in editable:
            view.upload_url += f"&task={details.task['id']}"
    items = [_field_item(ctx, place, form, view, view.spec.key in editable) for view in views if not view.hidden]
    app_label, form_label = labels[(form.app, form.key)]
    return render(
        ctx,
        "task.html",
        task=details.task,
        title=details.instance["title"] or f"{ctx.t.label(form_label)} #{record['id']}",
        app={"key": form.app, "label": app_label},
        form={"key": form.key, "label": form_label},
        record_id=record["id"],
        step=ctx.t.label(details.node.get("label")) or details.node.id,
        submitter=names.get(details.instance["submitter_id"], ""),
        submitted_at=datetime_text(details.instance["created_at"], ctx.t.locale, ctx.zone),
        others=_others_on_step(details, names),
        on_behalf_of=names.get(details.task["on_behalf_of"]) if details.task["on_behalf_of"] else "",
        sections=sections(form, items),
        editable=sorted(editable),
        meta=browser_meta(ctx, form, place, values=details.record),
        actions=details.actions,
        comment_required=step_rules.comment_rules(details.node.raw),
        row_rules={k: step_rules.row_rules(details.node.raw, k) for k in sorted(editable) if k in form.children},
        return_targets=[(n.id, ctx.t.label(n.get("label")) or n.id) for n in details.passed],
        timeline=details.timeline,
        timeline_text=text,
        standing=standing_in(details.flow, _this_run(details)),
    )


def _this_run(details: TaskDetails) -> Mapping[str, Any]:
    """The run of the flow the task belongs to, as the timeline tells it."""
    instance = details.task["instance_id"]
    return next((i for i in details.timeline if i["id"] == instance), {"events": [], "tasks": []})


def _people_of(details: TaskDetails) -> set[int]:
    people = {details.instance["submitter_id"], details.task["on_behalf_of"]}
    for instance in details.timeline:
        people.update(t["assignee_id"] for t in instance["tasks"])
    return {p for p in people if isinstance(p, int)}


def _others_on_step(details: TaskDetails, names: Mapping[int, str]) -> list[str]:
    """Whoever else has (or will have) a task at this step of this run of the flow."""
    me = details.task
    current: Mapping[str, Any] = next((i for i in details.timeline if i["id"] == me["instance_id"]), {"tasks": []})
    return [
        names.get(t["assignee_id"], f"#{t['assignee_id']}")
        for t in current["tasks"]
        if t["node"] == me["node"] and t["id"] != me["id"] and t["state"] in ("pending", "waiting")
    ]


def _field_item(ctx: PageContext, place: FormPlace, form: CompiledForm, view: FieldView, editable: bool) -> FieldItem:
    spec = view.spec
    item = FieldItem(spec, view, editable)
    if item.editable:
        return item
    value = view.value
    unit = unit_of(spec)
    if unit.child_rows:
        child = form.children[spec.key]
        item.columns = list(child.fields)
        item.rows = [[value_text(ctx.t, ctx.zone, s, row.get(s.key)) for s in child.fields] for row in value or []]
    elif unit.holds_files:
        item.files = [{"name": f.get("name"), "url": f"{place.files}/{f.get('id')}"} for f in value or []]
    else:
        item.text = view.text or value_text(ctx.t, ctx.zone, spec, value)
    return item
