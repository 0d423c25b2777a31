"""Who is acting, and when: passed explicitly to every service call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from opsloom.platform.site_settings import DEFAULTS, SiteSettings


@dataclass(frozen=True)
class Principal:
    """An authenticated user, as one request sees them.

    An API token may be limited to some apps (`token_apps`) and to reading
    (`can_write`). Such a token never carries platform-wide power: a platform
    admin's app-limited token is `is_admin=False` and administers only its
    apps (`admin_apps`), as an app admin of each would.
    """

    user_id: int | None = None
    department_id: int | None = None
    email: str | None = None
    name: str | None = None
    locale: str | None = None  # the language they chose; None: their browser decides
    # Platform-wide power (users, departments, every app, new apps).
    is_admin: bool = False
    # How the request authenticated: "session", "token", or "system" (CLI, workers).
    via: str = "system"
    token_apps: frozenset[str] | None = None
    can_write: bool = True
    csrf_token: str | None = None
    # Apps this principal administers whatever its roles say.
    admin_apps: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.is_admin and self.token_apps is not None:
            object.__setattr__(self, "is_admin", False)
            object.__setattr__(self, "admin_apps", self.admin_apps | self.token_apps)

    def may_use_app(self, app: str) -> bool:
        return self.token_apps is None or app in self.token_apps

    def administers(self, app: str) -> bool:
        """Admin of `app` by platform power (not by a role: the policy service reads those)."""
        return self.may_use_app(app) and (self.is_admin or app in self.admin_apps)


SYSTEM = Principal(is_admin=True, name="system")


@dataclass(frozen=True)
class RequestContext:
    principal: Principal
    now: datetime
    zone: tzinfo = UTC
    ip: str | None = None
    # The run-time settings in force (password policy, session lifetime, default language...).
    site: SiteSettings = DEFAULTS

    @classmethod
    def for_now(
        cls, principal: Principal = SYSTEM, zone: tzinfo = UTC, ip: str | None = None, site: SiteSettings = DEFAULTS
    ) -> RequestContext:
        return cls(principal=principal, now=datetime.now(UTC), zone=zone, ip=ip, site=site)

    @classmethod
    def with_site(cls, principal: Principal, site: SiteSettings, ip: str | None = None) -> RequestContext:
        """Now, in the zone the settings name."""
        return cls.for_now(principal, site.zone, ip, site)
