"""The languages Opsloom speaks, and a translatable label read in one of them.

A label in metadata is a plain string or translations by locale
(`{"zh-CN": "部门负责人", "en": "Department head"}`). Pages pick the reader's
language; texts written for someone who is not reading (notifications, mail)
pick the language they chose, else `DEFAULT_LOCALE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"


def label_text(value: Any, locale: str) -> str:
    """The label in `locale`, else in the default locale, else in English, else its first translation."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        for candidate in (locale, DEFAULT_LOCALE, "en"):
            if value.get(candidate):
                return str(value[candidate])
        return str(next((v for v in value.values() if v), ""))
    return str(value)


def label_translations(value: Any) -> dict[str, str]:
    """The label as each supported locale reads it: {locale: text}."""
    return {locale: label_text(value, locale) for locale in LOCALES}
