"""Field rules, enforced by the server on every write path and mirrored in the browser.

A field may say when it is visible (`visible_when`), when it is read-only
(`readonly_when`) and when it is required (`required_when`), each a condition
about the record. A form may list cross-field `validations`: a condition the
record must satisfy, with the message to show (e.g. end_date >= start_date).
Conditions are evaluated against the record as it will be saved: a write that
hides a field empties it (`empty_hidden`), whether or not it sent that field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opsloom.platform.errors import FieldError
from opsloom.runtime.conditions import Condition, EvalContext, evaluate, fields_of, parse_condition
from opsloom.runtime.fields import unit_of

FIELD_RULES = ("visible_when", "readonly_when", "required_when")


@dataclass(frozen=True)
class Validation:
    condition: Condition
    message: str
    path: str
    fields: frozenset[str]
    label: Any = None  # the message as written, maybe in several languages (pages show the reader's)


@dataclass(frozen=True)
class Rules:
    visible: Mapping[str, Condition]
    read_only: Mapping[str, Condition]
    required: Mapping[str, Condition]
    validations: tuple[Validation, ...]
    required_if_visible: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.visible or self.read_only or self.required or self.validations)


def compile_rules(form: Any) -> Rules:
    """Parse the rules of a compiled form (raises BadRequest with the rule's path)."""
    by_rule: dict[str, dict[str, Condition]] = {name: {} for name in FIELD_RULES}
    # Rules are judged on save; a value computed as it is read (a rollup) is not there yet.
    saved = form.restricted(frozenset(s.key for s in form.fields if unit_of(s).read_time))
    for i, spec in enumerate(form.fields):
        for name in FIELD_RULES:
            if spec.raw.get(name) is not None:
                by_rule[name][spec.key] = parse_condition(spec.raw[name], saved, f"fields[{i}].{name}")
    validations = []
    for i, v in enumerate(form.document.get("validations", [])):
        condition = parse_condition(v["condition"], saved, f"validations[{i}].condition")
        path = (v.get("fields") or ["$"])[0]
        validations.append(
            Validation(condition, _text(v["message"]), path, frozenset(fields_of(condition)), v["message"])
        )
    required_if_visible = frozenset(s.key for s in form.fields if s.required and s.raw.get("visible_when") is not None)
    return Rules(
        by_rule["visible_when"],
        by_rule["readonly_when"],
        by_rule["required_when"],
        tuple(validations),
        required_if_visible,
    )


def _text(label: Any) -> str:
    if isinstance(label, Mapping):
        return str(label.get("en") or label.get("zh-CN") or next(iter(label.values())))
    return str(label)


def check_rules(
    rules: Rules,
    record: Mapping[str, Any],
    sent: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    ctx: EvalContext,
    prefix: str = "",
) -> list[FieldError]:
    """Problems with a write: `record` as it would be saved, `sent` the fields the caller
    sent, `before` the stored record (None when creating)."""
    if rules.empty:
        return []
    errors: list[FieldError] = []
    hidden = {key for key, cond in rules.visible.items() if not evaluate(cond, record, ctx)}
    for key in sent:
        if key in hidden and not _empty(sent[key]):  # (no rows, [], is empty too)
            errors.append(FieldError(f"{prefix}{key}", "is hidden for this record; leave it empty"))
    for key, cond in rules.read_only.items():
        if key in sent and evaluate(cond, record, ctx):
            unchanged = before is not None and before.get(key) == sent[key]
            if not unchanged and not (before is None and sent[key] is None):
                errors.append(FieldError(f"{prefix}{key}", "is read-only for this record"))
    for key, cond in rules.required.items():
        if key not in hidden and _empty(record.get(key)) and evaluate(cond, record, ctx):
            errors.append(FieldError(f"{prefix}{key}", "is required for this record"))
    for key in rules.required_if_visible:
        if key not in hidden and key not in rules.required and _empty(record.get(key)):
            errors.append(FieldError(f"{prefix}{key}", "is required"))
    for validation in rules.validations:
        # A validation speaks once the fields it compares have values; "must be
        # filled in" is what required and required_when are for.
        if any(_empty(record.get(key)) for key in validation.fields):
            continue
        if not evaluate(validation.condition, record, ctx):
            if validation.path != "$":
                path = f"{prefix}{validation.path}"
            else:  # a row's validation without fields names the row (`items[2]`), a record's the record
                path = prefix.rstrip(".") if prefix.endswith("].") else "$"
            errors.append(FieldError(path, validation.message))
    return errors


def empty_hidden(form: Any, values: dict[str, Any], ctx: EvalContext) -> bool:
    """Empty the fields that `visible_when` hides on `values` (a compiled form's record as it
    will be saved), on the record and on each of its subform rows; True if a value went.

    Only fields people fill in: formulas and numbers are the system's to keep."""
    removed = False
    for key, child in form.children.items():
        for row in values.get(key) or []:
            removed = _empty_hidden_fields(child, row, ctx) or removed
    return _empty_hidden_fields(form, values, ctx) or removed


def _empty_hidden_fields(form: Any, values: dict[str, Any], ctx: EvalContext) -> bool:
    removed = False
    for key, condition in form.rules.visible.items():
        spec = form.by_key[key]
        unit = form.unit(spec)
        if not unit.entered or unit.is_empty(values.get(key)) or evaluate(condition, values, ctx):
            continue
        values[key] = [] if key in form.children else None
        removed = True
    return removed


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []
