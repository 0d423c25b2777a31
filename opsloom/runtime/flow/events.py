"""Flow events for the outbox, read off what the engine decided (its timeline lines and the new status).

    flow.submitted     the record was submitted (or resubmitted)
    flow.step_reached  a step's tasks were created: {"node": "head"}
    flow.approved / flow.rejected   the flow ended so
    flow.ended         any end: {"outcome": "approved" | "rejected" | "withdrawn"}

Every payload has {"instance_id", "status"}; the record itself is read by the
dispatcher, as each subscription's owner may see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opsloom.platform.context import RequestContext
from opsloom.platform.outbox import Event, origin
from opsloom.runtime.flow.model import Log, State

STARTS = {"submitted", "resubmitted"}
ENDS = {"approved": "flow.approved", "rejected": "flow.rejected", "withdrawn": None}


def flow_events(
    ctx: RequestContext,
    app: str,
    form: str,
    record_id: int,
    instance_id: int,
    before: State | None,
    after: State,
    effects: Sequence[Any],
) -> list[Event]:
    base = {"instance_id": instance_id, "status": after.status} | origin(ctx.principal.via)

    def event(topic: str, **extra: Any) -> Event:
        return Event(topic, app, ctx.now, form, record_id, ctx.principal.user_id, base | extra)

    found: list[Event] = []
    for effect in effects:
        if not isinstance(effect, Log):
            continue
        if effect.action in STARTS:
            found.append(event("flow.submitted"))
        elif effect.action == "node_entered" and effect.node:
            found.append(event("flow.step_reached", node=effect.node))
    ended = after.status != (before.status if before else None) and after.status in ENDS
    if ended:
        if topic := ENDS[after.status]:
            found.append(event(topic))
        found.append(event("flow.ended", outcome=after.status))
    return found
