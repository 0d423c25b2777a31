"""What the flow designer asks of the server beyond drafts and publishing: a simulated route, and a rollback.

`POST .../simulate` answers the route a sample record would take and the people at each step (the draft,
or a published version), writing nothing. `POST .../rollback` makes an earlier version the latest again:
its document becomes the draft and is published as a new version, so running instances keep theirs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from opsloom.designer import definitions
from opsloom.designer.flow_simulation import Sample, simulate_flow
from opsloom.designer.flows import publish_flow
from opsloom.platform.api_document import MAX_ID
from opsloom.platform.audit import audit
from opsloom.platform.errors import FieldError, NotFound, ValidationFailed
from opsloom.platform.http import DB, authenticated, context_of, principal_of
from opsloom.platform.permissions import require_app_admin
from opsloom.runtime.dependencies import Forms

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
