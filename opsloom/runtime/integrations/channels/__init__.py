"""Notification channels, one unit each, in one registry: the only place a channel is named."""

from __future__ import annotations

from opsloom.runtime.integrations.channels.base import Channel, Env, Message, Result, Target
from opsloom.runtime.integrations.channels.email import Email
from opsloom.runtime.integrations.channels.inbox import Inbox
from opsloom.runtime.integrations.channels.robots import DingTalk, Feishu, WeCom
from opsloom.runtime.integrations.channels.webhook import WebhookChannel

CHANNELS: dict[str, Channel] = {c.name: c for c in (WebhookChannel(), DingTalk(), WeCom(), Feishu(), Email(), Inbox())}

__all__ = ["CHANNELS", "Channel", "Env", "Message", "Result", "Target"]
