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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.errors import (
    BadRequest,
    Conflict,
    FieldError,
    NotFound,
    OpsloomError,
    PermissionDenied,
    ValidationFailed,
)
from opsloom.platform.locales import label_translations
from opsloom.platform.outbox import emit
from opsloom.platform.permissions import FormAccess, full_access
from opsloom.platform.site_settings import DEFAULTS, SiteSettings
from opsloom.platform.types import StoredRow
from opsloom.runtime import attachments, records, subforms
from opsloom.runtime.access import eval_context
from opsloom.runtime.conditions import evaluate
from opsloom.runtime.fields import dump_datetime, unit_of
from opsloom.runtime.flow import signing, step_rules
from opsloom.runtime.flow.approvers import named_people
from opsloom.runtime.flow.definition import compile_flow
from opsloom.runtime.flow.directory import OrgReader
from opsloom.runtime.flow.engine import advance_flow
from opsloom.runtime.flow.events import flow_events
from opsloom.runtime.flow.model import (
    Act,
    Comment,
    Context,
    Effect,
    Event,
    Flow,
    FlowError,
    HandOver,
    Log,
    Notify,
    Reason,
    RunAction,
    Schedule,
    SetStatus,
    State,
    Submit,
    Timeout,
)
from opsloom.runtime.flow.notices import notification_text, recipient_locales
from opsloom.runtime.forms import CompiledForm, FormRegistry

# Why the engine refused an event -> the error the API answers (its HTTP status): the one place they meet.
REFUSALS: dict[Reason, type[OpsloomError]] = {
    Reason.NOT_YOURS: PermissionDenied,  # 403
    Reason.NO_SUCH_TASK: NotFound,  # 404
    Reason.INVALID: ValidationFailed,  # 422
    Reason.NOT_NOW: Conflict,  # 409
    Reason.FLOW_STUCK: Conflict,  # 409
}


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
    """(definition id, flow key, published version) of the flow attached to a form, if any.

    One query on the (app, kind, key) index: the app's few flows, the one whose storage names the form."""
    d = tables.definitions
    row = (
        await session.execute(
            select(d.c.id, d.c.key, d.c.published_version)
            .where(
                d.c.app_key == app,
                d.c.kind == "flow",
                d.c.published_version.is_not(None),
                d.c.storage["form"].as_string() == form,
            )
            .order_by(d.c.id)
            .limit(1)
        )
    ).first()
    return None if row is None else (row.id, row.key, row.published_version)


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

    row: StoredRow | None
    flow: Flow
    form: CompiledForm
    record_id: int
    state: State | None
    flow_id: int | None = None  # a new instance: the flow definition it runs


async def _lock_instance(session: AsyncSession, instance_id: int) -> StoredRow:
    i = tables.flow_instances
    row = (await session.execute(select(i).where(i.c.id == instance_id).with_for_update())).mappings().first()
    if row is None:
        raise NotFound(f"There is no flow instance {instance_id}")
    return row


async def _open_instance(session: AsyncSession, services: Services, row: Mapping[str, Any]) -> Loaded:
    form = await services.forms.get(session, row["app_key"], row["form_key"])
    flow = await services.flows.get(session, row["flow_id"], row["flow_version"], form)
    return Loaded(row, flow, form, row["record_id"], State.from_json(row["state"]))


@dataclass(frozen=True)
class FlowRecord:
    """The record an event works on: its row, and its values as conditions, approvers and titles read them."""

    form: CompiledForm
    row: StoredRow
    values: dict[str, Any]  # stored values by key, subform rows included, with id, owner_id and department_id

    @classmethod
    def of_change(cls, change: records.PlannedUpdate) -> FlowRecord:
        """The record as a step's change will leave it (the engine judges the action on these values)."""
        row = change.current
        system = {"id": row["id"], "owner_id": row["owner_id"], "department_id": row["department_id"]}
        return cls(change.form, row, dict(change.merged) | system)

    def dumped(self) -> dict[str, Any]:
        """The record as a read answers it (subform rows included)."""
        record = self.form.dump_row(self.row)
        for key, child in self.form.children.items():
            record[key] = subforms.dump_values(child, self.values[key])
        return record


async def load_record(
    session: AsyncSession,
    ctx: RequestContext,
    form: CompiledForm,
    record_id: int,
    access: FormAccess | None = None,
    *,
    action: str = "read",
    lock: bool = False,
) -> FlowRecord:
    """The one way the shell reads a record: as `access` allows `action` on it (the system's: all of it)."""
    access = access or full_access(form.app, form.key)
    row = await records.read_row(session, form, ctx, record_id, access, action=action, lock=lock)
    values = {s.key: row[s.column] for s in form.fields if unit_of(s).has_column}
    values |= {"id": row["id"], "owner_id": row["owner_id"], "department_id": row["department_id"]}
    if form.children:
        loaded = await subforms.load_rows(session, form, [record_id])
        for key, child in form.children.items():
            values[key] = subforms.stored_values(child, loaded[key][record_id])
    return FlowRecord(form, row, values)


Accepted = Callable[[], Awaitable[Any]]  # what an event writes of its own, once the engine accepted it
MAX_ROUNDS = 100  # reading the organisation: each round reads what the last one lacked, so few are ever needed


async def _judge(
    session: AsyncSession, ctx: RequestContext, loaded: Loaded, event: Event, record: FlowRecord
) -> tuple[State, list[Effect], OrgReader]:
    """The engine's verdict on the event, with the people and departments it asks about read on the way.

    A refusal is raised as the error its reason maps to; nothing has been written."""
    app = loaded.row["app_key"] if loaded.row else loaded.form.app
    org = OrgReader(app, ctx.now)
    org.want(_people_named(loaded.flow, loaded.state, event))
    clock = eval_context(ctx)
    engine_ctx = Context(ctx.now, record.values, org, lambda condition, values: evaluate(condition, values, clock))
    for _ in range(MAX_ROUNDS):
        await org.read(session)
        try:
            verdict = advance_flow(loaded.flow, loaded.state, event, engine_ctx)
        except FlowError as error:
            if org.missing:
                continue  # judged on an organisation not fully read: read the rest, judge again
            where = [FieldError(error.path, str(error))] if error.path else []
            raise REFUSALS[error.reason](str(error), where) from None
        if not org.missing:
            return (*verdict, org)
    raise RuntimeError(f"the organisation was still not read after {MAX_ROUNDS} rounds")


def _people_named(flow: Flow, state: State | None, event: Event) -> list[int | None]:
    """Whom the event will most likely ask about, read before the first round: the submitter,
    the people the flow names outright, and the people the event names."""
    people: list[int | None] = [state.submitter if state else getattr(event, "actor", None)]
    for node in flow.nodes.values():
        people += named_people(list(node.get("approvers", [])) + list(node.get("recipients", [])))
        people.append(node.get("empty_user"))
    if isinstance(event, Act):
        people += [event.to, *event.users]
    if isinstance(event, HandOver):
        people.append(event.to)
    if isinstance(event, Submit):
        people += [p for chosen in event.chosen.values() for p in chosen]
    return people


async def _run(
    session: AsyncSession,
    ctx: RequestContext,
    services: Services,
    loaded: Loaded,
    event: Event,
    record: FlowRecord,
    accepted: Accepted | None = None,
) -> list[Mapping[str, Any]]:
    """Judge the event, then write: what the event itself brings (`accepted`: a step's field
    values, a comment's files), the instance and the effects. Answer the to-do rows as stored."""
    state, effects, org = await _judge(session, ctx, loaded, event, record)
    if accepted is not None:
        await accepted()
    title = _title(loaded.form, record.values, loaded.record_id)
    return await _store(session, ctx, services, loaded, state, effects, title, org)


# ------------------------------------------------------------------ storing


async def _store(
    session: AsyncSession,
    ctx: RequestContext,
    services: Services,
    loaded: Loaded,
    state: State,
    effects: list[Any],
    title: str | None,
    org: OrgReader | None = None,
) -> list[Mapping[str, Any]]:
    """Write the instance, its to-do rows and its effects; answer the to-do rows as stored."""
    i = tables.flow_instances
    before = loaded.state
    values = {
        "status": state.status,
        "state": state.as_json(),
        "submitter_id": state.submitter,
        "title": title,
        "updated_at": ctx.now,
    }
    if loaded.row is None:
        new = insert(i).values(
            app_key=loaded.form.app,
            form_key=loaded.form.key,
            form_id=loaded.form.form_id,
            record_id=loaded.record_id,
            flow_id=loaded.flow_id,
            flow_version=loaded.flow.version,
            version=1,
            created_at=ctx.now,
            **values,
        )
        stored = (await session.execute(new.returning(*i.c))).mappings().one()
    else:
        version = loaded.row["version"]
        moved = (
            update(i).where(i.c.id == loaded.row["id"], i.c.version == version).values(version=version + 1, **values)
        )
        found = (await session.execute(moved.returning(*i.c))).mappings().first()
        if found is None:
            raise Conflict("Someone acted on this flow at the same moment; reload and try again")
        stored = found
    loaded.row = stored
    instance_id = stored["id"]
    tasks = await _store_tasks(session, instance_id, loaded, state)
    ids = {task["local_id"]: task["id"] for task in tasks}
    steps = {task.id: loaded.flow.node(task.node).labels for task in state.tasks}
    await _carry_out(session, ctx, services, loaded, instance_id, ids, effects)
    form = loaded.form
    events = flow_events(ctx, form.app, form.key, loaded.record_id, instance_id, before, state, effects)
    await emit(session, events)
    notices = [e for e in effects if isinstance(e, Notify)]
    await _notify(session, ctx, instance_id, ids, steps, notices, title or f"#{loaded.record_id}", org)
    return tasks


def _title(form: CompiledForm, values: Mapping[str, Any], record_id: int) -> str | None:
    """What names the record in to-do lists: its title field as read (the record's values in hand)."""
    spec = form.by_key.get(form.title_field or "")
    if spec is None:
        return f"{form.key} {record_id}"
    value = values.get(spec.key)
    return None if value is None else str(form.dump_value(spec.key, value))[:255]


async def _store_tasks(
    session: AsyncSession, instance_id: int, loaded: Loaded, state: State
) -> list[Mapping[str, Any]]:
    """Mirror the state's tasks into the to-do table (new ones in one statement, changed ones in
    another); answer the instance's to-do rows as they now are, in order."""
    t = tables.flow_tasks
    before = {task.id: task for task in (loaded.state.tasks if loaded.state else [])}
    added, changed = [], []
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
            added.append(
                {"instance_id": instance_id, "local_id": task.id, "created_at": _moment(task.created_at)} | row
            )
        elif old != task:
            changed.append({"b_local_id": task.id} | row)
    if added:
        await session.execute(insert(t), added)
    if changed:  # the SET clause is the rows' column keys
        where = (t.c.instance_id == instance_id, t.c.local_id == bindparam("b_local_id"))
        await session.execute(update(t).where(*where), changed)
    rows = await session.execute(select(t).where(t.c.instance_id == instance_id).order_by(t.c.id))
    return [dict(row) for row in rows.mappings()]


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
    if lines:  # the timeline in one statement, in order, and the audit log's copy of what people did
        await session.execute(insert(tables.flow_history), lines)
        target = f"{loaded.form.app}/{loaded.form.key}/{loaded.record_id}"
        audit = [
            {
                "at": ctx.now,
                "actor_id": line["actor_id"],
                "action": f"flow.{line['action']}"[:64],
                "target": target,
                "ip": ctx.ip,
                "detail": {"instance": instance_id}
                | {k: v for k, v in (("node", line["node"]), ("task", line["task_id"])) if v is not None},
            }
            for line in lines
            if line["actor_id"] is not None  # what people did; the engine's own steps stay in the timeline
        ]
        if audit:
            await session.execute(insert(tables.audit_log), audit)
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
    org: OrgReader | None = None,
) -> None:
    """The notifications, each written in its recipient's language (notices.py)."""
    if not effects:
        return
    recipients = (user for effect in effects for user in effect.users)
    locales = await recipient_locales(session, recipients, org.locales if org else {}, ctx.site.default_language)
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
    source = (await load_record(session, ctx, form, loaded.record_id)).dumped()
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
    record = await load_record(session, ctx, form, record_id, access, action="update", lock=True)
    if (answer := await _remembered(session, ctx, idem)) is not None:
        return answer
    found = await flow_for_form(session, form.app, form.key)
    if found is None:
        raise NotFound(f"Form '{form.key}' has no published flow to submit to")
    latest = await _latest_instance(session, form, record_id, lock=True)
    if latest is not None and latest["status"] == "returned":
        loaded = await _open_instance(session, services, latest)
    elif (status := record.row["status"]) in ("in_review", "approved"):
        raise Conflict(f"Record {record_id} is already {status.replace('_', ' ')}")
    else:
        flow = await services.flows.get(session, found[0], found[2], form)
        loaded = Loaded(None, flow, form, record_id, None, flow_id=found[0])
    return await _run_and_answer(session, ctx, services, loaded, event, idem, record)


def in_apps_of(principal: Principal) -> list[Any]:
    """Conditions on flow instances that keep to the apps the principal may use (none: every app)."""
    if principal.token_apps is None:
        return []
    return [tables.flow_instances.c.app_key.in_(sorted(principal.token_apps))]


async def my_task(session: AsyncSession, principal: Principal, task_id: int) -> StoredRow:
    """The task if it is the principal's (or done on their behalf) in an app they may use; NotFound otherwise."""
    t, i = tables.flow_tasks, tables.flow_instances
    query = select(t).join(i, i.c.id == t.c.instance_id).where(t.c.id == task_id, *in_apps_of(principal))
    task = (await session.execute(query)).mappings().first()
    if task is None or principal.user_id not in (task["assignee_id"], task["on_behalf_of"]):
        raise NotFound(f"You have no task {task_id}")
    return task


async def _lock_my_task(
    session: AsyncSession, principal: Principal, task_id: int
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The task as `my_task` finds it, and its instance, locked: (task, instance) in one query."""
    t, i = tables.flow_tasks, tables.flow_instances
    query = (
        select(i, *(column.label(f"task_{column.name}") for column in t.c))
        .join(t, t.c.instance_id == i.c.id)
        .where(t.c.id == task_id, *in_apps_of(principal))
        .with_for_update(of=i)
    )
    row = (await session.execute(query)).mappings().first()
    if row is None or principal.user_id not in (row["task_assignee_id"], row["task_on_behalf_of"]):
        raise NotFound(f"You have no task {task_id}")
    return {c.name: row[f"task_{c.name}"] for c in t.c}, {c.name: row[c.name] for c in i.c}


async def act_on_task(
    session: AsyncSession,
    ctx: RequestContext,
    services: Services,
    task_id: int,
    event_of: Any,
    values: Mapping[str, Any] | None,
    idem: Idempotency,
) -> dict[str, Any]:
    """A person acts on their task. `event_of(local task id, changes)` builds the engine event.

    Lock, judge, write: the instance is locked (and the record, when the step changes values),
    the engine judges the action on the record as the change would leave it, and only an
    accepted action writes the values."""
    task, row = await _lock_my_task(session, ctx.principal, task_id)
    if (answer := await _remembered(session, ctx, idem)) is not None:
        return answer
    loaded = await _open_instance(session, services, row)
    change = await _step_change(session, ctx, loaded, task, values) if values else None
    if change is not None:
        record = FlowRecord.of_change(change)
        after = change.after()
        changes = {k: {"before": change.before.get(k), "after": after.get(k)} for k in values or ()}
        changes = {k: v for k, v in changes.items() if v["before"] != v["after"]}
    else:
        record, changes = await load_record(session, ctx, loaded.form, loaded.record_id), {}
    event = event_of(task["local_id"], changes)
    signing.refuse_unsigned(
        loaded.flow.node(task["node"]), loaded.form, task, ctx.principal.user_id, event.action, changes
    )
    accepted = partial(records.apply_update, session, ctx, change) if change is not None else None
    return await _run_and_answer(session, ctx, services, loaded, event, idem, record, accepted)


async def hand_over_task(
    session: AsyncSession, ctx: RequestContext, services: Services, task_id: int, to: int, comment: str | None = None
) -> dict[str, Any]:
    """An administrator gives anyone's open task (by its id) to `to`; the timeline says who did it and from whom.

    Lock, judge, write, as for a person's own action; the caller checks the administrator's right."""
    t = tables.flow_tasks
    task = (await session.execute(select(t.c.instance_id, t.c.local_id).where(t.c.id == task_id))).first()
    if task is None:
        raise NotFound(f"There is no task {task_id}")
    loaded = await _open_instance(session, services, await _lock_instance(session, task.instance_id))
    record = await load_record(session, ctx, loaded.form, loaded.record_id)
    event = HandOver(actor=ctx.principal.user_id or 0, task=task.local_id, to=to, comment=comment)
    tasks = await _run(session, ctx, services, loaded, event, record)
    assert loaded.row is not None
    return _instance_answer(loaded.row, tasks)


async def _step_change(
    session: AsyncSession, ctx: RequestContext, loaded: Loaded, task: Mapping[str, Any], values: Mapping[str, Any]
) -> records.PlannedUpdate | None:
    """Fields changed at a step: only those the step makes editable, validated like any write (not written)."""
    if task["state"] != "pending" or task["assignee_id"] != ctx.principal.user_id:
        return None  # the engine explains why the action cannot apply
    permissions = loaded.flow.node(task["node"]).get("fields", {})
    refused = [key for key in values if permissions.get(key) != "editable"]
    if refused:
        raise PermissionDenied(
            "This step does not let you change " + ", ".join(refused),
            [FieldError(f"values.{key}", "is not editable at this step") for key in refused],
        )
    hidden = frozenset(k for k, v in permissions.items() if v == "hidden")
    access = replace(full_access(loaded.form.app, loaded.form.key), hidden=hidden)
    try:
        change = await records.plan_update(
            session, loaded.form, ctx, loaded.record_id, dict(values), None, access, in_flow=True
        )
    except ValidationFailed as failed:  # the paths name the place in this request: values.<key>
        sent = [FieldError(f"values.{e.path}", e.message) if _top_key(e.path) in values else e for e in failed.errors]
        raise ValidationFailed(failed.detail, sent, failed.extra) from None
    node = loaded.flow.node(task["node"]).raw
    step_rules.refuse_row_changes(node, loaded.form, change.item.changed, change.item.stored or {})
    return change


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
    record = await load_record(session, ctx, form, record_id, access)  # 404 unless the caller may read it
    latest = await _latest_instance(session, form, record_id, lock=True)
    if latest is None:
        raise NotFound(f"Record {record_id} has not been submitted")
    if (answer := await _remembered(session, ctx, idem)) is not None:
        return answer
    accepted = None
    if isinstance(event, Comment) and event.files:
        files, adopted = await _comment_files(session, ctx, form, access.hidden, record_id, event.files)
        event = replace(event, files=tuple(files))
        accepted = partial(_adopt_files, session, ctx, record_id, adopted)
    loaded = await _open_instance(session, services, latest)
    return await _run_and_answer(session, ctx, services, loaded, event, idem, record, accepted)


async def _run_and_answer(
    session: AsyncSession,
    ctx: RequestContext,
    services: Services,
    loaded: Loaded,
    event: Event,
    idem: Idempotency,
    record: FlowRecord,
    accepted: Accepted | None = None,
) -> dict[str, Any]:
    """Apply the event; answer the instance as it now is, remembered under the idempotency key."""
    tasks = await _run(session, ctx, services, loaded, event, record, accepted)
    assert loaded.row is not None
    answer = _instance_answer(loaded.row, tasks)
    await _remember(session, ctx, idem, answer)
    return answer


async def _comment_files(
    session: AsyncSession,
    ctx: RequestContext,
    form: CompiledForm,
    hidden: frozenset[str],
    record_id: int,
    ids: tuple[Any, ...],
) -> tuple[list[dict[str, Any]], list[int]]:
    """Files shown with a comment: the commenter's uploads to this form, which then belong to
    the record (kept with it, readable by its readers, purged with it: `_adopt_files`), or the
    record's own files that the commenter may read (not those of a field hidden from them).
    Answer the files as the comment shows them, and the uploads the record is to adopt."""
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
    shown = [
        {"id": rows[i].id, "name": rows[i].name, "size": rows[i].size, "content_type": rows[i].content_type}
        for i in ids
    ]
    return shown, [fid for fid, row in rows.items() if row.record_id is None]


async def _adopt_files(session: AsyncSession, ctx: RequestContext, record_id: int, adopted: list[int]) -> None:
    if adopted:
        f = tables.files
        await session.execute(update(f).where(f.c.id.in_(adopted)).values(record_id=record_id, detached_at=ctx.now))


async def _latest_instance(
    session: AsyncSession, form: CompiledForm, record_id: int, *, lock: bool = False
) -> StoredRow | None:
    i = tables.flow_instances
    statement = (
        select(i).where(i.c.form_id == form.form_id, i.c.record_id == record_id).order_by(i.c.id.desc()).limit(1)
    )
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).mappings().first()


async def run_timer(session: AsyncSession, ctx: RequestContext, services: Services, timer: StoredRow) -> None:
    row = await _lock_instance(session, timer["instance_id"])
    loaded = await _open_instance(session, services, row)
    record = await load_record(session, ctx, loaded.form, loaded.record_id)
    await _run(session, ctx, services, loaded, Timeout(timer["local_task_id"], timer["kind"]), record)


# ------------------------------------------------------------------ reading


async def instance_view(session: AsyncSession, instance_id: int) -> dict[str, Any]:
    i, t = tables.flow_instances, tables.flow_tasks
    row = (await session.execute(select(i).where(i.c.id == instance_id))).mappings().one()
    tasks = await session.execute(select(t).where(t.c.instance_id == instance_id).order_by(t.c.id))
    return _instance_answer(row, list(tasks.mappings()))


def _instance_answer(row: StoredRow, tasks: list[StoredRow]) -> dict[str, Any]:
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
        "tasks": [task_view(task) for task in tasks],
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


def system_context(now: datetime, site: SiteSettings = DEFAULTS) -> RequestContext:
    """The worker's context: the settings in force give the zone (dates) and the default language (notices)."""
    return RequestContext(principal=Principal(is_admin=True, name="system"), now=now, zone=site.zone, site=site)
