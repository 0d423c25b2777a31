"""The condition language's tree: small immutable nodes whose values are already parsed,
and the context a condition is evaluated in (the clock and the user)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from opsloom.runtime.fields import FieldSpec

NO_VALUE_OPS = frozenset({"is_empty", "not_empty", "today", "this_week", "this_month"})
VARIABLES = frozenset({"today", "now", "current_user.id", "current_user.department_id", "current_user.email"})


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class LocalTime:
    """A datetime written without an offset: it means the configured zone, known only when evaluated."""

    moment: datetime


@dataclass(frozen=True)
class FieldRef:
    """A value taken from another field of the same record: `{"field": "start_date"}`."""

    spec: FieldSpec


@dataclass(frozen=True)
class Compare:
    field: FieldSpec
    op: str
    value: Any = None


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Compare | AllOf | AnyOf | Not


@dataclass(frozen=True)
class EvalContext:
    """What a condition may refer to besides the record: the clock and the user."""

    now: datetime
    zone: tzinfo = UTC
    user: Mapping[str, Any] = field(default_factory=dict)
    # A caller's own filter may compare a relation by the linked record's title only where
    # the caller may read that record: linked form key -> SQL over its rows (see
    # runtime/link_titles.py). None for the rules an app's designers wrote (row scopes, branches).
    linked_titles: Mapping[str, Any] | None = None

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def variable(self, name: str) -> Any:
        if name == "today":
            return self.today
        if name == "now":
            return self.now
        return self.user.get(name.removeprefix("current_user."))


def fields_of(condition: Condition) -> set[str]:
    """The keys of every field a condition reads."""
    if isinstance(condition, AllOf | AnyOf):
        return set().union(*(fields_of(c) for c in condition.items))
    if isinstance(condition, Not):
        return fields_of(condition.item)
    aggregate = condition.field.raw.get("rows_aggregate")
    keys = {aggregate[1] if aggregate else condition.field.key}
    if isinstance(condition.value, FieldRef):
        keys.add(condition.value.spec.key)
    return keys
