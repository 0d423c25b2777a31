"""Converting a stored value from one field definition to another, exactly or not at all."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from opsloom.runtime.field_types import FIELD_TYPES, FieldSpec, Invalid

TEXT_TYPES = frozenset({"text", "textarea", "email", "phone", "url"})
_PLAIN_NUMBER = re.compile(r"\s*-?[0-9]+(\.[0-9]+)?\s*")


def convert_value(old: FieldSpec, new: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
    """The value as the new field holds it, or `Invalid` saying why it does not fit."""
    if value is None:
        return None
    if new.type == "multiselect" and old.type == "multiselect":
        allowed = new.option_values()
        if dropped := [v for v in value if v not in allowed]:
            raise Invalid(f"holds the removed option(s) {', '.join(dropped)}")
        return value
    if new.type == "date" and isinstance(value, datetime):
        return value.astimezone(zone).date()
    if new.type == "datetime" and isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time(), zone).astimezone(UTC)
    raw = FIELD_TYPES[old.type].dump(old, value)
    raw = _reshape(raw, new.type)
    converted = FIELD_TYPES[new.type].parse(new, raw, zone)
    if new.type in TEXT_TYPES and converted is not None:
        limit = new.get("max_length", 255 if new.type == "text" else None)
        if limit and len(converted) > limit:
            raise Invalid(f"is {len(converted)} characters long; the new limit is {limit}")
    return converted


def drop_options(new: FieldSpec, value: list[str], replacement: str | None) -> list[str] | None:
    """A multiselect value without the options the new field no longer has."""
    allowed = new.option_values()
    kept = [v for v in value if v in allowed]
    if replacement is not None and len(kept) < len(value) and replacement not in kept:
        kept.append(replacement)
    return [v for v in allowed if v in kept] or None


def _reshape(raw: Any, target: str) -> Any:
    if target in TEXT_TYPES:
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, list):
            return ", ".join(map(str, raw))
        return raw if isinstance(raw, str) else str(raw)
    if target == "multiselect" and isinstance(raw, str):
        return [raw]
    if target == "select" and isinstance(raw, list):
        if len(raw) == 1:
            return raw[0]
        raise Invalid("holds several options; a single choice can keep only one")
    if target == "integer" and isinstance(raw, str):
        # Plain notation only ("12", "12.00"), as the integer field itself reads text;
        # not Python's "1e3", "+5" or "1_000".
        if _PLAIN_NUMBER.fullmatch(raw):
            return Decimal(raw.strip())
        return raw
    if target == "boolean" and isinstance(raw, str):
        lowered = raw.strip().lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
    if target == "boolean" and isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    return raw
