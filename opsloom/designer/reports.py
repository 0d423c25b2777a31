"""Reports and dashboards as documents: their checks and their publishing.

A report is checked by planning it as an app admin would run it (every field,
bucket, measure, formula and filter resolved against the published form, see
runtime/reports/plan.py); a dashboard by its reports being published and its
grid fitting, and a process item by its form having a published flow. Publishing stores a version; a run
always reads the latest.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.documents import schema_errors
from opsloom.platform.audit import audit
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import FieldError, NotFound, ValidationFailed
from opsloom.platform.permissions import full_access
from opsloom.runtime.flow.instances import flow_for_form
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.reports.plan import plan_report
from opsloom.runtime.reports.published import published_document


async def report_problems(session: AsyncSession, registry: FormRegistry, app: str, document: Any) -> list[FieldError]:
    """Everything wrong with a report document, with JSON paths (schema, form, fields, measures, filter)."""
    errors = schema_errors("report", document)
    if errors:
        return errors
    try:
        form = await registry.get(session, app, document["form"])
    except NotFound:
        return [FieldError("form", f"'{document['form']}' is not a published form of {app}")]
    accesses = {key: full_access(app, key) for key in [form.key, *form.related]}
    try:
        plan_report(document, form, accesses)
    except ValidationFailed as error:
        return list(error.errors)
    return []


async def dashboard_problems(
    session: AsyncSession, registry: FormRegistry, app: str, document: Any
) -> list[FieldError]:
    """Everything wrong with a dashboard: schema, reports that are not published, items off the grid."""
    errors = schema_errors("dashboard", document)
    if errors:
        return errors
    columns = document.get("columns", 12)
    for i, item in enumerate(document["items"]):
        if "process" in item:
            errors += await _process_problems(session, registry, app, item["process"], f"items[{i}].process")
        else:
            try:
                await published_document(session, app, "report", item["report"])
            except NotFound:
                errors.append(
                    FieldError(f"items[{i}].report", f"'{item['report']}' is not a published report of {app}")
                )
        if item["x"] + item["w"] > columns:
            errors.append(FieldError(f"items[{i}].w", f"x + w must be at most {columns}, the grid's width"))
    for i, shared in enumerate(document.get("filters", [])):
        if shared["kind"] == "field" and not shared.get("field"):
            errors.append(FieldError(f"filters[{i}].field", "a field filter names the field it compares"))
    return errors


async def _process_problems(
    session: AsyncSession, registry: FormRegistry, app: str, form: str, path: str
) -> list[FieldError]:
    """A process item names a published form whose records go through a published flow."""
    try:
        await registry.get(session, app, form)
    except NotFound:
        return [FieldError(path, f"'{form}' is not a published form of {app}")]
    if await flow_for_form(session, app, form) is None:
        return [FieldError(path, f"form '{form}' has no published flow, so it has no process to show")]
    return []


async def publish_report(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, key: str, *, dry_run: bool = False
) -> dict[str, Any]:
    definition = await definitions.load_definition(session, app, "report", key, lock=True)
    document = definition.draft
    problems = await report_problems(session, registry, app, document)
    if problems:
        raise ValidationFailed("The report cannot be published until these are fixed", problems)
    assert document is not None
    summary = [
        f"{len(document.get('dimensions', []))} dimensions and {len(document['measures'])} measures "
        f"over form {document['form']}"
    ]
    return await _store(session, ctx, definition, document, summary, dry_run, {"form": document["form"]})


async def publish_dashboard(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, key: str, *, dry_run: bool = False
) -> dict[str, Any]:
    definition = await definitions.load_definition(session, app, "dashboard", key, lock=True)
    document = definition.draft
    problems = await dashboard_problems(session, registry, app, document)
    if problems:
        raise ValidationFailed("The dashboard cannot be published until these are fixed", problems)
    assert document is not None
    summary = [f"{len(document['items'])} items"]
    return await _store(session, ctx, definition, document, summary, dry_run, None)


async def _store(
    session: AsyncSession,
    ctx: RequestContext,
    definition: definitions.Definition,
    document: Any,
    summary: list[str],
    dry_run: bool,
    storage: Any,
) -> dict[str, Any]:
    if dry_run:
        return {"version": definition.published_version, "applied": False, "summary": summary}
    version = await definitions.store_version(session, ctx, definition, document, {"summary": summary}, storage)
    target = f"{definition.app}/{definition.kind}/{definition.key}"
    await audit(session, ctx, "definition.published", target, {"version": version})
    return {"version": version, "applied": True, "summary": summary}
