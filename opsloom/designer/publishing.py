"""Publishing a form: validate the draft, gather facts, plan, apply in one transaction."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.checks import check_form
from opsloom.designer.documents import schema_errors
from opsloom.designer.index_advice import used_by_views
from opsloom.designer.migration_apply import FormState, apply_plan, gather_facts
from opsloom.designer.migration_plan import Facts, Plan, Resolution, facts_needed, plan_migration
from opsloom.designer.publish_jobs import fail_job, finish_job, record_progress, start_job
from opsloom.designer.staging import Stage, count_rows, drop_stage_table, fill_stage, stage_layout, stage_table_name
from opsloom.platform import tables
from opsloom.platform.audit import audit
from opsloom.platform.context import RequestContext
from opsloom.platform.database import Database
from opsloom.platform.errors import BadRequest, Conflict, FieldError, OpsloomError, ValidationFailed
from opsloom.runtime.fields import Invalid, links_records, sources_of, unit_of
from opsloom.runtime.flow.definition import check_flow
from opsloom.runtime.flow.instances import flow_for_form
from opsloom.runtime.forms import compile_form, initial_storage


@dataclass(frozen=True)
class PublishResult:
    plan: Plan
    version: int | None
    applied: bool

    def as_json(self) -> dict[str, Any]:
        return {"plan": self.plan.as_json(), "version": self.version, "applied": self.applied}


def form_problems(document: Any) -> list[FieldError]:
    errors = schema_errors("form", document)
    return errors or check_form(document)


# What to do with values a changed field cannot hold: refuse to publish, empty them, put a value in
# their place, or empty them and keep every old value in an archived field (restorable as it was).
ON_INVALID = ("refuse", "set_empty", "set_value", "archive")


def parse_resolutions(body: Any) -> dict[str, Resolution]:
    """`{"resolutions": {"amount": {"on_invalid": "set_empty"}, "title": {"fill_empty": "n/a"}}}`."""
    if body is None:
        return {}
    if not isinstance(body, dict) or set(body) - {"resolutions"}:
        raise BadRequest(
            'Send {"resolutions": {field key: {...}}} or no body',
            [FieldError("$", "unexpected keys")],
        )
    raw = body.get("resolutions") or {}
    if not isinstance(raw, dict):
        raise BadRequest("resolutions must be an object", [FieldError("resolutions", "expected an object")])
    out: dict[str, Resolution] = {}
    for key, item in raw.items():
        path = f"resolutions.{key}"
        if not isinstance(item, dict) or set(item) - {"on_invalid", "value", "fill_empty"}:
            raise BadRequest(
                "A resolution takes on_invalid, value and fill_empty",
                [FieldError(path, "unexpected shape")],
            )
        on_invalid = item.get("on_invalid", "refuse")
        if on_invalid not in ON_INVALID:
            raise BadRequest(
                "Unknown on_invalid",
                [FieldError(f"{path}.on_invalid", "use set_empty, set_value or archive")],
            )
        if on_invalid == "set_value" and item.get("value") is None:
            raise BadRequest(
                "set_value needs a value",
                [FieldError(f"{path}.value", "is required with set_value")],
            )
        out[key] = Resolution(on_invalid, item.get("value"), item.get("fill_empty"))
    return out


@dataclass(frozen=True)
class Planned:
    """A publish worked out: the definition as read, the document, its plan, and the facts behind it."""

    definition: definitions.Definition
    document: Mapping[str, Any]
    state: FormState | None
    facts: Facts | None
    plan: Plan


@dataclass(frozen=True)
class Staged:
    """A plan made outside the final transaction, and the values staged for it."""

    planned: Planned
    stage: Stage


async def plan_publish(
    session: AsyncSession,
    app: str,
    key: str,
    zone: Any,
    *,
    resolutions: Mapping[str, Resolution] | None = None,
    document: Mapping[str, Any] | None = None,
    lock: bool = False,
    converted: Facts | None = None,
    drafts: Mapping[str, Mapping[str, Any]] | None = None,
) -> Planned:
    """Check the draft (or `document`) and plan it against the data.

    `drafts`: forms about to be published with it (a package's), by key, which its rollups may read.

    `converted`: facts about converted values gathered earlier (by the same plan made
    outside the final transaction), so they are not gathered again row by row."""
    definition = await definitions.load_definition(session, app, "form", key, lock=lock)
    document = document if document is not None else definition.draft
    problems = form_problems(document)
    if problems:
        raise ValidationFailed("The draft cannot be published until these are fixed", problems)
    assert document is not None
    _check_resolutions(document, resolutions or {})
    await _check_link_targets(session, app, document)
    await _check_read_sources(session, app, document, drafts or {})
    old = None
    if definition.published_version is not None:
        old = await definitions.published_document(session, definition, definition.published_version)
    storage = definition.storage or initial_storage(app, document)
    facts = None
    state = None
    if old is not None:
        state = FormState(old, document, storage)
        needed = facts_needed(old, document, storage)
        if converted is not None:
            needed = replace(needed, convert=())
        facts = await gather_facts(session, state, needed, zone)
        published = compile_form(
            app, old, form_id=definition.id, version=definition.published_version or 0, storage=storage
        )
        facts = replace(facts, used_by_views=await used_by_views(session, published))
        if converted is not None:
            facts = replace(
                facts,
                invalid={**facts.invalid, **converted.invalid},
                invalid_count={**facts.invalid_count, **converted.invalid_count},
            )
    plan = plan_migration(old, document, storage, facts, resolutions)
    return Planned(definition, document, state, facts, plan)


async def publish_form(
    session: AsyncSession,
    ctx: RequestContext,
    app: str,
    key: str,
    *,
    dry_run: bool = False,
    resolutions: Mapping[str, Resolution] | None = None,
    document: Mapping[str, Any] | None = None,
    staged: Staged | None = None,
) -> PublishResult:
    """Publish the draft (or `document`, for a dry run of a rollback) in this transaction.

    With `staged` (see `publish_in_batches`), the slow work was done before: this
    transaction checks that nothing it was planned on has changed, and copies it."""
    converted = staged.planned.facts if staged is not None else None
    planned = await plan_publish(
        session,
        app,
        key,
        ctx.zone,
        resolutions=resolutions,
        document=document,
        lock=not dry_run,
        converted=converted,
    )
    definition, document, state, plan = planned.definition, planned.document, planned.state, planned.plan
    if staged is not None:
        _check_unchanged(staged, planned)
    if not dry_run:
        await _check_attached_flow(session, app, document, definition.id, plan.storage)
    _refuse_blockers(plan, dry_run)
    if dry_run or not plan.changes_anything:
        return PublishResult(plan, definition.published_version, applied=False)
    try:
        if state is None:
            await _create_table(session, app, document, definition.id, plan.storage)
        else:
            state.target_storage = plan.storage
            state.stage = staged.stage if staged is not None else None
            await apply_plan(session, plan, state, ctx.zone)
    except DBAPIError as error:
        # The transaction is rolled back by the caller: nothing of the change remains.
        raise Conflict(
            "The database refused the change, so nothing was changed: " + str(error.orig).splitlines()[0],
            [FieldError("$", "publish again; if it keeps failing, the database needs a look")],
        ) from None
    except Invalid as problem:
        raise _written_meanwhile(problem) from None
    await audit(session, ctx, "definition.published", f"{app}/form/{key}", {"summary": plan.as_json()["summary"]})
    version = await definitions.store_version(session, ctx, definition, document, plan.as_json(), plan.storage)
    return PublishResult(plan, version, applied=True)


async def publish_in_batches(
    db: Database,
    ctx: RequestContext,
    app: str,
    key: str,
    *,
    resolutions: Mapping[str, Resolution] | None = None,
    document: Mapping[str, Any] | None = None,
) -> PublishResult:
    """Publish the draft (or `document`, which becomes the draft: a rollback); a change that
    rewrites rows computes them first, in batches.

    The plan is made in a read transaction; the values it converts or computes are
    staged batch by batch (each a short write, the job's progress with it); one short
    final transaction then applies the whole change (`publish_form` with `staged`)."""
    async with db.session() as session:
        planned = await plan_publish(session, app, key, ctx.zone, resolutions=resolutions, document=document)
        if planned.plan.changes_anything:
            await _check_attached_flow(session, app, planned.document, planned.definition.id, planned.plan.storage)
    _refuse_blockers(planned.plan, dry_run=False)
    state = planned.state
    layout = stage_layout(planned.plan) if state is not None else None
    if state is None or layout is None or layout.empty:
        async with db.session(write=True) as session:
            return await _publish_now(session, ctx, app, key, resolutions, document, None)
    state.target_storage = planned.plan.storage
    total = await count_rows(db, state)
    async with db.session(write=True) as session:
        job = await start_job(session, ctx, planned.definition.id, total)
    stage = Stage(stage_table_name(job), layout, state)
    try:
        await stage.create(db)
        await fill_stage(
            db, stage, state, planned.plan, ctx.zone, lambda session, done: record_progress(session, job, done)
        )
        async with db.session(write=True) as session:
            result = await _publish_now(session, ctx, app, key, resolutions, document, Staged(planned, stage))
            await drop_stage_table(session, stage.name)
            await finish_job(session, job, result.version)
    except Invalid as problem:
        await _give_up(db, job, str(problem))
        raise _written_meanwhile(problem) from None
    except BaseException as error:
        await asyncio.shield(_give_up(db, job, str(error) or type(error).__name__))
        raise
    return result


async def _publish_now(
    session: AsyncSession,
    ctx: RequestContext,
    app: str,
    key: str,
    resolutions: Mapping[str, Resolution] | None,
    document: Mapping[str, Any] | None,
    staged: Staged | None,
) -> PublishResult:
    result = await publish_form(session, ctx, app, key, resolutions=resolutions, document=document, staged=staged)
    if document is not None:
        await definitions.save_draft(session, ctx, app, "form", key, document)
    return result


async def _give_up(db: Database, job: int, why: str) -> None:
    """Mark the job failed and drop its staging; if even that fails, the next publish of the form does it."""
    with contextlib.suppress(Exception):
        await fail_job(db, job, why)


def _refuse_blockers(plan: Plan, dry_run: bool) -> None:
    if plan.blockers and not dry_run:
        raise Conflict(
            "The change would lose or break existing data; see the plan for what to do",
            [b.as_error() for b in plan.blockers],
            extra={"plan": plan.as_json()},
        )


def _check_unchanged(staged: Staged, now: Planned) -> None:
    """The staged values hold only if the form, its draft and the plan are still those they were staged for."""
    before = staged.planned
    same = (
        before.definition.published_version == now.definition.published_version
        and before.definition.draft_revision == now.definition.draft_revision
        and stage_layout(before.plan) == stage_layout(now.plan)
        and _staged_steps(before.plan) == _staged_steps(now.plan)
    )
    if not same:
        raise Conflict(
            "The form was changed or published by someone else during this publish, so nothing was changed",
            [FieldError("$", "look at the draft and the plan again, then publish again")],
        )


def _staged_steps(plan: Plan) -> list[dict[str, Any]]:
    """The steps the staged values were computed for (an index the saved views need is not one of them:
    a view saved meanwhile may change how many ask for it)."""
    return [s.as_json() for s in plan.steps if s.action != "fill_empty" and not s.details.get("automatic")]


def _written_meanwhile(problem: Invalid) -> Conflict:
    return Conflict(
        f"A value saved during the publish does not fit the changed field ({problem}), so nothing was changed",
        [FieldError("$", "publish again to see the plan, and say what to do with such values")],
    )


async def _check_attached_flow(
    session: AsyncSession, app: str, document: Mapping[str, Any], form_id: int, storage: Mapping[str, Any]
) -> None:
    """The form's flow must still make sense with the new form (its branches, field approvers,
    step permissions): otherwise change the flow first, or every submission would fail."""
    found = await flow_for_form(session, app, document["key"])
    if found is None:
        return
    flow_id, flow_key, version = found
    v = tables.definition_versions
    flow = (
        await session.execute(select(v.c.document).where(v.c.definition_id == flow_id, v.c.version == version))
    ).scalar_one()
    try:
        compiled = compile_form(app, document, form_id=form_id, version=0, storage=storage)
    except OpsloomError:
        return  # the form's own checks report it
    problems = check_flow(flow, compiled)
    if problems:
        raise Conflict(
            f"The flow '{flow_key}' of this form would no longer work with it; change the flow first",
            [FieldError(f"flow.{p.path}", p.message) for p in problems],
        )


async def _check_link_targets(session: AsyncSession, app: str, document: Mapping[str, Any]) -> None:
    """Relation fields link to published forms of the same app (or to the form itself)."""
    errors = []
    links = [(f"fields[{i}]", f) for i, f in enumerate(document["fields"])]
    for i, f in enumerate(document["fields"]):
        if unit_of(f).child_rows:
            links += [(f"fields[{i}].fields[{j}]", c) for j, c in enumerate(f["fields"])]
    for path, f in links:
        if not links_records(f) or f["form"] == document["key"]:
            continue
        target = await definitions.find_definition(session, app, "form", f["form"])
        if target is None or target.published_version is None:
            errors.append(FieldError(f"{path}.form", f"'{f['form']}' is not a published form of {app}"))
    if errors:
        raise ValidationFailed("Relation fields must link to published forms of this app", errors)


async def _check_read_sources(
    session: AsyncSession, app: str, document: Mapping[str, Any], drafts: Mapping[str, Mapping[str, Any]]
) -> None:
    """Fields read from other forms (rollups) name forms of this app and fields those forms have.

    A source form not published yet is judged by its draft (a package publishes its forms one
    by one, and a form's rollup may read a form that links back to it)."""
    wanted = {key for f in document["fields"] for key in sources_of(f)}
    if not wanted:
        return
    sources: dict[str, Mapping[str, Any] | None] = {}
    for key in sorted(wanted):
        found = await definitions.find_definition(session, app, "form", key)
        if key in drafts and (found is None or found.published_version is None):
            sources[key] = drafts[key]
        elif found is None:
            sources[key] = None
        elif found.published_version is not None:
            sources[key] = await definitions.published_document(session, found, found.published_version)
        else:
            sources[key] = found.draft
    errors = [
        FieldError(f"fields[{i}].{name}", message)
        for i, f in enumerate(document["fields"])
        for name, message in unit_of(f).source_problems(f, document["key"], sources)
    ]
    if errors:
        raise ValidationFailed("Rollups must read fields that other forms of this app have", errors)


def _check_resolutions(document: Mapping[str, Any], resolutions: Mapping[str, Resolution]) -> None:
    keys = {f["key"] for f in document["fields"]}
    keys |= {f"{f['key']}.{c['key']}" for f in document["fields"] if unit_of(f).child_rows for c in f["fields"]}
    unknown = [k for k in resolutions if k not in keys]
    if unknown:
        raise BadRequest(
            "Resolutions name fields the form does not have",
            [FieldError(f"resolutions.{k}", "is not a field of the draft") for k in unknown],
        )


async def _create_table(session: AsyncSession, app: str, document: Any, form_id: int, storage: Any) -> None:
    compiled = compile_form(app, document, form_id=form_id, version=0, storage=storage)
    connection = await session.connection()

    def create(sync_connection: Any) -> None:
        tables = [compiled.table, *(child.table for child in compiled.children.values())]
        for table in tables:
            if inspect(sync_connection).has_table(table.name):
                raise Conflict(
                    f"A table named {table.name} already exists in the database; "
                    "rename the form or remove the old table"
                )
        for table in tables:
            table.create(sync_connection)

    await connection.run_sync(create)
