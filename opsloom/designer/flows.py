"""Publishing a flow: validate the draft against its form and the organisation, store a version.

Running instances keep the version they started on; a new version applies to
the next submission. One published flow per form.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.documents import schema_errors
from opsloom.platform import tables
from opsloom.platform.audit import audit
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import Conflict, FieldError, NotFound, ValidationFailed
from opsloom.runtime.fields import unit_of
from opsloom.runtime.flow.definition import check_flow
from opsloom.runtime.flow.instances import flow_for_form
from opsloom.runtime.flow.nodes import node_type
from opsloom.runtime.forms import FormRegistry


async def flow_problems(session: AsyncSession, registry: FormRegistry, app: str, document: Any) -> list[FieldError]:
    """Everything wrong with a flow document, with JSON paths (schema, graph, form, people)."""
    errors = schema_errors("flow", document)
    if errors:
        return errors
    try:
        form = await registry.get(session, app, document["form"])
    except NotFound:
        return [FieldError("form", f"'{document['form']}' is not a published form of {app}")]
    errors = check_flow(document, form)
    if errors:
        return errors
    return [error async for error in _organisation_problems(session, registry, app, document)]


async def _organisation_problems(
    session: AsyncSession, registry: FormRegistry, app: str, document: Mapping[str, Any]
) -> Any:
    roles = {key for (key,) in await session.execute(select(tables.roles.c.key).where(tables.roles.c.app_key == app))}
    users = {uid for (uid,) in await session.execute(select(tables.users.c.id))}
    for path, source in _sources(document):
        if source["kind"] == "role" and source["role"] not in roles:
            yield FieldError(f"{path}.role", f"app {app} has no role '{source['role']}'; create it first")
        for j, person in enumerate(source.get("users", [])):
            if person not in users:
                yield FieldError(f"{path}.users[{j}]", f"there is no user {person}")
    for i, node in enumerate(document["nodes"]):
        if node.get("empty_user") and node["empty_user"] not in users:
            yield FieldError(f"nodes[{i}].empty_user", f"there is no user {node['empty_user']}")
        action = node_type(node).action(node)
        if action and action["kind"] == "create_record":
            try:
                target = await registry.get(session, app, action["form"])
            except NotFound:
                yield FieldError(f"nodes[{i}].action.form", f"'{action['form']}' is not a published form of {app}")
                continue
            source_form = await registry.get(session, app, document["form"])
            known = set(source_form.by_key) | {"id", "title"}
            for key, source in action["mapping"].items():
                spec = target.by_key.get(key)
                if spec is None or not unit_of(spec).entered:
                    yield FieldError(
                        f"nodes[{i}].action.mapping.{key}", f"'{key}' is not a field of {target.key} that can be set"
                    )
                elif isinstance(source, str) and source not in known:
                    yield FieldError(
                        f"nodes[{i}].action.mapping.{key}", f"'{source}' is not a field of {source_form.key}"
                    )


def _sources(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for i, node in enumerate(document["nodes"]):
        for key in ("approvers", "recipients"):
            for j, source in enumerate(node.get(key, [])):
                yield f"nodes[{i}].{key}[{j}]", source
                for k, inner in enumerate(source.get("among", [])):
                    yield f"nodes[{i}].{key}[{j}].among[{k}]", inner


async def publish_flow(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, key: str, *, dry_run: bool = False
) -> dict[str, Any]:
    definition = await definitions.load_definition(session, app, "flow", key, lock=True)
    document = definition.draft
    problems = await flow_problems(session, registry, app, document)
    if problems:
        raise ValidationFailed("The flow cannot be published until these are fixed", problems)
    assert document is not None
    other = await flow_for_form(session, app, document["form"])
    if other is not None and other[0] != definition.id:
        raise Conflict(
            f"Form '{document['form']}' already has the flow '{other[1]}'; a form has one flow",
            [FieldError("form", "attach this flow to another form, or change the other flow")],
        )
    summary = [f"{len(document['nodes'])} nodes for form {document['form']}"]
    if dry_run:
        return {"version": definition.published_version, "applied": False, "summary": summary}
    version = await definitions.store_version(
        session, ctx, definition, document, {"summary": summary}, {"form": document["form"]}
    )
    await audit(session, ctx, "definition.published", f"{app}/flow/{key}", {"version": version})
    return {"version": version, "applied": True, "summary": summary}
