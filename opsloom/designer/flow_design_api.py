"""What the flow designer asks of the server beyond drafts and publishing: a simulated route, a rollback,
and what changed between two versions.

`POST .../simulate` answers the route a sample record would take and the people at each step (the draft,
or a published version), writing nothing. `POST .../rollback` makes an earlier version the latest again:
its document becomes the draft and is published as a new version, so running instances keep theirs.
`GET .../diff?from=N&to=M|draft` answers what changed from version N to version M (or the draft), node by
node, each change with a sentence in the reader's language.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from opsloom.designer import definitions
from opsloom.designer.flow_diff import Words, flow_changes, people_in
from opsloom.designer.flow_simulation import Sample, simulate_flow
from opsloom.designer.flows import publish_flow
from opsloom.platform import tables
from opsloom.platform.api_document import MAX_ID
from opsloom.platform.audit import audit
from opsloom.platform.errors import BadRequest, FieldError, NotFound, ValidationFailed
from opsloom.platform.http import DB, authenticated, context_of, principal_of
from opsloom.platform.permissions import require_app_admin
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.pages.i18n import Translator, choose_locale

router = APIRouter(prefix="/api/design/apps", tags=["designer"], dependencies=[Depends(authenticated)])

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="An identifier")]


class SimulationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: dict[str, Any] = Field(
        default_factory=dict, description="The sample record's field values, as the API takes them"
    )
    submitter: int = Field(ge=1, le=MAX_ID, description="The user who would submit it")
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="A published version; none: the draft")
    chosen: dict[str, list[Annotated[int, Field(ge=1, le=MAX_ID)]]] | None = Field(
        default=None, description="Approvers the submitter would choose, by node"
    )


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=2**31 - 1, description="The published version to bring back")


@router.post("/{app}/flows/{flow}/simulate", summary="The route a sample record would take, and who acts at each step")
async def simulate(
    app: Key, flow: Key, body: SimulationRequest, request: Request, db: DB, forms: Forms
) -> dict[str, Any]:
    async with db.session() as session:
        await require_app_admin(session, principal_of(request), app)
        sample = Sample(body.values, body.submitter, body.version, body.chosen)
        return await simulate_flow(session, context_of(request), forms, app, flow, sample)


@router.post("/{app}/flows/{flow}/rollback", summary="Publish an earlier version again, as the newest")
async def rollback(
    app: Key, flow: Key, body: RollbackRequest, request: Request, db: DB, forms: Forms
) -> dict[str, Any]:
    ctx = context_of(request)
    async with db.session(write=True) as session:
        await require_app_admin(session, principal_of(request), app)
        found = await definitions.load_definition(session, app, "flow", flow, lock=True)
        try:
            document = await definitions.published_document(session, found, body.version)
        except NotFound as missing:
            raise ValidationFailed.of([FieldError("version", str(missing))]) from None
        await definitions.save_draft(session, ctx, app, "flow", flow, document)
        published = await publish_flow(session, ctx, forms, app, flow)
        await audit(session, ctx, "definition.rolled_back", f"{app}/flow/{flow}", {"to": body.version})
        return {**published, "rolled_back_to": body.version}


@router.get("/{app}/flows/{flow}/diff", summary="What changed between two versions of a flow, node by node, in words")
async def diff(
    app: Key,
    flow: Key,
    request: Request,
    db: DB,
    from_: Annotated[
        str, Query(alias="from", max_length=12, description="A version number; none: the one in use")
    ] = "",
    to: Annotated[str, Query(max_length=12, description="A version number, or 'draft'")] = "draft",
) -> dict[str, Any]:
    principal = principal_of(request)
    t = Translator(choose_locale(request, principal.locale))
    async with db.session() as session:
        await require_app_admin(session, principal, app)
        found = await definitions.load_definition(session, app, "flow", flow)
        start = from_ or str(found.published_version or "")
        before = await _version_or_draft(session, found, start, "from")
        after = await _version_or_draft(session, found, to, "to")
        fields = await _field_labels(session, app, (before or {}).get("form"), (after or {}).get("form"))
        users = await _user_names(session, people_in(before, after))
    words = Words(t, t.label, users, fields)
    changes = flow_changes(before or {}, after or {}, words)
    return {"from": start, "to": to, "changes": [c.as_json() for c in changes]}


async def _version_or_draft(session: Any, found: definitions.Definition, which: str, name: str) -> Any:
    if which == "draft":
        if found.draft is None:
            raise ValidationFailed.of([FieldError(name, "this flow has no draft")])
        return found.draft
    if not which.isdigit() or not 1 <= int(which) <= 2**31 - 1:
        raise BadRequest(f"'{name}' is a version number or 'draft'", [FieldError(name, "e.g. 2, or draft")])
    try:
        return await definitions.published_document(session, found, int(which))
    except NotFound as missing:
        raise ValidationFailed.of([FieldError(name, str(missing))]) from None


async def _field_labels(session: Any, app: str, *forms: Any) -> dict[str, Any]:
    """Each field's label (subform columns too) in the forms the two versions approve, as drafted now."""
    labels: dict[str, Any] = {}
    for key in {f for f in forms if isinstance(f, str)}:
        found = await definitions.find_definition(session, app, "form", key)
        fields = list(((found.draft if found is not None else None) or {}).get("fields", []))
        while fields:
            spec = fields.pop()
            if isinstance(spec, dict) and isinstance(spec.get("key"), str):
                labels.setdefault(spec["key"], spec.get("label"))
                fields += [f for f in spec.get("fields", []) if isinstance(f, dict)]
    return labels


async def _user_names(session: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    u = tables.users
    rows = await session.execute(select(u.c.id, u.c.name, u.c.email).where(u.c.id.in_(sorted(ids))))
    return {r.id: r.name or r.email for r in rows}
