"""What a reader sees of the records, people and departments that link fields point at.

Every place that names a linked record (`?expand=`, the list and record pages,
the task page, the history, exports) goes through `expand_links`, so one rule
holds everywhere: a relation shows the linked record's title only when the
reader may read that record — it lies in the read row scope of their roles on
the linked form, and that form's title field is not hidden from them.
Otherwise the link reads `{"id": 7, "title": null, "access": false}` and pages
say "no access".

Users and departments are shown by name to everyone: every logged-in user may
list them (`GET /api/users`, `GET /api/departments`), so a name on a record
tells nothing they could not read anyway.

A filter the reader sends that compares a relation by the linked record's title
(`contains`, `starts_with`) compares only the titles this module would show
(`filter_context`), so counting matches cannot guess the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, FieldError, PermissionDenied
from opsloom.platform.permissions import form_access
from opsloom.runtime.access import eval_context, scope_clause
from opsloom.runtime.conditions import Condition, EvalContext, fields_of
from opsloom.runtime.fields import FieldSpec, links_records, unit_of
from opsloom.runtime.forms import CompiledForm


def is_link(spec: FieldSpec) -> bool:
    """Does the field link to records, users or departments?"""
    return unit_of(spec).link is not None


def linked_ids(spec: FieldSpec, value: Any) -> list[int]:
    """The ids a link field holds: one, or several for a `users` field."""
    if value is None:
        return []
    return list(value) if unit_of(spec).multiple else [value]


@dataclass(frozen=True)
class LinkTarget:
    """Where the records a link field points at live, and what names them."""

    table: Any
    live: Any
    label: Any  # the column that names a target: the title field, or a person's name
    label_key: str  # "title" for form records, "name" for users and departments
    describe: str
    dump: Any = None
    deletable: bool = False  # records of a form can be deleted; users and departments cannot


def link_target(form: CompiledForm, spec: FieldSpec) -> LinkTarget:
    link = unit_of(spec).link
    if link == "user":
        u = tables.users
        return LinkTarget(u, true(), u.c.name, "name", "user")
    if link == "department":
        d = tables.departments
        return LinkTarget(d, true(), d.c.name, "name", "department")
    target = form.target(spec)
    t = target.table
    title_spec = target.by_key.get(target.title_field or "")
    dump = (lambda value: target.dump_value(title_spec.key, value)) if title_spec else None
    describe = f"{spec.raw['form']} record"
    return LinkTarget(t, t.c.deleted_at.is_(None), target.title_column(), "title", describe, dump, deletable=True)


async def readable_titles(session: AsyncSession, ctx: RequestContext, target: CompiledForm) -> Any | None:
    """SQL over `target`'s rows: those whose title the reader may see; None when they may see none."""
    try:
        access = await form_access(session, ctx.principal, target.app, target.key)
    except PermissionDenied:
        return None
    if not access.can("read") or (target.title_field or "") in access.hidden:
        return None
    return scope_clause(access.scope("read"), target, eval_context(ctx))


def parse_expand(text: str | None, form: CompiledForm) -> list[FieldSpec]:
    """`expand=supplier,owner` -> the link fields to show as {id, title, access} (or {id, name})."""
    specs = []
    for key in filter(None, (part.strip() for part in (text or "").split(","))):
        spec = form.by_key.get(key)
        if spec is None or not is_link(spec):
            problem = FieldError("expand", f"'{key}' is not a relation, user, users or department field")
            raise BadRequest("Only link fields can be expanded", [problem])
        specs.append(spec)
    return specs


async def expand_links(
    session: AsyncSession,
    ctx: RequestContext,
    form: CompiledForm,
    records: list[dict[str, Any]],
    specs: Iterable[FieldSpec],
) -> None:
    """Replace linked ids in place: {id, title, access} for records, {id, name} for users and departments."""
    scopes: dict[str, Any] = {}
    for spec in specs:
        ids = {i for r in records for i in linked_ids(spec, r.get(spec.key))}
        if not ids:
            continue
        target = link_target(form, spec)
        labels: dict[Any, Any] = {}
        if links_records(spec):
            key = spec.raw["form"]
            if key not in scopes:
                scopes[key] = await readable_titles(session, ctx, form.target(spec))
            readable = scopes[key]
        else:
            readable = true()
        if readable is not None:
            query = select(target.table.c.id, target.label).where(target.table.c.id.in_(ids), readable)
            labels = {rid: target.dump(label) if target.dump else label for rid, label in await session.execute(query)}
        for record in records:
            value = record.get(spec.key)
            if value is not None:
                shown = [_shown(spec, target, labels, i) for i in linked_ids(spec, value)]
                record[spec.key] = shown if unit_of(spec).multiple else shown[0]


def _shown(spec: FieldSpec, target: LinkTarget, labels: dict[Any, Any], linked: int) -> dict[str, Any]:
    if not links_records(spec):
        return {"id": linked, target.label_key: labels.get(linked)}
    return {"id": linked, "title": labels.get(linked), "access": linked in labels}


async def filter_context(
    session: AsyncSession, ctx: RequestContext, form: CompiledForm, condition: Condition
) -> EvalContext:
    """The context a reader's own filter runs in: linked titles compared only where they may read them."""
    keys = {
        spec.raw["form"]
        for key in fields_of(condition)
        if (spec := form.by_key.get(key)) is not None and links_records(spec)
    }
    scopes = {}
    for key in sorted(keys):
        readable = await readable_titles(session, ctx, form.related[key])
        scopes[key] = false() if readable is None else readable
    return replace(eval_context(ctx), linked_titles=scopes)
