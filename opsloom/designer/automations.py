"""Publishing an automation: check the draft against its form and the app, store a version.

The outbox worker runs the published version of each active automation
(runtime/integrations/automations.py); publishing again changes what the next
event starts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.documents import schema_errors
from opsloom.platform.audit import audit
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, FieldError, NotFound, ValidationFailed
from opsloom.runtime.conditions import parse_condition
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.integrations.automations import action_problems


async def automation_problems(
    session: AsyncSession, registry: FormRegistry, app: str, document: Any
) -> list[FieldError]:
    """Everything wrong with an automation document, with JSON paths (schema, form, fields, condition, actions)."""
    errors = schema_errors("automation", document)
    if errors:
        return errors
    try:
        form = await registry.get(session, app, document["form"])
    except NotFound:
        return [FieldError("form", f"'{document['form']}' is not a published form of {app}")]
    if document.get("condition") is not None:
        try:
            parse_condition(document["condition"], form, path="condition")
        except BadRequest as error:
            errors += error.errors
    return errors + await action_problems(session, registry, form, document)


async def publish_automation(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, key: str, *, dry_run: bool = False
) -> dict[str, Any]:
    definition = await definitions.load_definition(session, app, "automation", key, lock=True)
    document = definition.draft
    problems = await automation_problems(session, registry, app, document)
    if problems:
        raise ValidationFailed("The automation cannot be published until these are fixed", problems)
    assert document is not None
    kinds = ", ".join(a["kind"] for a in document["actions"])
    summary = [f"on {document['trigger']['on']} of {document['form']}: {kinds}"]
    if dry_run:
        return {"version": definition.published_version, "applied": False, "summary": summary}
    # A switched-off automation stays off when a new version is published (`paused` is kept).
    storage = {**(definition.storage or {}), "form": document["form"]}
    version = await definitions.store_version(session, ctx, definition, document, {"summary": summary}, storage)
    await audit(session, ctx, "definition.published", f"{app}/automation/{key}", {"version": version})
    return {"version": version, "applied": True, "summary": summary}
