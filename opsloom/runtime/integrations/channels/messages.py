"""What a chat robot, a mail or the inbox says about a payload: a title, a few lines, a link."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsloom.runtime.integrations.channels.base import Message

WHAT = {
    "record.created": "created",
    "record.updated": "updated",
    "record.deleted": "deleted",
    "record.restored": "restored",
    "flow.submitted": "submitted for approval",
    "flow.step_reached": "reached step {node}",
    "flow.approved": "approved",
    "flow.rejected": "rejected",
    "flow.ended": "flow ended ({outcome})",
}
MAX_LINES = 10


def describe(payload: Mapping[str, Any], public_url: str = "") -> Message:
    if payload.get("type") == "notification":
        return Message(str(payload.get("title", "")), str(payload.get("text", "")), payload.get("link") or None)
    data: Mapping[str, Any] = payload.get("data") or {}
    topic = str(payload.get("type", ""))
    what = WHAT.get(topic, topic).format(node=data.get("node", "?"), outcome=data.get("outcome", "?"))
    name = f"{payload.get('form')} #{data.get('record_id')}"
    title = f"{name} {what}"
    lines = []
    for key, change in list((data.get("changes") or {}).items())[:MAX_LINES]:
        lines.append(f"- {key}: {_short(change.get('from'))} → {_short(change.get('to'))}")
    if not lines and isinstance(data.get("record"), Mapping):
        record = data["record"]
        shown = [k for k in record if k not in SYSTEM and not isinstance(record[k], list | dict)]
        lines = [f"- {k}: {_short(record[k])}" for k in shown[:MAX_LINES]]
    link = None
    if public_url and data.get("record_id"):
        base = public_url.rstrip("/")
        link = f"{base}/apps/{payload.get('app')}/forms/{payload.get('form')}/records/{data['record_id']}"
    return Message(title, "\n".join(lines), link)


SYSTEM = {
    "id",
    "version",
    "status",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "owner_id",
    "department_id",
}


def _short(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= 80 else text[:79] + "…"
