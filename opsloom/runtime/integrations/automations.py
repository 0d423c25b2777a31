"""Automations: when a form's event happens and a condition holds, do actions — run by the outbox worker.

The dispatcher hands each event to `run_automations` in its own transaction, so
an automation's writes commit with the event's fan-out (or, if it fails, are
rolled back alone, in a savepoint, and logged). Records it creates or changes go
through the write pipeline and announce themselves like any other; those events
do not start automations again, so automations cannot loop.

Triggers and actions are units in two tables (`TRIGGERS`, `ACTIONS`); each action
checks itself at publish (`problems`) and does its work at run time (`run`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import regex
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.errors import FieldError, NotFound, OpsloomError
from opsloom.platform.outbox import TOPICS
from opsloom.platform.permissions import full_access
from opsloom.platform.site_settings import DEFAULTS, SiteSettings
from opsloom.platform.types import StoredRow
from opsloom.runtime import records
from opsloom.runtime.access import eval_context
from opsloom.runtime.conditions import parse_condition, to_sql
from opsloom.runtime.fields import unit_of
from opsloom.runtime.forms import CompiledForm, FormRegistry
from opsloom.runtime.integrations.notify import notify

log = logging.getLogger("opsloom.worker")
VIA = "automation"  # the principal's `via` of an automation's writes: their events start no automation
PLACEHOLDER = regex.compile(r"\{([a-z][a-z0-9_]{0,62})\}")


# ------------------------------------------------------------------ triggers


def _topic(trigger: Mapping[str, Any], event: StoredRow) -> bool:
    if event["topic"] != trigger["on"]:
        return False
    node = trigger.get("node")
    return node is None or event["payload"].get("node") == node


def _field_changed(trigger: Mapping[str, Any], event: StoredRow) -> bool:
    return event["topic"] == "record.updated" and trigger.get("field") in (event["payload"].get("changes") or {})


TRIGGERS = {topic: _topic for topic in TOPICS} | {"field_changed": _field_changed}


# ------------------------------------------------------------------ actions


@dataclass(frozen=True)
class Run:
    """What an action works with: the automation's context, the triggering record as stored now."""

    session: AsyncSession
    forms: FormRegistry
    ctx: RequestContext
    form: CompiledForm
    record_id: int
    record: dict[str, Any]


class Action(Protocol):
    async def problems(
        self, session: AsyncSession, forms: FormRegistry, form: CompiledForm, action: Mapping[str, Any], path: str
    ) -> list[FieldError]: ...

    async def run(self, run: Run, action: Mapping[str, Any]) -> None: ...


class CreateRecord:
    """A record in another form (or this one), its fields mapped from the triggering record's."""

    async def problems(
        self, session: AsyncSession, forms: FormRegistry, form: CompiledForm, action: Mapping[str, Any], path: str
    ) -> list[FieldError]:
        try:
            target = await forms.get(session, form.app, action["form"])
        except NotFound:
            return [FieldError(f"{path}.form", f"'{action['form']}' is not a published form of {form.app}")]
        errors = []
        for key, source in action["mapping"].items():
            spec = target.by_key.get(key)
            if spec is None or not unit_of(spec).entered:
                errors.append(FieldError(f"{path}.mapping.{key}", f"'{key}' is not a field of {target.key} to set"))
            elif isinstance(source, str) and source not in form.by_key and source != "id":
                errors.append(FieldError(f"{path}.mapping.{key}", f"'{source}' is not a field of {form.key}"))
        return errors

    async def run(self, run: Run, action: Mapping[str, Any]) -> None:
        target = await run.forms.get(run.session, run.form.app, action["form"])
        payload: dict[str, Any] = {}
        for key, origin in action["mapping"].items():
            if isinstance(origin, Mapping):
                payload[key] = origin["value"]
            elif isinstance(run.record.get(origin), list) and unit_of(target.by_key[key]).child_rows:
                columns = {k for k, s in target.children[key].by_key.items() if unit_of(s).entered}
                payload[key] = [{k: v for k, v in row.items() if k in columns} for row in run.record[origin]]
            else:
                payload[key] = run.record.get(origin)
        await records.create_record(run.session, target, run.ctx, payload, full_access(target.app, target.key))


class UpdateRecord:
    """Set fields of the triggering record to constants (also while its flow holds it)."""

    async def problems(
        self, session: AsyncSession, forms: FormRegistry, form: CompiledForm, action: Mapping[str, Any], path: str
    ) -> list[FieldError]:
        return [
            FieldError(f"{path}.values.{key}", f"'{key}' is not a field of {form.key} to set")
            for key in action["values"]
            if key not in form.by_key or not unit_of(form.by_key[key]).entered
        ]

    async def run(self, run: Run, action: Mapping[str, Any]) -> None:
        access = full_access(run.form.app, run.form.key)
        values = dict(action["values"])
        await records.update_record(run.session, run.form, run.ctx, run.record_id, values, None, access, in_flow=True)


class NotifyChannel:
    """A message to one of the app's channels; `{field}` in the title and text is the record's value."""

    async def problems(
        self, session: AsyncSession, forms: FormRegistry, form: CompiledForm, action: Mapping[str, Any], path: str
    ) -> list[FieldError]:
        s = tables.subscriptions
        found = await session.execute(
            select(s.c.id).where(
                s.c.id == action["channel"], s.c.app_key == form.app, s.c.channel != "webhook", s.c.deleted_at.is_(None)
            )
        )
        errors = [] if found.first() else [FieldError(f"{path}.channel", f"app {form.app} has no such channel")]
        for part in ("title", "text"):
            for name in PLACEHOLDER.findall(action.get(part, "")):
                if name not in form.by_key and name != "id":
                    errors.append(FieldError(f"{path}.{part}", f"{{{name}}} is not a field of {form.key}"))
        return errors

    async def run(self, run: Run, action: Mapping[str, Any]) -> None:
        def fill(text: str) -> str:
            return PLACEHOLDER.sub(lambda m: "" if (v := run.record.get(m[1])) is None else str(v), text)

        title, text = fill(action["title"]), fill(action.get("text", ""))
        await notify(run.session, run.form.app, action["channel"], title, text, run.ctx.now)


ACTIONS: dict[str, Action] = {
    "create_record": CreateRecord(),
    "update_record": UpdateRecord(),
    "notify": NotifyChannel(),
}


async def action_problems(
    session: AsyncSession, forms: FormRegistry, form: CompiledForm, document: Mapping[str, Any]
) -> list[FieldError]:
    """What is wrong with an automation's references (its schema already holds)."""
    errors: list[FieldError] = []
    trigger = document["trigger"]
    if trigger["on"] == "field_changed" and trigger.get("field") not in form.by_key:
        errors.append(FieldError("trigger.field", f"name the field of {form.key} whose change starts it"))
    for i, action in enumerate(document["actions"]):
        errors += await ACTIONS[action["kind"]].problems(session, forms, form, action, f"actions[{i}]")
    return errors


# ------------------------------------------------------------------ running


class Published:
    """The published automations of a form, read once per dispatch batch."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], list[Mapping[str, Any]]] = {}

    async def of(self, session: AsyncSession, app: str, form: str) -> list[Mapping[str, Any]]:
        if (app, form) not in self._found:
            d, v = tables.definitions, tables.definition_versions
            rows = await session.execute(
                select(v.c.document)
                .join(d, (v.c.definition_id == d.c.id) & (v.c.version == d.c.published_version))
                .where(d.c.app_key == app, d.c.kind == "automation", d.c.storage["form"].as_string() == form)
                .order_by(d.c.key)
            )
            self._found[(app, form)] = [doc for (doc,) in rows if doc.get("active", True)]
        return self._found[(app, form)]


async def run_automations(
    session: AsyncSession,
    forms: FormRegistry,
    event: StoredRow,
    now: datetime,
    published: Published,
    site: SiteSettings = DEFAULTS,
) -> int:
    """Run the automations this event starts; answer how many ran. A failing one is rolled back and logged."""
    if event["form_key"] is None or event["record_id"] is None or event["payload"].get("via") == VIA:
        return 0
    ran = 0
    for document in await published.of(session, event["app_key"], event["form_key"]):
        trigger = document["trigger"]
        if not TRIGGERS[trigger["on"]](trigger, event):
            continue
        try:
            async with session.begin_nested():
                if await _run_one(session, forms, event, now, document, site):
                    ran += 1
        except OpsloomError as error:
            log.warning("automation %s on event %s failed: %s", document["key"], event["id"], error.detail)
    return ran


async def _run_one(
    session: AsyncSession,
    forms: FormRegistry,
    event: StoredRow,
    now: datetime,
    document: Mapping[str, Any],
    site: SiteSettings,
) -> bool:
    form = await forms.get(session, event["app_key"], event["form_key"])
    who = Principal(is_admin=True, name=f"automation {document['key']}", via=VIA)
    ctx = RequestContext(principal=who, now=now, zone=site.zone, site=site)
    t = form.table
    query = select(t).where(t.c.id == event["record_id"])
    if document.get("condition") is not None:
        query = query.where(
            to_sql(parse_condition(document["condition"], form, path="condition"), form, eval_context(ctx))
        )
    row = (await session.execute(query)).mappings().first()
    if row is None:
        return False
    record = event["payload"].get("record") or form.dump_row(row)
    run = Run(session, forms, ctx, form, event["record_id"], dict(record))
    for action in document["actions"]:
        await ACTIONS[action["kind"]].run(run, action)
    return True
