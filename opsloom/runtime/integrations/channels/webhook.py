"""Webhooks: the payload as JSON, signed per the Standard Webhooks specification.

    webhook-id: msg_<delivery id>       the same on every retry and replay (the idempotency key)
    webhook-timestamp: <unix seconds>   when this attempt was signed
    webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body" with the secret>

The signature is made by the `standardwebhooks` library (the specification's own
reference code), with a `whsec_` secret generated here and shown once. For a day
after a rotation the old secret signs too (two signatures, as the specification
allows), so receivers can switch secrets without missing a message.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from opsloom.platform.errors import FieldError
from opsloom.runtime.integrations.channels.base import Env, Result, Target, answer_result, check_object, check_url


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def signed_headers(secrets: list[str], message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """Signed with every secret given: after a rotation, the new and the old (space-separated)."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets),
    }


class WebhookChannel:
    name = "webhook"
    secret = "generated"

    def check(self, config: Any, allow_private: bool) -> list[FieldError]:
        return check_object(config, {"url"}, {"url"}) or check_url(config, allow_private)

    def shown(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"url": config["url"]}

    async def deliver(self, target: Target, delivery_id: int, payload: Mapping[str, Any], env: Env) -> Result:
        assert target.secret is not None
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        secrets = [target.secret] + ([target.previous_secret] if target.previous_secret else [])
        headers = signed_headers(secrets, f"msg_{delivery_id}", body, datetime.now(UTC))
        return answer_result(await env.outbound.post(target.config["url"], body, headers))
