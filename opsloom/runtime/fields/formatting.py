"""Values as text for people: numbers, dates and times in the reader's locale and zone.

Formatting is Babel's (CLDR data), so both languages follow their conventions
(`1,234.50`, `2026年1月31日`).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

BABEL_LOCALES = {"zh-CN": "zh_Hans_CN", "en": "en"}


def babel_locale(locale: str) -> str:
    return BABEL_LOCALES.get(locale, "en")


def number_text(value: Any, locale: str, scale: int | None = None) -> str:
    """A number with the locale's grouping; a decimal keeps its scale (`1,200.50`)."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if scale is None:
        exponent = number.as_tuple().exponent
        scale = max(0, -exponent) if isinstance(exponent, int) else 0
    pattern = "#,##0" + ("." + "0" * scale if scale else "")
    return format_decimal(number, format=pattern, locale=babel_locale(locale))


def date_text(value: Any, locale: str) -> str:
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return format_date(day, format="medium", locale=babel_locale(locale))


def datetime_text(value: Any, locale: str, zone: tzinfo) -> str:
    moment = as_moment(value)
    return format_datetime(moment, format="medium", tzinfo=zone, locale=babel_locale(locale))


def as_moment(value: Any) -> datetime:
    """A datetime, or its ISO text as the API writes it (`...Z`)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
