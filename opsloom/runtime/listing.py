"""List queries: sort keys, keyset cursors and counts that stay fast on big tables."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, false, or_
from sqlalchemy.sql.elements import ColumnElement

from opsloom.platform.errors import BadRequest, FieldError
from opsloom.runtime.fields import FIELD_TYPES, FieldSpec, Invalid
from opsloom.runtime.forms import CompiledForm

MAX_SORT_KEYS = 5
MAX_LIMIT = 500


@dataclass(frozen=True)
class SortKey:
    spec: FieldSpec
    descending: bool

    @property
    def text(self) -> str:
        return ("-" if self.descending else "") + self.spec.key


def parse_sort(text: str | None, form: CompiledForm) -> tuple[SortKey, ...]:
    """`-amount,title` -> sort keys, always ending with `id` so the order is total."""
    keys: list[SortKey] = []
    for part in (text or "-id").split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        key = part.lstrip("-+")
        spec = form.spec(key)
        if spec is None:
            raise BadRequest(
                f"Cannot sort by '{key}': {form.key} has no such field",
                [FieldError("sort", f"'{key}' is not a field; sort by a field key, '-' for descending")],
            )
        if not FIELD_TYPES[spec.type].sortable_for(spec):
            raise BadRequest(
                f"Cannot sort by '{key}'",
                [FieldError("sort", f"{spec.type} fields cannot be sorted")],
            )
        if any(k.spec.key == key for k in keys):
            continue
        keys.append(SortKey(spec, descending))
    if len(keys) > MAX_SORT_KEYS:
        raise BadRequest("Too many sort keys", [FieldError("sort", f"at most {MAX_SORT_KEYS}")])
    if not any(k.spec.key == "id" for k in keys):
        keys.append(SortKey(form.spec("id"), keys[-1].descending if keys else True))  # type: ignore[arg-type]
    return tuple(keys)


NEVER_EMPTY = frozenset({"id", "version", "status", "created_at", "updated_at"})


def order_by(keys: tuple[SortKey, ...], form: CompiledForm) -> list[Any]:
    """Empty values sort last ascending and first descending on both databases.

    Columns that are never empty get a plain ORDER BY, which SQLite can serve from an index."""
    clauses = []
    for k in keys:
        column = form.column(k.spec)
        if k.spec.key in NEVER_EMPTY:
            clauses.append(column.desc() if k.descending else column.asc())
        else:
            clauses.append(column.desc().nulls_first() if k.descending else column.asc().nulls_last())
    return clauses


def _signature(keys: tuple[SortKey, ...], filter_text: str | None) -> str:
    raw = ",".join(k.text for k in keys) + "|" + (filter_text or "")
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def encode_cursor(keys: tuple[SortKey, ...], row: Any, form: CompiledForm, filter_text: str | None) -> str:
    values = [form.dump_value(k.spec.key, row[k.spec.column]) for k in keys]
    payload = json.dumps({"v": values, "s": _signature(keys, filter_text)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: tuple[SortKey, ...], filter_text: str | None) -> list[Any]:
    wrong = BadRequest(
        "The cursor is not valid for this list",
        [FieldError("cursor", "pass the next_cursor of the previous page, with the same filter and sort")],
    )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values = payload["v"]
        signature = payload["s"]
    except (ValueError, KeyError, TypeError):
        raise wrong from None
    if signature != _signature(keys, filter_text) or not isinstance(values, list) or len(values) != len(keys):
        raise wrong
    parsed: list[Any] = []
    for key, value in zip(keys, values, strict=True):
        if value is None:
            parsed.append(None)
            continue
        try:
            parsed.append(FIELD_TYPES[key.spec.type].parse(key.spec, value))
        except Invalid:
            raise wrong from None
    return parsed


@dataclass(frozen=True)
class After:
    """Rows strictly after a cursor: the clause, with each of the cursor's values a named bound
    parameter; `shape` (which of its values are empty) is the same for every cursor of the list
    whose clause differs in values alone, so that their pages share one statement (`values` sent with it)."""

    shape: tuple[bool, ...]
    clause: ColumnElement[bool]
    values: dict[str, Any]


def after_cursor(keys: tuple[SortKey, ...], values: list[Any], form: CompiledForm) -> After:
    """Rows strictly after `values` in the order of `keys` (empty values count as largest)."""
    # A bound parameter of the column's type: SQLAlchemy refuses `column > True` as such.
    binds = [
        None if value is None else bindparam(f"_opsloom_c{i}", value, type_=form.column(key.spec).type)
        for i, (key, value) in enumerate(zip(keys, values, strict=True))
    ]
    clauses = []
    for i, key in enumerate(keys):
        ties = [_same(form.column(k.spec), bound) for k, bound in zip(keys[:i], binds[:i], strict=True)]
        clauses.append(and_(*ties, _beyond(form.column(key.spec), binds[i], key.descending)))
    named = {bound.key: bound.value for bound in binds if bound is not None}
    return After(tuple(bound is None for bound in binds), or_(*clauses), named)


def _same(column: Any, value: Any) -> Any:
    return column.is_(None) if value is None else column == value


def _beyond(column: Any, value: Any, descending: bool) -> Any:
    if descending:  # empty first, then large to small
        return column.is_not(None) if value is None else column < value
    if value is None:  # ascending: small to large, then empty
        return false()
    return or_(column > value, column.is_(None))


def parse_limit(raw: str | None) -> int:
    """The page size: 1 to MAX_LIMIT (50 if not given), or 0 for no rows: the count alone."""
    if raw is None:
        return 50
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if not 0 <= limit <= MAX_LIMIT:
        raise BadRequest(
            "The limit is out of range",
            [FieldError("limit", f"use a whole number from 1 to {MAX_LIMIT}, or 0 for the count alone")],
        )
    return limit
