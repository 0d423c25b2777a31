"""The flow simulator: the route a sample record would take, with the people named at each step.

It asks the engine's pure core, as a submission would, then approves every open
task in turn (as its assignee would), until the flow ends — reading the
organisation as the shell does, and writing nothing. The draft or any published
version can be asked; both are compiled against the form as it is published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.flows import flow_problems
from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import FieldError, NotFound, ValidationFailed
from opsloom.platform.locales import label_translations
from opsloom.runtime.access import eval_context
from opsloom.runtime.conditions import evaluate
from opsloom.runtime.fields import unit_of
from opsloom.runtime.flow.approvers import named_people
from opsloom.runtime.flow.definition import compile_flow
from opsloom.runtime.flow.directory import OrgReader
from opsloom.runtime.flow.engine import advance_flow
from opsloom.runtime.flow.model import Act, Context, Effect, Event, Flow, FlowError, Log, State, Submit
from opsloom.runtime.forms import CompiledForm, FormRegistry
from opsloom.runtime.records.stages import formula_context

MAX_EVENTS = 200  # approvals simulated for one route: a flow has at most 200 nodes
MAX_ROUNDS = 100  # reading the organisation, as the shell does


@dataclass(frozen=True)
class Sample:
    """What the simulator is asked: a record's values, who submits it, and which version to run."""

    values: Mapping[str, Any]
    submitter: int
    version: int | None = None  # None: the draft
    chosen: Mapping[str, list[int]] | None = None


async def simulate_flow(
    session: AsyncSession, ctx: RequestContext, forms: FormRegistry, app: str, key: str, sample: Sample
) -> dict[str, Any]:
    definition = await definitions.load_definition(session, app, "flow", key)
    if sample.version is None:
        document = definition.draft
        problems = await flow_problems(session, forms, app, document) if document is not None else []
        if document is None or problems:
            raise ValidationFailed("The draft cannot be simulated until these are fixed", problems)
        version = 0
    else:
        try:
            document = await definitions.published_document(session, definition, sample.version)
        except NotFound as missing:
            raise ValidationFailed.of([FieldError("version", str(missing))]) from None
        version = sample.version
    form = await forms.get(session, app, document["form"])
    flow = compile_flow(document, version, form)
    clock = eval_context(ctx)
    values = sample_values(form, sample.values, ctx)
    if not await _user_exists(session, sample.submitter):
        raise ValidationFailed.of([FieldError("submitter", f"there is no user {sample.submitter}")])
    org = OrgReader(app, ctx.now)
    org.want([sample.submitter])
    for node in flow.nodes.values():
        org.want(named_people(list(node.get("approvers", [])) + list(node.get("recipients", []))))
    engine_ctx = Context(ctx.now, values, org, lambda condition, record: evaluate(condition, record, clock))
    steps: list[dict[str, Any]] = []
    state: State | None = None
    event: Event = Submit(sample.submitter, dict(sample.chosen or {}))
    outcome = "approved"
    problem: str | None = None
    for _ in range(MAX_EVENTS):
        try:
            state, effects = await _advance(session, org, flow, state, event, engine_ctx)
        except FlowError as error:
            outcome, problem = "stuck", str(error)
            break
        steps += _steps(flow, effects)
        waiting = state.open_tasks() if state.status == "running" else []
        pending = [t for t in waiting if t.state == "pending"]
        if not pending:
            outcome = state.status if state.status != "running" else "stuck"
            break
        task = pending[0]
        event = Act(task.assignee, task.id, "approve", comment="simulated")
    people = await _names(session, {p for step in steps for p in step["people"]} | {sample.submitter})
    for step in steps:
        step["people"] = [{"id": p, "name": people.get(p, str(p))} for p in step["people"]]
    return {
        "version": sample.version,
        "submitter": {"id": sample.submitter, "name": people.get(sample.submitter)},
        "steps": steps,
        "outcome": outcome,
        "problem": problem,
    }


def sample_values(form: CompiledForm, given: Mapping[str, Any], ctx: RequestContext) -> dict[str, Any]:
    """The sample record as the engine would see it: entered fields parsed, formulas computed from them.

    A computed field may be given outright ("amount": 150000 rather than its line items): a quick
    what-if the designer asks more often than a whole record."""
    entered = {k: v for k, v in given.items() if k not in form.by_key or unit_of(form.by_key[k]).entered}
    outright = {k: v for k, v in given.items() if k not in entered}
    values = form.parse_input(entered, partial=True, zone=ctx.zone, prefix="values.")
    form.compute(values, formula_context(ctx), creating=True)
    for key, raw in outright.items():
        values[key] = _number_or_text(raw)
    return values


def _number_or_text(raw: Any) -> Any:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return raw
    try:
        return Decimal(str(raw).replace(",", "").strip())
    except InvalidOperation:
        return raw


async def _advance(
    session: AsyncSession, org: OrgReader, flow: Flow, state: State | None, event: Event, ctx: Context
) -> tuple[State, list[Effect]]:
    """One event judged on the organisation read as far as the engine asks (see `instances._judge`)."""
    for _ in range(MAX_ROUNDS):
        await org.read(session)
        try:
            verdict = advance_flow(flow, state, event, ctx)
        except FlowError:
            if org.missing:
                continue
            raise
        if not org.missing:
            return verdict
    raise RuntimeError(f"the organisation was still not read after {MAX_ROUNDS} rounds")


STEP_LOGS = ("node_entered", "cc", "branch", "action", "auto_passed")


def _steps(flow: Flow, effects: list[Effect]) -> list[dict[str, Any]]:
    """The route's steps told by the engine's timeline: nodes entered (with their people), branches taken."""
    out: list[dict[str, Any]] = []
    nobody = {e.node for e in effects if isinstance(e, Log) and e.action == "auto_passed"}
    for effect in effects:
        if not isinstance(effect, Log) or effect.action not in STEP_LOGS or effect.node is None:
            continue
        if effect.action == "auto_passed":
            continue  # told with the step it concerns
        node = flow.node(effect.node)
        detail = dict(effect.detail)
        step: dict[str, Any] = {
            "node": node.id,
            "type": node.type,
            "label": node.labels,
            "mode": node.get("mode"),
            "people": list(detail.get("assignees") or detail.get("recipients") or []),
        }
        if effect.action == "branch":
            branch = detail.get("branch")
            step["branch"] = branch
            if isinstance(branch, int):
                step["branch_label"] = label_translations(node.get("branches", [])[branch].get("label") or "")
            step["to"] = detail.get("to")
        if effect.action == "action":
            step["action"] = detail.get("kind")
        if effect.action == "node_entered" and node.id in nobody and not step["people"]:
            step["auto_passed"] = True
        out.append(step)
    return out


async def _user_exists(session: AsyncSession, user: int) -> bool:
    if not 0 < user < 2**63:
        return False
    u = tables.users
    return (await session.execute(select(u.c.id).where(u.c.id == user))).first() is not None


async def _names(session: AsyncSession, people: set[int]) -> dict[int, str]:
    u = tables.users
    wanted = sorted(p for p in people if 0 < p < 2**63)
    if not wanted:
        return {}
    return {row.id: row.name for row in await session.execute(select(u.c.id, u.c.name).where(u.c.id.in_(wanted)))}
