"""E-mail over SMTP (platform/mail.py), to the addresses a channel names.

The server is the operator's (the mail settings on /admin/settings, or `OPSLOOM_SMTP_HOST`, `_PORT`,
`_USERNAME`, `_PASSWORD`, `_FROM`, `_STARTTLS`), not the app admin's: an app can choose recipients,
not relays.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Mapping
from typing import Any

import regex

from opsloom.platform.errors import FieldError
from opsloom.platform.mail import new_message, send_mail
from opsloom.runtime.integrations.channels.base import Env, Result, Target, check_object
from opsloom.runtime.integrations.channels.messages import describe

ADDRESS = regex.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}$")
MAX_RECIPIENTS = 50


class Email:
    name = "email"
    secret = "none"

    def check(self, config: Any, allow_private: bool) -> list[FieldError]:
        errors = check_object(config, {"to"}, {"to"})
        if errors:
            return errors
        to = config["to"]
        if not isinstance(to, list) or not 1 <= len(to) <= MAX_RECIPIENTS:
            return [FieldError("config.to", f"give a list of 1 to {MAX_RECIPIENTS} e-mail addresses")]
        return [
            FieldError(f"config.to[{i}]", "is not an e-mail address")
            for i, address in enumerate(to)
            if not isinstance(address, str) or not ADDRESS.match(address)
        ]

    def shown(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"to": list(config["to"])}

    async def deliver(self, target: Target, delivery_id: int, payload: Mapping[str, Any], env: Env) -> Result:
        settings = env.settings
        store = env.extra.get("site")
        smtp = (await store.fresh(env.db)).settings if store else settings
        if not smtp.smtp_host:
            return Result(False, error="no SMTP server is configured (Administration > Settings, or OPSLOOM_SMTP_HOST)")
        message = describe(payload, settings.public_url)
        text = message.text + (f"\n\n{message.link}" if message.link else "")
        mail = new_message(smtp, list(target.config["to"]), message.title, text)
        mail["Message-ID"] = f"<delivery-{delivery_id}@opsloom>"  # the same on a retry: mail clients dedupe
        started = time.perf_counter()
        try:
            await send_mail(smtp, mail, settings.outbound_timeout)
        except (OSError, smtplib.SMTPException) as error:
            return Result(False, error=f"SMTP: {error}"[:1000], duration_ms=_ms(started))
        return Result(True, duration_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
