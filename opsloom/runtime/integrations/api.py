"""HTTP edge of integrations: an app's webhooks and notification channels, for the app's admins.

GET|POST          /api/apps/{app}/webhooks            (POST answers the secret, once)
GET|PATCH|DELETE  /api/apps/{app}/webhooks/{id}
POST              /api/apps/{app}/webhooks/{id}/secret   a new secret, shown once
GET               /api/apps/{app}/webhooks/{id}/deliveries[/{delivery}]
POST              /api/apps/{app}/webhooks/{id}/deliveries/{delivery}/replay
the same under    /api/apps/{app}/channels  (DingTalk, WeCom, Feishu, e-mail, inbox),
plus POST         /api/apps/{app}/channels/{id}/test     queue a test message (the notify action)
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from opsloom.platform.api_document import json_body
from opsloom.platform.http import authenticated, context_of, principal_of, read_json, settings_of
from opsloom.platform.outbox import TOPICS
from opsloom.platform.permissions import require_app_admin
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.integrations import deliveries, subscriptions
from opsloom.runtime.integrations.channels import CHANNELS
from opsloom.runtime.integrations.notify import notify

router = APIRouter(prefix="/api/apps/{app}", tags=["integrations"], dependencies=[Depends(authenticated)])

SubId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The webhook's or channel's id")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The delivery's id")]
EVENTS_SCHEMA = {"type": "array", "items": {"enum": [*TOPICS, "*"]}}
COMMON = {
    "name": {"type": "string", "maxLength": 120},
    "events": EVENTS_SCHEMA,
    "form": {"type": ["string", "null"], "description": "Only this form's events"},
    "condition": {"type": ["object", "null"], "description": "A condition on the record (needs a form)"},
    "active": {"type": "boolean"},
}
WEBHOOK_SCHEMA = {"type": "object", "properties": {"url": {"type": "string", "format": "uri"}, **COMMON}}
CHANNEL_SCHEMA = {
    "type": "object",
    "properties": {
        "channel": {"enum": [k for k in CHANNELS if k != "webhook"]},
        "config": {"type": "object", "description": "url (robots), to (email) or users (inbox)"},
        "secret": {"type": ["string", "null"], "description": "A DingTalk or Feishu robot's signing secret"},
        **COMMON,
    },
}


async def _admin(request: Request, app: str) -> None:
    async with request.app.state.db.session() as session:
        await subscriptions.require_app(session, app)
        await require_app_admin(session, principal_of(request), app)


async def _list(request: Request, app: str, webhook: bool) -> dict[str, Any]:
    await _admin(request, app)
    async with request.app.state.db.session() as session:
        return {"items": await subscriptions.listed(session, app, webhook=webhook)}


async def _create(request: Request, forms: Any, app: str, webhook: bool) -> dict[str, Any]:
    document = await read_json(request)
    await _admin(request, app)
    allow = settings_of(request).outbound_allow_private
    async with request.app.state.db.session(write=True) as session:
        values = await subscriptions.checked(session, forms, app, document, webhook=webhook, allow_private=allow)
        return await subscriptions.create(session, context_of(request), app, values)


async def _get(request: Request, app: str, sub_id: int, webhook: bool) -> dict[str, Any]:
    await _admin(request, app)
    async with request.app.state.db.session() as session:
        return subscriptions.view(await subscriptions.load(session, app, sub_id, webhook=webhook))


async def _patch(request: Request, forms: Any, app: str, sub_id: int, webhook: bool) -> dict[str, Any]:
    document = await read_json(request)
    await _admin(request, app)
    allow = settings_of(request).outbound_allow_private
    async with request.app.state.db.session(write=True) as session:
        row = await subscriptions.load(session, app, sub_id, webhook=webhook)
        values = await subscriptions.checked(
            session, forms, app, document, webhook=webhook, allow_private=allow, current=row
        )
        return await subscriptions.change(session, context_of(request), row, values)


async def _delete(request: Request, app: str, sub_id: int, webhook: bool) -> Response:
    await _admin(request, app)
    async with request.app.state.db.session(write=True) as session:
        row = await subscriptions.load(session, app, sub_id, webhook=webhook)
        await subscriptions.remove(session, context_of(request), row)
    return Response(status_code=204)


async def _log(
    request: Request, app: str, sub_id: int, webhook: bool, status: str | None, limit: int, before: int | None
) -> dict[str, Any]:
    await _admin(request, app)
    async with request.app.state.db.session() as session:
        await subscriptions.load(session, app, sub_id, webhook=webhook)
        return await deliveries.log(session, sub_id, status, limit, before)


async def _delivery(request: Request, app: str, sub_id: int, delivery_id: int, webhook: bool) -> dict[str, Any]:
    await _admin(request, app)
    async with request.app.state.db.session() as session:
        await subscriptions.load(session, app, sub_id, webhook=webhook)
        return await deliveries.one(session, sub_id, delivery_id)


async def _replay(request: Request, app: str, sub_id: int, delivery_id: int, webhook: bool) -> dict[str, Any]:
    await _admin(request, app)
    async with request.app.state.db.session(write=True) as session:
        sub = await subscriptions.load(session, app, sub_id, webhook=webhook)
        return await deliveries.replay(session, context_of(request), sub, delivery_id)


Status = Annotated[str | None, Query(description="pending, sending, delivered, dead or skipped")]
Limit = Annotated[int, Query(ge=1, le=200)]
Before = Annotated[int | None, Query(ge=1, description="next_before of the previous page")]

# ------------------------------------------------------------------ webhooks


@router.get("/webhooks", summary="The app's webhooks")
async def list_webhooks(app: str, request: Request) -> dict[str, Any]:
    return await _list(request, app, True)


@router.post(
    "/webhooks",
    status_code=201,
    summary="Add a webhook (its secret is answered once)",
    openapi_extra=json_body(WEBHOOK_SCHEMA),
)
async def create_webhook(app: str, request: Request, forms: Forms) -> dict[str, Any]:
    return await _create(request, forms, app, True)


@router.get("/webhooks/{sub_id}", summary="A webhook")
async def get_webhook(app: str, sub_id: SubId, request: Request) -> dict[str, Any]:
    return await _get(request, app, sub_id, True)


@router.patch("/webhooks/{sub_id}", summary="Change a webhook", openapi_extra=json_body(WEBHOOK_SCHEMA))
async def patch_webhook(app: str, sub_id: SubId, request: Request, forms: Forms) -> dict[str, Any]:
    return await _patch(request, forms, app, sub_id, True)


@router.delete("/webhooks/{sub_id}", status_code=204, summary="Delete a webhook")
async def delete_webhook(app: str, sub_id: SubId, request: Request) -> Response:
    return await _delete(request, app, sub_id, True)


@router.post("/webhooks/{sub_id}/secret", summary="Give a webhook a new secret (answered once)")
async def rotate_webhook_secret(app: str, sub_id: SubId, request: Request) -> dict[str, Any]:
    await _admin(request, app)
    async with request.app.state.db.session(write=True) as session:
        row = await subscriptions.load(session, app, sub_id, webhook=True)
        return await subscriptions.rotate_secret(session, context_of(request), row)


@router.get("/webhooks/{sub_id}/deliveries", summary="A webhook's delivery log, newest first")
async def webhook_deliveries(
    app: str, sub_id: SubId, request: Request, status: Status = None, limit: Limit = 50, before: Before = None
) -> dict[str, Any]:
    return await _log(request, app, sub_id, True, status, limit, before)


@router.get("/webhooks/{sub_id}/deliveries/{delivery_id}", summary="A delivery: its payload and every attempt")
async def webhook_delivery(app: str, sub_id: SubId, delivery_id: DeliveryId, request: Request) -> dict[str, Any]:
    return await _delivery(request, app, sub_id, delivery_id, True)


@router.post("/webhooks/{sub_id}/deliveries/{delivery_id}/replay", summary="Send a delivery again")
async def replay_webhook_delivery(app: str, sub_id: SubId, delivery_id: DeliveryId, request: Request) -> dict[str, Any]:
    return await _replay(request, app, sub_id, delivery_id, True)


# ------------------------------------------------------------------ channels


@router.get("/channels", summary="The app's notification channels")
async def list_channels(app: str, request: Request) -> dict[str, Any]:
    return await _list(request, app, False)


@router.post(
    "/channels", status_code=201, summary="Add a notification channel", openapi_extra=json_body(CHANNEL_SCHEMA)
)
async def create_channel(app: str, request: Request, forms: Forms) -> dict[str, Any]:
    return await _create(request, forms, app, False)


@router.get("/channels/{sub_id}", summary="A notification channel")
async def get_channel(app: str, sub_id: SubId, request: Request) -> dict[str, Any]:
    return await _get(request, app, sub_id, False)


@router.patch("/channels/{sub_id}", summary="Change a notification channel", openapi_extra=json_body(CHANNEL_SCHEMA))
async def patch_channel(app: str, sub_id: SubId, request: Request, forms: Forms) -> dict[str, Any]:
    return await _patch(request, forms, app, sub_id, False)


@router.delete("/channels/{sub_id}", status_code=204, summary="Delete a notification channel")
async def delete_channel(app: str, sub_id: SubId, request: Request) -> Response:
    return await _delete(request, app, sub_id, False)


@router.post("/channels/{sub_id}/test", summary="Queue a test message to a channel")
async def test_channel(app: str, sub_id: SubId, request: Request) -> dict[str, Any]:
    await _admin(request, app)
    ctx = context_of(request)
    async with request.app.state.db.session(write=True) as session:
        row = await subscriptions.load(session, app, sub_id, webhook=False)
        text = f"This is a test message from Opsloom, sent by {ctx.principal.name or ctx.principal.email}."
        delivery = await notify(session, app, row["id"], f"Opsloom: {row['name']}", text, ctx.now)
    return {"delivery_id": delivery}


@router.get("/channels/{sub_id}/deliveries", summary="A channel's delivery log, newest first")
async def channel_deliveries(
    app: str, sub_id: SubId, request: Request, status: Status = None, limit: Limit = 50, before: Before = None
) -> dict[str, Any]:
    return await _log(request, app, sub_id, False, status, limit, before)


@router.get("/channels/{sub_id}/deliveries/{delivery_id}", summary="A delivery: its payload and every attempt")
async def channel_delivery(app: str, sub_id: SubId, delivery_id: DeliveryId, request: Request) -> dict[str, Any]:
    return await _delivery(request, app, sub_id, delivery_id, False)


@router.post("/channels/{sub_id}/deliveries/{delivery_id}/replay", summary="Send a delivery again")
async def replay_channel_delivery(app: str, sub_id: SubId, delivery_id: DeliveryId, request: Request) -> dict[str, Any]:
    return await _replay(request, app, sub_id, delivery_id, False)
