"""A migration plan, a diff and their blockers in plain words, for the publish and versions pages.

One table per thing said: `STEP_SENTENCES` (a plan step's action -> its sentence) and
`CHANGE_SENTENCES` (a change kind from `diff_forms` -> its sentence). Adding a step kind to the
planner is adding one entry here and its messages in `locales/*/publish.json`. The words come from
the page's catalogs; names come from the documents (the field's label in the page's language).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opsloom.designer.migration_plan import BadValue, Blocker, Facts, FieldChange, Plan
from opsloom.designer.pages.report_designer import SYSTEM_FIELDS
from opsloom.runtime.fields import FIELD_TYPES, unit_of
from opsloom.runtime.forms import SYSTEM_COLUMN
from opsloom.runtime.pages.i18n import LOCALES, Translator

Doc = Mapping[str, Any]


# The system columns an index may name (`@status`), as the designer labels them.
SYSTEM_COLUMNS: dict[str, Mapping[str, Any]] = {f"{SYSTEM_COLUMN}{f['key']}": f for f in SYSTEM_FIELDS}


@dataclass(frozen=True)
class Names:
    """Fields by id, from every document the plan or diff speaks of (old, new, archived, subform rows)."""

    t: Translator
    fields: Mapping[str, Doc]
    parents: Mapping[str, str]  # a subform row field's id -> its subform's key

    @classmethod
    def of(cls, t: Translator, *documents: Doc | None, storage: Doc | None = None) -> Names:
        fields: dict[str, Doc] = {}
        parents: dict[str, str] = {}
        archived = [entry["field"] for entry in ((storage or {}).get("archived") or {}).values() if "field" in entry]
        for f in [*archived, *(f for doc in documents if doc for f in doc.get("fields", []))]:
            fields[f["id"]] = f  # the newest document wins: it comes last
            for child in f.get("fields", []) if unit_of(f).child_rows else []:
                fields[child["id"]] = child
                parents[child["id"]] = f["key"]
        return cls(t, fields, parents)

    def field(self, field_id: str, key: str | None = None) -> str:
        """`Amount (amount)`, the way the designer sees a field (`@created_at`: a system column)."""
        f = self.fields.get(field_id) or SYSTEM_COLUMNS.get(field_id)
        if f is None:
            return key or field_id
        text = self.t.label(f.get("label") or f["key"])
        name = f"{text} ({f['key']})" if text != f["key"] else f["key"]
        parent = self.parents.get(field_id)
        return self.t("publish.in_rows_of", subform=parent, field=name) if parent else name

    def type(self, name: Any) -> str:
        unit = FIELD_TYPES.get(name) if isinstance(name, str) else None
        return self.t.label(unit.label) if unit is not None and unit.label else str(name)

    def every_language(self, label: Any) -> str:
        """A label in each of its languages (`金额 / Amount`): a change in either one shows."""
        if isinstance(label, Mapping):
            ordered = sorted(
                label.items(),
                key=lambda item: (item[0] not in LOCALES, LOCALES.index(item[0]) if item[0] in LOCALES else 0),
            )
            return " / ".join(dict.fromkeys(str(text) for _, text in ordered))
        return self.value(label)

    def value(self, value: Any) -> str:
        if value is None or value == "":
            return self.t("publish.empty_value")
        if isinstance(value, bool):
            return self.t("publish.yes") if value else self.t("publish.no")
        if isinstance(value, list):
            return ", ".join(self.value(v) for v in value)
        if isinstance(value, Mapping):
            return (
                self.t.label(value)
                if set(value) <= {"zh-CN", "en"}
                else ", ".join(f"{k}: {v}" for k, v in value.items())
            )
        return str(value)


# ------------------------------------------------------------------ plan steps

StepSentence = Callable[[Names, Mapping[str, Any], Mapping[str, FieldChange]], str]


def _field_step(message: str) -> StepSentence:
    return lambda n, step, changes: n.t(message, field=n.field(step.get("field_id", "")))


def _moved(message: str) -> StepSentence:
    return lambda n, step, changes: n.t(
        message, field=n.field(step.get("field_id", "")), before=step.get("from"), after=step.get("to")
    )


def _convert(n: Names, step: Mapping[str, Any], changes: Mapping[str, FieldChange]) -> str:
    fid = step.get("field_id", "")
    change = changes.get(fid)
    name = n.field(fid)
    if change is not None and change.kind == "retyped":
        what = n.t("publish.step.retype", field=name, before=n.type(change.before), after=n.type(change.after))
    elif change is not None and change.kind == "options_removed":
        what = n.t("publish.step.options_removed", field=name, options=n.value(change.before))
    else:
        what = n.t("publish.step.reshape", field=name)
    if "invalid" not in step:  # a formula's values are computed again, nothing to convert
        return what
    count = int(step.get("invalid") or 0)
    if count == 0:
        outcome = n.t("publish.outcome.all_fit")
    elif step.get("on_invalid") == "undecided":
        outcome = n.t("publish.outcome.undecided", count=count)
    elif step.get("on_invalid") == "set_value":
        outcome = n.t("publish.outcome.set_value", count=count, value=n.value(step.get("value")))
    elif step.get("keep"):
        outcome = n.t("publish.outcome.archive", count=count)
    else:
        outcome = n.t("publish.outcome.set_empty", count=count)
    return f"{what}: {outcome}"


def _recompute(n: Names, step: Mapping[str, Any], changes: Mapping[str, FieldChange]) -> str:
    keys = step.get("fields") or []
    by_key = {f["key"]: fid for fid, f in n.fields.items() if fid not in n.parents}
    return n.t("publish.step.recompute_formulas", fields=", ".join(n.field(by_key.get(k, k), k) for k in keys))


def _add_index(n: Names, step: Mapping[str, Any]) -> str:
    """Asked for by the designer, earned by saved views, or earned for several fields together."""
    if "field_ids" in step:
        names = [n.field(fid) for fid in step["field_ids"]]
        picked, then = ", ".join(names[:-1]), names[-1]
        return n.t(
            "publish.step.add_joint_index_for_views",
            fields=", ".join(names),
            picked=picked,
            then=then,
            count=step["views"],
        )
    field_name = n.field(step.get("field_id", ""))
    if step.get("automatic"):
        return n.t("publish.step.add_index_for_views", field=field_name, count=step["views"])
    return n.t("publish.step.add_index", field=field_name)


STEP_SENTENCES: dict[str, StepSentence] = {
    "create_table": lambda n, step, changes: n.t("publish.step.create_table", count=len(n.fields) - len(n.parents)),
    "create_child_table": _field_step("publish.step.create_child_table"),
    "add_column": _field_step("publish.step.add_column"),
    "rename_column": _moved("publish.step.rename_column"),
    "archive_column": _field_step("publish.step.archive_column"),
    "restore_column": _field_step("publish.step.restore_column"),
    "archive_subform": _field_step("publish.step.archive_subform"),
    "restore_subform": _field_step("publish.step.restore_subform"),
    "convert_column": _convert,
    "fill_empty": lambda n, step, changes: n.t(
        "publish.step.fill_empty", field=n.field(step.get("field_id", "")), value=n.value(step.get("value"))
    ),
    "add_unique_index": _field_step("publish.step.add_unique_index"),
    "drop_unique_index": _field_step("publish.step.drop_unique_index"),
    "add_index": lambda n, step, changes: _add_index(n, step),
    "drop_index": _field_step("publish.step.drop_index"),
    "recompute_formulas": _recompute,
}


CONVERSIONS = ("retyped", "reshaped", "options_removed")

# Changes held back by records that do not fit them (a blocker): said with what is waiting for a decision.
PENDING_SENTENCES: dict[str, StepSentence] = {
    **{
        kind: lambda n, step, changes: _convert(n, {**step, "on_invalid": "undecided"}, changes) for kind in CONVERSIONS
    },
    "required_added": lambda n, step, changes: n.t(
        "publish.pending.required", field=n.field(step["field_id"]), count=step["invalid"]
    ),
    "unique_added": lambda n, step, changes: n.t(
        "publish.pending.unique", field=n.field(step["field_id"]), count=step["invalid"]
    ),
}


def step_sentences(names: Names, plan: Plan) -> list[str]:
    """Each step of the plan in plain words (a step of a kind this table does not know keeps the planner's
    words), then each change that waits for a decision about the records it does not fit."""
    changes = {c.field_id: c for c in plan.changes if c.kind in CONVERSIONS}
    out = []
    for step in plan.steps:
        say = STEP_SENTENCES.get(step.action)
        out.append(say(names, dict(step.details), changes) if say is not None else step.description)
    held = {b.key: b for b in plan.blockers}
    for change in plan.changes:
        blocker = held.get(change.key)
        pending = PENDING_SENTENCES.get(change.kind)
        if blocker is None or pending is None or not blocker.count:
            continue
        out.append(pending(names, {"field_id": change.field_id, "invalid": blocker.count}, changes))
    return out


# ------------------------------------------------------------------ changes (diff of two versions)

ChangeSentence = Callable[[Names, FieldChange], str]


def _change(message: str) -> ChangeSentence:
    return lambda n, c: n.t(message, field=n.field(c.field_id, c.key), before=n.value(c.before), after=n.value(c.after))


CHANGE_SENTENCES: dict[str, ChangeSentence] = {
    "added": lambda n, c: n.t("versions.change.added", field=n.field(c.field_id, c.key), type=n.type(c.after)),
    "removed": _change("versions.change.removed"),
    "restored": _change("versions.change.restored"),
    "renamed": _change("versions.change.renamed"),
    "retyped": lambda n, c: n.t(
        "versions.change.retyped", field=n.field(c.field_id, c.key), before=n.type(c.before), after=n.type(c.after)
    ),
    "reshaped": _change("versions.change.reshaped"),
    "formula_changed": _change("versions.change.formula_changed"),
    "options_removed": lambda n, c: n.t(
        "versions.change.options_removed", field=n.field(c.field_id, c.key), options=n.value(c.before)
    ),
    "options_added": lambda n, c: n.t(
        "versions.change.options_added", field=n.field(c.field_id, c.key), options=n.value(c.after)
    ),
    "required_added": _change("versions.change.required_added"),
    "required_removed": _change("versions.change.required_removed"),
    "unique_added": _change("versions.change.unique_added"),
    "unique_removed": _change("versions.change.unique_removed"),
    "rules_changed": _change("versions.change.rules_changed"),
    "label_changed": lambda n, c: n.t(
        "versions.change.label_changed",
        field=n.field(c.field_id, c.key),
        before=n.every_language(c.before),
        after=n.every_language(c.after),
    ),
}


def change_sentences(names: Names, changes: list[FieldChange]) -> list[str]:
    out = []
    for c in changes:
        say = CHANGE_SENTENCES.get(c.kind)
        out.append(say(names, c) if say is not None else f"{c.key}: {c.kind}")
    return out


# ------------------------------------------------------------------ what the data stands in the way of


@dataclass(frozen=True)
class Issue:
    """Existing records a change does not fit, and what the person publishing may choose for them.

    `kind`: `convert` (values that do not convert: leave empty, put a value, or cancel), `fill` (empty
    values of a newly required field: a backfill value, or cancel), or `fix` (nothing a publish can
    do: duplicates of a newly unique field, files, subform rows, a change of kind; the records must
    be changed first, or the change undone)."""

    key: str  # the resolution's key: `amount`, or `items.qty` for a subform's rows
    kind: str
    field: str
    message: str
    count: int = 0
    records: tuple[dict[str, Any], ...] = ()
    resolved: bool = False
    choice: str = "refuse"
    value: Any = None
    fill: Any = None


def issues(names: Names, plan: Plan, facts: Facts | None, resolutions: Mapping[str, Any]) -> list[Issue]:
    """Every field whose existing records stand in the way, resolved by the choices made or not."""
    t = names.t
    keys = {fid: _resolution_key(names, fid) for fid in names.fields}
    blocked = {b.key for b in plan.blockers}
    out: list[Issue] = []
    seen: set[str] = set()
    facts = facts or Facts()
    for fid, count in facts.invalid_count.items():
        if count and fid in keys:
            key = keys[fid]
            chosen = resolutions.get(key)
            out.append(
                Issue(
                    key,
                    "convert",
                    names.field(fid),
                    t("publish.issue.convert", count=count, field=names.field(fid)),
                    count,
                    tuple(_bad(v) for v in facts.invalid.get(fid, ())),
                    resolved=key not in blocked,
                    choice=getattr(chosen, "on_invalid", "refuse"),
                    value=getattr(chosen, "value", None),
                )
            )
            seen.add(key)
    for fid, count in facts.empty_count.items():
        if count and fid in keys:
            key, f = keys[fid], names.fields[fid]
            chosen = resolutions.get(key)
            fillable = not (unit_of(f).child_rows or unit_of(f).holds_files)
            message = "publish.issue.fill" if fillable else "publish.issue.no_rows"
            out.append(
                Issue(
                    key,
                    "fill" if fillable else "fix",
                    names.field(fid),
                    t(message, count=count, field=names.field(fid)),
                    count,
                    tuple({"id": i} for i in facts.empty.get(fid, ())),
                    resolved=key not in blocked,
                    fill=getattr(chosen, "fill_empty", None),
                )
            )
            seen.add(key)
    for fid, count in facts.duplicate_count.items():
        if count and fid in keys:
            out.append(
                Issue(
                    keys[fid],
                    "fix",
                    names.field(fid),
                    t("publish.issue.duplicates", count=count, field=names.field(fid)),
                    count,
                    tuple({"id": i} for i in facts.duplicates.get(fid, ())),
                )
            )
            seen.add(keys[fid])
    for blocker in plan.blockers:
        if blocker.key not in seen:
            out.append(_impossible(names, plan, blocker))
            seen.add(blocker.key)
    return out


def _impossible(names: Names, plan: Plan, blocker: Blocker) -> Issue:
    """A change no choice can make safe (a field turned into a formula, a subform or a file field)."""
    change = next((c for c in plan.changes if c.key == blocker.key and c.kind == "retyped"), None)
    if change is None:
        return Issue(blocker.key, "fix", blocker.key, f"{blocker.message} {blocker.fix}", blocker.count)
    name = names.field(change.field_id, change.key)
    message = names.t(
        "publish.issue.change_of_kind", field=name, before=names.type(change.before), after=names.type(change.after)
    )
    return Issue(blocker.key, "fix", name, message)


def _resolution_key(names: Names, field_id: str) -> str:
    key = names.fields[field_id]["key"]
    parent = names.parents.get(field_id)
    return f"{parent}.{key}" if parent else str(key)


def _bad(value: BadValue) -> dict[str, Any]:
    return {"id": value.record_id, "value": value.value, "reason": value.reason}
