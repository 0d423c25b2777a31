"""The migration planner: (published definition, new definition) -> a plan. Pure.

A plan is a list of steps, each with words a business user understands and
the data a machine needs to apply it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsloom.platform.errors import Conflict, FieldError


@dataclass(frozen=True)
class Step:
    action: str
    description: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "description": self.description, **self.details}


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]

    @property
    def changes_anything(self) -> bool:
        return bool(self.steps)

    def as_json(self) -> dict[str, Any]:
        return {
            "summary": [s.description for s in self.steps],
            "steps": [s.as_json() for s in self.steps],
        }


def _label(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("en") or next(iter(value.values())))
    return str(value)


def plan_migration(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], storage: Mapping[str, Any]
) -> Plan:
    if old is None:
        fields = ", ".join(_label(f.get("label", f["key"])) for f in new["fields"])
        return Plan(
            (
                Step(
                    "create_table",
                    f"Create the table {storage['table']} for {_label(new['label'])} "
                    f"with {len(new['fields'])} fields: {fields}",
                    {"table": storage["table"]},
                ),
            )
        )
    if dict(old) == dict(new):
        return Plan(())
    raise Conflict(
        "This form is already published; changing a published form needs a migration plan, "
        "which this version of Opsloom does not make yet",
        [FieldError("$", "publish an unchanged draft, or create a new form")],
    )
