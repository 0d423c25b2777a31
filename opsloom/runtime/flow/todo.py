"""To-do lists and the task view: what the API and the pages both show of a person's flows.

    list_box(session, who, box, limit, cursor)           one page of a box, newest first
    count_tasks(session, who)                            how many items each box holds
    task_details(session, services, ctx, task_id)        a task, its record as the step shows it, the timeline
    list_notifications(session, who, unread, limit)      what the flows told me, newest first
    mark_notifications_read(session, who, now)           ... and that I have read it

The boxes: `pending` (tasks waiting for me), `submitted` (flows I started),
`cc` (copies sent to me) and `done` (tasks I acted on). `who` is the principal:
a person, and through an API token limited to some apps, only those apps' flows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.errors import BadRequest, FieldError
from opsloom.platform.permissions import full_access
from opsloom.platform.types import StoredRow
from opsloom.runtime import records
from opsloom.runtime.fields import dump_datetime
from opsloom.runtime.flow import instances, step_rules
from opsloom.runtime.flow.engine import ACTIONS
from opsloom.runtime.flow.instances import Services
from opsloom.runtime.flow.model import Flow, Node
from opsloom.runtime.flow.nodes import node_type
from opsloom.runtime.forms import CompiledForm

BOXES = ("pending", "submitted", "cc", "done")
DONE_STATES = ("approved", "rejected", "returned", "transferred")


# ------------------------------------------------------------------ the boxes


async def list_box(
    session: AsyncSession, who: Principal, box: str, limit: int, cursor: int | None = None
) -> dict[str, Any]:
    """One page of a box, newest first: {items, next_cursor} (the id to pass as `cursor` for the next page)."""
    if box not in BOXES:
        raise BadRequest("Unknown box", [FieldError("box", f"use one of {', '.join(BOXES)}")])
    if box == "submitted":
        i = tables.flow_instances
        query = select(i).where(i.c.submitter_id == who.user_id, *instances.in_apps_of(who))
        if cursor:
            query = query.where(i.c.id < cursor)
        rows = (await session.execute(query.order_by(i.c.id.desc()).limit(limit + 1))).mappings().all()
        items = [_submitted_item(r) for r in rows[:limit]]
    else:
        rows = (await session.execute(_box_query(box, who, cursor).limit(limit + 1))).mappings().all()
        items = [_task_item(r) for r in rows[:limit]]
    return {"items": items, "next_cursor": items[-1]["id"] if len(rows) > limit else None}


def _box_query(box: str, who: Principal, cursor: int | None) -> Any:
    t, i = tables.flow_tasks, tables.flow_instances
    where = [t.c.assignee_id == who.user_id, *instances.in_apps_of(who)]
    if box == "pending":
        where.append(t.c.state == "pending")
    elif box == "cc":
        where.append(t.c.kind == "cc")
    else:
        where += [t.c.kind != "cc", t.c.state.in_(DONE_STATES)]
    if cursor:
        where.append(t.c.id < cursor)
    columns: list[Any] = [
        t,
        i.c.app_key,
        i.c.form_key,
        i.c.record_id,
        i.c.title,
        i.c.status.label("flow_status"),
        i.c.submitter_id,
    ]
    return select(*columns).join(i, i.c.id == t.c.instance_id).where(*where).order_by(t.c.id.desc())


def _task_item(row: Any) -> dict[str, Any]:
    return {
        **instances.task_view(row),
        "instance_id": row["instance_id"],
        "app": row["app_key"],
        "form": row["form_key"],
        "record_id": row["record_id"],
        "title": row["title"],
        "flow_status": row["flow_status"],
        "submitter_id": row["submitter_id"],
    }


def _submitted_item(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "instance_id": row["id"],
        "app": row["app_key"],
        "form": row["form_key"],
        "record_id": row["record_id"],
        "title": row["title"],
        "flow_status": row["status"],
        "submitter_id": row["submitter_id"],
        "created_at": dump_datetime(row["created_at"]),
        "updated_at": dump_datetime(row["updated_at"]),
        **submitter_actions(row["status"], row["state"]),
    }


def submitter_actions(status: str, state: Mapping[str, Any] | None) -> dict[str, bool]:
    """What the submitter may still do with a flow (the engine's own rules, to show only working buttons)."""
    acted = bool((state or {}).get("acted"))
    return {
        "can_withdraw": status == "returned" or (status == "running" and not acted),
        "can_urge": status == "running",
    }


async def count_tasks(session: AsyncSession, who: Principal) -> dict[str, int]:
    """How many items each of the user's to-do lists holds (submitted: flows still under way)."""
    t, i = tables.flow_tasks, tables.flow_instances
    mine = t.c.assignee_id == who.user_id
    scope = instances.in_apps_of(who)
    counted = select(
        func.count().filter(and_(mine, t.c.state == "pending")),
        func.count().filter(and_(mine, t.c.kind == "cc")),
        func.count().filter(and_(mine, t.c.kind != "cc", t.c.state.in_(DONE_STATES))),
    ).where(mine)
    if scope:
        counted = counted.select_from(t.join(i, i.c.id == t.c.instance_id)).where(*scope)
    row = (await session.execute(counted)).one()
    submitted = (
        await session.execute(
            select(func.count()).where(i.c.submitter_id == who.user_id, i.c.status.in_(("running", "returned")), *scope)
        )
    ).scalar_one()
    return {"pending": row[0], "cc": row[1], "done": row[2], "submitted": submitted}


async def pending_tasks(session: AsyncSession, who: Principal, limit: int) -> list[dict[str, Any]]:
    """The user's newest pending tasks, as the to-do list shows them."""
    rows = (await session.execute(_box_query("pending", who, None).limit(limit))).mappings().all()
    return [_task_item(r) for r in rows]


# ------------------------------------------------------------------ notifications


def _notifications_of(who: Principal) -> list[Any]:
    """The user's notifications; through an app-limited token, only those of its apps' flows."""
    n, i = tables.notifications, tables.flow_instances
    where = [n.c.user_id == who.user_id]
    if scope := instances.in_apps_of(who):
        where.append(n.c.instance_id.in_(select(i.c.id).where(*scope)))
    return where


async def list_notifications(session: AsyncSession, who: Principal, unread: bool, limit: int) -> list[dict[str, Any]]:
    n = tables.notifications
    query = select(n).where(*_notifications_of(who))
    if unread:
        query = query.where(n.c.read_at.is_(None))
    rows = await session.execute(query.order_by(n.c.id.desc()).limit(limit))
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "instance_id": r.instance_id,
            "task_id": r.task_id,
            "text": r.text,
            "created_at": dump_datetime(r.created_at),
            "read": r.read_at is not None,
        }
        for r in rows
    ]


async def mark_notifications_read(session: AsyncSession, who: Principal, now: datetime) -> int:
    n = tables.notifications
    done = await session.execute(update(n).where(*_notifications_of(who), n.c.read_at.is_(None)).values(read_at=now))
    return done.rowcount  # type: ignore[attr-defined]


async def unread_notifications(session: AsyncSession, who: Principal) -> int:
    n = tables.notifications
    query = select(func.count()).select_from(n).where(*_notifications_of(who), n.c.read_at.is_(None))
    return (await session.execute(query)).scalar_one()


# ------------------------------------------------------------------ one task


@dataclass(frozen=True)
class TaskDetails:
    """A task as its assignee sees it: the record through the step's field permissions, and what they may do."""

    task: dict[str, Any]
    instance: StoredRow
    flow: Flow
    form: CompiledForm  # restricted to the fields the step shows
    node: Node
    record: dict[str, Any]
    fields: dict[str, str]  # field key -> "editable" or "readonly"
    actions: list[str]
    timeline: list[dict[str, Any]]
    passed: list[Node]  # the steps this record has passed, which a return may go back to

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "record": self.record,
            "fields": self.fields,
            "actions": self.actions,
            "comment_required": step_rules.comment_rules(self.node.raw),
            "rows": {
                key: step_rules.row_rules(self.node.raw, key)
                for key, permission in self.fields.items()
                if permission == "editable" and key in self.form.children
            },
            "timeline": self.timeline,
        }


async def task_details(
    session: AsyncSession,
    services: Services,
    ctx: RequestContext,
    task_id: int,
    *,
    expand: str | None = None,
) -> TaskDetails:
    """The task `task_id` if it is the principal's (`instances.my_task`); NotFound otherwise."""
    i = tables.flow_instances
    row = await instances.my_task(session, ctx.principal, task_id)
    instance = (await session.execute(select(i).where(i.c.id == row["instance_id"]))).mappings().one()
    form = await services.forms.get(session, instance["app_key"], instance["form_key"])
    flow = await services.flows.get(session, instance["flow_id"], instance["flow_version"], form)
    node = flow.node(row["node"])
    permissions = dict(node.get("fields", {}))
    hidden = frozenset(k for k, v in permissions.items() if v == "hidden")
    access = replace(full_access(form.app, form.key), hidden=hidden)
    record = await records.get_record(session, form, ctx, instance["record_id"], access, expand)
    history = await instances.timeline(session, form, instance["record_id"], hidden)
    open_task = row["state"] == "pending" and row["kind"] != "cc"
    allowed = sorted(ACTIONS) if node_type(node).decides else sorted(set(ACTIONS) - {"reject"})
    passed = [n for n in (instance["state"] or {}).get("passed", []) if n in flow.nodes and n not in flow.in_parallel]
    return TaskDetails(
        task={**instances.task_view(row), "instance_id": row["instance_id"]},
        instance=instance,
        flow=flow,
        form=form.restricted(hidden),
        node=node,
        record=record,
        fields={s.key: permissions.get(s.key, "readonly") for s in form.fields if s.key not in hidden},
        actions=allowed if open_task else [],
        timeline=history,
        passed=[flow.node(n) for n in passed],
    )
