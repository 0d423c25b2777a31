"""What every channel is: a unit that checks its settings and delivers one payload.

A payload is either an event as the dispatcher built it (`{"type": "record.created",
"data": {...}, ...}`) or a notification an action sent (`{"type": "notification",
"title", "text", "link"}`). Webhooks send it as it is; the other channels turn it
into a `Message` (`describe`) and write that in their own format.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from opsloom.platform.errors import FieldError
from opsloom.runtime.integrations.outbound import Answer, Outbound, url_problem


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    link: str | None = None


@dataclass(frozen=True)
class Target:
    """A subscription as a channel sees it."""

    id: int
    channel: str
    config: Mapping[str, Any]
    secret: str | None
    previous_secret: str | None = None  # a rotated-out webhook secret, still signed with for a while


@dataclass(frozen=True)
class Result:
    """How one attempt went. `permanent`: do not retry (the target is refused, or gone)."""

    delivered: bool
    status: int | None = None
    body: str | None = None
    duration_ms: int = 0
    error: str | None = None
    permanent: bool = False
    gone: bool = False  # the receiver said 410 Gone: the subscription is switched off


@dataclass
class Env:
    """What channels may use: outgoing HTTP, mail settings, the database (the inbox)."""

    outbound: Outbound
    settings: Any
    db: Any
    extra: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    name: str
    secret: str  # "generated" (webhooks: made by us, shown once), "optional" (robots: theirs), "none"

    def check(self, config: Any, allow_private: bool) -> list[FieldError]: ...

    def shown(self, config: Mapping[str, Any]) -> dict[str, Any]: ...

    async def deliver(self, target: Target, delivery_id: int, payload: Mapping[str, Any], env: Env) -> Result: ...


def check_object(config: Any, allowed: set[str], required: set[str]) -> list[FieldError]:
    if not isinstance(config, Mapping):
        return [FieldError("config", "send an object")]
    errors = [FieldError(f"config.{k}", "is required") for k in sorted(required - set(config))]
    errors += [
        FieldError(f"config.{k}", f"is not a setting of this channel; use {', '.join(sorted(allowed))}")
        for k in sorted(set(config) - allowed)
    ]
    return errors


def check_url(config: Mapping[str, Any], allow_private: bool, key: str = "url") -> list[FieldError]:
    if key in config and (problem := url_problem(config[key], allow_private)):
        return [FieldError(f"config.{key}", problem)]
    return []


def answer_result(answer: Answer, accepted: Callable[[Any], str | None] | None = None) -> Result:
    """A 2xx is delivered (if the receiver's own answer says so: `accepted` names its error)."""
    status, body, ms = answer.status, answer.text, answer.duration_ms
    if status == 410:
        return Result(False, status, body, ms, "the receiver answered 410 Gone", permanent=True, gone=True)
    if not 200 <= status < 300:
        return Result(False, status, body, ms, f"the receiver answered {status}")
    if accepted is not None:
        try:
            error = accepted(json.loads(answer.body or b"null"))
        except ValueError:
            error = "the receiver's answer is not JSON"
        if error:
            return Result(False, status, body, ms, error)
    return Result(True, status, body, ms)
