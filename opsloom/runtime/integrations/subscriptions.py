"""Subscriptions: an app's webhooks and notification channels, checked, stored and shown.

A webhook is a subscription whose channel is `webhook`; every other channel
(robots, e-mail, the inbox) is a subscription too, one that may also name the
events it wants (or none: then only the `notify` action writes to it). The
subscription's owner is the app admin who made it: deliveries carry only what
that person may read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, FieldError, NotFound, ValidationFailed
from opsloom.platform.outbox import TOPICS
from opsloom.platform.types import StoredRow
from opsloom.runtime.conditions import parse_condition
from opsloom.runtime.fields import dump_datetime
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.integrations.channels import CHANNELS
from opsloom.runtime.integrations.channels.webhook import new_secret

KEYS = {"name", "channel", "url", "config", "secret", "events", "form", "condition", "active"}
MAX_NAME = 120
ROTATION_OVERLAP = timedelta(hours=24)


async def require_app(session: AsyncSession, app: str) -> None:
    if (await session.execute(select(tables.apps.c.key).where(tables.apps.c.key == app))).first() is None:
        raise NotFound(f"There is no app '{app}'")


async def checked(
    session: AsyncSession,
    forms: FormRegistry,
    app: str,
    document: Any,
    *,
    webhook: bool,
    allow_private: bool,
    current: StoredRow | None = None,
) -> dict[str, Any]:
    """A create (`current` None) or change of a subscription, checked; answer the columns to store."""
    if not isinstance(document, Mapping):
        raise BadRequest("Send the subscription as a JSON object", [FieldError("$", "expected an object")])
    allowed = KEYS - ({"channel", "config", "secret"} if webhook else {"url"})
    errors = [
        FieldError(k, f"is not a setting; use {', '.join(sorted(allowed))}") for k in document if k not in allowed
    ]
    if errors:
        raise ValidationFailed.of(errors)
    old = dict(current or {})
    channel_name = "webhook" if webhook else document.get("channel", old.get("channel"))
    if current is not None and "channel" in document and document["channel"] != old["channel"]:
        raise ValidationFailed.of([FieldError("channel", "a channel's kind cannot change; make a new channel")])
    channel = CHANNELS.get(channel_name) if isinstance(channel_name, str) else None
    if channel is None or (not webhook and channel_name == "webhook"):
        kinds = ", ".join(k for k in CHANNELS if k != "webhook")
        raise ValidationFailed.of([FieldError("channel", f"is required; one of {kinds}")])
    values: dict[str, Any] = {}
    if webhook:
        config = {"url": document["url"]} if "url" in document else old.get("config")
        if config is None:
            raise ValidationFailed.of([FieldError("url", "is required: where to post the events")])
    else:
        config = document.get("config", old.get("config"))
    errors += [FieldError("url" if webhook else e.path, e.message) for e in channel.check(config, allow_private)]
    values["config"] = config
    values["channel"] = channel_name
    default_name = str((config or {}).get("url", channel_name) if isinstance(config, Mapping) else channel_name)
    name = document.get("name", old.get("name") or default_name[:MAX_NAME])
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= MAX_NAME:
        errors.append(FieldError("name", f"give a name of 1 to {MAX_NAME} characters"))
    values["name"] = str(name).strip()[:MAX_NAME]
    events = document.get("events", old.get("events", None if webhook else []))
    errors += _check_events(events, required=webhook)
    values["events"] = events
    if "secret" in document:
        secret = document["secret"]
        if channel.secret != "optional":
            errors.append(FieldError("secret", f"a {channel_name} channel takes no secret"))
        elif secret is not None and (not isinstance(secret, str) or not 1 <= len(secret) <= 255):
            errors.append(FieldError("secret", "give the robot's signing secret (at most 255 characters) or null"))
        values["secret"] = secret
    if "active" in document:
        if not isinstance(document["active"], bool):
            errors.append(FieldError("active", "expected true or false"))
        values["active"] = document["active"]
    form_key = document.get("form", old.get("form_key"))
    condition = document.get("condition", old.get("condition"))
    values["form_key"], values["condition"] = form_key, condition
    if errors:
        raise ValidationFailed.of(errors)
    if form_key is not None:
        if not isinstance(form_key, str):
            raise ValidationFailed.of([FieldError("form", "give a form's key, or null for every form")])
        try:
            form = await forms.get(session, app, form_key)
        except NotFound:
            raise ValidationFailed.of([FieldError("form", f"app '{app}' has no published form '{form_key}'")]) from None
        if condition is not None:
            try:
                parse_condition(condition, form, path="condition")
            except BadRequest as error:
                raise ValidationFailed.of(error.errors) from None
    elif condition is not None:
        raise ValidationFailed.of([FieldError("condition", "a condition needs a form: name the form it filters")])
    return values


def _check_events(events: Any, *, required: bool) -> list[FieldError]:
    if not isinstance(events, list) or (required and not events):
        return [FieldError("events", f'give a list of events: {", ".join(TOPICS)}, or "*" for all')]
    errors = [
        FieldError(f"events[{i}]", f'is not an event; use {", ".join(TOPICS)} or "*"')
        for i, topic in enumerate(events)
        if topic not in TOPICS and topic != "*"
    ]
    if len(set(map(str, events))) != len(events):
        errors.append(FieldError("events", "names an event twice"))
    return errors


async def create(session: AsyncSession, ctx: RequestContext, app: str, values: dict[str, Any]) -> dict[str, Any]:
    s = tables.subscriptions
    channel = CHANNELS[values["channel"]]
    secret = new_secret() if channel.secret == "generated" else values.get("secret")
    row = values | {
        "app_key": app,
        "secret": secret,
        "active": values.get("active", True),
        "owner_id": ctx.principal.user_id or 0,
        "created_at": ctx.now,
        "updated_at": ctx.now,
    }
    stored = (await session.execute(insert(s).values(**row).returning(*s.c))).mappings().one()
    shown = view(stored)
    if channel.secret == "generated":
        shown["secret"] = secret  # the one time it is shown
    return shown


async def listed(session: AsyncSession, app: str, *, webhook: bool) -> list[dict[str, Any]]:
    s = tables.subscriptions
    kind = s.c.channel == "webhook" if webhook else s.c.channel != "webhook"
    rows = await session.execute(select(s).where(s.c.app_key == app, s.c.deleted_at.is_(None), kind).order_by(s.c.id))
    return [view(row) for row in rows.mappings()]


async def load(session: AsyncSession, app: str, sub_id: int, *, webhook: bool) -> StoredRow:
    s = tables.subscriptions
    kind = s.c.channel == "webhook" if webhook else s.c.channel != "webhook"
    query = select(s).where(s.c.id == sub_id, s.c.app_key == app, s.c.deleted_at.is_(None), kind)
    row = (await session.execute(query.with_for_update())).mappings().first()
    if row is None:
        raise NotFound(f"App '{app}' has no {'webhook' if webhook else 'channel'} {sub_id}")
    return row


async def change(session: AsyncSession, ctx: RequestContext, row: StoredRow, values: dict[str, Any]) -> dict[str, Any]:
    s = tables.subscriptions
    statement = update(s).where(s.c.id == row["id"]).values(**values, updated_at=ctx.now).returning(*s.c)
    return view((await session.execute(statement)).mappings().one())


async def rotate_secret(session: AsyncSession, ctx: RequestContext, row: StoredRow) -> dict[str, Any]:
    """A new secret; the old one still signs for `ROTATION_OVERLAP`, beside the new."""
    secret = new_secret()
    overlap = {"previous_secret": row["secret"], "previous_secret_until": ctx.now + ROTATION_OVERLAP}
    shown = await change(session, ctx, row, {"secret": secret} | overlap)
    return shown | {"secret": secret}


async def remove(session: AsyncSession, ctx: RequestContext, row: StoredRow) -> None:
    """Deleted subscriptions stop at once; their delivery log stays readable in the database."""
    s = tables.subscriptions
    await session.execute(update(s).where(s.c.id == row["id"]).values(deleted_at=ctx.now, active=False))


def view(row: StoredRow) -> dict[str, Any]:
    channel = CHANNELS[row["channel"]]
    shown: dict[str, Any] = {"id": row["id"], "name": row["name"]}
    if row["channel"] == "webhook":
        shown["url"] = row["config"]["url"]
    else:
        shown |= {"channel": row["channel"], "config": channel.shown(row["config"]), "has_secret": bool(row["secret"])}
    return shown | {
        "events": row["events"],
        "form": row["form_key"],
        "condition": row["condition"],
        "active": row["active"],
        "owner_id": row["owner_id"],
        "created_at": _when(row["created_at"]),
        "updated_at": _when(row["updated_at"]),
    }


def _when(value: datetime | None) -> str | None:
    return None if value is None else dump_datetime(value)
