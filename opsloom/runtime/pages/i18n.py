"""Message catalogs (zh-CN, en), the locale a request is served in, and translated metadata labels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from fastapi import Request

from opsloom.platform.locales import DEFAULT_LOCALE, label_text
from opsloom.platform.locales import LOCALES as LOCALES  # the pages' languages are the platform's

LOCALE_COOKIE = "opsloom_locale"
FOLLOW_BROWSER = "browser"  # what the language switcher posts to forget a chosen language
LOCALE_NAMES = {"zh-CN": "中文", "en": "English"}
CATALOG_FOLDERS = [Path(__file__).parent / "locales"]  # designer and admin pages add their own (`add_catalog_folder`)


# A message is a text, or its plural forms by CLDR category ({"one": "{count} row", "other": "{count} rows"}),
# chosen by the `count` it is given.
Message = str | dict[str, str]


@cache
def catalog(locale: str) -> dict[str, Message]:
    """Every message of a locale: one file per area of the pages (`locales/<locale>/*.json`)."""
    messages: dict[str, Message] = {}
    for folder in CATALOG_FOLDERS:
        for part in sorted((folder / locale).glob("*.json")):
            messages.update(json.loads(part.read_text(encoding="utf-8")))
    return messages


def add_catalog_folder(folder: Path) -> None:
    """Another part of the pages brings its messages (`<folder>/<locale>/*.json`); called when it is imported."""
    if folder not in CATALOG_FOLDERS:
        CATALOG_FOLDERS.append(folder)
        catalog.cache_clear()


@cache
def _plural_rules(locale: str) -> Any:
    return Locale.parse(locale, sep="-").plural_form


def supported(value: str | None) -> str | None:
    """The supported locale a tag such as `en-GB`, `zh`, `zh-Hans-CN` means, if any."""
    if not value:
        return None
    tag = value.strip().lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str) -> str | None:
    """The best supported locale in an Accept-Language header, by quality then order."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = supported(tag)
        if locale and quality > 0:
            ranked.append((-quality, position, locale))
    return min(ranked)[2] if ranked else None


def choose_locale(request: Request, user_locale: str | None = None) -> str:
    """The cookie the switcher sets, else the language the user chose, else the browser's, else zh-CN.

    A user who never chose one (`locale` NULL) is served in their browser's language, and a browser that
    names none of ours in the default language the settings give."""
    site = getattr(request.app.state, "site_settings", None)
    return (
        supported(request.cookies.get(LOCALE_COOKIE))
        or supported(user_locale)
        or from_accept_language(request.headers.get("accept-language", ""))
        or (site.current.settings.default_language if site else DEFAULT_LOCALE)
    )


@dataclass(frozen=True)
class Translator:
    locale: str

    def __call__(self, key: str, **params: Any) -> str:
        message = catalog(self.locale).get(key) or catalog("en").get(key) or key
        text = message if isinstance(message, str) else self._plural(message, params.get("count"))
        return text.format(**params) if params else text

    def _plural(self, forms: dict[str, str], count: Any) -> str:
        category = _plural_rules(self.locale)(count) if isinstance(count, int) else "other"
        return forms.get(category) or forms["other"]

    def known(self, key: str, default: str) -> str:
        """The message for `key`, or `default` when no catalog has it (e.g. a value named by data)."""
        return self(key) if key in catalog(self.locale) or key in catalog("en") else default

    def label(self, value: Any) -> str:
        """A metadata label or text: a plain string, or translations by locale."""
        return label_text(value, self.locale)
