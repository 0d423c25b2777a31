"""The three-way comparison of an upgrade: the package as installed (base), the new version (theirs)
and the app as it stands (mine, with the customer's changes).

Pure: documents in, merged documents and conflicts out. Objects merge key by key; lists of objects
that carry an identity (`id`, else `value`, else `key`: a form's fields, a flow's nodes, a select's
options) merge item by item, so a field the customer added and a field the new version added are
both kept. A value changed on one side only takes that side; changed on both sides to different
values is a conflict at its path (`forms.customer.fields[f_name].label.en`), settled by a
resolution on that path or on one above it: `keep_mine` or `take_theirs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

RESOLUTIONS = ("keep_mine", "take_theirs")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()
IDENTITIES = ("id", "value", "key")


@dataclass(frozen=True)
class MergeConflict:
    path: str
    base: Any
    mine: Any
    theirs: Any

    def as_json(self) -> dict[str, Any]:
        def shown(value: Any) -> Any:
            return None if value is MISSING else value

        return {
            "path": self.path,
            "base": shown(self.base),
            "mine": shown(self.mine),
            "theirs": shown(self.theirs),
            "removed_by": "mine" if self.mine is MISSING else "theirs" if self.theirs is MISSING else None,
        }


@dataclass
class Merge:
    resolutions: Mapping[str, str] = field(default_factory=dict)
    conflicts: list[MergeConflict] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def value(self, base: Any, mine: Any, theirs: Any, path: str) -> Any:
        """The merged value (MISSING: removed)."""
        if mine == theirs:
            return mine
        if mine == base:
            return theirs
        if theirs == base:
            return mine
        if all(isinstance(v, Mapping) for v in (mine, theirs)) and (base is MISSING or isinstance(base, Mapping)):
            return self._objects({} if base is MISSING else base, mine, theirs, path)
        identity = _identity(mine, theirs, base)
        if identity is not None:
            return self._lists([] if base is MISSING else base, mine, theirs, path, identity)
        return self._conflict(base, mine, theirs, path)

    def _conflict(self, base: Any, mine: Any, theirs: Any, path: str) -> Any:
        chosen = self._resolution(path)
        if chosen == "take_theirs":
            return theirs
        if chosen == "keep_mine":
            return mine
        self.conflicts.append(MergeConflict(path, base, mine, theirs))
        return mine  # until a choice is made, what the customer has stays

    def _resolution(self, path: str) -> str | None:
        """The choice made for this path or the nearest path above it."""
        probe = path
        while probe:
            if probe in self.resolutions:
                self.used.add(probe)
                return self.resolutions[probe]
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        return None

    def _objects(self, base: Mapping[str, Any], mine: Mapping[str, Any], theirs: Mapping[str, Any], path: str) -> Any:
        out: dict[str, Any] = {}
        for key in [*mine, *(k for k in theirs if k not in mine)]:
            merged = self.value(
                base.get(key, MISSING), mine.get(key, MISSING), theirs.get(key, MISSING), f"{path}.{key}"
            )
            if merged is not MISSING:
                out[key] = merged
        return out

    def _lists(self, base: Sequence[Any], mine: Sequence[Any], theirs: Sequence[Any], path: str, identity: str) -> Any:
        by = {
            side: {item[identity]: item for item in items} for side, items in (("a", base), ("m", mine), ("t", theirs))
        }
        merged: dict[Any, Any] = {}
        for item in mine:
            ident = item[identity]
            value = self.value(by["a"].get(ident, MISSING), item, by["t"].get(ident, MISSING), f"{path}[{ident}]")
            if value is not MISSING:
                merged[ident] = value
        order = list(merged)
        previous: Any = MISSING
        for item in theirs:
            ident = item[identity]
            if ident not in by["m"]:
                value = self.value(by["a"].get(ident, MISSING), MISSING, item, f"{path}[{ident}]")
                if value is not MISSING:
                    merged[ident] = value
                    at = order.index(previous) + 1 if previous in order else 0
                    order.insert(at, ident)
            if ident in merged:
                previous = ident
        return [merged[ident] for ident in order]


def _identity(*sides: Any) -> str | None:
    """The key by which these lists' items are told apart, if every item of each has one."""
    lists = [s for s in sides if s is not MISSING]
    if not all(isinstance(s, list) for s in lists):
        return None
    items = [item for s in lists for item in s]
    if not items or not all(isinstance(item, Mapping) for item in items):
        return None
    for name in IDENTITIES:
        if all(name in item for item in items) and all(len({i[name] for i in s}) == len(s) for s in lists):
            return name
    return None


@dataclass(frozen=True)
class DocumentMerge:
    kind: str  # the package's list name, e.g. "forms"
    key: str
    outcome: str  # created, changed, unchanged, kept (the package no longer has it, or you removed it)
    base: Any
    mine: Any
    theirs: Any
    merged: Any
    customised: bool  # the installed document differs from the one the package installed
    conflicts: tuple[MergeConflict, ...]


def merge_documents(
    kind: str,
    base: Mapping[str, Any],
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    resolutions: Mapping[str, str],
    used: set[str] | None = None,
) -> list[DocumentMerge]:
    """Every document of one kind, by key: what the upgrade does with it (`used`: gathers the resolutions
    that settled a conflict)."""
    out = []
    for key in [*theirs, *(k for k in mine if k not in theirs)]:
        a, m, t = base.get(key, MISSING), mine.get(key, MISSING), theirs.get(key, MISSING)
        customised = m is not MISSING and m != a
        if t is MISSING or (m is MISSING and a is not MISSING):
            out.append(DocumentMerge(kind, key, "kept", a, m, t, m, customised, ()))
            continue
        if m is MISSING:
            out.append(DocumentMerge(kind, key, "created", a, m, t, t, False, ()))
            continue
        merge = Merge(resolutions)
        merged = merge.value(a, m, t, f"{kind}.{key}")
        if used is not None:
            used |= merge.used
        outcome = "unchanged" if merged == m else "changed"
        out.append(DocumentMerge(kind, key, outcome, a, m, t, merged, customised, tuple(merge.conflicts)))
    return out
