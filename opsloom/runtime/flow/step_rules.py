"""What an approval or handler step asks of the person deciding: a comment, and how subform rows may change.

`"comment": {"approve": "required", "reject": "optional"}`: approving needs a comment only when
required; rejecting needs one unless optional (the submitter is owed a reason). The engine refuses
a decision without one (`comment_needed`), naming `comment`.

`"rows": {"items": {"add": true, "edit": true, "delete": false}}`: for a subform the step makes
editable, whether its rows may be added, edited and deleted (each allowed unless false). The shell
refuses a step's change that adds, edits or deletes a row it does not allow (`refuse_row_changes`),
naming the row: `values.items[2]`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opsloom.platform.errors import FieldError, PermissionDenied
from opsloom.runtime.fields import unit_of

if TYPE_CHECKING:
    from opsloom.runtime.forms import CompiledForm

REQUIRED, OPTIONAL = "required", "optional"
COMMENT_DEFAULTS = {"approve": OPTIONAL, "reject": REQUIRED}
ROW_CHANGES = ("add", "edit", "delete")


def comment_required(node: Mapping[str, Any], action: str) -> bool:
    """Whether `action` (approve or reject) at this step needs a comment."""
    if action not in COMMENT_DEFAULTS:
        return False
    rule = node.get("comment") or {}
    return rule.get(action, COMMENT_DEFAULTS[action]) == REQUIRED


def comment_rules(node: Mapping[str, Any]) -> dict[str, bool]:
    """Each decision and whether it needs a comment, as a task shows it."""
    return {action: comment_required(node, action) for action in COMMENT_DEFAULTS}


def row_rules(node: Mapping[str, Any], key: str) -> dict[str, bool]:
    """What may be done with the rows of subform `key` at this step."""
    rule = (node.get("rows") or {}).get(key)
    rule = rule if isinstance(rule, Mapping) else {}
    return {change: rule.get(change, True) is not False for change in ROW_CHANGES}


def refuse_row_changes(
    node: Mapping[str, Any], form: CompiledForm, changed: Mapping[str, Any], stored: Mapping[str, Any]
) -> None:
    """403 naming each row the step's change adds, edits or deletes when the step does not allow it.

    `changed` holds each changed subform's rows as they will be saved (the sent order; a new row
    has no id), `stored` the rows as they are."""
    errors: list[FieldError] = []
    for key, child in form.children.items():
        if key not in changed:
            continue
        allowed = row_rules(node, key)
        errors += _row_errors(key, child, allowed, changed[key], stored.get(key) or [])
    if errors:
        raise PermissionDenied("This step does not allow these changes to the rows", errors)


def _row_errors(
    key: str, child: CompiledForm, allowed: Mapping[str, bool], rows: Sequence[Mapping[str, Any]], stored: Sequence[Any]
) -> Iterator[FieldError]:
    before = {row["id"]: row for row in stored}
    entered = [s.key for s in child.fields if unit_of(s).entered]
    for i, row in enumerate(rows):
        path = f"values.{key}[{i}]"
        if row["id"] is None:
            if not allowed["add"]:
                yield FieldError(path, "rows cannot be added at this step")
        elif not allowed["edit"] and any(row.get(k) != before[row["id"]].get(k) for k in entered):
            yield FieldError(path, f"row {row['id']} cannot be changed at this step")
    if not allowed["delete"]:
        kept = {row["id"] for row in rows}
        for j, row in enumerate(stored):
            if row["id"] not in kept:
                yield FieldError(f"values.{key}", f"row {row['id']} (row {j + 1}) cannot be deleted at this step")


def rows_name_editable_subforms(document: Mapping[str, Any], form: CompiledForm) -> Iterator[FieldError]:
    """A flow check: row rules are given for subforms of the form that the step makes editable."""
    for i, node in enumerate(document.get("nodes", [])):
        for key in node.get("rows") or {}:
            path = f"nodes[{i}].rows.{key}"
            spec = form.by_key.get(key)
            if spec is None or not unit_of(spec).child_rows:
                yield FieldError(path, f"'{key}' is not a subform of {form.key}")
            elif (node.get("fields") or {}).get(key) != "editable":
                yield FieldError(path, f"make {key} editable at this step first; its rows can only change then")
