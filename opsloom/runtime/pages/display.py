"""Record values as text for people: numbers, dates and times in the reader's locale and zone.

The API speaks ISO dates and decimal strings; pages show `1,234.50` or
`2026年1月31日`, with labels for options and names for linked records and people.
Formatting is Babel's (CLDR data), so both languages follow their conventions.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from opsloom.runtime.fields import FieldSpec
from opsloom.runtime.pages.i18n import Translator

BABEL_LOCALES = {"zh-CN": "zh_Hans_CN", "en": "en"}
NUMBER_TYPES = ("integer", "decimal")


def babel_locale(locale: str) -> str:
    return BABEL_LOCALES.get(locale, "en")


def number_text(value: Any, locale: str, scale: int | None = None) -> str:
    """A number with the locale's grouping; a decimal keeps its scale (`1,200.50`)."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if scale is None:
        scale = max(0, -number.as_tuple().exponent) if isinstance(number.as_tuple().exponent, int) else 0
    pattern = "#,##0" + ("." + "0" * scale if scale else "")
    return format_decimal(number, format=pattern, locale=babel_locale(locale))


def date_text(value: Any, locale: str) -> str:
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return format_date(day, format="medium", locale=babel_locale(locale))


def datetime_text(value: Any, locale: str, zone: tzinfo) -> str:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return format_datetime(moment, format="medium", tzinfo=zone, locale=babel_locale(locale))


def _kind(spec: FieldSpec) -> str:
    """The type a value is shown as: a formula as the type it produces (a number is a decimal)."""
    if spec.type != "formula":
        return spec.type
    result = spec.get("result", "number")
    return "decimal" if result == "number" else result


def _scale(spec: FieldSpec) -> int:
    return 0 if spec.type == "integer" else int(spec.get("scale", 2))


def _label_of(t: Translator, linked: dict[str, Any]) -> str:
    """A linked record by its title (or "no access" when the reader may not read it), a person by name."""
    if linked.get("access") is False:
        return t("value.no_access")
    shown = linked.get("title", linked.get("name"))
    return str(shown) if shown not in (None, "") else f"#{linked.get('id')}"


def value_text(t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
    """A stored value (as the API writes it, links expanded) as one line of text."""
    if spec.type == "subform":
        return t("value.rows", count=len(value) if isinstance(value, list) else 0)
    if value is None or value == "" or value == []:
        return ""
    kind = _kind(spec)
    if kind == "boolean":
        return t("value.yes") if value else t("value.no")
    if kind in ("select", "multiselect"):
        labels = {o.get("value"): o.get("label") for o in spec.get("options") or ()}
        chosen = value if isinstance(value, list) else [value]
        return ", ".join(t.label(labels.get(v, v)) for v in chosen)
    if kind == "attachment":
        return ", ".join(str(f.get("name", "")) for f in value if isinstance(f, dict)) or t(
            "value.files", count=len(value)
        )
    try:
        if kind in NUMBER_TYPES:
            return number_text(value, t.locale, _scale(spec))
        if kind == "date":
            return date_text(value, t.locale)
        if kind == "datetime":
            return datetime_text(value, t.locale, zone)
    except (ValueError, TypeError):
        return str(value)
    if isinstance(value, dict):
        return _label_of(t, value)
    if isinstance(value, list):
        return ", ".join(_label_of(t, v) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


def record_label(form: Any, record: dict[str, Any]) -> str:
    """How people name a record: its number when the form numbers records, else its id."""
    numbered = next((s.key for s in form.fields if s.type == "autonumber" and record.get(s.key)), None)
    return str(record[numbered]) if numbered else f"#{record.get('id')}"
