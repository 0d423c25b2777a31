"""Exporting an app as one template package: its published documents by kind, and optionally its
records as sample data, read through the records service with the exporter's permissions.

Never exported: role members (people are per installation), user and department values (ids of
this installation; a flow step that names people by id names a new, empty role instead), webhooks and
channels (an automation's `notify` names its channel by name instead), attachments (files), and
computed values (formulas and autonumbers are made again). A linked record is written
as its title, as a package's sample data names it.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom import __version__
from opsloom.designer import definitions
from opsloom.designer.packages import FORMAT, in_link_order, installed_documents, manifest_of
from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import PermissionDenied
from opsloom.platform.permissions import form_access
from opsloom.runtime.fields import FieldSpec, links_records, unit_of
from opsloom.runtime.forms import CompiledForm, FormRegistry
from opsloom.runtime.records.lists import ListRequest, list_records

PAGE = "500"
MAX_SAMPLE_ROWS = 10_000  # the package schema's limit per form


async def export_package(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, *, sample_data: bool = False
) -> dict[str, Any]:
    document = await definitions.load_app(session, app)
    documents = await installed_documents(session, app)
    installed_version = await _installed_version(session, app)
    manifest = manifest_of({"app": document})
    if installed_version is not None:
        manifest["version"] = installed_version
    manifest["min_opsloom"] = __version__
    flows, people_roles = [], []
    for flow in documents.get("flows", []):
        flow, roles = without_user_ids(flow)
        flows.append(flow)
        people_roles += roles
    if flows:
        documents["flows"] = flows
    if people_roles:
        documents["roles"] = [*documents.get("roles", []), *people_roles]
    if documents.get("automations"):
        names = await _channel_names(session, app)
        documents["automations"] = [channels_by_name(a, names) for a in documents["automations"]]
    package: dict[str, Any] = {
        "format": FORMAT,
        "manifest": manifest,
        "app": document,
        "forms": documents.pop("forms", []),
        **documents,
    }
    if sample_data:
        package["sample_data"] = {}
        for form in in_link_order(package["forms"]):
            rows = await _records(session, ctx, registry, app, form["key"])
            if rows:
                package["sample_data"][form["key"]] = rows
    return package


async def _channel_names(session: AsyncSession, app: str) -> dict[int, str]:
    s = tables.subscriptions
    rows = await session.execute(select(s.c.id, s.c.name).where(s.c.app_key == app, s.c.channel != "webhook"))
    return {row.id: row.name for row in rows}


def channels_by_name(automation: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    """An automation whose `notify` names a channel by id, made to name it by its name: channels are not
    exported (a robot's URL is a credential), and the installer adds a channel of that name."""
    automation = copy.deepcopy(automation)
    for action in automation.get("actions", []):
        if action.get("kind") == "notify" and action.get("channel") in names:
            action["channel"] = names[action["channel"]]
    return automation


def without_user_ids(flow: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A flow that names people by user id, made to name a role instead: ids mean nothing in another
    installation. Each node's named people become one new, empty role (`<flow>_<node>`) whose members
    the installer chooses; a step that fell back to one named user falls back to the admin."""
    flow = copy.deepcopy(flow)
    roles: list[dict[str, Any]] = []
    for node in flow.get("nodes", []):
        role_key = f"{flow['key']}_{node['id']}"[:63]
        named = False
        for key in ("approvers", "recipients"):
            sources = node.get(key)
            if isinstance(sources, list):
                node[key], found = _as_role(sources, role_key)
                named = named or found
        if node.get("when_empty") == "user":
            node["when_empty"] = "admin"
            node.pop("empty_user", None)
        if named:
            label = node.get("label") or node["id"]
            roles.append({"key": role_key, "label": label, "description": "People this step named in the app exported"})
    return flow, roles


def _as_role(sources: list[Any], role_key: str) -> tuple[list[Any], bool]:
    out, named = [], False
    for source in sources:
        if isinstance(source, dict) and source.get("kind") == "users":
            named = True
            source = {"kind": "role", "role": role_key}
        elif isinstance(source, dict) and isinstance(source.get("among"), list):
            among, found = _as_role(source["among"], role_key)
            source, named = {**source, "among": among}, named or found
        if source not in out:
            out.append(source)
    return out, named


async def _installed_version(session: AsyncSession, app: str) -> str | None:
    a = tables.apps
    return (await session.execute(select(a.c.package_version).where(a.c.key == app))).scalar()


async def _records(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, form_key: str
) -> list[dict[str, Any]]:
    try:
        access = await form_access(session, ctx.principal, app, form_key)
        access.require("read")
    except PermissionDenied:
        return []  # what the exporter may not read is not exported
    form = await registry.get(session, app, form_key)
    links = ",".join(s.key for s in form.fields if links_records(s) and s.key not in access.hidden)
    out: list[dict[str, Any]] = []
    cursor = None
    while len(out) < MAX_SAMPLE_ROWS:
        page = await list_records(
            session, form, ctx, ListRequest(limit=PAGE, cursor=cursor, count="none", expand=links or None), access
        )
        out += [_sample_row(form, item) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return out[:MAX_SAMPLE_ROWS]


def _carried(spec: FieldSpec | dict[str, Any]) -> bool:
    unit = unit_of(spec)
    return unit.entered and not unit.computed and not unit.holds_files and unit.link in (None, "record")


def _sample_row(form: CompiledForm, item: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for spec in form.fields:
        if spec.key not in item or not _carried(spec) or item[spec.key] is None:
            continue
        value = item[spec.key]
        if links_records(spec):
            value = value.get("title") if isinstance(value, dict) else None
        elif unit_of(spec).child_rows:
            children = [c for c in spec.raw.get("fields", []) if _carried(c) and not links_records(c)]
            value = [{c["key"]: r[c["key"]] for c in children if r.get(c["key"]) is not None} for r in value or []]
        if value is not None:
            row[spec.key] = value
    return row
