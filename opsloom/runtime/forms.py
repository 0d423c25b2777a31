"""The form compiler: a published form document becomes a real table plus its codecs.

Compiled forms are cached by (form id, version). Every request asks the
database which version is published (one indexed read), so a publish made by
any process is seen by every other on its next request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.errors import FieldError, NotFound, ValidationFailed
from opsloom.platform.types import BigId, UTCDateTime
from opsloom.runtime import formulas
from opsloom.runtime.field_types import FIELD_TYPES, FieldSpec, FieldType, Invalid
from opsloom.runtime.formulas import FormulaContext, Node, evaluate

# System fields every record has, with the field type used to filter and sort them.
SYSTEM_FIELDS: dict[str, str] = {
    "id": "integer",
    "version": "integer",
    "status": "text",
    "created_at": "datetime",
    "created_by": "integer",
    "updated_at": "datetime",
    "updated_by": "integer",
    "owner_id": "integer",
    "department_id": "integer",
}
# Names no field key may take: the system fields and internal columns.
RESERVED_KEYS = frozenset(SYSTEM_FIELDS) | {"deleted_at", "parent_id", "position"}
RECORD_STATUSES = ("draft", "in_review", "approved", "rejected", "withdrawn")


@dataclass(frozen=True)
class CompiledForm:
    app: str
    key: str
    form_id: int
    version: int
    document: Mapping[str, Any]
    table: Table
    fields: tuple[FieldSpec, ...]
    by_key: Mapping[str, FieldSpec]
    title_field: str | None
    # Formula fields in the order they must be computed, and formula defaults.
    formulas: tuple[tuple[FieldSpec, Node], ...] = ()
    default_formulas: tuple[tuple[FieldSpec, Node], ...] = ()
    rules: Any = None  # runtime.rules.Rules: visible/read-only/required conditions, validations
    # Forms that relation fields link to, by form key (bound per request by the registry).
    related: Mapping[str, CompiledForm] = field(default_factory=dict)

    def target(self, spec: FieldSpec) -> CompiledForm:
        """The form a relation field links to."""
        return self.related[spec.raw["form"]]

    def title_column(self) -> Column[Any]:
        spec = self.by_key.get(self.title_field or "")
        return self.table.c[spec.column] if spec else self.table.c.id

    @property
    def label(self) -> Any:
        return self.document.get("label", self.key)

    def restricted(self, hidden: frozenset[str]) -> CompiledForm:
        """The form as a user who may not see `hidden` fields sees it: they do not exist."""
        if not hidden:
            return self
        fields = tuple(s for s in self.fields if s.key not in hidden)
        return replace(self, fields=fields, by_key={s.key: s for s in fields})

    def spec(self, key: str) -> FieldSpec | None:
        """A field or system field by key, or None."""
        if key in self.by_key:
            return self.by_key[key]
        if key in SYSTEM_FIELDS:
            return FieldSpec(id=key, key=key, type=SYSTEM_FIELDS[key], column=key, label=key)
        return None

    def column(self, spec: FieldSpec) -> Column[Any]:
        return self.table.c[spec.column]

    def parse_input(self, payload: Any, *, partial: bool, zone: tzinfo = UTC, prefix: str = "") -> dict[str, Any]:
        """Validate a JSON object of field values; return parsed values by field key.

        Every problem is collected, so the user fixes them all in one go.
        """
        if not isinstance(payload, dict):
            raise ValidationFailed.of([FieldError(prefix.rstrip(".") or "$", "expected a JSON object")])
        errors: list[FieldError] = []
        values: dict[str, Any] = {}
        for key, raw in payload.items():
            path = f"{prefix}{key}"
            spec = self.by_key.get(key)
            if spec is None:
                errors.append(FieldError(path, _unknown_field_message(self, key)))
                continue
            if spec.type == "formula":
                errors.append(FieldError(path, "is computed from its formula; leave it out"))
                continue
            if spec.type == "autonumber":
                errors.append(FieldError(path, "is numbered by the system when the record is created; leave it out"))
                continue
            unit = FIELD_TYPES[spec.type]
            try:
                value = None if raw is None else unit.parse(spec, raw, zone)
            except Invalid as problem:
                errors.append(FieldError(path, str(problem)))
                continue
            if unit.is_empty(value):
                value = None
            else:
                errors.extend(FieldError(path, message) for message in unit.check(spec, value))
            values[key] = value
        for spec in self.fields:
            if not spec.required or spec.raw.get("visible_when") is not None:
                continue  # a field that can be hidden is required only while visible (runtime/rules.py)
            missing = values.get(spec.key) is None if (spec.key in values or not partial) else False
            if missing:
                errors.append(FieldError(f"{prefix}{spec.key}", "is required"))
        if errors:
            raise ValidationFailed.of(errors)
        return values

    def compute(self, values: dict[str, Any], ctx: FormulaContext, *, creating: bool = False) -> list[FieldError]:
        """Fill formula defaults (on create) and formula fields into `values`; return warnings."""
        warnings: list[FieldError] = []
        steps = (self.default_formulas if creating else ()) + self.formulas
        for spec, node in steps:
            if spec.type != "formula" and values.get(spec.key) is not None:
                continue  # a default only fills an empty field
            outcome = evaluate(node, values, ctx)
            value, problems = _fit_result(spec, outcome.value, ctx)
            values[spec.key] = value
            warnings.extend(FieldError(spec.key, w) for w in outcome.warnings + problems)
        return warnings

    @cached_property
    def _dumpers(self) -> tuple[tuple[str, str, Any, FieldSpec], ...]:
        """(key, column, dump function or None when the value is already JSON, spec) per field."""
        out = []
        for spec in self.fields:
            unit = FIELD_TYPES[spec.type]
            dump = None if type(unit).dump is FieldType.dump else unit.dump
            out.append((spec.key, spec.column, dump, spec))
        return tuple(out)

    def dump_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A database row -> the record's JSON object."""
        record: dict[str, Any] = {
            "id": row["id"],
            "version": row["version"],
            "status": row["status"],
        }
        for key, column, dump, spec in self._dumpers:
            value = row[column]
            record[key] = value if dump is None or value is None else dump(spec, value)
        for name in ("created_at", "updated_at"):
            record[name] = _dump_datetime(row[name])
        for name in ("created_by", "updated_by", "owner_id", "department_id"):
            record[name] = row[name]
        return record

    def dump_value(self, key: str, value: Any) -> Any:
        spec = self.spec(key)
        assert spec is not None
        return FIELD_TYPES[spec.type].dump(spec, value)

    def unit(self, spec: FieldSpec) -> FieldType:
        return FIELD_TYPES[spec.type]


def _fit_result(spec: FieldSpec, value: Any, ctx: FormulaContext) -> tuple[Any, list[str]]:
    """A computed value as the field stores it: rounded to its scale, or empty if it cannot fit."""
    if value is None:
        return None, []
    unit = FIELD_TYPES[spec.type]
    try:
        numeric = spec.type == "decimal" or (spec.type == "formula" and spec.get("result", "number") == "number")
        if isinstance(value, Decimal) and numeric:
            scale = spec.get("scale", 2)
            value = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
            if value.is_zero():
                value = abs(value)  # never store or show "-0.00"
        if isinstance(value, Decimal) and spec.type == "integer":
            value = value.to_integral_value(rounding=ROUND_HALF_UP)
        return unit.parse(spec, value, ctx.zone), []
    except (Invalid, InvalidOperation) as problem:
        return None, [f"the computed value {value!r} does not fit: {problem}; it is left empty"]


FORMULA_TYPES = {
    "integer": formulas.NUMBER,
    "decimal": formulas.NUMBER,
    "text": formulas.TEXT,
    "textarea": formulas.TEXT,
    "email": formulas.TEXT,
    "phone": formulas.TEXT,
    "url": formulas.TEXT,
    "select": formulas.TEXT,
    "boolean": formulas.BOOLEAN,
    "date": formulas.DATE,
    "datetime": formulas.DATETIME,
    "user": formulas.NUMBER,
    "department": formulas.NUMBER,
}


def formula_environment(fields: list[Mapping[str, Any]]) -> dict[str, str]:
    """What a formula of this form may read, with each value's type."""
    env = {key: FORMULA_TYPES.get(kind, formulas.TEXT) for key, kind in SYSTEM_FIELDS.items()}
    for f in fields:
        if f["type"] == "formula":
            env[f["key"]] = f.get("result", "number")
        elif f["type"] in FORMULA_TYPES:
            env[f["key"]] = FORMULA_TYPES[f["type"]]
    return env


def formula_order(fields: list[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Node]]:
    """Formula fields in an order where each comes after the formulas it reads.

    Raises FormulaError naming the fields of a cycle."""
    parsed = {f["key"]: (f, formulas.parse_formula(f["formula"])) for f in fields if f["type"] == "formula"}
    ordered: list[tuple[Mapping[str, Any], Node]] = []
    state: dict[str, str] = {}

    def visit(key: str, trail: list[str]) -> None:
        if state.get(key) == "done":
            return
        if state.get(key) == "visiting":
            cycle = trail[trail.index(key) :] + [key]
            raise formulas.FormulaError("formulas refer to each other in a circle: " + " -> ".join(cycle))
        state[key] = "visiting"
        for ref in sorted(formulas.references(parsed[key][1])):
            if ref in parsed:
                visit(ref, trail + [key])
        state[key] = "done"
        ordered.append(parsed[key])

    for key in parsed:
        visit(key, [])
    return ordered


def _unknown_field_message(form: CompiledForm, key: str) -> str:
    if key in SYSTEM_FIELDS or key == "deleted_at":
        return f"'{key}' is set by the system; leave it out"
    known = ", ".join(s.key for s in form.fields)
    return f"'{key}' is not a field of {form.key}; its fields are: {known}"


def _dump_datetime(value: Any) -> Any:
    from opsloom.runtime.field_types import dump_datetime

    return None if value is None else dump_datetime(value)


def table_name_for(app: str, form: str) -> str:
    """Readable physical names (`procurement__purchase_request`) that fit in 63 characters."""
    name = f"{app}__{form}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:54]}_{digest}"


def initial_storage(app: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """Where a form's data lives: its table, and the column of every field by field id."""
    return {
        "table": table_name_for(app, document["key"]),
        "columns": {f["id"]: f["key"] for f in document["fields"]},
    }


def compile_form(
    app: str,
    document: Mapping[str, Any],
    *,
    form_id: int,
    version: int,
    storage: Mapping[str, Any],
) -> CompiledForm:
    columns_by_id: Mapping[str, str] = storage["columns"]
    specs = tuple(
        FieldSpec(
            id=f["id"],
            key=f["key"],
            type=f["type"],
            column=columns_by_id.get(f["id"], f["key"]),
            label=f.get("label", f["key"]),
            required=bool(f.get("required")),
            unique=bool(f.get("unique")),
            raw=f,
        )
        for f in document["fields"]
    )
    name = storage["table"]
    table = Table(name, MetaData(), *system_columns(), *_field_columns(specs))
    by_key = {s.key: s for s in specs}
    ordered = tuple((by_key[f["key"]], node) for f, node in formula_order(list(document["fields"])))
    default_formulas = tuple(
        (spec, formulas.parse_formula(spec.raw["default"]["formula"]))
        for spec in specs
        if isinstance(spec.raw.get("default"), Mapping)
    )
    _add_indexes(table, name, specs)
    compiled = CompiledForm(
        app=app,
        key=document["key"],
        form_id=form_id,
        version=version,
        document=document,
        table=table,
        fields=specs,
        by_key=by_key,
        title_field=document.get("title_field"),
        formulas=ordered,
        default_formulas=default_formulas,
    )
    from opsloom.runtime.rules import compile_rules  # rules parse conditions against the form itself

    return replace(compiled, rules=compile_rules(compiled))


def system_columns() -> list[Column[Any]]:
    return [
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("version", Integer, nullable=False, default=1),
        Column("status", String(16), nullable=False, default="draft"),
        Column("created_at", UTCDateTime, nullable=False),
        Column("created_by", BigInteger, nullable=True),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("updated_by", BigInteger, nullable=True),
        Column("owner_id", BigInteger, nullable=True),
        Column("department_id", BigInteger, nullable=True),
        Column("deleted_at", UTCDateTime, nullable=True),
    ]


def _field_columns(specs: tuple[FieldSpec, ...]) -> list[Column[Any]]:
    return [Column(spec.column, FIELD_TYPES[spec.type].column_type(spec), nullable=True) for spec in specs]


def _add_indexes(table: Table, name: str, specs: tuple[FieldSpec, ...]) -> None:
    live = table.c.deleted_at.is_(None)
    for column in ("created_at", "updated_at", "owner_id", "department_id", "status"):
        Index(index_name(name, column), table.c[column])
    for spec in specs:
        if spec.unique:
            # Unique among live records: a deleted record does not block its value.
            Index(
                index_name(name, spec.id, "uq"),
                table.c[spec.column],
                unique=True,
                sqlite_where=live,
                postgresql_where=live,
            )
        elif spec.raw.get("index") or spec.type in ("relation", "user", "department"):
            Index(index_name(name, spec.id), table.c[spec.column])


def index_name(table: str, suffix: str, kind: str = "ix") -> str:
    """Index names follow the field id, so they survive renames of the key and column.

    A short hash of (table, suffix) keeps names unique: `s__t` + `x_status` and
    `s__t_x` + `status` would otherwise meet."""
    digest = hashlib.sha1(f"{table}\0{suffix}".encode()).hexdigest()[:8]
    return f"{kind}_{table}_{suffix}"[:54] + "_" + digest


PUBLISHED = "_opsloom_published"


class StaleForm(Exception):
    """A read made with a cached form could not confirm that the form is still current."""


def published_probe(form: CompiledForm) -> Any:
    """A column that reads the form's published version in the same statement as its rows.

    Reads use it to check a cached form without a round trip of their own."""
    d = tables.definitions
    return select(d.c.published_version).where(d.c.id == form.form_id).scalar_subquery().label(PUBLISHED)


def confirm_current(form: CompiledForm, row: Mapping[str, Any] | None) -> None:
    if row is None or row[PUBLISHED] != form.version:
        raise StaleForm(form.key)


class FormRegistry:
    """Compiled forms of this process, keyed by (form id, published version)."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[int, int], CompiledForm] = {}
        self._latest: dict[tuple[str, str], CompiledForm] = {}

    def peek(self, app: str, form: str) -> CompiledForm | None:
        """The form as this process last compiled it, unchecked (None if it links to other forms).

        Only for reads that confirm it with `published_probe` and retry on `StaleForm`."""
        compiled = self._latest.get((app, form))
        if compiled is None or any(s.type == "relation" for s in compiled.fields):
            return None
        return compiled

    async def get(self, session: AsyncSession, app: str, form: str, *, with_related: bool = True) -> CompiledForm:
        """The published form, with the forms its relation fields link to."""
        compiled = await self._get(session, app, form)
        targets = {s.raw["form"] for s in compiled.fields if s.type == "relation"}
        if not with_related or not targets:
            return compiled
        related = {key: await self._get(session, app, key) for key in sorted(targets)}
        return replace(compiled, related=related)

    async def referrers(self, session: AsyncSession, app: str, form: str) -> list[tuple[CompiledForm, FieldSpec]]:
        """Relation fields of the app's forms that link to `form`."""
        found = []
        for key, document in await published_forms(session, app):
            if any(f["type"] == "relation" and f.get("form") == form for f in document["fields"]):
                source = await self._get(session, app, key)
                found += [(source, s) for s in source.fields if s.type == "relation" and s.raw["form"] == form]
        return found

    async def _get(self, session: AsyncSession, app: str, form: str) -> CompiledForm:
        d = tables.definitions
        where = (d.c.app_key == app, d.c.kind == "form", d.c.key == form)
        # The one query every request pays: which version is published now.
        row = (await session.execute(select(d.c.id, d.c.published_version).where(*where))).first()
        if row is None or row.published_version is None:
            await self._explain_missing(session, app, form, row is not None)
        cached = self._compiled.get((row.id, row.published_version))
        if cached is not None:
            return cached
        # A miss: read version and storage together, so they belong to one publish.
        row = (await session.execute(select(d.c.id, d.c.published_version, d.c.storage).where(*where))).one()
        v = tables.definition_versions
        document = (
            await session.execute(
                select(v.c.document).where(v.c.definition_id == row.id, v.c.version == row.published_version)
            )
        ).scalar_one()
        compiled = compile_form(app, document, form_id=row.id, version=row.published_version, storage=row.storage)
        if any(form_id == row.id for form_id, _ in self._compiled):
            # The table changed under this process: statements PostgreSQL prepared for the
            # old columns must not be reused ("cached plan must not change result type").
            invalidate = getattr(session.bind.dialect, "_invalidate_schema_cache", None)
            if invalidate is not None:
                invalidate()
            self._compiled = {k: v for k, v in self._compiled.items() if k[0] != row.id}
        self._compiled[(row.id, row.published_version)] = compiled
        self._latest[(app, form)] = compiled
        return compiled

    async def _explain_missing(self, session: AsyncSession, app: str, form: str, has_draft: bool) -> None:
        if has_draft:
            raise NotFound(f"Form '{form}' of app '{app}' has a draft but is not published yet")
        app_exists = (await session.execute(select(tables.apps.c.key).where(tables.apps.c.key == app))).first()
        if app_exists is None:
            raise NotFound(f"There is no app '{app}'")
        raise NotFound(f"App '{app}' has no form '{form}'")


async def published_forms(session: AsyncSession, app: str) -> list[tuple[str, dict[str, Any]]]:
    d, v = tables.definitions, tables.definition_versions
    rows = await session.execute(
        select(d.c.key, v.c.document)
        .join(v, (v.c.definition_id == d.c.id) & (v.c.version == d.c.published_version))
        .where(d.c.app_key == app, d.c.kind == "form")
        .order_by(d.c.id)
    )
    return [(r.key, dict(r.document)) for r in rows]
