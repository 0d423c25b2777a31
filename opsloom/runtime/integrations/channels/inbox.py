"""The in-app inbox: a notification for each named user (`GET /api/notifications`, `/notifications`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from opsloom.platform import tables
from opsloom.platform.errors import FieldError
from opsloom.runtime.integrations.channels.base import Env, Result, Target, check_object
from opsloom.runtime.integrations.channels.messages import describe

MAX_USERS = 200


class Inbox:
    name = "inbox"
    secret = "none"

    def check(self, config: Any, allow_private: bool) -> list[FieldError]:
        errors = check_object(config, {"users"}, {"users"})
        if errors:
            return errors
        users = config["users"]
        if not isinstance(users, list) or not 1 <= len(users) <= MAX_USERS:
            return [FieldError("config.users", f"give a list of 1 to {MAX_USERS} user ids")]
        return [
            FieldError(f"config.users[{i}]", "is not a user id")
            for i, user in enumerate(users)
            if not isinstance(user, int) or isinstance(user, bool) or user < 1
        ]

    def shown(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {"users": list(config["users"])}

    async def deliver(self, target: Target, delivery_id: int, payload: Mapping[str, Any], env: Env) -> Result:
        started = time.perf_counter()
        message = describe(payload, env.settings.public_url)
        text = message.title + (f" — {message.text}" if message.text else "")
        u = tables.users
        async with env.db.session(write=True) as session:
            wanted = [int(user) for user in target.config["users"]]
            found = (await session.execute(select(u.c.id).where(u.c.id.in_(wanted), u.c.active))).scalars().all()
            now = datetime.now(UTC)
            rows = [{"user_id": user, "kind": "notice", "text": text[:1000], "created_at": now} for user in found]
            if rows:
                await session.execute(insert(tables.notifications), rows)
        return Result(True, duration_ms=int((time.perf_counter() - started) * 1000))
