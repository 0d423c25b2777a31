"""Semantic checks of documents, after the JSON Schema: references, names, rules.

Each check is a small generator of `FieldError`s; `check_form` runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS as PG_RESERVED
from sqlalchemy.dialects.sqlite.base import SQLiteIdentifierPreparer

from opsloom.platform.errors import FieldError
from opsloom.runtime import formulas
from opsloom.runtime.fields import FieldSpec, Invalid, unit_of
from opsloom.runtime.forms import (
    RESERVED_KEYS,
    formula_environment,
    formula_order,
    row_environment,
    subform_document,
)

SQL_RESERVED = frozenset(PG_RESERVED) | frozenset(SQLiteIdentifierPreparer.reserved_words)

Document = Mapping[str, Any]
FormCheck = Callable[[Document], Iterator[FieldError]]


def _fields(document: Document) -> Iterator[tuple[int, Mapping[str, Any]]]:
    yield from enumerate(document.get("fields", []))


def unique_keys_and_ids(document: Document) -> Iterator[FieldError]:
    seen_keys: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for i, f in _fields(document):
        if f["key"] in seen_keys:
            yield FieldError(f"fields[{i}].key", f"'{f['key']}' is already used by fields[{seen_keys[f['key']]}]")
        seen_keys.setdefault(f["key"], i)
        if f["id"] in seen_ids:
            yield FieldError(f"fields[{i}].id", f"'{f['id']}' is already used by fields[{seen_ids[f['id']]}]")
        seen_ids.setdefault(f["id"], i)


def keys_are_not_reserved(document: Document) -> Iterator[FieldError]:
    for i, f in _fields(document):
        key = f["key"]
        if key in RESERVED_KEYS:
            yield FieldError(f"fields[{i}].key", f"'{key}' is a system field of every record; pick another key")
        elif key in SQL_RESERVED:
            yield FieldError(
                f"fields[{i}].key",
                f"'{key}' is a reserved word in SQL; pick another key, e.g. '{key}_value'",
            )


def title_field_exists(document: Document) -> Iterator[FieldError]:
    title = document.get("title_field")
    if title is None:
        return
    match = [f for _, f in _fields(document) if f["key"] == title]
    if not match:
        yield FieldError("title_field", f"'{title}' is not the key of a field of this form")
    elif not unit_of(match[0]).title:
        yield FieldError("title_field", f"a {match[0]['type']} field cannot name records; use a text field")


def summary_fields_exist(document: Document) -> Iterator[FieldError]:
    """Each summary field is a field of the form with a value of its own (not rows of a subform)."""
    fields = {f["key"]: f for _, f in _fields(document)}
    for i, key in enumerate(document.get("summary_fields") or []):
        found = fields.get(key)
        if found is None:
            yield FieldError(f"summary_fields[{i}]", f"'{key}' is not the key of a field of this form")
        elif not unit_of(found).has_column:
            yield FieldError(
                f"summary_fields[{i}]", f"a {found['type']} field holds rows; choose a field with one value"
            )


def options_are_distinct(document: Document) -> Iterator[FieldError]:
    for i, f in _fields(document):
        values = [o["value"] for o in f.get("options", [])]
        for j, value in enumerate(values):
            if value in values[:j]:
                yield FieldError(f"fields[{i}].options[{j}].value", f"'{value}' appears twice")


def ranges_make_sense(document: Document) -> Iterator[FieldError]:
    for i, f in _fields(document):
        spec = _spec(f)
        unit = unit_of(f)
        pairs = (("min", "max"), ("min_length", "max_length"), ("min_items", "max_items"), ("min_rows", "max_rows"))
        for low, high in pairs:
            if f.get(low) is None or f.get(high) is None:
                continue
            try:
                a, b = (unit.parse(spec, f[low]), unit.parse(spec, f[high])) if low == "min" else (f[low], f[high])
            except Invalid as problem:
                yield FieldError(f"fields[{i}].{low}", str(problem))
                continue
            if a > b:
                yield FieldError(f"fields[{i}].{low}", f"is larger than {high}")


def properties_make_sense(document: Document) -> Iterator[FieldError]:
    """What each field type checks of its own properties (a decimal's scale, a text's pattern)."""
    for i, f in _fields(document):
        for key, message in unit_of(f).design_problems(f):
            yield FieldError(f"fields[{i}].{key}", message)


def defaults_fit(document: Document) -> Iterator[FieldError]:
    for i, f in _fields(document):
        if f.get("default") is None or isinstance(f.get("default"), Mapping):
            continue
        unit = unit_of(f)
        if unit.child_rows:
            yield FieldError(f"fields[{i}].default", "a subform takes no default; give its fields defaults")
            continue
        spec = _spec(f)
        try:
            value = unit.parse(spec, f["default"])
        except Invalid as problem:
            yield FieldError(f"fields[{i}].default", str(problem))
            continue
        if value is not None:
            for message in unit.check(spec, value):
                yield FieldError(f"fields[{i}].default", message)


def layout_refers_to_fields(document: Document) -> Iterator[FieldError]:
    """Every key a section names is a field of the form; rows place a field once at most."""
    keys = {f["key"] for _, f in _fields(document)}
    placed: set[str] = set()
    for s, section in enumerate(document.get("layout", {}).get("sections", [])):
        named = [(f"layout.sections[{s}].fields[{j}]", key) for j, key in enumerate(section.get("fields", []))]
        named += [
            (f"layout.sections[{s}].rows[{r}][{c}].field", cell["field"])
            for r, row in enumerate(section.get("rows", []))
            for c, cell in enumerate(row)
        ]
        for path, key in named:
            if key not in keys:
                yield FieldError(path, f"'{key}' is not a field of this form")
            elif key in placed:
                yield FieldError(path, f"'{key}' is placed twice in the layout; remove one of them")
            if ".rows[" in path:
                placed.add(key)


def formulas_are_sound(
    document: Document, environment: Callable[[list[Any]], dict[str, str]] = formula_environment
) -> Iterator[FieldError]:
    """Every formula parses, reads fields that exist, has the right type, and no circles."""
    fields = list(document.get("fields", []))
    env = environment(fields)
    for i, f in _fields(document):
        unit = unit_of(f)
        if unit.computed:
            expected, text, path = unit.formula_type(f), f["formula"], f"fields[{i}].formula"
        elif isinstance(f.get("default"), Mapping):
            expected = unit.formula_type(f)
            text, path = f["default"]["formula"], f"fields[{i}].default.formula"
            if expected is None:
                yield FieldError(path, f"a {f['type']} field cannot have a formula default")
                continue
        else:
            continue
        try:
            produced = formulas.check(formulas.parse_formula(text), {k: v for k, v in env.items() if k != f["key"]})
        except formulas.FormulaError as error:
            if "is not a field this formula can use" in str(error) and f"'{f['key']}'" in str(error):
                yield FieldError(path, "a formula cannot use its own field")
            else:
                yield FieldError(path, str(error))
            continue
        if produced not in (expected, formulas.ANY):
            yield FieldError(
                path,
                f"produces {produced}, but the field holds {expected}; "
                'set "result" or change the formula (CONCAT makes text)',
            )
    try:
        formula_order([f for f in fields if not unit_of(f).computed or _parses(f["formula"])])
    except formulas.FormulaError as error:
        yield FieldError("fields", str(error))


def rules_are_valid(document: Document) -> Iterator[FieldError]:
    """visible_when, readonly_when, required_when and validations parse against this form."""
    from opsloom.platform.errors import BadRequest
    from opsloom.runtime.forms import compile_form, initial_storage

    has_rules = document.get("validations") or any(
        f.get(rule) is not None or unit_of(f).child_rows
        for _, f in _fields(document)
        for rule in ("visible_when", "readonly_when", "required_when")
    )
    if not has_rules:
        return
    try:
        compile_form("draft", document, form_id=0, version=0, storage=initial_storage("draft", document))
    except BadRequest as error:
        yield from error.errors
    except Exception:  # noqa: BLE001 - other checks report what keeps the form from compiling
        return


def autonumber_patterns_work(document: Document) -> Iterator[FieldError]:
    from opsloom.runtime.autonumbers import pattern_problems

    keys = {f["key"] for _, f in _fields(document) if not unit_of(f).numbered}
    for i, f in _fields(document):
        if unit_of(f).numbered:
            for problem in pattern_problems(f["pattern"], keys):
                yield FieldError(f"fields[{i}].pattern", problem)


def subforms_are_sound(document: Document) -> Iterator[FieldError]:
    """The rows' fields pass the same checks as a form's (paths like fields[3].fields[1].key),
    hold no subform or autonumber, and no id repeats anywhere in the form."""
    ids: dict[str, str] = {f["id"]: f"fields[{i}]" for i, f in _fields(document)}
    for i, f in _fields(document):
        if not unit_of(f).child_rows:
            continue
        rows = subform_document(f)
        for j, column in enumerate(rows["fields"]):
            path = f"fields[{i}].fields[{j}]"
            if refused := unit_of(column).not_in_rows:
                yield FieldError(f"{path}.type", refused)
            if column.get("unique"):
                yield FieldError(f"{path}.unique", "rows cannot be unique; drop unique")
            if column["id"] in ids:
                yield FieldError(f"{path}.id", f"'{column['id']}' is already used by {ids[column['id']]}")
            ids.setdefault(column["id"], path)
        if any(unit_of(c).not_in_rows for c in rows["fields"]):
            continue
        for check in ROW_CHECKS:
            for error in check(rows):
                yield FieldError(f"fields[{i}].{error.path}", error.message)


def _parses(text: str) -> bool:
    try:
        formulas.parse_formula(text)
    except formulas.FormulaError:
        return False
    return True


ROW_CHECKS: tuple[FormCheck, ...] = (
    unique_keys_and_ids,
    keys_are_not_reserved,
    options_are_distinct,
    ranges_make_sense,
    properties_make_sense,
    defaults_fit,
    # A row has no system fields (version, status, ...): its formulas read its own fields only.
    partial(formulas_are_sound, environment=row_environment),
)

FORM_CHECKS: tuple[FormCheck, ...] = (
    unique_keys_and_ids,
    keys_are_not_reserved,
    title_field_exists,
    summary_fields_exist,
    options_are_distinct,
    ranges_make_sense,
    properties_make_sense,
    defaults_fit,
    layout_refers_to_fields,
    formulas_are_sound,
    rules_are_valid,
    autonumber_patterns_work,
    subforms_are_sound,
)


def check_form(document: Document) -> list[FieldError]:
    return [error for check in FORM_CHECKS for error in check(document)]


def _spec(f: Mapping[str, Any]) -> FieldSpec:
    return FieldSpec(id=f["id"], key=f["key"], type=f["type"], column=f["key"], label=f["key"], raw=f)
