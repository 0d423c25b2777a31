"""Chat-group robots: DingTalk, WeCom (WeChat Work) and Feishu (Lark), each in its own format.

DingTalk  POST <webhook url>&timestamp=<ms>&sign=<urlencoded base64 HMAC-SHA256(key=secret,
          msg="{ms}\\n{secret}")>; a markdown message, or an actionCard with a button when
          there is a link. Answers {"errcode": 0} when it took the message.
WeCom     POST <webhook url with ?key=...>; markdown, at most 4096 bytes. Answers {"errcode": 0}.
Feishu    POST <webhook url>; an interactive card, with "timestamp" (seconds) and "sign"
          (base64 HMAC-SHA256 with key "{ts}\\n{secret}" over an empty message) in the body
          when the robot has a secret. Answers {"code": 0} (older robots: {"StatusCode": 0}).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

from opsloom.platform.errors import FieldError
from opsloom.runtime.integrations.channels.base import (
    Env,
    Message,
    Result,
    Target,
    answer_result,
    check_object,
    check_url,
)
from opsloom.runtime.integrations.channels.messages import describe

WECOM_MAX_BYTES = 4096


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


def feishu_sign(secret: str, timestamp: int) -> str:
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _errcode(answer: Any) -> str | None:
    if isinstance(answer, Mapping) and answer.get("errcode") == 0:
        return None
    return f"the robot refused the message: {answer}"


def _feishu_code(answer: Any) -> str | None:
    if isinstance(answer, Mapping) and (answer.get("code") == 0 or answer.get("StatusCode") == 0):
        return None
    return f"the robot refused the message: {answer}"


def _markdown(message: Message) -> str:
    text = f"### {message.title}\n\n{message.text}" if message.text else f"### {message.title}"
    return text + (f"\n\n[{message.link}]({message.link})" if message.link else "")


def _fit_bytes(text: str, limit: int) -> str:
    data = text.encode()
    return text if len(data) <= limit else data[: limit - 3].decode("utf-8", "ignore") + "..."


class Robot:
    """What the three robots share: a webhook URL, an optional signing secret, a JSON post."""

    name = ""
    secret = "optional"

    def check(self, config: Any, allow_private: bool) -> list[FieldError]:
        return check_object(config, {"url"}, {"url"}) or check_url(config, allow_private)

    def shown(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"url": _masked(config["url"])}

    async def deliver(self, target: Target, delivery_id: int, payload: Mapping[str, Any], env: Env) -> Result:
        message = describe(payload, env.settings.public_url)
        url, body, accepted = self.request(target, message)
        data = json.dumps(body, ensure_ascii=False).encode()
        answer = await env.outbound.post(url, data, {"content-type": "application/json; charset=utf-8"})
        return answer_result(answer, accepted)

    def request(self, target: Target, message: Message) -> tuple[str, dict[str, Any], Any]:
        raise NotImplementedError


def _masked(url: str) -> str:
    """A robot's URL is its password (access_token, key): only its start is shown again."""
    return url.split("?", 1)[0] + ("?…" if "?" in url else "")


class DingTalk(Robot):
    name = "dingtalk"

    def request(self, target: Target, message: Message) -> tuple[str, dict[str, Any], Any]:
        url = target.config["url"]
        if target.secret:
            ms = int(time.time() * 1000)
            url += ("&" if "?" in url else "?") + f"timestamp={ms}&sign={dingtalk_sign(target.secret, ms)}"
        if message.link:
            card = {
                "title": message.title,
                "text": _markdown(message),
                "singleTitle": "查看 Open",
                "singleURL": message.link,
            }
            return url, {"msgtype": "actionCard", "actionCard": card}, _errcode
        return url, {"msgtype": "markdown", "markdown": {"title": message.title, "text": _markdown(message)}}, _errcode


class WeCom(Robot):
    name = "wecom"
    secret = "none"  # the key in the URL is the credential

    def request(self, target: Target, message: Message) -> tuple[str, dict[str, Any], Any]:
        content = _fit_bytes(_markdown(message), WECOM_MAX_BYTES)
        return target.config["url"], {"msgtype": "markdown", "markdown": {"content": content}}, _errcode


class Feishu(Robot):
    name = "feishu"

    def request(self, target: Target, message: Message) -> tuple[str, dict[str, Any], Any]:
        elements: list[dict[str, Any]] = [{"tag": "markdown", "content": message.text or message.title}]
        if message.link:
            button = {"tag": "button", "text": {"tag": "plain_text", "content": "查看 Open"}, "url": message.link}
            elements.append({"tag": "action", "actions": [button | {"type": "primary"}]})
        card = {"header": {"title": {"tag": "plain_text", "content": message.title}}, "elements": elements}
        body: dict[str, Any] = {"msg_type": "interactive", "card": card}
        if target.secret:
            ts = int(time.time())
            body = {"timestamp": str(ts), "sign": feishu_sign(target.secret, ts)} | body
        return target.config["url"], body, _feishu_code
