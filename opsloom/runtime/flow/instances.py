"""The flow shell: lock an instance, run the engine, store the outcome, carry out its effects.

Every event runs in one transaction: the instance row is locked (SELECT ... FOR
UPDATE on PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE), the
idempotency key is checked under that lock, the pure engine decides, and the
new state, the to-do rows, the timeline, timers, notifications, the record's
status and automatic actions are written together — or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.errors import BadRequest, Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from opsloom.platform.locales import label_translations
from opsloom.platform.permissions import FormAccess, full_access
from opsloom.runtime import attachments, records, subforms
from opsloom.runtime.access import eval_context
from opsloom.runtime.conditions import evaluate
from opsloom.runtime.fields import dump_datetime, unit_of
from opsloom.runtime.flow import signing
from opsloom.runtime.flow.definition import compile_flow
from opsloom.runtime.flow.directory import load_snapshot
from opsloom.runtime.flow.engine import advance_flow
from opsloom.runtime.flow.model import (
    Comment,
    Context,
    Event,
    Flow,
    FlowError,
    Log,
    Notify,
    RunAction,
    Schedule,
    SetStatus,
    State,
)
from opsloom.runtime.flow.notices import notification_text, recipient_locales
from opsloom.runtime.forms import CompiledForm, FormRegistry

ERRORS = {403: PermissionDenied, 404: NotFound, 409: Conflict, 422: ValidationFailed}


@dataclass(frozen=True)
class Services:
    """What the shell needs from the application: compiled forms and flows."""

    forms: FormRegistry
    flows: FlowCache


class FlowCache:
    """Compiled flows of this process by (flow id, version, form version)."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[int, int, int], Flow] = {}

    async def get(self, session: AsyncSession, flow_id: int, version: int, form: CompiledForm) -> Flow:
        key = (flow_id, version, form.version)
        if key not in self._compiled:
            v = tables.definition_versions
            document = (
                await session.execute(select(v.c.document).where(v.c.definition_id == flow_id, v.c.version == version))
            ).scalar_one()
            self._compiled[key] = compile_flow(document, version, form)
        return self._compiled[key]


async def flow_for_form(session: AsyncSession, app: str, form: str) -> tuple[int, str, int] | None:
    """(definition id, flow key, published version) of the flow attached to a form, if any."""
    d = tables.definitions
    rows = await session.execute(
        select(d.c.id, d.c.key, d.c.published_version, d.c.storage).where(
            d.c.app_key == app, d.c.kind == "flow", d.c.published_version.is_not(None)
        )
    )
    for row in rows:
        if (row.storage or {}).get("form") == form:
            return row.id, row.key, row.published_version
    return None


# ------------------------------------------------------------------ requests


@dataclass(frozen=True)
class Idempotency:
    """An `Idempotency-Key` and a fingerprint of the request it came with."""

    key: str | None
    fingerprint: str

    @classmethod
    def of(cls, key: str | None, method: str, path: str, body: Any) -> Idempotency:
        if key is not None and not (0 < len(key) <= 128):
            raise BadRequest("Idempotency-Key must be 1 to 128 characters", [FieldError("Idempotency-Key", "too long")])
        text = json.dumps([method, path, body], sort_keys=True, default=str)
        return cls(key, hashlib.sha256(text.encode()).hexdigest())


async def _remembered(session: AsyncSession, ctx: RequestContext, idem: Idempotency) -> Any:
    if idem.key is None:
        return None
    k = tables.idempotency_keys
    row = (
        await session.execute(select(k).where(k.c.user_id == (ctx.principal.user_id or 0), k.c.key == idem.key))
    ).first()
    if row is None:
        return None
    if row.request != idem.fingerprint:
        raise ValidationFailed.of(
            [FieldError("Idempotency-Key", "was used for a different request; use a new key for a new request")]
        )
    return row.response


async def _remember(session: AsyncSession, ctx: RequestContext, idem: Idempotency, response: Any) -> None:
    if idem.key is None:
        return
    await session.execute(
        insert(tables.idempotency_keys).values(
            user_id=ctx.principal.user_id or 0,
            key=idem.key,
            request=idem.fingerprint,
            status=200,
            response=response,
            created_at=ctx.now,
        )
    )


# ------------------------------------------------------------------ loading


@dataclass
class Loaded:
    """One instance under lock, with everything its next event needs."""

    row: Mapping[str, Any] | None
    flow: Flow
    form: CompiledForm
    record_id: int
    state: State | None
    flow_id: int | None = None  # a new instance: the flow definition it runs


async def _lock_instance(session: AsyncSession, instance_id: int) -> Mapping[str, Any]:
    i = tables.flow_instances
    row = (await session.execute(select(i).where(i.c.id == instance_id).with_for_update())).mappings().first()
    if row is None:
        raise NotFound(f"There is no flow instance {instance_id}")
    return row


async def _open_instance(session: AsyncSession, services: Services, row: Mapping[str, Any]) -> Loaded:
    form = await services.forms.get(session, row["app_key"], row["form_key"])
    flow = await services.flows.get(session, row["flow_id"], row["flow_version"], form)
    return Loaded(row, flow, form, row["record_id"], State.from_json(row["state"]))


async def record_values(session: AsyncSession, form: CompiledForm, record_id: int) -> dict[str, Any]:
    """The record as conditions see it: parsed values by key, subform rows included."""
    t = form.table
    row = (await session.execute(select(t).where(t.c.id == record_id))).mappings().first()
    if row is None:
        raise NotFound(f"{form.key} has no record {record_id}")
    values = {s.key: row[s.column] for s in form.fields if unit_of(s).has_column}
    values |= {"id": row["id"], "owner_id": row["owner_id"], "department_id": row["department_id"]}
    if form.children:
        loaded = await subforms.load_rows(session, form, [record_id])
        for key, child in form.children.items():
            values[key] = subforms.stored_values(child, loaded[key][record_id])
    return values


async def _engine_context(session: AsyncSession, ctx: RequestContext, loaded: Loaded, app: str) -> Context:
    clock = eval_context(ctx)
    values = await record_values(session, loaded.form, loaded.record_id)
    snapshot = await load_snapshot(session, app, ctx.now)
    return Context(ctx.now, values, snapshot, lambda condition, record: evaluate(condition, record, clock))


async def _run(session: AsyncSession, ctx: RequestContext, services: Services, loaded: Loaded, event: Event) -> State:
    app = loaded.row["app_key"] if loaded.row else loaded.form.app
    engine_ctx = await _engine_context(session, ctx, loaded, app)
    try:
        state, effects = advance_flow(loaded.flow, loaded.state, event, engine_ctx)
    except FlowError as error:
        where = [FieldError(error.path, str(error))] if error.path else []
        raise ERRORS.get(error.status, Conflict)(str(error), where) from None
    title = _title(loaded.form, engine_ctx.record, loaded.record_id)
    await _store(session, ctx, services, loaded, state, effects, title)
    return state


# ------------------------------------------------------------------ storing


async def _store(
    session: AsyncSession,
    ctx: RequestContext,
    services: Services,
    loaded: Loaded,
    state: State,
    effects: list[Any],
    title: str | None,
) -> None:
    i = tables.flow_instances
    values = {
        "status": state.status,
        "state": state.as_json(),
        "submitter_id": state.submitter,
        "title": title,
        "updated_at": ctx.now,
    }
    if loaded.row is None:
        form_id = loaded.form.form_id
        instance_id = (
            await session.execute(
                insert(i)
                .values(
                    app_key=loaded.form.app,
                    form_key=loaded.form.key,
                    form_id=form_id,
                    record_id=loaded.record_id,
                    flow_id=loaded.flow_id,
                    flow_version=loaded.flow.version,
                    version=1,
                    created_at=ctx.now,
                    **values,
                )
                .returning(i.c.id)
            )
        ).scalar_one()
        loaded.row = {"id": instance_id, "app_key": loaded.form.app, "version": 1}
    else:
        instance_id = loaded.row["id"]
        done = await session.execute(
            update(i)
            .where(i.c.id == instance_id, i.c.version == loaded.row["version"])
            .values(version=loaded.row["version"] + 1, **values)
        )
        if done.rowcount != 1:
            raise Conflict("Someone acted on this flow at the same moment; reload and try again")
    ids = await _store_tasks(session, instance_id, loaded, state)
    steps = {task.id: loaded.flow.node(task.node).labels for task in state.tasks}
    await _carry_out(session, ctx, services, loaded, instance_id, ids, effects)
    notices = [e for e in effects if isinstance(e, Notify)]
    await _notify(session, ctx, instance_id, ids, steps, notices, title or f"#{loaded.record_id}")


def _title(form: CompiledForm, values: Mapping[str, Any], record_id: int) -> str | None:
    """What names the record in to-do lists: its title field as read (the record's values in hand)."""
    spec = form.by_key.get(form.title_field or "")
    if spec is None:
        return f"{form.key} {record_id}"
    value = values.get(spec.key)
    return None if value is None else str(form.dump_value(spec.key, value))[:255]


async def _store_tasks(session: AsyncSession, instance_id: int, loaded: Loaded, state: State) -> dict[int, int]:
    """Mirror the state's tasks into the to-do table; answer global ids by local id."""
    t = tables.flow_tasks
    before = {task.id: task for task in (loaded.state.tasks if loaded.state else [])}
    for task in state.tasks:
        row = {
            "node": task.node,
            "node_label": loaded.flow.node(task.node).label[:255],
            "node_labels": loaded.flow.node(task.node).labels,
            "kind": task.kind,
            "state": task.state,
            "assignee_id": task.assignee,
            "on_behalf_of": task.on_behalf_of,
            "acted_at": _moment(task.acted_at),
            "due_at": _moment(task.due_at),
        }
        old = before.get(task.id)
        if old is None:
            await session.execute(
                insert(t).values(instance_id=instance_id, local_id=task.id, created_at=_moment(task.created_at), **row)
            )
        elif old != task:
            await session.execute(
                update(t).where(t.c.instance_id == instance_id, t.c.local_id == task.id).values(**row)
            )
    rows = await session.execute(select(t.c.local_id, t.c.id).where(t.c.instance_id == instance_id))
    return {local: global_id for local, global_id in rows}


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def _carry_out(
    session: AsyncSession,
    ctx: RequestContext,
    services: Services,
    loaded: Loaded,
    instance_id: int,
    ids: Mapping[int, int],
    effects: list[Any],
) -> None:
    status = None
    lines = [
        {
            "instance_id": instance_id,
            "at": ctx.now,
            "actor_id": effect.actor,
            "action": effect.action,
            "node": effect.node,
            "task_id": ids.get(effect.task) if effect.task else None,
            "comment": (effect.comment or None) and effect.comment[:4000],
            "detail": json.loads(json.dumps(dict(effect.detail), default=str)),
        }
        for effect in effects
        if isinstance(effect, Log)
    ]
    if lines:  # the timeline in one statement, in order
        await session.execute(insert(tables.flow_history), lines)
    for effect in effects:
        if isinstance(effect, Schedule):
            await session.execute(
                insert(tables.flow_timers).values(
                    instance_id=instance_id, local_task_id=effect.task, kind=effect.kind, due_at=effect.due
                )
            )
        elif isinstance(effect, SetStatus):
            status = effect.status
        elif isinstance(effect, RunAction):
            await _run_action(session, ctx, services, loaded, effect)
    if status is not None:
        await records.set_status(session, loaded.form, ctx, loaded.record_id, status)


async def _notify(
    session: AsyncSession,
    ctx: RequestContext,
    instance_id: int,
    ids: Mapping[int, int],
    steps: Mapping[int, Mapping[str, str]],
    effects: list[Notify],
    title: str,
) -> None:
    """The notifications, each written in its recipient's language (notices.py)."""
    if not effects:
        return
    locales = await recipient_locales(session, (user for effect in effects for user in effect.users))
    rows = [
        {
            "user_id": user,
            "kind": effect.kind,
            "instance_id": instance_id,
            "task_id": ids.get(effect.task) if effect.task else None,
            "text": notification_text(locales[user], effect, title, steps.get(effect.task) if effect.task else None),
            "created_at": ctx.now,
        }
        for effect in effects
        for user in effect.users
    ]
    await session.execute(insert(tables.notifications), rows)


async def _run_action(
    session: AsyncSession, ctx: RequestContext, services: Services, loaded: Loaded, effect: RunAction
) -> None:
    form, action = loaded.form, effect.action
    access = full_access(form.app, form.key)
    if action["kind"] == "update_record":
        await records.update_record(
            session, form, ctx, loaded.record_id, dict(action["values"]), None, access, in_flow=True
        )
        return
    target = await services.forms.get(session, form.app, action["form"])
    source = await records.get_record(session, form, ctx, loaded.record_id, access)
    payload: dict[str, Any] = {}
    for key, origin in action["mapping"].items():
        if isinstance(origin, Mapping):
            payload[key] = origin["value"]
        elif isinstance(source.get(origin), list) and unit_of(target.by_key[key]).child_rows:
            # computed columns (a line total) are the target's to work out; sending them is refused
            columns = {k for k, s in target.children[key].by_key.items() if unit_of(s).entered}
            payload[key] = [{k: v for k, v in row.items() if k in columns} for row in source[origin]]
        else:
            payload[key] = source.get(origin)
    try:
        await records.create_record(session, target, ctx, payload, full_access(form.app, target.key))
    except ValidationFailed as failed:
        raise Conflict(
            f"The step '{effect.node}' could not create the {target.key} record; fix the flow's mapping",
            [FieldError(f"{effect.node}.{e.path}", e.message) for e in failed.errors],
        ) from None


# ------------------------------------------------------------------ events


async def submit_record(
    session: AsyncSession,
    ctx: RequestContext,
    services: Services,
    form: CompiledForm,
    access: FormAccess,
    record_id: int,
    event: Event,
    idem: Idempotency,
) -> dict[str, Any]:
    """Start the form's flow for a record (or restart it after a return to the submitter)."""
    row = await records.lock_for_flow(session, form, ctx, record_id, access)
    if (answer := await _remembered(session, ctx, idem)) is not None:
        return answer
    found = await flow_for_form(session, form.app, form.key)
    if found is None:
        raise NotFound(f"Form '{form.key}' has no published flow to submit to")
    latest = await _latest_instance(session, form, record_id, lock=True)
    if latest is not None and latest["status"] == "returned":
        loaded = await _open_instance(session, services, latest)
    elif row["status"] in ("in_review", "approved"):
        raise Conflict(f"Record {record_id} is already {row['status'].replace('_', ' ')}")
    else:
        flow = await services.flows.get(session, found[0], found[2], form)
        loaded = Loaded(None, flow, form, record_id, None, flow_id=found[0])
    return await _run_and_answer(session, ctx, services, loaded, event, idem)


def in_apps_of(principal: Principal) -> list[Any]:
    """Conditions on flow instances that keep to the apps the principal may use (none: every app)."""
    if principal.token_apps is None:
        return []
    return [tables.flow_instances.c.app_key.in_(sorted(principal.token_apps))]


async def my_task(session: AsyncSession, principal: Principal, task_id: int) -> Mapping[str, Any]:
    """The task if it is the principal's (or done on their behalf) in an app they may use; NotFound otherwise."""
    t, i = tables.flow_tasks, tables.flow_instances
    query = select(t).join(i, i.c.id == t.c.instance_id).where(t.c.id == task_id, *in_apps_of(principal))
    task = (await session.execute(query)).mappings().first()
    if task is None or principal.user_id not in (task["assignee_id"], task["on_behalf_of"]):
        raise NotFound(f"You have no task {task_id}")
    return task


async def act_on_task(
    session: AsyncSession,
    ctx: RequestContext,
    services: Services,
    task_id: int,
    event_of: Any,
    values: Mapping[str, Any] | None,
    idem: Idempotency,
) -> dict[str, Any]:
    """A person acts on their task. `event_of(local task id, changes)` builds the engine event."""
    task = await my_task(session, ctx.principal, task_id)
    row = await _lock_instance(session, task["instance_id"])
    if (answer := await _remembered(session, ctx, idem)) is not None:
        return answer
    loaded = await _open_instance(session, services, row)
    changes: dict[str, Any] = {}
    if values:
        changes = await _apply_step_values(session, ctx, loaded, task, values)
    event = event_of(task["local_id"], changes)
    signing.refuse_unsigned(
        loaded.flow.node(task["node"]), loaded.form, task, ctx.principal.user_id, event.action, changes
    )
    return await _run_and_answer(session, ctx, services, loaded, event, idem)


async def _apply_step_values(
    session: AsyncSession, ctx: RequestContext, loaded: Loaded, task: Mapping[str, Any], values: Mapping[str, Any]
) -> dict[str, Any]:
    """Fields changed at a step: only those the step makes editable, validated like any write."""
    if task["state"] != "pending" or task["assignee_id"] != ctx.principal.user_id:
        return {}  # the engine explains why the action cannot apply
    permissions = loaded.flow.node(task["node"]).get("fields", {})
    refused = [key for key in values if permissions.get(key) != "editable"]
    if refused:
        raise PermissionDenied(
            "This step does not let you change " + ", ".join(refused),
            [FieldError(f"values.{key}", "is not editable at this step") for key in refused],
        )
    hidden = frozenset(k for k, v in permissions.items() if v == "hidden")
    access = replace(full_access(loaded.form.app, loaded.form.key), hidden=hidden)
    before = await records.get_record(session, loaded.form, ctx, loaded.record_id, access)
    try:
        after = await records.update_record(
            session, loaded.form, ctx, loaded.record_id, dict(values), None, access, in_flow=True
        )
    except ValidationFailed as failed:  # the paths name the place in this request: values.<key>
        sent = [FieldError(f"values.{e.path}", e.message) if _top_key(e.path) in values else e for e in failed.errors]
        raise ValidationFailed(failed.detail, sent, failed.extra) from None
    return {k: {"before": before.get(k), "after": after.get(k)} for k in values if before.get(k) != after.get(k)}


def _top_key(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


async def record_event(
    session: AsyncSession,
    ctx: RequestContext,
    services: Services,
    form: CompiledForm,
    access: FormAccess,
    record_id: int,
    event: Event,
    idem: Idempotency,
) -> dict[str, Any]:
    """Withdraw, urge or comment on the record's current flow."""
    await records.get_record(session, form, ctx, record_id, access)  # 404 unless the caller may read it
    latest = await _latest_instance(session, form, record_id, lock=True)
    if latest is None:
        raise NotFound(f"Record {record_id} has not been submitted")
    if (answer := await _remembered(session, ctx, idem)) is not None:
        return answer
    if isinstance(event, Comment) and event.files:
        files = await _comment_files(session, ctx, form, access.hidden, record_id, event.files)
        event = replace(event, files=tuple(files))
    loaded = await _open_instance(session, services, latest)
    return await _run_and_answer(session, ctx, services, loaded, event, idem)


async def _run_and_answer(
    session: AsyncSession, ctx: RequestContext, services: Services, loaded: Loaded, event: Event, idem: Idempotency
) -> dict[str, Any]:
    """Apply the event; answer the instance as it now is, remembered under the idempotency key."""
    await _run(session, ctx, services, loaded, event)
    assert loaded.row is not None
    answer = await instance_view(session, loaded.row["id"])
    await _remember(session, ctx, idem, answer)
    return answer


async def _comment_files(
    session: AsyncSession,
    ctx: RequestContext,
    form: CompiledForm,
    hidden: frozenset[str],
    record_id: int,
    ids: tuple[Any, ...],
) -> list[dict[str, Any]]:
    """Files shown with a comment: the commenter's uploads to this form, which then belong to
    the record (kept with it, readable by its readers, purged with it), or the record's own
    files that the commenter may read (not those of a field hidden from them)."""
    f = tables.files
    rows = {
        row.id: row
        for row in await session.execute(select(f).where(f.c.id.in_(list(ids)), f.c.form_id == form.form_id))
    }
    errors = []
    for i, file_id in enumerate(ids):
        row = rows.get(file_id)
        mine = row is not None and row.record_id is None and row.created_by == ctx.principal.user_id
        readable = (
            row is not None and row.record_id == record_id and attachments.readable_field(form, hidden, row.field_id)
        )
        if not (mine or readable):  # the same words for a file that is not there: no probing
            errors.append(FieldError(f"files[{i}]", f"{file_id} is not a file of this record or an upload of yours"))
    if errors:
        raise ValidationFailed.of(errors)
    adopted = [fid for fid, row in rows.items() if row.record_id is None]
    if adopted:
        await session.execute(update(f).where(f.c.id.in_(adopted)).values(record_id=record_id, detached_at=ctx.now))
    return [
        {"id": rows[i].id, "name": rows[i].name, "size": rows[i].size, "content_type": rows[i].content_type}
        for i in ids
    ]


async def _latest_instance(
    session: AsyncSession, form: CompiledForm, record_id: int, *, lock: bool = False
) -> Mapping[str, Any] | None:
    i = tables.flow_instances
    statement = (
        select(i).where(i.c.form_id == form.form_id, i.c.record_id == record_id).order_by(i.c.id.desc()).limit(1)
    )
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).mappings().first()


async def run_timer(session: AsyncSession, ctx: RequestContext, services: Services, timer: Mapping[str, Any]) -> None:
    from opsloom.runtime.flow.model import Timeout

    row = await _lock_instance(session, timer["instance_id"])
    loaded = await _open_instance(session, services, row)
    await _run(session, ctx, services, loaded, Timeout(timer["local_task_id"], timer["kind"]))


# ------------------------------------------------------------------ reading


async def instance_view(session: AsyncSession, instance_id: int) -> dict[str, Any]:
    i, t = tables.flow_instances, tables.flow_tasks
    row = (await session.execute(select(i).where(i.c.id == instance_id))).mappings().one()
    tasks = await session.execute(select(t).where(t.c.instance_id == instance_id).order_by(t.c.id))
    return {
        "id": row["id"],
        "app": row["app_key"],
        "form": row["form_key"],
        "record_id": row["record_id"],
        "title": row["title"],
        "flow_version": row["flow_version"],
        "status": row["status"],
        "submitter_id": row["submitter_id"],
        "created_at": dump_datetime(row["created_at"]),
        "updated_at": dump_datetime(row["updated_at"]),
        "tasks": [task_view(task) for task in tasks.mappings()],
    }


def task_view(task: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": task["id"],
        "node": task["node"],
        "node_label": task["node_label"],
        "node_labels": task["node_labels"] or label_translations(task["node_label"] or task["node"]),
        "kind": task["kind"],
        "state": task["state"],
        "assignee_id": task["assignee_id"],
        "on_behalf_of": task["on_behalf_of"],
        "created_at": dump_datetime(task["created_at"]),
        "acted_at": None if task["acted_at"] is None else dump_datetime(task["acted_at"]),
        "due_at": None if task["due_at"] is None else dump_datetime(task["due_at"]),
    }


async def timeline(
    session: AsyncSession, form: CompiledForm, record_id: int, hidden: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Every flow instance of a record, oldest first, each with its actions (changes to `hidden` fields left out)."""
    i, h = tables.flow_instances, tables.flow_history
    instances = await session.execute(
        select(i.c.id).where(i.c.form_id == form.form_id, i.c.record_id == record_id).order_by(i.c.id)
    )
    out = []
    for (instance_id,) in instances.all():
        view = await instance_view(session, instance_id)
        rows = (await session.execute(select(h).where(h.c.instance_id == instance_id).order_by(h.c.id))).all()
        named = {file["id"] for r in rows for file in _files_of(r.detail)}
        readable = await attachments.readable_files(session, form, hidden, named)
        view["events"] = [
            {
                "at": dump_datetime(r.at),
                "actor_id": r.actor_id,
                "action": r.action,
                "node": r.node,
                "task_id": r.task_id,
                "comment": r.comment,
                "detail": _without(r.detail, hidden, readable),
            }
            for r in rows
        ]
        out.append(view)
    return out


def _files_of(detail: Any) -> list[Mapping[str, Any]]:
    files = detail.get("files") if isinstance(detail, Mapping) else None
    return [file for file in files or () if isinstance(file, Mapping) and "id" in file]


def _without(detail: Any, hidden: frozenset[str], readable: set[int]) -> Any:
    """What an event names that the reader may not see, left out: changes to fields hidden from
    them, and files they may not read (a comment's files show their names, sizes and types)."""
    if not isinstance(detail, Mapping):
        return detail
    shown = dict(detail)
    changes = detail.get("changes")
    if hidden and isinstance(changes, Mapping):
        shown["changes"] = {k: v for k, v in changes.items() if k not in hidden}
    if "files" in detail:
        shown["files"] = [file for file in _files_of(detail) if file["id"] in readable]
    return shown


def system_context(now: datetime) -> RequestContext:
    return RequestContext(principal=Principal(is_admin=True, name="system"), now=now)
