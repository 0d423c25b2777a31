"""Record events: written to the outbox by a hook after every write's history stage.

    created   {"record": {...}}
    updated   {"record": {...}, "changes": {"amount": {"from": "10.00", "to": "12.00"}}}
    deleted   {"record": {...}}
    restored  {"record": {...}}

A status the flow sets is an update whose only change is `status`; its payload
names no record, and the dispatcher reads the record as it then is.
"""

from __future__ import annotations

from typing import Any

from opsloom.platform.outbox import Event, emit, origin
from opsloom.runtime.records.pipeline import WriteContext, write_hooks

TOPIC_OF = {
    "create": "record.created",
    "update": "record.updated",
    "delete": "record.deleted",
    "restore": "record.restored",
    "status": "record.updated",
}


async def write_record_events(write: WriteContext) -> None:
    topic = TOPIC_OF.get(write.operation)
    if topic is None:
        return
    form, ctx = write.form, write.ctx
    events = []
    for item in write.items:
        if item.row is None:
            continue
        payload: dict[str, Any] = origin(ctx.principal.via)
        if write.operation == "status":
            payload["changes"] = {k: {"from": v["before"], "to": v["after"]} for k, v in item.changed.items()}
        else:
            record = item.record if item.record is not None else form.dump_row(item.row)
            payload["record"] = record
        if write.operation == "update":
            before, after = item.previous or {}, payload["record"]
            payload["changes"] = {k: {"from": before.get(k), "to": after.get(k)} for k in item.changed if k in after}
        events.append(Event(topic, form.app, ctx.now, form.key, item.row["id"], ctx.principal.user_id, payload))
    await emit(write.session, events)


def install_outbox(db: Any) -> None:
    """Every record write of this database writes its event (once, however often it is called)."""
    hooks = write_hooks(db)
    hooks.remove(write_record_events)
    hooks.after("history", write_record_events)
