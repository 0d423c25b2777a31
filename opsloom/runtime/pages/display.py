"""Record values as text for people: numbers, dates and times in the reader's locale and zone.

The API speaks ISO dates and decimal strings; pages show `1,234.50` or
`2026年1月31日`, with labels for options and names for linked records and people.
Each field type's unit says how its values read (`FieldType.display`); the
formatting itself is Babel's, in `runtime/fields/formatting.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from opsloom.runtime.fields import FieldSpec, unit_of, value_unit
from opsloom.runtime.pages.i18n import Translator


def value_text(t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
    """A stored value (as the API writes it, links expanded) as one line of text."""
    unit = value_unit(spec)
    if unit.child_rows:  # rows show how many there are, none included
        return unit.display(t, zone, spec, value)
    if value is None or value == "" or value == []:
        return ""
    try:
        return unit.display(t, zone, spec, value)
    except (ValueError, TypeError):
        return str(value)


def record_label(form: Any, record: dict[str, Any]) -> str:
    """How people name a record: its number when the form numbers records, else its id."""
    numbered = next((s.key for s in form.fields if unit_of(s).numbered and record.get(s.key)), None)
    return str(record[numbered]) if numbered else f"#{record.get('id')}"


def summary_lines(
    t: Translator, zone: tzinfo, specs: Mapping[tuple[str, str, str], FieldSpec], item: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """A to-do item's summary fields (`flow.summaries`) as (label, text), in the reader's language and zone."""
    lines = []
    for entry in item.get("summary", []):
        spec = specs.get((item["app"], item["form"], entry["key"]))
        if spec is not None:
            lines.append((t.label(entry["label"]), value_text(t, zone, spec, entry["value"])))
    return lines
