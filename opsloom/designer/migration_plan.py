"""The migration planner: (published form, new form, facts about the data) -> a plan. Pure.

Nothing a user saved may be lost by a publish, so every change of a form is
one of a few kinds of step, each safe on its own:

- a new field adds a column (no table rewrite on PostgreSQL);
- a renamed key renames the column (the field `id` is the identity);
- a removed field archives its column: renamed aside, hidden, restorable;
- a field that comes back (same `id`) gets its archived column back;
- a change of type or shape (precision, scale, length, options) converts the
  values; values that would not fit block the publish unless the request says
  what to do with them (`set_empty`, or `set_value` with a value);
- a field that becomes required is blocked by empty values unless a
  `fill_empty` value is given; one that becomes unique is blocked by duplicates;
- a subform is a child table: a new one creates it, a removed one is archived
  with its rows (restorable), a renamed one keeps its table, and the fields of
  its rows are planned by these same rules, step by step, on the child table.

The shell (`migration_apply`) gathers the facts the planner asks for and
applies the steps in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opsloom.designer.index_advice import automatic_indexes, key_of
from opsloom.platform.errors import FieldError
from opsloom.runtime.fields import FIELD_TYPES, FieldType, unit_of

SAMPLE = 20  # offending ids and values shown per field

Doc = Mapping[str, Any]


# ------------------------------------------------------------------ diff


@dataclass(frozen=True)
class FieldChange:
    """One difference between two versions of a form, for people and for the planner."""

    kind: str  # added, removed, restored, renamed, retyped, reshaped, options_removed,
    # options_added, required_added, required_removed, unique_added, unique_removed,
    # rules_changed, label_changed
    field_id: str
    key: str
    before: Any = None
    after: Any = None

    def as_json(self) -> dict[str, Any]:
        return {
            "change": self.kind,
            "field_id": self.field_id,
            "key": self.key,
            "before": self.before,
            "after": self.after,
        }


def column_shape(f: Doc) -> tuple[Any, ...]:
    """What the column depends on: a change here rewrites the values."""
    return (f["type"], *unit_of(f).column_shape(f))


def _is(type_name: str | None, question: str) -> bool:
    """Does the type of this name (None: no field) answer yes to a unit's question?"""
    unit: FieldType | None = FIELD_TYPES.get(type_name) if type_name else None
    return bool(unit is not None and getattr(unit, question))


_RULES = ("min", "max", "min_length", "pattern", "default", "min_items", "max_items", "index")


def diff_forms(old: Doc | None, new: Doc, archived: Mapping[str, Any] | None = None) -> list[FieldChange]:
    """Field-level differences from `old` to `new` (either may be a first version)."""
    old_fields = {f["id"]: f for f in (old or {}).get("fields", [])}
    new_fields = {f["id"]: f for f in new.get("fields", [])}
    archived = archived or {}
    changes: list[FieldChange] = []
    for fid, f in new_fields.items():
        before = old_fields.get(fid)
        if before is None:
            kind = "restored" if fid in archived else "added"
            changes.append(FieldChange(kind, fid, f["key"], None, f["type"]))
            before = archived.get(fid, {}).get("field")
            if before is None:
                continue
        changes.extend(_field_changes(before, f))
    for fid, f in old_fields.items():
        if fid not in new_fields:
            changes.append(FieldChange("removed", fid, f["key"], f["type"], None))
    return changes


def _field_changes(a: Doc, b: Doc) -> list[FieldChange]:
    fid, key = b["id"], b["key"]
    out: list[FieldChange] = []
    if a["key"] != b["key"]:
        out.append(FieldChange("renamed", fid, key, a["key"], b["key"]))
    if a["type"] != b["type"]:
        out.append(FieldChange("retyped", fid, key, a["type"], b["type"]))
    elif column_shape(a) != column_shape(b):
        out.append(FieldChange("reshaped", fid, key, list(column_shape(a)[1:]), list(column_shape(b)[1:])))
    if unit_of(b).computed and a.get("formula") != b.get("formula"):
        out.append(FieldChange("formula_changed", fid, key, a.get("formula"), b.get("formula")))
    if unit_of(a).options and unit_of(b).options:
        before = [o["value"] for o in a.get("options", [])]
        after = [o["value"] for o in b.get("options", [])]
        if removed := [v for v in before if v not in after]:
            out.append(FieldChange("options_removed", fid, key, removed, None))
        if added := [v for v in after if v not in before]:
            out.append(FieldChange("options_added", fid, key, None, added))
    for flag in ("required", "unique"):
        if bool(a.get(flag)) != bool(b.get(flag)):
            kind = f"{flag}_added" if b.get(flag) else f"{flag}_removed"
            out.append(FieldChange(kind, fid, key, bool(a.get(flag)), bool(b.get(flag))))
    rules_before = {r: a.get(r) for r in _RULES if a.get(r) is not None}
    rules_after = {r: b.get(r) for r in _RULES if b.get(r) is not None}
    if "max_length" in a or "max_length" in b:
        if a.get("max_length") != b.get("max_length") and not unit_of(a).column_shape(a) and unit_of(a).text_like:
            rules_before["max_length"], rules_after["max_length"] = (
                a.get("max_length"),
                b.get("max_length"),
            )
    if rules_before != rules_after:
        out.append(FieldChange("rules_changed", fid, key, rules_before, rules_after))
    if a.get("label") != b.get("label"):
        out.append(FieldChange("label_changed", fid, key, a.get("label"), b.get("label")))
    return out


# ----------------------------------------------------------- facts, plan


@dataclass(frozen=True)
class BadValue:
    record_id: int
    value: Any
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.record_id, "value": self.value, "reason": self.reason}


@dataclass(frozen=True)
class Facts:
    """What the data says about a planned change, gathered by the shell."""

    # field id -> values that would not fit the new field (a sample) and how many in all
    invalid: Mapping[str, tuple[BadValue, ...]] = field(default_factory=dict)
    invalid_count: Mapping[str, int] = field(default_factory=dict)
    # field id -> ids of records with no value / sharing a value (a sample) and how many
    empty: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    empty_count: Mapping[str, int] = field(default_factory=dict)
    duplicates: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    duplicate_count: Mapping[str, int] = field(default_factory=dict)
    # an index (its columns' field ids) -> how many saved views ask for it (`index_advice.used_by_views`)
    used_by_views: Mapping[tuple[str, ...], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Resolution:
    """What the person publishing chose for the values of one field."""

    on_invalid: str = "refuse"  # refuse | set_empty | set_value | archive
    value: Any = None
    fill_empty: Any = None


@dataclass(frozen=True)
class FactsNeeded:
    convert: tuple[str, ...]  # field ids whose existing values must be checked against the new field
    empty: tuple[str, ...]  # field ids newly required
    duplicates: tuple[str, ...]  # field ids newly unique (or restored unique)
    no_rows: tuple[str, ...] = ()  # subform field ids newly required: records without rows


@dataclass(frozen=True)
class Step:
    action: str
    description: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "description": self.description, **self.details}


@dataclass(frozen=True)
class Blocker:
    key: str
    message: str
    fix: str
    records: tuple[Any, ...] = ()
    count: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "field": self.key,
            "message": self.message,
            "how_to_fix": self.fix,
            "records": [r.as_json() if isinstance(r, BadValue) else r for r in self.records],
            "count": self.count,
        }

    def as_error(self) -> FieldError:
        return FieldError(f"fields.{self.key}", f"{self.message} {self.fix}")


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    changes: tuple[FieldChange, ...] = ()
    blockers: tuple[Blocker, ...] = ()
    storage: Mapping[str, Any] = field(default_factory=dict)
    document_changed: bool = True

    @property
    def changes_anything(self) -> bool:
        return bool(self.steps) or self.document_changed

    def as_json(self) -> dict[str, Any]:
        return {
            "summary": [s.description for s in self.steps],
            "steps": [s.as_json() for s in self.steps],
            "changes": [c.as_json() for c in self.changes],
            "blockers": [b.as_json() for b in self.blockers],
            "can_apply": not self.blockers,
        }


def label_text(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("en") or next(iter(value.values())))
    return str(value)


def kept_field(field: Doc, archived: Mapping[str, Any]) -> dict[str, Any]:
    """The archived copy of a field whose old values a conversion keeps: a field of its own (a new id,
    the old type and settings) that can be brought back beside the changed one."""
    n = 1
    while f"{field['id']}_kept{n}" in archived:
        n += 1
    label = field.get("label", field["key"])
    if isinstance(label, Mapping):
        label = {lang: f"{text} ({BEFORE.get(lang, BEFORE['en'])})" for lang, text in label.items()}
    else:
        label = f"{label} ({BEFORE['en']})"
    return {
        **field,
        "id": f"{field['id']}_kept{n}"[:64],
        "key": f"{field['key']}_before_{n}"[:63],
        "label": label,
        "required": False,
        "unique": False,
    }


BEFORE = {"zh-CN": "修改前", "en": "before the change"}


def archive_column_name(field_id: str) -> str:
    safe = "".join(c if c.isalnum() else "_" for c in field_id.lower())
    return f"_archived_{safe}"[:63]


def facts_needed(old: Doc | None, new: Doc, storage: Mapping[str, Any]) -> FactsNeeded:
    """What the data must tell about the form's own columns (subform rows: see `kept_subforms`)."""
    if old is None:
        return FactsNeeded((), (), ())
    convert, empty, duplicates, no_rows = [], [], [], []
    subforms = {f["id"] for doc in (old, new) for f in doc["fields"] if unit_of(f).child_rows}
    for change in diff_forms(old, new, storage.get("archived")):
        if change.field_id in subforms:
            if change.kind == "required_added" and change.field_id in storage.get("subforms", {}):
                no_rows.append(change.field_id)
            continue
        target = next((f for f in new["fields"] if f["id"] == change.field_id), None)
        if _is((target or {}).get("type"), "read_time"):
            continue  # nothing stored to check
        if change.kind in ("retyped", "reshaped", "options_removed") and not _is(
            (target or {}).get("type"), "computed"
        ):
            convert.append(change.field_id)
        elif change.kind == "required_added":
            empty.append(change.field_id)
        elif change.kind == "unique_added":
            duplicates.append(change.field_id)
        elif change.kind == "restored":
            f = next(f for f in new["fields"] if f["id"] == change.field_id)
            if f.get("required"):
                empty.append(change.field_id)
            if f.get("unique"):
                duplicates.append(change.field_id)
    return FactsNeeded(
        tuple(dict.fromkeys(convert)), tuple(dict.fromkeys(empty)), tuple(dict.fromkeys(duplicates)), tuple(no_rows)
    )


def kept_subforms(old: Doc, new: Doc, storage: Mapping[str, Any]) -> list[tuple[str, Doc, Doc, Mapping[str, Any]]]:
    """Subforms in both versions (or restored from the archive): (field id, rows before, rows
    after, the child table's storage). Their fields are planned like a form's."""
    from opsloom.runtime.forms import subform_document

    before = {f["id"]: f for f in old["fields"] if unit_of(f).child_rows}
    archived = storage.get("archived", {})
    out: list[tuple[str, Doc, Doc, Mapping[str, Any]]] = []
    for f in new["fields"]:
        if not unit_of(f).child_rows:
            continue
        if f["id"] in before and f["id"] in storage.get("subforms", {}):
            out.append((f["id"], subform_document(before[f["id"]]), subform_document(f), storage["subforms"][f["id"]]))
        elif f["id"] not in before and "subform" in archived.get(f["id"], {}):
            entry = archived[f["id"]]
            out.append((f["id"], subform_document(entry["field"]), subform_document(f), entry["subform"]))
    return out


def _plan_subforms(
    old: Doc,
    new: Doc,
    storage: Mapping[str, Any],
    changes: list[FieldChange],
    facts: Facts,
    resolutions: Mapping[str, Resolution],
) -> tuple[list[Step], list[Step], list[FieldChange], list[Blocker], dict[str, Any], dict[str, Any]]:
    """Steps for subform fields: (steps before the form's own, steps after, row-field changes,
    blockers, subform storage by field id, archive entries of removed subforms)."""
    from opsloom.runtime.forms import child_storage

    first: list[Step] = []
    rows: list[Step] = []
    row_changes: list[FieldChange] = []
    blockers: list[Blocker] = []
    subforms = {k: dict(v) for k, v in storage.get("subforms", {}).items()}
    archived: dict[str, Any] = {}
    old_by_id = {f["id"]: f for f in old["fields"]}
    new_by_id = {f["id"]: f for f in new["fields"]}
    taken = {e["table"] for e in subforms.values()} | {
        e["subform"]["table"] for e in storage.get("archived", {}).values() if "subform" in e
    }
    for change in changes:
        fid, key = change.field_id, change.key
        was = (old_by_id.get(fid) or storage.get("archived", {}).get(fid, {}).get("field") or {}).get("type")
        now = (new_by_id.get(fid) or {}).get("type")
        if not (_is(was, "child_rows") or _is(now, "child_rows")):
            continue
        if change.kind == "retyped":
            blockers.append(
                Blocker(
                    key,
                    f"{key} cannot change between a subform and a single field; the rows or values would be lost.",
                    "Add a new field instead, and remove this one if it is no longer needed.",
                )
            )
        elif change.kind == "added" and _is(now, "child_rows"):
            entry = child_storage(storage["table"], new_by_id[fid], taken)
            taken.add(entry["table"])
            subforms[fid] = entry
            first.append(
                Step(
                    "create_child_table",
                    f"Create the table {entry['table']} for the rows of {_name(new_by_id[fid])}",
                    {"field_id": fid, "table": entry["table"]},
                )
            )
        elif change.kind == "removed" and _is(was, "child_rows"):
            entry = subforms.pop(fid)
            archived[fid] = {"field": dict(old_by_id[fid]), "subform": entry}
            first.append(
                Step(
                    "archive_subform",
                    f"Archive the subform {_name(old_by_id[fid])}: its rows are kept in {entry['table']}, restorable",
                    {"field_id": fid, "table": entry["table"]},
                )
            )
        elif change.kind == "required_added" and _is(now, "child_rows") and facts.empty_count.get(fid):
            n = facts.empty_count[fid]
            blockers.append(
                Blocker(
                    key,
                    f"{n} records have no rows in {key}, so it cannot become required.",
                    "Add rows to those records (ids listed), or keep the subform optional.",
                    facts.empty.get(fid, ()),
                    n,
                )
            )
        elif change.kind == "restored" and _is(now, "child_rows"):
            subforms[fid] = storage["archived"][fid]["subform"]
            first.append(
                Step(
                    "restore_subform",
                    f"Bring back the archived subform {_name(new_by_id[fid])} with its rows",
                    {"field_id": fid},
                )
            )
    for fid, before, after, child in kept_subforms(old, new, storage):
        key = after["key"]
        prefix = f"{key}."
        own = {k.removeprefix(prefix): r for k, r in resolutions.items() if k.startswith(prefix)}
        plan = plan_migration(before, after, child, facts, own)
        rows += [
            Step(s.action, f"In the rows of {key}: {s.description}", {**s.details, "subform": fid}) for s in plan.steps
        ]
        row_changes += [FieldChange(c.kind, c.field_id, f"{key}.{c.key}", c.before, c.after) for c in plan.changes]
        blockers += [
            Blocker(f"{key}.{b.key}", b.message, b.fix.replace(f'"{b.key}"', f'"{key}.{b.key}"'), b.records, b.count)
            for b in plan.blockers
        ]
        subforms[fid] = dict(plan.storage)
    return first, rows, row_changes, blockers, subforms, archived


def plan_migration(
    old: Doc | None,
    new: Doc,
    storage: Mapping[str, Any],
    facts: Facts | None = None,
    resolutions: Mapping[str, Resolution] | None = None,
) -> Plan:
    """The steps that take the table from `old` to `new`, or the blockers that prevent it."""
    facts = facts or Facts()
    resolutions = resolutions or {}
    if old is None:
        names = ", ".join(label_text(f.get("label", f["key"])) for f in new["fields"])
        step = Step(
            "create_table",
            f"Create the table {storage['table']} for {label_text(new['label'])} "
            f"with {len(new['fields'])} fields: {names}",
            {"table": storage["table"]},
        )
        return Plan((step,), tuple(diff_forms(None, new)), (), storage)

    changes = diff_forms(old, new, storage.get("archived"))
    new_by_id = {f["id"]: f for f in new["fields"]}
    old_by_id = {f["id"]: f for f in old["fields"]}
    columns = dict(storage["columns"])
    archived = {k: dict(v) for k, v in storage.get("archived", {}).items()}
    renames: list[Step] = []
    later: list[Step] = []
    first, row_steps, row_changes, blockers, subforms, archived_subforms = _plan_subforms(
        old, new, storage, changes, facts, resolutions
    )
    for fid in subforms:
        archived.pop(fid, None)  # restored
    archived.update(archived_subforms)
    subform_ids = {f["id"] for doc in (old, new) for f in doc["fields"] if unit_of(f).child_rows} | {
        fid for fid, e in storage.get("archived", {}).items() if "subform" in e
    }

    for change in changes:
        fid, key = change.field_id, change.key
        if fid in subform_ids:
            continue  # planned by _plan_subforms
        f = new_by_id.get(fid)
        was = (old_by_id.get(fid) or archived.get(fid, {}).get("field") or {}).get("type")
        if _is(was, "read_time") or _is((f or {}).get("type"), "read_time"):
            # Computed as it is read: no column to add, keep or drop. A stored field cannot turn
            # into one (or back) in place: its values would have nowhere to go, or come from nowhere.
            if change.kind == "retyped" and was and f and _is(was, "read_time") != _is(f["type"], "read_time"):
                blockers.append(
                    Blocker(
                        key,
                        f"{key} cannot change between a stored field and one computed as it is read.",
                        "Add a new field instead, and remove this one if it is no longer needed.",
                    )
                )
            continue
        resolution = resolutions.get(key, Resolution())
        if change.kind == "added":
            columns[fid] = key
            later.append(
                Step(
                    "add_column",
                    f"Add the field {_name(f)} as a new empty column {key}",
                    {"field_id": fid, "column": key},
                )
            )
        elif change.kind == "restored":
            source = archived.pop(fid)["column"]
            columns[fid] = key
            renames.append(
                Step(
                    "restore_column",
                    f"Bring back the archived field {_name(f)} with its values",
                    {"field_id": fid, "from": source, "to": key},
                )
            )
        elif change.kind == "renamed" and fid in old_by_id:
            # (A field restored under a new key is not renamed: its restore step
            # already brings the archived column back under the new key.)
            renames.append(
                Step(
                    "rename_column",
                    f"Rename {change.before} to {change.after}; the values stay",
                    {"field_id": fid, "from": columns[fid], "to": key},
                )
            )
            columns[fid] = key
        elif change.kind == "removed":
            target = archive_column_name(fid)
            renames.append(
                Step(
                    "archive_column",
                    f"Archive the field {_name(old_by_id[fid])}: hidden, its values kept and restorable",
                    {"field_id": fid, "from": columns.pop(fid), "to": target},
                )
            )
            archived[fid] = {"column": target, "field": dict(old_by_id[fid])}
        elif change.kind == "retyped" and (_is(change.before, "holds_files") or _is(change.after, "holds_files")):
            blockers.append(
                Blocker(
                    key,
                    f"{key} cannot change between an attachment and another type: files are not values.",
                    "Add a new field instead, and remove this one if it is no longer needed.",
                )
            )
        elif change.kind == "retyped" and _is(change.after, "computed"):
            blockers.append(
                Blocker(
                    key,
                    f"Turning {key} into a formula would replace the values people entered.",
                    "Add a new formula field instead, and remove this one if it is no longer needed.",
                )
            )
        elif change.kind in ("retyped", "reshaped") and f is not None and unit_of(f).computed:
            # A formula's stored values are recomputed below; the column only changes type.
            later.append(
                Step(
                    "convert_column",
                    f"Change what {key} holds to {change.after}",
                    {"field_id": fid, "rewrite": True, "on_invalid": "set_empty"},
                )
            )
        elif change.kind in ("retyped", "reshaped", "options_removed"):
            kept = kept_field(old_by_id[fid], archived) if resolution.on_invalid == "archive" else None
            converted = _conversion(change, f, facts, resolution, kept)
            if kept is not None and converted[0] is not None and converted[0].details.get("keep"):
                archived[kept["id"]] = {"column": converted[0].details["keep"], "field": kept, "kept_from": fid}
            _collect(later, blockers, converted)
        if change.kind in ("required_added", "restored") and f and f.get("required"):
            _collect(later, blockers, _required(fid, key, f, facts, resolution))
        if change.kind in ("unique_added", "restored") and f and f.get("unique"):
            n = facts.duplicate_count.get(fid, 0)
            if n:
                blockers.append(
                    Blocker(
                        key,
                        f"{n} records share values of {key}, so it cannot become unique.",
                        "Change or empty the duplicates (ids listed), then publish again.",
                        facts.duplicates.get(fid, ()),
                        n,
                    )
                )
            later.append(Step("add_unique_index", f"Make {key} unique", {"field_id": fid}))
        if change.kind == "unique_removed":
            later.append(Step("drop_unique_index", f"{key} no longer needs to be unique", {"field_id": fid}))
        if change.kind == "removed" and old_by_id[fid].get("unique"):
            later.insert(
                0,
                Step(
                    "drop_unique_index",
                    f"Archived {key} no longer blocks values",
                    {"field_id": fid},
                ),
            )
        if change.kind == "rules_changed" and (
            bool((change.before or {}).get("index")) != bool((change.after or {}).get("index"))
        ):
            action = "add_index" if (change.after or {}).get("index") else "drop_index"
            later.append(
                Step(
                    action,
                    f"{'Index' if action == 'add_index' else 'Stop indexing'} {key} for fast filtering",
                    {"field_id": fid},
                )
            )

    automatic, added = automatic_indexes(new, storage, facts.used_by_views)
    later += [_automatic_index_step(fids, n, new_by_id) for fids, n in added]

    recompute = {
        c.key
        for c in changes
        if c.kind in ("formula_changed", "retyped", "reshaped", "added", "restored")
        and _is(new_by_id.get(c.field_id, {}).get("type"), "computed")
    }
    if any(s.action in VALUE_STEPS for s in renames + later):  # formulas follow the values they read
        recompute |= {f["key"] for f in new["fields"] if unit_of(f).computed}
    if first or row_steps:  # totals over rows follow their rows
        recompute |= {f["key"] for f in new["fields"] if unit_of(f).computed and _reads_rows(f["formula"], new)}
    if recompute:
        computed = sorted(recompute)
        later.append(
            Step("recompute_formulas", f"Compute {', '.join(computed)} for every record", {"fields": computed})
        )
    new_storage = {**storage, "columns": columns, "archived": archived}
    if automatic or "indexes" in storage:
        new_storage["indexes"] = automatic
    if subforms or "subforms" in storage:
        new_storage["subforms"] = subforms
    document_changed = dict(old) != dict(new)
    steps = first + renames + [s for s in later if s.action != "recompute_formulas"] + row_steps
    steps += [s for s in later if s.action == "recompute_formulas"]
    return Plan(tuple(steps), tuple(changes + row_changes), tuple(blockers), new_storage, document_changed)


def _automatic_index_step(fids: tuple[str, ...], views: int, fields: Mapping[str, Doc]) -> Step:
    asked = f"{views} saved {'view' if views == 1 else 'views'}"
    if len(fids) == 1:
        verb = "sorts or filters" if views == 1 else "sort or filter"
        key = fields[fids[0]]["key"]
        return Step(
            "add_index", f"Index {key}: {asked} {verb} by it", {"field_id": fids[0], "automatic": True, "views": views}
        )
    keys = [key_of(fid, fields) for fid in fids]
    picked, then = ", ".join(keys[:-1]), keys[-1]
    verbs = ("picks", "sorts or filters") if views == 1 else ("pick", "sort or filter")
    return Step(
        "add_index",
        f"Index {', '.join(keys)} together: {asked} {verbs[0]} one {picked} and {verbs[1]} by {then}",
        {"field_ids": list(fids), "automatic": True, "views": views},
    )


# Steps that change stored values (not only where they are kept).
VALUE_STEPS = frozenset({"convert_column", "fill_empty", "restore_column", "archive_column"})


def diff_with_rows(old: Doc | None, new: Doc, storage: Mapping[str, Any]) -> list[FieldChange]:
    """`diff_forms`, plus the changes to the fields of kept subforms' rows (`items.qty`)."""
    changes = diff_forms(old, new, storage.get("archived"))
    if old is None:
        return changes
    for _, before, after, child in kept_subforms(old, new, storage):
        key = after["key"]
        for c in diff_forms(before, after, child.get("archived")):
            changes.append(FieldChange(c.kind, c.field_id, f"{key}.{c.key}", c.before, c.after))
    return changes


def _reads_rows(formula: str, form: Doc) -> bool:
    """Does a formula read a subform column (`SUM(items.qty)`)?"""
    from opsloom.runtime import formulas

    subforms = {f["key"] for f in form["fields"] if unit_of(f).child_rows}
    try:
        refs = formulas.references(formulas.parse_formula(formula))
    except formulas.FormulaError:
        return False
    return any(ref.partition(".")[0] in subforms for ref in refs if "." in ref)


def _collect(steps: list[Step], blockers: list[Blocker], outcome: tuple[Step | None, Blocker | None]) -> None:
    step, blocker = outcome
    if step is not None:
        steps.append(step)
    if blocker is not None:
        blockers.append(blocker)


def _name(f: Doc | None) -> str:
    if f is None:
        return "?"
    label = label_text(f.get("label", f["key"]))
    return f"'{label}' ({f['key']})" if label != f["key"] else f"'{f['key']}'"


def _conversion(
    change: FieldChange, f: Doc | None, facts: Facts, resolution: Resolution, kept: Doc | None = None
) -> tuple[Step | None, Blocker | None]:
    assert f is not None
    fid, key = change.field_id, change.key
    bad = facts.invalid_count.get(fid, 0)
    what = {
        "retyped": f"Convert {key} from {change.before} to {change.after}",
        "reshaped": f"Change the size of {key} from {change.before} to {change.after}",
        "options_removed": f"Remove the option(s) {', '.join(map(str, change.before or []))} from {key}",
    }[change.kind]
    details: dict[str, Any] = {
        "field_id": fid,
        "rewrite": change.kind != "options_removed",
        "invalid": bad,
    }
    if bad == 0:
        return Step("convert_column", f"{what}; every value fits", details), None
    if resolution.on_invalid == "set_empty":
        return Step(
            "convert_column",
            f"{what}; {bad} values that do not fit become empty",
            {**details, "on_invalid": "set_empty"},
        ), None
    if resolution.on_invalid == "set_value":
        return Step(
            "convert_column",
            f"{what}; {bad} values that do not fit become {resolution.value!r}",
            {**details, "on_invalid": "set_value", "value": resolution.value},
        ), None
    if resolution.on_invalid == "archive" and kept is not None:
        keep = archive_column_name(kept["id"])
        return Step(
            "convert_column",
            f"{what}; {bad} values that do not fit become empty, and every value as it was is kept in an "
            "archived field that can be brought back",
            {**details, "rewrite": True, "on_invalid": "set_empty", "keep": keep},
        ), None
    blocker = Blocker(
        key,
        f"{bad} existing values of {key} would not fit the changed field.",
        f'Fix them, or publish with {{"resolutions": {{"{key}": {{"on_invalid": "set_empty"}}}}}}, '
        f'{{"on_invalid": "set_value", "value": ...}} or {{"on_invalid": "archive"}} (empty them and keep '
        "every value as it was in an archived field).",
        facts.invalid.get(fid, ()),
        bad,
    )
    return None, blocker


def _required(fid: str, key: str, f: Doc, facts: Facts, resolution: Resolution) -> tuple[Step | None, Blocker | None]:
    n = facts.empty_count.get(fid, 0)
    if n == 0:
        return None, None
    if resolution.fill_empty is not None and unit_of(f).holds_files:
        return None, Blocker(
            key,
            f"{n} records have no files in {key}; files cannot be filled in by a publish.",
            "Attach files to those records first (ids listed), or keep the field optional.",
            facts.empty.get(fid, ()),
            n,
        )
    if resolution.fill_empty is not None:
        return Step(
            "fill_empty",
            f"Fill {key} with {resolution.fill_empty!r} in {n} records where it is empty",
            {"field_id": fid, "value": resolution.fill_empty},
        ), None
    return None, Blocker(
        key,
        f"{n} records have no value for {key}, so it cannot become required.",
        f'Fill them in, or publish with {{"resolutions": {{"{key}": {{"fill_empty": ...}}}}}}.',
        facts.empty.get(fid, ()),
        n,
    )
