"""From a spreadsheet's columns to a form's fields: matching headers, reading cells, finding
the values that match nothing.

`auto_mapping` matches each header to a field by its key or its label in any
language. `RowReader` turns one data row into the JSON object the records API
takes: each mapped cell cleaned (`cleaning.py`), read by its field type, then
replaced by what the user mapped it to, and links named by text (a supplier's
name, a person's e-mail, a department's path) resolved to ids
(`links.py`). `unmatched_values` lists, per column, each value that is not a
valid option or link, once, with its count and first row numbers: the user
maps them before the import may commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.runtime.fields import FieldSpec, FieldType, unit_of
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.imports.cleaning import Cleaner, clean_cell, cleaners_for
from opsloom.runtime.imports.links import LinkResolver

MAX_LISTED_VALUES = 500  # distinct unmatched values listed per column
MAX_LISTED_ROWS = 20  # row numbers listed per value
MAX_CANDIDATES = 20_000  # distinct link texts looked up per column


def importable(form: CompiledForm) -> list[FieldSpec]:
    """The fields a spreadsheet may fill: entered by people, one cell each."""
    fields = []
    for spec in form.fields:
        unit = unit_of(spec)
        if unit.entered and unit.has_column and not unit.holds_files:
            fields.append(spec)
    return fields


@dataclass(frozen=True)
class Target:
    """A field a column can fill: one of the form's (`path` its key), or of a subform's rows
    (`path` "items.qty", `parent` "items"), with the form it belongs to."""

    path: str
    form: CompiledForm
    spec: FieldSpec
    parent: str | None = None
    parent_spec: FieldSpec | None = None

    @property
    def label(self) -> Any:
        if self.parent_spec is None:
            return self.spec.label
        return joined_label(self.parent_spec.label, self.spec.label)

    def names(self) -> list[str]:
        own = field_names(self.spec)
        if self.parent_spec is None:
            return own
        parents = field_names(self.parent_spec)
        return [f"{p}{c}" for p in parents for c in own] + [f"{self.parent}.{self.spec.key}"] + own


def targets(form: CompiledForm) -> list[Target]:
    """Every field an import can fill, the form's own first, then its subforms' row fields."""
    found = [Target(spec.key, form, spec) for spec in importable(form)]
    for key, child in form.children.items():
        parent = form.by_key[key]
        found += [Target(f"{key}.{spec.key}", child, spec, key, parent) for spec in importable(child)]
    return found


def joined_label(parent: Any, child: Any) -> Any:
    """ "采购明细 · 数量": a subform's name and its row field's, in each language either has."""
    if not isinstance(parent, dict) and not isinstance(child, dict):
        return f"{parent} · {child}"
    parents = parent if isinstance(parent, dict) else {}
    children = child if isinstance(child, dict) else {}
    languages = set(parents) | set(children) or {"en"}
    return {
        lang: f"{parents.get(lang, parent if not isinstance(parent, dict) else next(iter(parents.values()), ''))} · "
        f"{children.get(lang, child if not isinstance(child, dict) else next(iter(children.values()), ''))}"
        for lang in sorted(languages)
    }


def _loose(text: Any) -> str:
    return re.sub(r"[\s_\-:：*（）()·./]+", "", str(text)).casefold()


def field_names(spec: FieldSpec) -> list[str]:
    label = spec.label
    names = list(label.values()) if isinstance(label, dict) else [label]
    return [str(n) for n in (spec.key, *names) if n]


def auto_mapping(form: CompiledForm, headers: list[Any], reserved: Iterable[str] = ()) -> dict[str, int]:
    """Target path -> column index, for each header that names a field (first column wins; the
    form's own fields before its subforms' row fields of the same name). A `reserved` header in
    the first or last column (where an export puts the columns it adds: the record number "编号"
    first, the status last) names a field only when no other column does, so an export maps back
    onto the fields it came from even where a field has the same label."""
    by_name: dict[str, str] = {}
    for target in targets(form):
        for name in target.names():
            by_name.setdefault(_loose(name), target.path)
    kept = {_loose(name) for name in reserved}
    named = [(index, _loose(header)) for index, header in enumerate(headers) if header is not None]
    edges = {0, len(headers) - 1}
    added = [p for p in named if p[1] in kept and p[0] in edges]
    mapping: dict[str, int] = {}
    for index, name in [p for p in named if p not in added] + added:
        key = by_name.get(name) if name else None
        if key is not None and key not in mapping:
            mapping[key] = index
    return mapping


def value_key(value: Any) -> str:
    """How a cleaned value is named in the value mapping."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Column:
    target: Target
    unit: FieldType
    index: int
    steps: list[Cleaner]
    values: Mapping[str, Any]  # text -> what the user mapped it to
    choices: frozenset[Any] | None
    link: str | None
    spec: FieldSpec = field(init=False)  # the target's, at hand: every cell of the column asks
    path: str = field(init=False)

    def __post_init__(self) -> None:
        self.spec, self.path = self.target.spec, self.target.path


Cells = list[list[Any]]  # a data row's cleaned items, one list per column of a RowReader


@dataclass
class RowReader:
    """Reads data rows of one import into record payloads."""

    form: CompiledForm
    columns: list[Column]
    resolver: LinkResolver
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> text -> id (None: unknown)
    # The columns of the record's own fields, and of each subform's row fields, each with its
    # position in `columns` (worked out once: every data row is read by them).
    own: list[tuple[int, Column]] = field(init=False)
    rows_of: dict[str, list[tuple[int, Column]]] = field(init=False)
    linked: list[tuple[int, Column]] = field(init=False)

    def __post_init__(self) -> None:
        self.own, self.rows_of = [], {}
        for position, column in enumerate(self.columns):
            parent = column.target.parent
            (self.rows_of.setdefault(parent, []) if parent else self.own).append((position, column))
        self.linked = [(position, column) for position, column in enumerate(self.columns) if column.link is not None]

    @classmethod
    def build(
        cls,
        form: CompiledForm,
        mapping: Mapping[str, int],
        cleaning: Iterable[str],
        values: Mapping[str, Mapping[str, Any]],
        resolver: LinkResolver,
    ) -> RowReader:
        enabled = list(cleaning)
        columns = []
        for target in targets(form):
            if target.path not in mapping:
                continue
            spec = target.spec
            unit = unit_of(spec)
            columns.append(
                Column(
                    target,
                    unit,
                    int(mapping[target.path]),
                    cleaners_for(unit, spec, enabled),
                    values.get(target.path, {}),
                    unit.element(spec).choices(spec),
                    unit.link,
                )
            )
        return cls(form, columns, resolver)

    @property
    def subforms(self) -> list[str]:
        """The subforms whose rows the file fills (each data row may add one row to each)."""
        return list(self.rows_of)

    def cleaned(self, column: Column, row: list[Any]) -> list[Any]:
        """The cell's values after cleaning (one, or each item of a list), before value mapping."""
        cell = row[column.index] if column.index < len(row) else None
        value = clean_cell(cell, column.spec, column.unit, column.steps)
        if value is None or value == "" or value == []:
            return []
        return list(value) if isinstance(value, list) else [value]

    def matched(self, column: Column, item: Any) -> bool:
        """Is the cleaned item a valid option / known link, as it stands?"""
        if column.choices is not None:
            return item in column.choices
        if column.link is not None:
            return self.links.get(column.path, {}).get(value_key(item)) is not None
        return True

    def clean(self, row: list[Any]) -> Cells:
        """Every mapped cell of the row cleaned (`cleaned`): what `learn_links` and `payload` read."""
        return [self.cleaned(column, row) for column in self.columns]

    async def learn_links(self, session: AsyncSession, rows: Iterable[Cells]) -> None:
        """Resolve the link texts of these cleaned rows that are not resolved yet (one query per field)."""
        wanted: dict[str, set[str]] = {}
        for cells in rows:
            for position, column in self.linked:
                known = self.links.setdefault(column.path, {})
                for item in cells[position]:
                    text = value_key(item)
                    if text not in known and text not in column.values:
                        wanted.setdefault(column.path, set()).add(text)
        for path, texts in wanted.items():
            column = next(c for c in self.columns if c.path == path)
            found = await self.resolver.resolve(session, column.target.form, column.spec, column.link or "", texts)
            self.links[path].update(found)

    def _values(self, columns: list[tuple[int, Column]], cells: Cells) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for position, column in columns:
            items = []
            for item in cells[position]:
                if not column.values and column.link is None:  # nothing to look up by its text
                    items.append(item)
                    continue
                text = value_key(item)
                if text in column.values:
                    mapped = column.values[text]
                    if mapped is not None:
                        items.append(mapped)
                elif column.link is not None:
                    resolved = self.links.get(column.path, {}).get(text)
                    items.append(resolved if resolved is not None else item)
                else:
                    items.append(item)
            if column.unit.multiple:
                record[column.spec.key] = items or None
            else:
                record[column.spec.key] = items[0] if items else None
        return record

    def payload(self, cells: Cells, more: Iterable[Cells] = ()) -> dict[str, Any]:
        """The record to create or update from its data row, and from the rows below it that add
        subform rows, each as `clean` left it (unmatched values are left as they are: the write's
        parse stage refuses them with their field's message)."""
        record = self._values(self.own, cells)
        for key, own in self.rows_of.items():
            lines = [self._values(own, line) for line in (cells, *more)]
            record[key] = [line for line in lines if any(v is not None for v in line.values())]
        return record

    def continues(self, row: list[Any], previous: list[Any] | None, group: Column | None) -> bool:
        """Does this row add subform rows to the record above (its key cell empty, as under a merged
        cell, or the same as the row above's)?"""
        if previous is None or group is None or not self.subforms:
            return False
        mine = self.cleaned(group, row)
        return not mine or mine == self.cleaned(group, previous)

    def group_column(self, key: str | None) -> Column | None:
        """The column whose repeated (or empty) value joins rows into one record."""
        wanted = [key, self.form.title_field]
        for path in wanted:
            found = next((c for c in self.columns if path and c.path == path), None)
            if found is not None:
                return found
        return None


@dataclass
class Unmatched:
    count: int = 0
    rows: list[int] = field(default_factory=list)


def candidates(reader: RowReader, numbered_rows: Iterable[tuple[int, list[Any]]]) -> dict[str, dict[str, Unmatched]]:
    """Field key -> value -> how often and where, for each value the user has not mapped that is
    no valid option, or that names a link (which `resolve_candidates` looks up). Pure: no database."""
    found: dict[str, dict[str, Unmatched]] = {}
    for number, row in numbered_rows:
        for column in reader.columns:
            if column.choices is None and column.link is None:
                continue
            for item in reader.cleaned(column, row):
                text = value_key(item)
                if text in column.values or (column.choices is not None and item in column.choices):
                    continue
                listed = found.setdefault(column.path, {})
                entry = listed.get(text)
                if entry is None:
                    if len(listed) >= MAX_CANDIDATES:
                        continue
                    entry = listed[text] = Unmatched()
                entry.count += 1
                if len(entry.rows) < MAX_LISTED_ROWS:
                    entry.rows.append(number)
    return found


async def unmatched_values(
    session: AsyncSession, reader: RowReader, found: dict[str, dict[str, Unmatched]]
) -> dict[str, dict[str, Unmatched]]:
    """The candidates that stay unmatched once links are looked up: what the user must map."""
    answer: dict[str, dict[str, Unmatched]] = {}
    for column in reader.columns:
        listed = found.get(column.path)
        if not listed:
            continue
        if column.link is not None:
            resolved = await reader.resolver.resolve(session, column.target.form, column.spec, column.link, listed)
            listed = {text: entry for text, entry in listed.items() if resolved.get(text) is None}
        if listed:
            ranked = sorted(listed.items(), key=lambda pair: (-pair[1].count, pair[0]))[:MAX_LISTED_VALUES]
            answer[column.path] = dict(ranked)
    return answer


def data_rows(rows: Iterator[list[Any]], header_row: int) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) of the rows below the header that hold anything."""
    for number, row in enumerate(rows, start=1):
        if number <= header_row:
            continue
        if any(cell is not None and str(cell).strip() != "" for cell in row):
            yield number, row
