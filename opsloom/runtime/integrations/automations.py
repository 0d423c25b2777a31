"""Automations: when a trigger fires and a condition holds, do actions — run by the outbox worker.

Event triggers (a record created, a field changed from one value to another, a
flow step reached, ...) are judged by the dispatcher, which hands each event to
`run_automations` in its own transaction. Timed triggers (a schedule, a date
field reached) are judged by `timed.py` at every worker round. Either way one
firing is one row of `opsloom_automation_runs`, whose unique key makes it happen
once: the row is written in the transaction of the actions, so a killed worker
leaves neither, and of two workers that fire the same slot only one commits.

A failing automation is rolled back alone (a savepoint) and its run logged as
failed. Records it creates or changes go through the write pipeline and announce
themselves like any other; those events start no automation, so automations
cannot loop.

Triggers and actions are units in two tables (`TRIGGERS`, `ACTIONS`); each action
checks itself at publish (`problems`) and does its work at run time (`run`) — or,
in a dry run, only says what it would do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import regex
from cronsim import CronSim, CronSimError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import secrets, tables
from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.errors import FieldError, NotFound, OpsloomError
from opsloom.platform.outbox import AUTOMATION, TOPICS
from opsloom.platform.permissions import full_access
from opsloom.platform.types import StoredRow
from opsloom.runtime import formulas, records
from opsloom.runtime.access import eval_context
from opsloom.runtime.conditions import parse_condition, to_sql
from opsloom.runtime.fields import dump_datetime, links_records, unit_of
from opsloom.runtime.flow.instances import FlowCache, Idempotency, Services, flow_for_form, submit_record
from opsloom.runtime.flow.model import Submit
from opsloom.runtime.forms import CompiledForm, FormRegistry, formula_environment
from opsloom.runtime.integrations.channels.webhook import signed_headers
from opsloom.runtime.integrations.metrics import metric_problems, read_metric
from opsloom.runtime.integrations.notify import notify
from opsloom.runtime.integrations.outbound import Outbound, OutboundRefused, url_problem
from opsloom.runtime.records.read import attach_rows, live

log = logging.getLogger("opsloom.worker")
VIA = AUTOMATION  # the principal's `via` of an automation's writes: their events start no automation
PLACEHOLDER = regex.compile(r"\{([a-z][a-z0-9_]{0,62})\}")
SENSITIVE = regex.compile(r"auth|token|secret|passw|key|sign|cookie|credential", regex.IGNORECASE)
SCHEME_WORDS = regex.compile(r"^\s*(bearer|basic|token|bot|apikey)?\s*$", regex.IGNORECASE)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class ActionFailed(Exception):
    """An action could not do its work (the endpoint refused, a secret is missing, ...)."""


@dataclass(frozen=True)
class Tools:
    """What running automations needs besides a session: forms, outgoing HTTP, the secret key, the zone."""

    forms: FormRegistry
    outbound: Outbound | None = None  # None: this process makes no outgoing calls (they fail)
    secret_key: str = ""
    zone: tzinfo = UTC


# ------------------------------------------------------------------ triggers


def _topic(trigger: Mapping[str, Any], event: StoredRow) -> bool:
    if event["topic"] != trigger["on"]:
        return False
    node = trigger.get("node")
    return node is None or event["payload"].get("node") == node


def _field_changed(trigger: Mapping[str, Any], event: StoredRow) -> bool:
    if event["topic"] != "record.updated":
        return False
    change = (event["payload"].get("changes") or {}).get(trigger.get("field"))
    if change is None:
        return False
    return all(part not in trigger or change.get(part) == trigger[part] for part in ("from", "to"))


def _timed(trigger: Mapping[str, Any], event: StoredRow) -> bool:
    return False  # a schedule or a date is judged by the worker's clock (timed.py), never by an event


TRIGGERS: dict[str, Callable[[Mapping[str, Any], StoredRow], bool]] = {topic: _topic for topic in TOPICS} | {
    "field_changed": _field_changed,
    "schedule": _timed,
    "date_reached": _timed,
    "metric": _timed,
}
TIMED = ("schedule", "date_reached", "metric")
ON_A_CLOCK = ("schedule", "metric")  # fired at the slots of a cron expression


def zone_of(trigger: Mapping[str, Any], default: tzinfo) -> tzinfo:
    name = trigger.get("timezone")
    return ZoneInfo(name) if name else default


def trigger_problems(form: CompiledForm, trigger: Mapping[str, Any]) -> list[FieldError]:
    on = trigger["on"]
    errors: list[FieldError] = []
    if on == "field_changed" and trigger.get("field") not in form.by_key:
        errors.append(FieldError("trigger.field", f"name the field of {form.key} whose change starts it"))
    if on in ON_A_CLOCK:
        cron = trigger.get("cron")
        try:
            CronSim(cron if isinstance(cron, str) else "", datetime.now(UTC))
        except CronSimError as error:
            errors.append(FieldError("trigger.cron", f"is not a cron expression ({error}); e.g. 0 9 * * 1-5"))
    if on == "date_reached":
        spec = form.by_key.get(trigger.get("field") or "")
        if spec is None or unit_of(spec).temporal != "date":
            errors.append(FieldError("trigger.field", f"name a date field of {form.key}"))
    if on in TIMED and trigger.get("timezone"):
        try:
            ZoneInfo(trigger["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(FieldError("trigger.timezone", "is not a time zone; e.g. Asia/Shanghai"))
    return errors


# ------------------------------------------------------------------ the run of one automation


@dataclass
class Run:
    """What an action works with: the automation's context and the triggering record (if any)."""

    session: AsyncSession
    tools: Tools
    ctx: RequestContext
    form: CompiledForm
    record_id: int | None
    record: dict[str, Any]  # as JSON, as the API answers it
    scope: dict[str, Any]  # as formulas read it
    dry: bool = False
    key: str = ""  # the run's idempotency key, handed to receivers
    done: list[dict[str, Any]] = field(default_factory=list)

    @property
    def forms(self) -> FormRegistry:
        return self.tools.forms

    def formula(self, text: str) -> Any:
        context = formulas.FormulaContext(now=self.ctx.now, zone=self.tools.zone)
        return plain(formulas.evaluate(formulas.parse_formula(text), self.scope, context).value)


def plain(value: Any) -> Any:
    """A formula's value as JSON holds it."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return dump_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def record_scope(form: CompiledForm, row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row as the formula language reads it (fields by key, system fields by name)."""
    scope: dict[str, Any] = {
        name: row[name] for name in ("id", "created_at", "updated_at", "created_by") if name in row
    }
    for spec in form.fields:
        if unit_of(spec).has_column:
            scope[spec.key] = row[spec.column]
    return scope


def _mapping_problems(
    mapping: Mapping[str, Any], form: CompiledForm, path: str, env: Mapping[str, str]
) -> list[FieldError]:
    """Where each mapped value comes from must exist: a field of the record, or a formula that checks."""
    errors = []
    for key, origin in mapping.items():
        if isinstance(origin, str) and origin not in form.by_key and origin != "id":
            errors.append(FieldError(f"{path}.{key}", f"'{origin}' is not a field of {form.key}"))
        elif isinstance(origin, Mapping) and "formula" in origin:
            try:
                formulas.check(formulas.parse_formula(origin["formula"]), env)
            except formulas.FormulaError as error:
                errors.append(FieldError(f"{path}.{key}.formula", str(error)))
        elif isinstance(origin, Mapping) and SENSITIVE.search(key) and isinstance(origin.get("value"), str):
            errors.append(FieldError(f"{path}.{key}", "holds a credential in plain text; store it as a secret"))
    return errors


def _mapped(run: Run, mapping: Mapping[str, Any], target: CompiledForm | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, origin in mapping.items():
        if isinstance(origin, Mapping) and "formula" in origin:
            out[key] = run.formula(origin["formula"])
        elif isinstance(origin, Mapping):
            out[key] = origin["value"]
        elif target is not None and isinstance(run.record.get(origin), list) and unit_of(target.by_key[key]).child_rows:
            columns = {k for k, s in target.children[key].by_key.items() if unit_of(s).entered}
            out[key] = [{k: v for k, v in row.items() if k in columns} for row in run.record[origin]]
        else:
            out[key] = run.record.get(origin)
    return out


def _environment(form: CompiledForm) -> dict[str, str]:
    return formula_environment(list(form.document.get("fields", [])))


# ------------------------------------------------------------------ actions


class Action(Protocol):
    needs_record: bool

    async def problems(
        self, session: AsyncSession, forms: FormRegistry, form: CompiledForm, action: Mapping[str, Any], path: str
    ) -> list[FieldError]: ...

    async def run(self, run: Run, action: Mapping[str, Any]) -> dict[str, Any]: ...


class CreateRecord:
    """A record in another form (or this one), its fields mapped from the triggering record's or formulas."""

    needs_record = False

    async def problems(
        self, session: AsyncSession, forms: FormRegistry, form: CompiledForm, action: Mapping[str, Any], path: str
    ) -> list[FieldError]:
        try:
            target = await forms.get(session, form.app, action["form"])
        except NotFound:
            return [FieldError(f"{path}.form", f"'{action['form']}' is not a published form of {form.app}")]
        errors = [
            FieldError(f"{path}.mapping.{key}", f"'{key}' is not a field of {target.key} to set")
            for key in action["mapping"]
            if key not in target.by_key or not unit_of(target.by_key[key]).entered
        ]
        return errors + _mapping_problems(action["mapping"], form, f"{path}.mapping", _environment(form))

    async def run(self, run: Run, action: Mapping[str, Any]) -> dict[str, Any]:
        target = await run.forms.get(run.session, run.form.app, action["form"])
        values = _mapped(run, action["mapping"], target)
        if run.dry:
            return {"kind": "create_record", "form": target.key, "values": values}
        created = await records.create_record(run.session, target, run.ctx, values, full_access(target.app, target.key))
        return {"kind": "create_record", "form": target.key, "record_id": created["id"]}


class UpdateRecord:
    """Set fields of the triggering record, or of records of another form, to constants or mapped values.

    Without `form` the triggering record itself changes (also while its flow holds it).
    With `form` the targets are the record a relation field of the triggering record
    links to (`record`), or every live record of that form whose relation field `via`
    links to the triggering record (`where`). `values` are constants; `mapping` takes
    fields of the triggering record or formulas over them, as `create_record` does.
    Every write goes through the record pipeline: a record held by its flow refuses the
    change and the run fails whole; a value already in place writes nothing (no history)."""

    needs_record = True

    async def problems(
        self, session: AsyncSession, forms: FormRegistry, form: CompiledForm, action: Mapping[str, Any], path: str
    ) -> list[FieldError]:
        target = form
        errors: list[FieldError] = []
        if "form" in action:
            try:
                target = await forms.get(session, form.app, action["form"])
            except NotFound:
                return [FieldError(f"{path}.form", f"'{action['form']}' is not a published form of {form.app}")]
            errors += _target_problems(form, target, action, path)
        for part in ("values", "mapping"):
            errors += [
                FieldError(f"{path}.{part}.{key}", f"'{key}' is not a field of {target.key} to set")
                for key in action.get(part) or {}
                if key not in target.by_key or not unit_of(target.by_key[key]).entered
            ]
        return errors + _mapping_problems(action.get("mapping") or {}, form, f"{path}.mapping", _environment(form))

    async def run(self, run: Run, action: Mapping[str, Any]) -> dict[str, Any]:
        target = run.form
        if "form" in action:
            target = await run.forms.get(run.session, run.form.app, action["form"])
        values = dict(action.get("values") or {}) | _mapped(run, action.get("mapping") or {}, target)
        ids = await _targets(run, target, action)
        shown: dict[str, Any] = {"kind": "update_record", "values": values}
        shown |= {"form": target.key, "record_ids": ids} if "form" in action else {"record_id": run.record_id}
        if run.dry:
            return shown
        for record_id in ids:
            try:
                await _update(run, values, target, record_id)
            except OpsloomError as error:
                reasons = "; ".join([error.detail] + [f"{e.path}: {e.message}" for e in error.errors])
                raise ActionFailed(f"{target.key} record {record_id} cannot be updated: {reasons}") from None
        return shown


def _target_problems(
    form: CompiledForm, target: CompiledForm, action: Mapping[str, Any], path: str
) -> list[FieldError]:
    """`record` is a relation of the triggering form to the target; `where.via` one of the target to it."""
    if "record" in action:
        spec = form.by_key.get(action["record"])
        if spec is None or not links_records(spec) or spec.get("form") != target.key:
            return [FieldError(f"{path}.record", f"name a relation field of {form.key} linking to {target.key}")]
    else:
        spec = target.by_key.get(action["where"]["via"])
        if spec is None or not links_records(spec) or spec.get("form") != form.key:
            return [FieldError(f"{path}.where.via", f"name a relation field of {target.key} linking to {form.key}")]
    return []


async def _targets(run: Run, target: CompiledForm, action: Mapping[str, Any]) -> list[int]:
    """The ids of the records the action changes, in id order."""
    if "record" in action:
        linked = run.scope.get(action["record"])
        return [] if linked is None else [int(linked)]
    assert run.record_id is not None
    if "where" not in action:
        return [run.record_id]
    t = target.table
    column = t.c[target.by_key[action["where"]["via"]].column]
    query = select(t.c.id).where(column == run.record_id, live(target)).order_by(t.c.id)
    return [int(i) for i in (await run.session.execute(query)).scalars()]


async def _update(
    run: Run, values: dict[str, Any], target: CompiledForm | None = None, record_id: int | None = None
) -> None:
    """Change a record as the automation (the triggering one, by default: also while its flow holds it)."""
    target = target or run.form
    record_id = record_id if record_id is not None else run.record_id
    assert record_id is not None
    itself = target.key == run.form.key and record_id == run.record_id
    access = full_access(target.app, target.key)
    await records.update_record(run.session, target, run.ctx, record_id, values, None, access, in_flow=itself)


class NotifyChannel:
    """A message to one of the app's channels; `{field}` in the title and text is the record's value.

    The channel is named by its id, or by its name: a template package names a channel the
    app's admin adds after installing it (a robot's URL is a credential no package carries).
    Until an active channel of that name exists, each run fails and says so in the run log."""

    needs_record = False

    async def problems(
        self, session: AsyncSession, forms: FormRegistry, form: CompiledForm, action: Mapping[str, Any], path: str
    ) -> list[FieldError]:
        errors = []
        if isinstance(action["channel"], int):
            s = tables.subscriptions
            mine = (s.c.app_key == form.app, s.c.channel != "webhook", s.c.deleted_at.is_(None))
            found = await session.execute(select(s.c.id).where(s.c.id == action["channel"], *mine))
            if found.first() is None:
                errors.append(FieldError(f"{path}.channel", f"app {form.app} has no such channel"))
        for part in ("title", "text"):
            for name in PLACEHOLDER.findall(action.get(part, "")):
                if name not in form.by_key and name != "id":
                    errors.append(FieldError(f"{path}.{part}", f"{{{name}}} is not a field of {form.key}"))
        return errors

    async def run(self, run: Run, action: Mapping[str, Any]) -> dict[str, Any]:
        def fill(text: str) -> str:
            return PLACEHOLDER.sub(lambda m: "" if (v := run.record.get(m[1])) is None else str(v), text)

        title, text = fill(action["title"]), fill(action.get("text", ""))
        shown = {"kind": "notify", "channel": action["channel"], "title": title, "text": text}
        if not run.dry:
            channel = await _channel_id(run.session, run.form.app, action["channel"])
            shown["delivery_id"] = await notify(run.session, run.form.app, channel, title, text, run.ctx.now)
        return shown


async def _channel_id(session: AsyncSession, app: str, channel: int | str) -> int:
    """A channel named by its id, or the oldest active channel of the app with that name."""
    if isinstance(channel, int):
        return channel
    s = tables.subscriptions
    query = select(s.c.id).where(
        s.c.app_key == app, s.c.name == channel, s.c.channel != "webhook", s.c.deleted_at.is_(None), s.c.active
    )
    found = (await session.execute(query.order_by(s.c.id).limit(1))).scalar()
    if found is None:
        raise ActionFailed(
            f"app {app} has no active channel named '{channel}': add a robot, e-mail or inbox channel of that"
            f" name (POST /api/apps/{app}/channels) and the next runs notify it"
        )
    return int(found)


class StartFlow:
    """Submit the triggering record to its form's published flow, in the name of the record's creator."""

    needs_record = True

    async def problems(
        self, session: AsyncSession, forms: FormRegistry, form: CompiledForm, action: Mapping[str, Any], path: str
    ) -> list[FieldError]:
        if await flow_for_form(session, form.app, form.key) is None:
            return [FieldError(f"{path}.kind", f"form {form.key} has no published flow to start")]
        return []

    async def run(self, run: Run, action: Mapping[str, Any]) -> dict[str, Any]:
        found = await flow_for_form(run.session, run.form.app, run.form.key)
        if found is None:
            raise ActionFailed(f"form {run.form.key} has no published flow")
        submitter = run.record.get("created_by") or run.record.get("owner_id")
        shown = {"kind": "start_flow", "flow": found[1], "record_id": run.record_id, "submitter": submitter}
        if run.dry:
            return shown
        if submitter is None:
            raise ActionFailed("the record has no creator to submit it in the name of")
        assert run.record_id is not None
        principal = Principal(user_id=submitter, is_admin=True, name=run.ctx.principal.name, via=VIA)
        ctx = RequestContext(principal=principal, now=run.ctx.now)
        services = Services(run.forms, FlowCache())
        access = full_access(run.form.app, run.form.key)
        idem = Idempotency.of(None, "POST", "automation", {})
        await submit_record(run.session, ctx, services, run.form, access, run.record_id, Submit(submitter), idem)
        return shown


class CallHttp:
    """A request to any HTTP endpoint, from a template: method, URL, headers, a JSON body from the mapping.

    `{{secret.name}}` in the URL and headers is one of the app's secrets, filled in only
    as the request leaves. The request carries `webhook-id` (the same on a retry of the
    same run: an idempotency key) and, given `sign_with`, a Standard Webhooks signature.
    An answer's fields can be written back into the record (`answer`: field <- path)."""

    needs_record = False

    async def problems(
        self, session: AsyncSession, forms: FormRegistry, form: CompiledForm, action: Mapping[str, Any], path: str
    ) -> list[FieldError]:
        errors: list[FieldError] = []
        url = action["url"]
        problem = url_problem(secrets.REFERENCE.sub("x", url), allow_private=True)
        if problem:
            errors.append(FieldError(f"{path}.url", problem))
        for name, value in parse_qsl(urlsplit(secrets.REFERENCE.sub("x", url)).query):
            raw = dict(parse_qsl(urlsplit(url).query)).get(name, value)
            if SENSITIVE.search(name) and not secrets.referenced(raw):
                errors.append(FieldError(f"{path}.url", f"puts '{name}' in plain text; use {{{{secret.{name}}}}}"))
        for name, value in (action.get("headers") or {}).items():
            rest = secrets.REFERENCE.sub("", value)
            if SENSITIVE.search(name) and not (secrets.referenced(value) and SCHEME_WORDS.match(rest)):
                errors.append(
                    FieldError(f"{path}.headers.{name}", "holds a credential in plain text; use {{secret.name}}")
                )
        wanted = secrets.referenced(url) | {
            n for v in (action.get("headers") or {}).values() for n in secrets.referenced(v)
        }
        if action.get("sign_with"):
            wanted.add(action["sign_with"])
        s = tables.app_secrets
        have = set(
            (await session.execute(select(s.c.name).where(s.c.app_key == form.app, s.c.name.in_(wanted)))).scalars()
        )
        errors += [FieldError(path, f"the app has no secret named {name}") for name in sorted(wanted - have)]
        errors += _mapping_problems(action.get("body") or {}, form, f"{path}.body", _environment(form))
        for key in action.get("answer") or {}:
            if key not in form.by_key or not unit_of(form.by_key[key]).entered:
                errors.append(FieldError(f"{path}.answer.{key}", f"'{key}' is not a field of {form.key} to set"))
        return errors

    async def run(self, run: Run, action: Mapping[str, Any]) -> dict[str, Any]:
        headers_template = dict(action.get("headers") or {})
        wanted = secrets.referenced(action["url"]) | {
            n for v in headers_template.values() for n in secrets.referenced(v)
        }
        method = action.get("method", "POST")
        body = _mapped(run, action.get("body") or {}, None) if method != "GET" else None
        shown: dict[str, Any] = {
            "kind": "call_http",
            "method": method,
            "url": secrets.fill(action["url"], None),
            "headers": {k: secrets.fill(v, None) for k, v in headers_template.items()},
            "body": body,
        }
        if run.dry:
            return shown | {"sent": False, "answer_to": dict(action.get("answer") or {})}
        if run.tools.outbound is None:
            raise ActionFailed("this process makes no outgoing calls; the worker does")
        names = wanted | ({action["sign_with"]} if action.get("sign_with") else set())
        try:
            values = await secrets.reveal(run.session, run.tools.secret_key, run.form.app, names)
        except secrets.SecretMissing as missing:
            raise ActionFailed(str(missing)) from None
        content = b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        signing = [values[action["sign_with"]]] if action.get("sign_with") else []
        headers = signed_headers(signing, run.key, content, run.ctx.now) if signing else {"webhook-id": run.key}
        if body is not None:
            headers["content-type"] = "application/json"
        headers |= {k: secrets.fill(v, values) for k, v in headers_template.items()}
        try:
            answer = await run.tools.outbound.request(method, secrets.fill(action["url"], values), content, headers)
        except (OutboundRefused, httpx.HTTPError) as error:
            raise ActionFailed(f"{type(error).__name__}: {error}") from None
        shown["status"] = answer.status
        if answer.status >= 300:
            raise ActionFailed(f"the endpoint answered {answer.status}: {answer.text[:300]}")
        written = _answer_values(answer.body, action.get("answer") or {})
        if written and run.record_id is not None:
            await _update(run, written)
        return shown | {"written": written}


def _answer_values(body: bytes, wanted: Mapping[str, str]) -> dict[str, Any]:
    """The answer's simple values (text, numbers, yes/no) at the given dotted paths."""
    if not wanted:
        return {}
    try:
        answer = json.loads(body)
    except ValueError:
        raise ActionFailed("the endpoint's answer is not JSON, so nothing can be written back") from None
    out = {}
    for key, path in wanted.items():
        value: Any = answer
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None or isinstance(value, str | int | float | bool):
            out[key] = value
    return out


ACTIONS: dict[str, Action] = {
    "create_record": CreateRecord(),
    "update_record": UpdateRecord(),
    "notify": NotifyChannel(),
    "start_flow": StartFlow(),
    "call_http": CallHttp(),
}


async def action_problems(
    session: AsyncSession, forms: FormRegistry, form: CompiledForm, document: Mapping[str, Any]
) -> list[FieldError]:
    """What is wrong with an automation's references (its schema already holds)."""
    trigger = document["trigger"]
    errors = trigger_problems(form, trigger)
    metric = trigger["on"] == "metric"
    recordless = metric or (trigger["on"] == "schedule" and document.get("condition") is None)
    if metric:
        errors += await metric_problems(session, form, trigger)
        if document.get("condition") is not None:
            errors.append(FieldError("condition", "a metric watches a report's total, not records: remove it"))
    for i, action in enumerate(document["actions"]):
        unit = ACTIONS[action["kind"]]
        path = f"actions[{i}]"
        if recordless and (unit.needs_record or action.get("answer")):
            reason = "a metric has no record" if metric else "a schedule without a condition has no record"
            errors.append(FieldError(path, f"{reason}; use an action that needs none (notify, create, webhook)"))
        errors += await unit.problems(session, forms, form, action, path)
    return errors


# ------------------------------------------------------------------ running


class Published:
    """The published, switched-on automations of a form, read once per dispatch batch."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], list[Mapping[str, Any]]] = {}

    async def of(self, session: AsyncSession, app: str, form: str) -> list[Mapping[str, Any]]:
        if (app, form) not in self._found:
            self._found[(app, form)] = [
                doc for doc, _ in await published(session, app=app, form=form) if doc["trigger"]["on"] not in TIMED
            ]
        return self._found[(app, form)]


async def published(
    session: AsyncSession, *, app: str | None = None, form: str | None = None, timed: bool = False
) -> list[tuple[Mapping[str, Any], datetime]]:
    """Switched-on published automations (their document and when it was published), by app and key."""
    d, v = tables.definitions, tables.definition_versions
    query = (
        select(d.c.app_key, d.c.storage, v.c.document, v.c.published_at)
        .join(d, (v.c.definition_id == d.c.id) & (v.c.version == d.c.published_version))
        .where(d.c.kind == "automation")
        .order_by(d.c.app_key, d.c.key)
    )
    if app is not None:
        query = query.where(d.c.app_key == app)
    if form is not None:
        query = query.where(d.c.storage["form"].as_string() == form)
    found = []
    for row in await session.execute(query):
        document = row.document
        if not document.get("active", True) or (row.storage or {}).get("paused"):
            continue
        if timed and document["trigger"]["on"] not in TIMED:
            continue
        found.append((document | {"_app": row.app_key}, row.published_at))
    return found


def automation_context(document: Mapping[str, Any], now: datetime) -> RequestContext:
    principal = Principal(is_admin=True, name=f"automation {document['key']}", via=VIA)
    return RequestContext(principal=principal, now=now)


async def perform(
    session: AsyncSession,
    tools: Tools,
    app: str,
    document: Mapping[str, Any],
    record_id: int | None,
    now: datetime,
    *,
    dry: bool = False,
    key: str = "",
    event_record: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]] | None:
    """Run (or in a dry run, describe) the actions for one record; None when the condition leaves it out."""
    form = await tools.forms.get(session, app, document["form"])
    ctx = automation_context(document, now)
    row: Any = None
    if record_id is not None:
        t = form.table
        query = select(t).where(t.c.id == record_id)
        if document.get("condition") is not None:
            condition = parse_condition(document["condition"], form, path="condition")
            query = query.where(to_sql(condition, form, eval_context(ctx)))
        row = (await session.execute(query)).mappings().first()
        if row is None:
            return None
    record = dict(event_record or {})
    if not record and row is not None:  # a flow's event, a schedule or a date: read the record, lines too
        record = form.dump_row(row)
        await attach_rows(session, form, [record])
    scope = record_scope(form, row) if row is not None else {}
    run = Run(session, tools, ctx, form, record_id, record, scope, dry=dry, key=key)
    for action in document["actions"]:
        run.done.append(await ACTIONS[action["kind"]].run(run, action))
    return run.done


async def fire(
    session: AsyncSession,
    tools: Tools,
    app: str,
    document: Mapping[str, Any],
    fire_key: str,
    record_id: int | None,
    now: datetime,
    event_record: Mapping[str, Any] | None = None,
) -> str | None:
    """Run one automation once for `fire_key`; answer the outcome, or None if it had fired already."""
    r = tables.automation_runs
    mine = (r.c.app_key == app, r.c.automation_key == document["key"], r.c.fire_key == fire_key)
    try:
        async with session.begin_nested():
            await session.execute(
                insert(r).values(
                    app_key=app,
                    automation_key=document["key"],
                    fire_key=fire_key,
                    record_id=record_id,
                    at=now,
                    outcome="running",
                )
            )
    except IntegrityError:
        return None  # fired already (or another worker fires it now, and will commit it)
    key = f"auto_{app}_{document['key']}_{fire_key}"
    detail: dict[str, Any] | None
    try:
        reading = None
        if document["trigger"]["on"] == "metric":
            ctx = automation_context(document, now)
            reading = await read_metric(session, tools.forms, app, document["key"], document["trigger"], ctx)
        if reading is not None and not reading.fires:
            outcome, detail = "skipped", reading.detail()
        else:
            async with session.begin_nested():
                done = await perform(session, tools, app, document, record_id, now, key=key, event_record=event_record)
            outcome, detail = ("skipped", None) if done is None else ("done", {"actions": done})
            if reading is not None and detail is not None:
                detail |= reading.detail()
    except (OpsloomError, ActionFailed, formulas.FormulaError) as error:
        message = error.detail if isinstance(error, OpsloomError) else str(error)
        log.warning("automation %s/%s (%s) failed: %s", app, document["key"], fire_key, message)
        outcome, detail = "failed", {"error": message[:2000]}
    await session.execute(update(r).where(*mine).values(outcome=outcome, detail=detail))
    return outcome


async def run_automations(
    session: AsyncSession, tools: Tools, event: StoredRow, now: datetime, published: Published
) -> int:
    """Run the automations this event starts; answer how many ran (their condition held)."""
    if event["form_key"] is None or event["record_id"] is None or event["payload"].get("via") == VIA:
        return 0
    ran = 0
    for document in await published.of(session, event["app_key"], event["form_key"]):
        trigger = document["trigger"]
        if not TRIGGERS[trigger["on"]](trigger, event):
            continue
        record = event["payload"].get("record")
        outcome = await fire(
            session, tools, event["app_key"], document, f"evt:{event['id']}", event["record_id"], now, record
        )
        ran += outcome == "done"
    return ran
