"""Actions on many records of one form at once: delete, submit.

Each record is one call of the records service (or the flow shell) in its own
transaction, with the caller's permissions, so a record the caller may not
touch, or one that refuses (in review, locked, a rule), fails alone and says
why, while the others go through. The answer has one outcome per id, in the
order asked.

    POST /api/apps/{app}/forms/{form}/records/actions   {"action": "delete", "ids": [1, 2, 3]}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.api_document import json_body
from opsloom.platform.context import RequestContext
from opsloom.platform.database import Database
from opsloom.platform.errors import BadRequest, FieldError, OpsloomError, ValidationFailed
from opsloom.platform.http import DB, authenticated, context_of, read_json
from opsloom.platform.permissions import FormAccess, form_access
from opsloom.runtime import records
from opsloom.runtime.dependencies import FlowServices
from opsloom.runtime.flow.instances import Idempotency, Services, submit_record
from opsloom.runtime.flow.model import Submit
from opsloom.runtime.forms import CompiledForm

MAX_IDS = 200

Action = Callable[[AsyncSession, RequestContext, Services, CompiledForm, FormAccess, int], Awaitable[None]]


async def _delete(
    session: AsyncSession, ctx: RequestContext, services: Services, form: CompiledForm, access: FormAccess, id_: int
) -> None:
    referrers = await services.forms.referrers(session, form.app, form.key)
    await records.delete_record(session, form, ctx, id_, None, access, referrers)


async def _submit(
    session: AsyncSession, ctx: RequestContext, services: Services, form: CompiledForm, access: FormAccess, id_: int
) -> None:
    if ctx.principal.user_id is None:
        raise BadRequest("Only a person can submit records; log in as one")
    event = Submit(ctx.principal.user_id)
    await submit_record(session, ctx, services, form, access, id_, event, Idempotency(None, ""))


ACTIONS: dict[str, Action] = {"delete": _delete, "submit": _submit}


@dataclass(frozen=True)
class Outcome:
    """What happened to one record: done, or the status and reason of its refusal."""

    id: int
    ok: bool
    status: int = 200
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"id": self.id, "ok": self.ok}
        if not self.ok:
            answer |= {"status": self.status, "detail": self.detail}
        return answer


def bulk_request(payload: Any) -> tuple[str, list[int]]:
    """The action and the ids of a bulk request; wrong shapes are 422 with their paths."""
    if not isinstance(payload, dict):
        raise ValidationFailed.of([FieldError("$", 'send {"action": "delete" or "submit", "ids": [1, 2]}')])
    action, ids = payload.get("action"), payload.get("ids")
    problems = []
    if action not in ACTIONS:
        problems.append(FieldError("action", "use " + " or ".join(ACTIONS)))
    if not isinstance(ids, list) or not ids:
        problems.append(FieldError("ids", "send a list of record ids"))
    elif len(ids) > MAX_IDS:
        problems.append(FieldError("ids", f"send at most {MAX_IDS} ids at once"))
    else:
        problems += [
            FieldError(f"ids[{i}]", "expected a record id (a positive whole number)")
            for i, x in enumerate(ids)
            if not isinstance(x, int) or isinstance(x, bool) or not 1 <= x < 2**63
        ]
    if problems:
        raise ValidationFailed.of(problems)
    assert isinstance(action, str) and isinstance(ids, list)  # checked above
    return action, list(dict.fromkeys(ids))


async def run_bulk(
    db: Database, ctx: RequestContext, services: Services, app: str, form: str, action: str, ids: list[int]
) -> list[Outcome]:
    """Apply the action to each record in its own transaction; one refusal stops only its record."""
    run = ACTIONS[action]
    outcomes = []
    for id_ in ids:
        try:
            async with db.session(write=True) as session:
                compiled = await services.forms.get(session, app, form)
                access = await form_access(session, ctx.principal, app, form)
                await run(session, ctx, services, compiled, access, id_)
        except OpsloomError as refusal:
            reasons = "; ".join(f"{e.path}: {e.message}" if e.path else e.message for e in refusal.errors)
            outcomes.append(Outcome(id_, False, refusal.status, reasons or refusal.detail))
        else:
            outcomes.append(Outcome(id_, True))
    return outcomes


router = APIRouter(
    prefix="/api/apps/{app}/forms/{form}/records", tags=["records"], dependencies=[Depends(authenticated)]
)

BULK = {
    "type": "object",
    "required": ["action", "ids"],
    "properties": {
        "action": {"type": "string", "enum": list(ACTIONS)},
        "ids": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "maxItems": MAX_IDS},
    },
}


@router.post(
    "/actions",
    summary="Delete or submit many records; each succeeds or fails on its own",
    openapi_extra=json_body(BULK),
)
async def bulk_action(app: str, form: str, request: Request, db: DB, services: FlowServices) -> dict[str, Any]:
    action, ids = bulk_request(await read_json(request))
    async with db.session() as session:
        await services.forms.get(session, app, form)  # 404 for a form that is not there
        (await form_access(session, context_of(request).principal, app, form)).require("read")
    outcomes = await run_bulk(db, context_of(request), services, app, form, action, ids)
    done = sum(1 for o in outcomes if o.ok)
    return {"action": action, "done": done, "failed": len(outcomes) - done, "items": [o.as_json() for o in outcomes]}
