"""What the user chooses for an import (sheet, header row, mapping, cleaning, values, mode, key,
error policy), checked as it is changed, and what stands in the way of committing it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opsloom.platform.errors import BadRequest, Conflict, FieldError
from opsloom.runtime.fields import FieldSpec, unit_of
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.imports.batches import MODES, POLICIES
from opsloom.runtime.imports.cleaning import CLEANERS
from opsloom.runtime.imports.mapping import (
    importable,
    targets,
)
from opsloom.runtime.imports.sources import cell_json

EDITABLE = ("draft", "failed", "cancelled")  # states an import may be set up and committed (again) from


@dataclass
class ImportOptions:
    """What the user chose."""

    sheet: str | None = None
    header_row: int = 1
    mapping: dict[str, int] = field(default_factory=dict)  # field key -> column index
    cleaning: list[str] = field(default_factory=lambda: list(CLEANERS))
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # field key -> text -> value (None: empty)
    mode: str = "insert"
    key_field: str | None = None
    error_policy: str = "skip_bad_rows"

    @classmethod
    def of(cls, stored: dict[str, Any]) -> ImportOptions:
        known = {k: v for k, v in stored.items() if k in cls.__dataclass_fields__}
        return cls(**known)


YES_NO = {True: {"en": "Yes", "zh-CN": "是"}, False: {"en": "No", "zh-CN": "否"}}


def choices_of(spec: FieldSpec) -> list[dict[str, Any]] | None:
    """The values a field can take, with what people call them (for mapping unmatched values)."""
    choices = unit_of(spec).element(spec).choices(spec)
    if choices is None:
        return None
    labels = {option.get("value"): option.get("label") for option in spec.get("options") or ()}
    ordered = [v for v in labels if v in choices] + sorted((v for v in choices if v not in labels), key=str)
    return [{"value": v, "label": labels.get(v) or YES_NO.get(v) or str(v)} for v in ordered]


def template_columns(form: CompiledForm, locale: str) -> list[tuple[str, Any, list[str]]]:
    """(header, example cell, option labels) of each field an import can fill, for a template file."""
    columns = []
    for spec in importable(form):
        unit = unit_of(spec)
        names = [label_in(choice["label"], locale) for choice in choices_of(spec) or []]
        example: Any = names[0] if names else None
        if example is None and unit.link is None:
            try:
                example = cell_json(unit.example(spec))
            except (NotImplementedError, ValueError, TypeError):
                example = None
        if isinstance(example, list | dict):
            example = None
        columns.append((label_in(spec.label, locale), example, names))
    return columns


def label_in(label: Any, locale: str) -> str:
    if isinstance(label, dict):
        return str(label.get(locale) or label.get("en") or next(iter(label.values()), ""))
    return str(label)


def apply_changes(form: CompiledForm, options: ImportOptions, change: Any) -> bool:
    """The user's changes to the options, checked; answer whether the file must be read again."""
    if not isinstance(change, dict):
        raise BadRequest("Send the import's settings as a JSON object", [FieldError("$", "expected an object")])
    errors: list[FieldError] = []
    fields = {target.path: target for target in targets(form)}
    own = {spec.key for spec in importable(form)}
    rescan = False
    for key, value in change.items():
        if key == "sheet":
            if value is not None and not isinstance(value, str):
                errors.append(FieldError("sheet", "name a sheet of the workbook"))
            options.sheet, rescan = value, True
        elif key == "header_row":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1000:
                errors.append(FieldError("header_row", "give the number of the header row, 1 to 1000 (0: none)"))
            else:
                options.header_row, rescan = value, True
        elif key == "mapping":
            if not isinstance(value, dict):
                errors.append(FieldError("mapping", "expected {field key: column index}"))
                continue
            for field_key, column in value.items():
                if field_key not in fields:
                    errors.append(FieldError(f"mapping.{field_key}", "is not a field the import can fill"))
                elif not isinstance(column, int) or isinstance(column, bool) or not 0 <= column < 16384:
                    errors.append(FieldError(f"mapping.{field_key}", "give a column index (0 is the first)"))
            options.mapping, rescan = dict(value), True
        elif key == "cleaning":
            if not isinstance(value, list) or any(name not in CLEANERS for name in value):
                errors.append(FieldError("cleaning", f"list cleaning steps among {', '.join(CLEANERS)}"))
            else:
                options.cleaning, rescan = list(value), True
        elif key == "values":
            if not isinstance(value, dict) or any(not isinstance(v, dict) for v in value.values()):
                errors.append(FieldError("values", "expected {field key: {value in the file: value to store}}"))
                continue
            for field_key in value:
                if field_key not in fields:
                    errors.append(FieldError(f"values.{field_key}", "is not a field the import can fill"))
            options.values, rescan = {k: dict(v) for k, v in value.items()}, True
        elif key == "mode":
            if value not in MODES:
                errors.append(FieldError("mode", f"use one of {', '.join(MODES)}"))
            options.mode = value
        elif key == "key_field":
            if value is not None and value not in own:
                errors.append(FieldError("key_field", "name a field of the form (not of its subforms)"))
            options.key_field = value
        elif key == "error_policy":
            if value not in POLICIES:
                errors.append(FieldError("error_policy", f"use one of {', '.join(POLICIES)}"))
            options.error_policy = value
        else:
            errors.append(FieldError(key, "is not a setting of an import"))
    if errors:
        raise BadRequest("Some settings of the import are wrong", errors)
    return rescan


def ready_problems(form: CompiledForm, row: Any) -> list[FieldError]:
    """What stands in the way of trying or committing the import."""
    options = ImportOptions.of(row["options"])
    problems: list[FieldError] = []
    if not options.mapping:
        problems.append(FieldError("mapping", "map at least one column to a field"))
    if options.mode != "insert":
        if options.key_field is None:
            problems.append(FieldError("key_field", f"{options.mode} needs a key field to find existing records"))
        elif options.key_field not in options.mapping:
            problems.append(FieldError("key_field", "map a column to the key field"))
    for key, values in (row["options"].get("analysis") or {}).get("unmatched", {}).items():
        for entry in values:
            problems.append(
                FieldError(
                    f"values.{key}",
                    f"{entry['value']!r} ({entry['count']} rows) matches nothing: map it to a value or to empty",
                )
            )
    return problems


def require_ready(form: CompiledForm, row: Any) -> None:
    problems = ready_problems(form, row)
    if problems:
        raise Conflict("The import is not ready: " + problems[0].message, problems)
