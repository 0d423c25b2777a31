"""The settings an administrator may change at run time: what each accepts, and which value wins.

Each is also an environment variable (`OPSLOOM_<NAME>`, see settings.py). The value used is the
environment's when it is set there, else the stored one (`opsloom_site_settings`, changed on the
administration page), else the default below. The model is pure: it validates and resolves; the
store (`settings_store.py`) reads, caches and writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from opsloom.platform.errors import FieldError

CharacterClass = Literal["lower", "upper", "digit", "symbol"]
CHARACTER_CLASSES: tuple[CharacterClass, ...] = ("lower", "upper", "digit", "symbol")
MEGABYTE = 1024 * 1024
# Never echoed back: the page and the API show only whether it is set.
SECRET_SETTINGS = frozenset({"smtp_password"})


class SiteSettings(BaseModel):
    """The run-time settings, typed and validated; one frozen value per resolution."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = Field(default="UTC", max_length=64, description="Zone for dates, 'today' and schedules")
    default_language: Literal["zh-CN", "en"] = Field(
        default="zh-CN", description="Language for people who chose none (pages after the browser, messages)"
    )
    max_upload_bytes: int = Field(default=25 * MEGABYTE, ge=1024, le=10 * 1024 * MEGABYTE)
    max_import_bytes: int = Field(default=200 * MEGABYTE, ge=1024, le=10 * 1024 * MEGABYTE)
    password_min_length: int = Field(default=8, ge=6, le=128)
    password_classes: tuple[CharacterClass, ...] = Field(
        default=(), description="Kinds of character every new password must contain"
    )
    session_lifetime_hours: int = Field(default=7 * 24, ge=1, le=24 * 365)
    login_max_failures: int = Field(default=5, ge=1, le=100, description="Failed logins before an account waits")
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    smtp_host: str = Field(default="", max_length=253)
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = Field(default="", max_length=254)
    smtp_password: str = Field(default="", max_length=254)
    smtp_from: str = Field(default="opsloom@localhost", min_length=3, max_length=254)
    smtp_starttls: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError("use an IANA time zone such as Asia/Shanghai or Europe/Berlin")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("use an IANA time zone such as Asia/Shanghai or Europe/Berlin") from None
        return value

    @field_validator("password_classes")
    @classmethod
    def _each_class_once(cls, value: tuple[CharacterClass, ...]) -> tuple[CharacterClass, ...]:
        return tuple(c for c in CHARACTER_CLASSES if c in value)

    @field_validator("smtp_from")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if "@" not in value or any(c.isspace() for c in value.strip()):
            raise ValueError("use an e-mail address like opsloom@example.com")
        return value.strip()

    @field_validator("smtp_host", "smtp_username")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


@cache
def zone_names() -> tuple[str, ...]:
    """The IANA zone names, sorted (for a page's suggestions)."""
    return tuple(sorted(_zones()))


NAMES: tuple[str, ...] = tuple(SiteSettings.model_fields)
DEFAULTS = SiteSettings()


def setting_problems(values: Mapping[str, Any]) -> list[FieldError]:
    """What is wrong with these values (each by its name), as the API and the page report it."""
    errors = [FieldError(name, "is not a setting") for name in sorted(set(values) - set(NAMES))]
    try:
        SiteSettings.model_validate({k: v for k, v in values.items() if k in NAMES})
    except ValidationError as error:
        for e in error.errors():
            where = ".".join(str(p) for p in e["loc"]) or "$"
            message = e["msg"].removeprefix("Value error, ")
            errors.append(FieldError(where, message))
    return errors


Source = Literal["environment", "stored", "default"]


@dataclass(frozen=True)
class ResolvedSettings:
    """The settings in force, where each value came from, and the stored document's version."""

    settings: SiteSettings
    sources: Mapping[str, Source]
    version: int = 0
    stored: Mapping[str, Any] = field(default_factory=dict)

    def locked(self, name: str) -> bool:
        """Set in the environment: the page cannot change it."""
        return self.sources.get(name) == "environment"


def resolve(environment: Mapping[str, Any], stored: Mapping[str, Any], version: int = 0) -> ResolvedSettings:
    """Environment over stored over default, one setting at a time.

    `environment`: only the values really set there (an unset variable is absent). A stored value that no
    longer validates (a zone a newer tzdata dropped, a limit out of today's range) is ignored, not fatal."""
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for name in NAMES:
        if name in environment:
            values[name], sources[name] = environment[name], "environment"
        elif name in stored and not setting_problems({name: stored[name]}):
            values[name], sources[name] = stored[name], "stored"
        else:
            sources[name] = "default"
    try:
        settings = SiteSettings.model_validate(values)
    except ValidationError:  # an environment value the page's range refuses: the environment still wins
        settings = SiteSettings.model_construct(**{**DEFAULTS.model_dump(), **values})
    return ResolvedSettings(settings, sources, version, dict(stored))


def password_problem(password: object, settings: SiteSettings = DEFAULTS) -> str | None:
    """What a new password lacks under the policy, in words the person can act on; None when it is good."""
    if not isinstance(password, str) or len(password) < settings.password_min_length:
        return f"use at least {settings.password_min_length} characters"
    if len(password) > 256:
        return "use at most 256 characters"
    missing = [c for c in settings.password_classes if not _HAS[c](password)]
    if missing:
        return "add " + ", ".join(CLASS_WORDS[c] for c in missing)
    return None


_HAS = {
    "lower": lambda text: any(c.islower() for c in text),
    "upper": lambda text: any(c.isupper() for c in text),
    "digit": lambda text: any(c.isdigit() for c in text),
    "symbol": lambda text: any(not c.isalnum() and not c.isspace() for c in text),
}
CLASS_WORDS = {
    "lower": "a lower-case letter",
    "upper": "an upper-case letter",
    "digit": "a digit",
    "symbol": "a symbol such as ! or #",
}
