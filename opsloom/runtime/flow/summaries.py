"""What a to-do item says of its record: a few fields, such as the number and the amount.

A form names them in `summary_fields`; without it, the record's number (else its
title) and its first decimal amount. Each item shows them as its step shows the
record: a field the step hides is left out (a submitter's own items: as their
role shows the form). Records are read once per form, through the records
service, whatever the number of items.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import OpsloomError
from opsloom.platform.permissions import form_access, full_access
from opsloom.runtime import records
from opsloom.runtime.fields import FieldSpec, unit_of
from opsloom.runtime.flow.instances import Services
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.link_titles import is_link

MAX_SUMMARY = 4

Specs = dict[tuple[str, str, str], FieldSpec]


def summary_keys(form: CompiledForm) -> list[str]:
    """The form's `summary_fields`, or its number (else title) and its first decimal amount."""
    named = form.document.get("summary_fields")
    if named:
        return [key for key in named if key in form.by_key][:MAX_SUMMARY]
    keys = [spec.key for spec in form.fields if unit_of(spec).numbered][:1]
    if not keys and form.title_field in form.by_key:
        keys.append(str(form.title_field))
    amounts = [spec.key for spec in form.fields if _is_amount(spec)]
    return keys + amounts[:1]


def _is_amount(spec: FieldSpec) -> bool:
    shown = unit_of(spec).shown_as(spec)
    return shown.numeric and not shown.integral and unit_of(spec).has_column


async def attach_summaries(
    session: AsyncSession, services: Services, ctx: RequestContext, items: list[dict[str, Any]]
) -> Specs:
    """Add `summary` ([{key, label, value}]) to each item; answer the fields named, for pages to format."""
    specs: Specs = {}
    by_form: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        item["summary"] = []
        by_form[(item["app"], item["form"])].append(item)
    flows = await _flows_of(session, [item["instance_id"] for item in items])
    for (app, key), group in by_form.items():
        try:
            form = await services.forms.get(session, app, key)
        except OpsloomError:
            continue  # the app was removed since: the item keeps its title only
        keys = summary_keys(form)
        if not keys:
            continue
        values = await _records(session, form, ctx, keys, {item["record_id"] for item in group})
        mine = await form_access(session, ctx.principal, app, key)
        for item in group:
            hidden = await _hidden_at(session, services, form, flows.get(item["instance_id"]), item, mine)
            record = values.get(item["record_id"])
            if record is None or hidden is None:
                continue
            for field_key in keys:
                if field_key in hidden or record.get(field_key) in (None, "", []):
                    continue
                spec = form.by_key[field_key]
                specs[(app, key, field_key)] = spec
                item["summary"].append({"key": field_key, "label": spec.label, "value": record[field_key]})
    return specs


async def _records(
    session: AsyncSession, form: CompiledForm, ctx: RequestContext, keys: list[str], ids: set[int]
) -> dict[int, dict[str, Any]]:
    """The records of the items, read as the system (the task itself lets its assignee see the record;
    which fields they see is decided per item)."""
    links = ",".join(key for key in keys if is_link(form.by_key[key]))
    query = records.ListRequest(
        filter=json.dumps({"field": "id", "op": "in", "value": sorted(ids)}),
        limit="500",
        count="none",
        expand=links or None,
        with_rows=False,
    )
    page = await records.list_records(session, form, ctx, query, full_access(form.app, form.key))
    return {item["id"]: item for item in page["items"]}


async def _flows_of(session: AsyncSession, instance_ids: list[int]) -> dict[int, tuple[int, int]]:
    i = tables.flow_instances
    if not instance_ids:
        return {}
    rows = await session.execute(select(i.c.id, i.c.flow_id, i.c.flow_version).where(i.c.id.in_(set(instance_ids))))
    return {row.id: (row.flow_id, row.flow_version) for row in rows}


async def _hidden_at(
    session: AsyncSession,
    services: Services,
    form: CompiledForm,
    flow: tuple[int, int] | None,
    item: dict[str, Any],
    mine: Any,
) -> frozenset[str] | None:
    """The fields this item may not show: those its step hides, or (a flow I submitted) those my role
    hides; None when nothing of the record may be shown."""
    node_key = item.get("node")
    if node_key is None or flow is None:
        return frozenset(mine.hidden) if mine.can("read") else None
    try:
        compiled = await services.flows.get(session, flow[0], flow[1], form)
        node = compiled.node(node_key)
    except (OpsloomError, KeyError):
        return None
    return frozenset(k for k, v in dict(node.get("fields", {})).items() if v == "hidden")
