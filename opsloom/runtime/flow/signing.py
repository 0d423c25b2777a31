"""Signatures at approval steps, and the files a step's assignee may upload.

An approval or handler node with `"signature": "required"` is signed in the one
signature field it makes editable (`"fields": {KEY: "editable"}`). Approving there
without a new signature in that field (`values.KEY`, a PNG uploaded first) is
refused with a 422 naming `values.KEY`; the signature is written to the record
like any step value, so the record's history and the flow's timeline show it
(the approve event's `changes`).

The assignee may lack a role that writes the form's records: an upload sent with
`?task=ID` is allowed for the fields that the task's step makes editable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import Principal
from opsloom.platform.errors import FieldError, NotFound, ValidationFailed
from opsloom.platform.permissions import FormAccess, full_access
from opsloom.runtime.fields import unit_of
from opsloom.runtime.flow.model import Node
from opsloom.runtime.forms import CompiledForm

REQUIRED = "required"
STEPS = ("approval", "handler")


def signature_field(node: Mapping[str, Any], form: CompiledForm) -> str | None:
    """The field a node's assignee signs in, when the node requires a signature."""
    if node.get("signature") != REQUIRED:
        return None
    keys = _signature_fields(node, form)
    return keys[0] if len(keys) == 1 else None


def _signature_fields(node: Mapping[str, Any], form: CompiledForm) -> list[str]:
    fields = node.get("fields") or {}
    return [
        key
        for key, permission in fields.items()
        if permission == "editable" and key in form.by_key and unit_of(form.by_key[key]).signs
    ]


def refuse_unsigned(
    node: Node, form: CompiledForm, task: Mapping[str, Any], actor: int | None, action: str, changes: Mapping[str, Any]
) -> None:
    """An approval at a step that requires a signature, without a new one: 422 naming the field.

    A task that is not the actor's to act on is left to the engine, which says why."""
    key = signature_field(node.raw, form)
    if action != "approve" or key is None or task["state"] != "pending" or task["assignee_id"] != actor:
        return
    if (changes.get(key) or {}).get("after"):
        return
    raise ValidationFailed.of(
        [
            FieldError(
                f"values.{key}",
                f"is needed to approve at this step: sign here (through the API: upload the PNG with POST "
                f"/api/apps/{form.app}/forms/{form.key}/files?field={key}&task={task['id']} and send its id)",
            )
        ]
    )


def steps_name_their_signature_field(document: Mapping[str, Any], form: CompiledForm) -> Iterator[FieldError]:
    """A flow check: a step that requires a signature makes exactly one signature field editable."""
    for i, node in enumerate(document.get("nodes", [])):
        if node.get("signature") != REQUIRED or node.get("type") not in STEPS:
            continue
        keys = _signature_fields(node, form)
        if len(keys) != 1:
            offered = [s.key for s in form.fields if unit_of(s).signs]
            hint = f" ({', '.join(offered)})" if offered else f"; add a signature field to {form.key} first"
            yield FieldError(
                f"nodes[{i}].signature",
                f"make exactly one signature field of {form.key} editable at this step{hint}; "
                f"it makes {len(keys)} editable",
            )


async def step_access(
    session: AsyncSession, principal: Principal, form: CompiledForm, task_id: int, flows: Any
) -> FormAccess:
    """What a person may upload while acting on their task: files for the fields its step makes
    editable (others are read-only, hidden ones hidden). 404 unless the task is theirs, pending,
    on a record of this form."""
    t, i = tables.flow_tasks, tables.flow_instances
    row = (
        await session.execute(
            select(t.c.node, t.c.state, t.c.assignee_id, i.c.flow_id, i.c.flow_version)
            .join(i, i.c.id == t.c.instance_id)
            .where(t.c.id == task_id, i.c.form_id == form.form_id)
        )
    ).first()
    if row is None or row.state != "pending" or principal.user_id is None or row.assignee_id != principal.user_id:
        raise NotFound(f"You have no pending task {task_id} on {form.key}")
    flow = await flows.get(session, row.flow_id, row.flow_version, form)
    permissions = flow.node(row.node).get("fields", {})
    editable = frozenset(k for k, v in permissions.items() if v == "editable")
    hidden = frozenset(k for k, v in permissions.items() if v == "hidden")
    everything = full_access(form.app, form.key)
    return replace(everything, hidden=hidden, read_only=frozenset(s.key for s in form.fields) - editable)
