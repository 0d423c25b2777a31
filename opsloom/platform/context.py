"""Who is acting, and when: passed explicitly to every service call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo


@dataclass(frozen=True)
class Principal:
    user_id: int | None = None
    department_id: int | None = None
    email: str | None = None
    is_admin: bool = False
    roles: frozenset[str] = field(default_factory=frozenset)


SYSTEM = Principal(is_admin=True)


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    now: datetime
    zone: tzinfo = UTC

    @classmethod
    def for_now(cls, principal: Principal = SYSTEM, zone: tzinfo = UTC) -> RequestContext:
        return cls(principal=principal, now=datetime.now(UTC), zone=zone)
