"""Converting a stored value from one field definition to another, exactly or not at all."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Any

from opsloom.runtime.fields import FieldSpec, Invalid, unit_of


def convert_value(old: FieldSpec, new: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
    """The value as the new field holds it, or `Invalid` saying why it does not fit."""
    if value is None:
        return None
    before, after = unit_of(old), unit_of(new)
    if after.options and after.multiple and before.name == after.name:
        allowed = new.option_values()
        if dropped := [v for v in value if v not in allowed]:
            raise Invalid(f"holds the removed option(s) {', '.join(dropped)}")
        return value
    if after.temporal == "date" and isinstance(value, datetime):
        return value.astimezone(zone).date()
    if after.temporal == "moment" and isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time(), zone).astimezone(UTC)
    converted = after.parse(new, after.reshape(before.dump(old, value)), zone)
    if after.text_like and converted is not None:
        limit = after.max_length(new)  # type: ignore[attr-defined]
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
