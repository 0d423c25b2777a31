"""Who is acting, and when: passed explicitly to every service call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo


@dataclass(frozen=True)
class Principal:
    """An authenticated user, as one request sees them."""

    user_id: int | None = None
    department_id: int | None = None
    email: str | None = None
    name: str | None = None
    locale: str | None = None  # the language they chose; None: their browser decides
    is_admin: bool = False
    # How the request authenticated: "session", "token", or "system" (CLI, workers).
    via: str = "system"
    # An API token may be limited to some apps and to reading.
    token_apps: frozenset[str] | None = None
    can_write: bool = True
    csrf_token: str | None = None

    def may_use_app(self, app: str) -> bool:
        return self.token_apps is None or app in self.token_apps


SYSTEM = Principal(is_admin=True, name="system")


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    now: datetime
    zone: tzinfo = UTC
    ip: str | None = None

    @classmethod
    def for_now(cls, principal: Principal = SYSTEM, zone: tzinfo = UTC, ip: str | None = None) -> RequestContext:
        return cls(principal=principal, now=datetime.now(UTC), zone=zone, ip=ip)
