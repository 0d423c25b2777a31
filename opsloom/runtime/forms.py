"""The form compiler: a published form document becomes a real table plus its codecs.

Compiled forms are cached by (form id, version). Every request asks the
database which version is published (one indexed read), so a publish made by
any process is seen by every other on its next request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from decimal import InvalidOperation
from functools import cached_property
from typing import Any, NoReturn

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    null,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.database import is_writing
from opsloom.platform.errors import BadRequest, FieldError, NotFound, ValidationFailed
from opsloom.platform.types import BigId, StoredRow, UTCDateTime
from opsloom.runtime import formulas
from opsloom.runtime.fields import (
    FIELD_TYPES,
    SYSTEM_FIELDS,
    FieldSpec,
    FieldType,
    Invalid,
    dump_datetime,
    links_records,
    sources_of,
    unit_of,
)
from opsloom.runtime.formulas import FormulaContext, Node, evaluate

# System fields every record has, with the field type used to filter and sort them.
# Names no field key may take: the system fields and internal columns.
RESERVED_KEYS = frozenset(SYSTEM_FIELDS) | {"deleted_at", "parent_id", "position"}
RECORD_STATUSES = ("draft", "in_review", "approved", "rejected", "withdrawn")
MAX_ROWS = 1000  # rows of one subform in one record


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
    # Subforms by field key: each a compiled form of its own rows, stored in a child table.
    children: Mapping[str, CompiledForm] = field(default_factory=dict)
    is_child: bool = False
    parent_table: Table | None = None  # a subform's: the table of the records its rows belong to
    parent_key: str = ""

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

    def column(self, spec: FieldSpec) -> Any:
        """The field's column, or for a value computed as it is read (a rollup) its expression."""
        unit = unit_of(spec)
        if not unit.read_time:
            return self.table.c[spec.column]
        expression = unit.read_expression(spec, self)
        if expression is None:
            raise BadRequest(
                f"{spec.key} cannot be read: the form it is computed from changed",
                [FieldError(spec.key, "publish the form again once its rollup names fields that exist")],
            )
        return expression

    def read_columns(self) -> list[Any]:
        """The values computed as they are read (rollups), labelled as the row holds them: a statement
        that selects the form's table adds them. One no longer readable reads as empty."""
        out = []
        for spec in self.fields:
            unit = unit_of(spec)
            if unit.read_time:
                expression = unit.read_expression(spec, self)
                out.append((null() if expression is None else expression).label(spec.column))
        return out

    def parse_input(self, payload: Any, *, partial: bool, zone: tzinfo = UTC, prefix: str = "") -> dict[str, Any]:
        """Validate a JSON object of field values; return parsed values by field key.

        Every problem is collected, so the user fixes them all in one go.
        """
        if not isinstance(payload, dict):
            raise ValidationFailed.of([FieldError(prefix.rstrip(".") or "$", "expected a JSON object")])
        errors: list[FieldError] = []
        values: dict[str, Any] = {}
        unreadable: set[str] = set()  # already reported: "is required" would only repeat it
        for key, raw in payload.items():
            path = f"{prefix}{key}"
            spec = self.by_key.get(key)
            if spec is None:
                errors.append(FieldError(path, _unknown_field_message(self, key)))
                continue
            unit = unit_of(spec)
            if not unit.entered:
                errors.append(FieldError(path, unit.leave_out))
                continue
            if unit.child_rows:
                try:
                    values[key] = rows = self.children[key].parse_rows(raw, path, zone, new=not partial)
                except ValidationFailed as failed:
                    errors.extend(failed.errors)
                    unreadable.add(key)
                    continue
                if rows and (low := spec.get("min_rows")) is not None and len(rows) < low:
                    errors.append(FieldError(path, f"needs at least {low} rows"))
                if (high := spec.get("max_rows")) is not None and len(rows) > high:
                    errors.append(FieldError(path, f"allows at most {high} rows"))
                continue
            try:
                value = None if raw is None else unit.parse(spec, raw, zone)
            except Invalid as problem:
                errors.append(FieldError(path, str(problem)))
                unreadable.add(key)
                continue
            if unit.is_empty(value):
                value = None
            else:
                for message in unit.check(spec, value):
                    errors.append(FieldError(path, message))
            values[key] = value
        for spec, unit in self._always_required:
            if spec.key in unreadable:
                continue
            missing = unit.is_empty(values.get(spec.key)) if (spec.key in values or not partial) else False
            if missing:
                errors.append(FieldError(f"{prefix}{spec.key}", unit.missing))
        if errors:
            raise ValidationFailed.of(errors)
        return values

    def parse_rows(self, payload: Any, path: str, zone: tzinfo = UTC, *, new: bool = False) -> list[dict[str, Any]]:
        """The rows of a subform: a list of objects, each validated with paths like `items[3].qty`.

        A row that carries the `id` of a stored row changes that row (only the fields sent);
        a row without one is new. Each parsed row keeps its `id` (None when new). The rows
        of a `new` record are all new: an id there is refused (it would skip required fields)."""
        if payload is None:
            return []
        if not isinstance(payload, list):
            raise ValidationFailed.of([FieldError(path, "expected a list of rows, e.g. [{...}, {...}]")])
        if len(payload) > MAX_ROWS:
            raise ValidationFailed.of([FieldError(path, f"holds {len(payload)} rows; at most {MAX_ROWS} fit")])
        rows: list[dict[str, Any]] = []
        errors: list[FieldError] = []
        seen: set[int] = set()
        for i, item in enumerate(payload):
            prefix = f"{path}[{i}]."
            row_id = None
            if isinstance(item, dict) and "id" in item:
                item = dict(item)
                row_id = item.pop("id")
                if row_id is not None and (
                    isinstance(row_id, bool) or not isinstance(row_id, int) or not 0 < row_id < 2**63
                ):
                    errors.append(FieldError(f"{prefix}id", "expected the id of a row of this record, or no id"))
                    continue
                if row_id is not None and new:
                    errors.append(FieldError(f"{prefix}id", "a new record's rows are all new; leave out id"))
                    continue
                if row_id in seen:
                    errors.append(FieldError(f"{prefix}id", f"row {row_id} appears twice"))
                    continue
                if row_id is not None:
                    seen.add(row_id)
            if isinstance(item, dict) and row_id is None:
                item = {**self.literal_defaults(exclude=item), **item}
            try:
                values = self.parse_input(item, partial=row_id is not None, zone=zone, prefix=prefix)
            except ValidationFailed as failed:
                errors.extend(failed.errors)
                continue
            rows.append({"id": row_id, **values})
        if errors:
            raise ValidationFailed.of(errors)
        return rows

    @cached_property
    def _always_required(self) -> tuple[tuple[FieldSpec, FieldType], ...]:
        """The required fields, with their units, that no rule can hide (a field that can be
        hidden is required only while visible: runtime/rules.py)."""
        return tuple(
            (spec, unit_of(spec)) for spec in self.fields if spec.required and spec.raw.get("visible_when") is None
        )

    def literal_defaults(self, exclude: Collection[str] = ()) -> dict[str, Any]:
        """Literal default values (not formulas) of the fields whose keys are not in `exclude`."""
        return {key: default for key, default in self._literal_defaults if key not in exclude}

    @cached_property
    def _literal_defaults(self) -> tuple[tuple[str, Any], ...]:
        """(key, default) of each field with a literal default (every record written asks)."""
        out = []
        for spec in self.fields:
            default = spec.raw.get("default")
            if default is not None and not isinstance(default, Mapping):
                out.append((spec.key, default))
        return tuple(out)

    def formula_scope(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """What formulas read: the record's values plus each subform column as a list (`items.qty`)."""
        scope = dict(values)
        for key, child in self.children.items():
            rows = values.get(key) or []
            for spec in child.fields:
                scope[f"{key}.{spec.key}"] = [row.get(spec.key) for row in rows]
        return scope

    def compute(
        self, values: dict[str, Any], ctx: FormulaContext, *, creating: bool = False, defaults: bool = True
    ) -> list[FieldError]:
        """Fill formula defaults (on create) and formula fields into `values`; return warnings.

        Subform rows are computed first (a new row gets its defaults), so that the
        record's formulas can sum them. `defaults=False` computes formulas only: a second
        pass after fields were emptied must not fill them again."""
        warnings: list[FieldError] = []
        for key, child in self.children.items():
            for i, row in enumerate(values.get(key) or []):
                for w in child.compute(row, ctx, creating=defaults and row.get("id") is None):
                    warnings.append(FieldError(f"{key}[{i}].{w.path}", w.message))
        scope = self.formula_scope(values) if self.children else values
        steps = (self.default_formulas if creating and defaults else ()) + self.formulas
        for spec, node in steps:
            if not self.unit(spec).computed and values.get(spec.key) is not None:
                continue  # a default only fills an empty field
            outcome = evaluate(node, scope, ctx)
            value, problems = _fit_result(spec, outcome.value, ctx)
            values[spec.key] = scope[spec.key] = value
            warnings.extend(FieldError(spec.key, w) for w in outcome.warnings + problems)
        return warnings

    @cached_property
    def live(self) -> Any:
        """`deleted_at IS NULL`, the records not deleted: built once, as nearly every read names it."""
        return self.table.c.deleted_at.is_(None)

    @cached_property
    def statements(self) -> dict[Any, Any]:
        """Statements built once for this form, by what they are for: ones whose every per-request
        value is a bound parameter (building one anew costs more than sending it)."""
        return {}

    @cached_property
    def inserts(self) -> tuple[Any, Any]:
        """INSERT ... RETURNING every column: answered in the order the rows were sent, and in
        any order (see `insert_records`). Built once: every create sends one."""
        returning = insert(self.table).returning
        return returning(*self.table.c, sort_by_parameter_order=True), returning(*self.table.c)

    def confirmed_insert(self, columns: tuple[str, ...]) -> Any:
        """INSERT ... SELECT ... RETURNING of one row of these `columns`, stored only while this
        version of the form is the published one (no row comes back when it is not).

        For a create that took the form from this process's cache unasked: the check inside the
        INSERT is as good as one before it, and saves a statement. A publish locks the form's
        definition FOR UPDATE and must wait for the writes made with the version it replaces: on
        PostgreSQL the check reads the definition FOR KEY SHARE, which holds it to the commit; on
        SQLite the one writer's lock, held from BEGIN IMMEDIATE to the commit, keeps a publish out.

        NOWAIT: an INSERT locks its table before it reads the definition, and a publish locks the
        definition before it alters the table. Waiting here for a publish would close that circle
        (a deadlock, found after a second); failing at once sends the create the other way round
        (`_cached_first`: the definition first, FOR KEY SHARE, then the INSERT).
        Built once per set of columns; the version it expects is this form's own."""
        key = ("confirmed_insert", columns)
        statement = self.statements.get(key)
        if statement is None:
            t, d = self.table, tables.definitions
            published = select(d.c.published_version).where(d.c.id == bindparam("_opsloom_form", self.form_id))
            published = published.with_for_update(read=True, key_share=True, nowait=True)  # SQLite: no such clause
            current = published.scalar_subquery() == bindparam("_opsloom_version", self.version)
            row = select(*(bindparam(c, type_=t.c[c].type) for c in columns)).where(current)
            statement = insert(t).from_select([t.c[c] for c in columns], row).returning(*t.c)
            self.statements[key] = statement
        return statement

    @cached_property
    def _shown(self) -> tuple[tuple[str, str, Callable[[Any], Any] | None], ...]:
        """What a record shows, in order: (key, column, dump of a present value, or None when it is
        its own JSON). The id, version and status, the fields, then the moments and people of the
        record (a subform row: its id and fields)."""
        out: list[tuple[str, str, Callable[[Any], Any] | None]] = [("id", "id", None)]
        if not self.is_child:
            out += [("version", "version", None), ("status", "status", None)]
        for spec in self.fields:
            unit = unit_of(spec)
            if unit.has_column or unit.read_time:  # not a subform: its rows come from the child table
                out.append((spec.key, spec.column, unit.value_dump(spec)))
        if not self.is_child:
            out += [(name, name, dump_datetime) for name in ("created_at", "updated_at")]
            out += [(name, name, None) for name in ("created_by", "updated_by", "owner_id", "department_id")]
        return tuple(out)

    def dump_row(self, row: StoredRow) -> dict[str, Any]:
        """A database row (by column name) -> the record's JSON object."""
        record: dict[str, Any] = {}
        for key, column, dump in self._shown:
            try:
                value = row[column]
            except KeyError:
                continue  # a value computed as it is read, and this statement did not read it (a write)
            record[key] = value if dump is None or value is None else dump(value)
        return record

    def dump_rows(self, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
        """A page's rows, as `Result.all()` gives them (in the order of the statement's `columns`) ->
        records, as `dump_row` makes them: each column found by its position once a page, not by
        its name once a value."""
        at = {name: i for i, name in enumerate(columns)}
        layout = [(key, at[column], dump) for key, column, dump in self._shown if column in at]
        return [
            {
                key: value if dump is None or value is None else dump(value)
                for key, i, dump in layout
                for value in (row[i],)
            }
            for row in rows
        ]

    def dump_value(self, key: str, value: Any) -> Any:
        spec = self.spec(key)
        assert spec is not None
        return unit_of(spec).dump(spec, value)

    def unit(self, spec: FieldSpec) -> FieldType:
        return unit_of(spec)


def _fit_result(spec: FieldSpec, value: Any, ctx: FormulaContext) -> tuple[Any, list[str]]:
    """A computed value as the field stores it: rounded to its scale, or empty if it cannot fit."""
    if value is None:
        return None, []
    try:
        return unit_of(spec).fit(spec, value, ctx.zone), []
    except (Invalid, InvalidOperation) as problem:
        return None, [f"the computed value {value!r} does not fit: {problem}; it is left empty"]


def formula_environment(fields: list[Mapping[str, Any]]) -> dict[str, str]:
    """What a formula of this form may read, with each value's type."""
    env = {key: FIELD_TYPES[kind].formula or formulas.TEXT for key, kind in SYSTEM_FIELDS.items()}
    for f in fields:
        unit = unit_of(f)
        if (kind := unit.formula_type(f)) is not None:
            env[f["key"]] = kind
        elif unit.child_rows:
            for column in f.get("fields", []):
                kind = unit_of(column).formula_type(column) or column["type"]
                env[f"{f['key']}.{column['key']}"] = formulas.list_of(kind)
    return env


def row_environment(fields: list[Mapping[str, Any]]) -> dict[str, str]:
    """What a formula of a subform row may read: the row's own fields."""
    return {k: v for k, v in formula_environment(fields).items() if k not in SYSTEM_FIELDS}


def formula_order(fields: list[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Node]]:
    """Formula fields in an order where each comes after the formulas it reads.

    Raises FormulaError naming the fields of a cycle."""
    parsed = {f["key"]: (f, formulas.parse_formula(f["formula"])) for f in fields if unit_of(f).computed}
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


def read_label(f: Mapping[str, Any]) -> str:
    """What a statement calls a value computed as it is read: never a column's name (those start
    with a letter), nor longer than PostgreSQL's identifiers."""
    return "_r_" + hashlib.sha1(str(f["id"]).encode()).hexdigest()[:16]


def table_name_for(app: str, form: str) -> str:
    """Readable physical names (`procurement__purchase_request`) that fit in 63 characters."""
    return _fitted(f"{app}__{form}")


def child_table_name(parent_table: str, key: str) -> str:
    """`procurement__purchase_request__items`, shortened alike."""
    return _fitted(f"{parent_table}__{key}")


def _fitted(name: str) -> str:
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:54]}_{digest}"


def initial_storage(app: str, document: Mapping[str, Any], table: str | None = None) -> dict[str, Any]:
    """Where a form's data lives: its table, the column of every field by field id, and
    the child table of every subform by field id."""
    table = table or table_name_for(app, document["key"])
    storage: dict[str, Any] = {
        "table": table,
        "columns": {f["id"]: f["key"] for f in document["fields"] if unit_of(f).has_column},
    }
    subforms = {f["id"]: child_storage(table, f) for f in document["fields"] if unit_of(f).child_rows}
    if subforms:
        storage["subforms"] = subforms
    return storage


def child_storage(parent_table: str, f: Mapping[str, Any], taken: Collection[str] = ()) -> dict[str, Any]:
    """A new subform's table and columns; `taken` are table names already in use."""
    name, n = child_table_name(parent_table, f["key"]), 1
    while name in taken:
        n += 1
        name = child_table_name(parent_table, f"{f['key']}_{n}")
    return {
        "table": name,
        "columns": {c["id"]: c["key"] for c in f.get("fields", [])},
    }


def subform_document(f: Mapping[str, Any]) -> dict[str, Any]:
    """A subform field seen as a form of its own rows."""
    document = {"key": f["key"], "label": f.get("label", f["key"]), "fields": list(f.get("fields", []))}
    if f.get("validations"):
        document["validations"] = list(f["validations"])
    return document


def compile_form(
    app: str,
    document: Mapping[str, Any],
    *,
    form_id: int,
    version: int,
    storage: Mapping[str, Any],
    child: bool = False,
) -> CompiledForm:
    columns_by_id: Mapping[str, str] = storage["columns"]
    specs = tuple(
        FieldSpec(
            id=f["id"],
            key=f["key"],
            type=f["type"],
            column=columns_by_id.get(f["id"]) or (read_label(f) if unit_of(f).read_time else f["key"]),
            label=f.get("label", f["key"]),
            required=bool(f.get("required")),
            unique=bool(f.get("unique")),
            raw=f,
        )
        for f in document["fields"]
    )
    name = storage["table"]
    system = child_columns() if child else system_columns()
    # Rows are deleted for real; SQLite would hand a deleted row's id to the next row
    # (a stale client's `{"id": 7}` would then change someone else's row). PostgreSQL never does.
    table = Table(name, MetaData(), *system, *_field_columns(specs), sqlite_autoincrement=child)
    by_key = {s.key: s for s in specs}
    children = {
        s.key: replace(
            _compile_child(app, s, i, form_id, version, storage.get("subforms", {}).get(s.id), name),
            parent_table=table,
            parent_key=document["key"],
        )
        for i, s in enumerate(specs)
        if unit_of(s).child_rows
    }
    ordered = tuple((by_key[f["key"]], node) for f, node in formula_order(list(document["fields"])))
    default_formulas = tuple(
        (spec, formulas.parse_formula(spec.raw["default"]["formula"]))
        for spec in specs
        if isinstance(spec.raw.get("default"), Mapping)
    )
    if child:
        Index(index_name(name, "parent"), table.c.parent_id, table.c.position)
    else:
        _add_indexes(table, name, specs, storage.get("indexes", ()))
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
        children=children,
        is_child=child,
    )
    from opsloom.runtime.rules import compile_rules  # rules parse conditions against the form itself

    return replace(compiled, rules=compile_rules(compiled))


def _compile_child(
    app: str, spec: FieldSpec, index: int, form_id: int, version: int, storage: Any, parent_table: str
) -> CompiledForm:
    try:
        return compile_form(
            app,
            subform_document(spec.raw),
            form_id=form_id,
            version=version,
            storage=storage or child_storage(parent_table, spec.raw),
            child=True,
        )
    except BadRequest as error:  # a rule of a row: name it from the form's top
        errors = [FieldError(f"fields[{index}].{e.path}", e.message) for e in error.errors]
        raise BadRequest(error.detail, errors) from None


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


def child_columns() -> list[Column[Any]]:
    """The system columns of a subform's rows: which record they belong to, and where."""
    return [
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("parent_id", BigInteger, nullable=False),
        Column("position", Integer, nullable=False),
    ]


def _field_columns(specs: tuple[FieldSpec, ...]) -> list[Column[Any]]:
    return [
        Column(spec.column, unit_of(spec).column_type(spec), nullable=True)
        for spec in specs
        if unit_of(spec).has_column
    ]


def _add_indexes(table: Table, name: str, specs: tuple[FieldSpec, ...], automatic: Collection[IndexEntry]) -> None:
    for column in ("created_at", "updated_at", "owner_id", "department_id", "status"):
        _live_index(table, index_name(name, column), column)
    for spec in specs:
        if spec.unique:
            # Unique among live records: a deleted record does not block its value.
            live = table.c.deleted_at.is_(None)
            Index(
                index_name(name, spec.id, "uq"),
                table.c[spec.column],
                unique=True,
                sqlite_where=live,
                postgresql_where=live,
            )
        elif indexed(spec, automatic):
            _live_index(table, index_name(name, spec.id), spec.column)
    by_id = {spec.id: spec.column for spec in specs}
    for fids in joint_indexes(automatic):
        if (columns := joint_index_columns(fids, by_id)) is not None:
            _live_index(table, joint_index_name(name, fids), *columns)


def _live_index(table: Table, name: str, *columns: str) -> None:
    """The index of some columns, over live records only, in the shape each database answers from alone."""
    live = table.c.deleted_at.is_(None)
    for dialect in ("postgresql", "sqlite"):
        where: dict[str, Any] = {f"{dialect}_where": live}
        Index(name, *(table.c[c] for c in live_index_columns(dialect, *columns)), **where).ddl_if(dialect=dialect)


def live_index_columns(dialect: str, *columns: str) -> list[str]:
    """The columns of a (non-unique) index on `columns` that holds live records only (`WHERE deleted_at IS
    NULL`): every list, count, scope and link read asks for live records, so such an index answers them.

    PostgreSQL counts from the index alone (an index-only scan) as it is. SQLite takes an index as
    covering only when it holds every column the query names, `deleted_at` included, so there the
    index ends with it. Not first: SQLite's planner, without statistics of the table (none are kept
    until an ANALYZE, and a connection does not read those another gathered), takes `deleted_at IS
    NULL` on a leading column for a selective equality, and paged through `id < X` by sorting every
    live record. Either way deleted records take no room in it."""
    return [*columns, "deleted_at"] if dialect == "sqlite" else list(columns)


# An automatic index as a form's storage lists it (`indexes`, see designer/index_advice.py):
# a field's own by the field's id, one of several fields together by the list of their ids.
IndexEntry = str | list[str]
# How such a list names a system column (`@created_at`): a field id never holds an "@".
SYSTEM_COLUMN = "@"


def joint_indexes(automatic: Collection[IndexEntry]) -> list[tuple[str, ...]]:
    """The automatic indexes of several fields together, as their field ids in column order."""
    return [tuple(entry) for entry in automatic if not isinstance(entry, str)]


def joint_index_columns(fids: Collection[str], columns: Mapping[str, str]) -> list[str] | None:
    """The columns of an index of several fields (`columns`: field id -> column), or None when
    one of its fields is not there."""
    found = [fid.removeprefix(SYSTEM_COLUMN) if fid.startswith(SYSTEM_COLUMN) else columns.get(fid) for fid in fids]
    return None if None in found else [c for c in found if c is not None]


def joint_index_name(table: str, fids: Collection[str]) -> str:
    return index_name(table, "+".join(fids))


def indexed(spec: FieldSpec | Mapping[str, Any], automatic: Collection[IndexEntry] = ()) -> bool:
    """Does the field's column get a (non-unique) index of its own: asked for (`"index": true`), a
    single link (a person, a department, a record), which lists filter and join by, or one the saved
    views need (`automatic`, see designer/index_advice.py)."""
    raw, fid = (spec.raw, spec.id) if isinstance(spec, FieldSpec) else (spec, spec["id"])
    unit = unit_of(spec)
    return bool(raw.get("index")) or (unit.link is not None and not unit.multiple) or fid in automatic


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
    probe = form.statements.get(PUBLISHED)
    if probe is None:
        d = tables.definitions
        probe = select(d.c.published_version).where(d.c.id == form.form_id).scalar_subquery().label(PUBLISHED)
        form.statements[PUBLISHED] = probe
    return probe


def confirm_current(form: CompiledForm, row: StoredRow | None) -> None:
    if row is None or row[PUBLISHED] != form.version:
        raise StaleForm(form.key)


_d = tables.definitions
# Which version of a form is published now: built once, as every request asks it.
_PUBLISHED = select(_d.c.id, _d.c.published_version).where(
    _d.c.app_key == bindparam("app"), _d.c.kind == "form", _d.c.key == bindparam("form")
)
_PUBLISHED_FOR_WRITE = _PUBLISHED.with_for_update(read=True, key_share=True)  # FOR KEY SHARE


class FormRegistry:
    """Compiled forms of this process, keyed by (form id, published version)."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[int, int], CompiledForm] = {}
        self._latest: dict[tuple[str, str], CompiledForm] = {}

    def peek(self, app: str, form: str) -> CompiledForm | None:
        """The form as this process last compiled it, unchecked (None if it links to other forms).

        Only for reads that confirm it with `published_probe` and retry on `StaleForm`."""
        compiled = self._latest.get((app, form))
        linked = (compiled, *compiled.children.values()) if compiled else ()
        if compiled is None or any(links_records(s) or sources_of(s) for f in linked for s in f.fields):
            return None
        return compiled

    async def get(self, session: AsyncSession, app: str, form: str, *, with_related: bool = True) -> CompiledForm:
        """The published form, with the forms its relation fields link to."""
        compiled = await self._get(session, app, form)
        targets = {s.raw["form"] for s in compiled.fields if links_records(s)}
        for child in compiled.children.values():
            targets |= {s.raw["form"] for s in child.fields if links_records(s)}
        sources = {key for s in compiled.fields for key in sources_of(s)} - targets
        if not with_related or not (targets or sources):
            return compiled
        related = {key: await self._get(session, app, key) for key in sorted(targets)}
        for key in sorted(sources):
            try:
                related[key] = await self._get(session, app, key)
            except NotFound:
                pass  # a rollup over a form no longer published reads as empty
        children = {key: replace(child, related=related) for key, child in compiled.children.items()}
        return replace(compiled, related=related, children=children)

    async def is_current(self, session: AsyncSession, form: CompiledForm) -> bool:
        """Is this compiled form the one published now?"""
        found = (await session.execute(_PUBLISHED, {"app": form.app, "form": form.key})).first()
        return found is not None and (found.id, found.published_version) == (form.form_id, form.version)

    async def referrers(self, session: AsyncSession, app: str, form: str) -> list[tuple[CompiledForm, FieldSpec]]:
        """Relation fields of the app's forms that link to `form`."""
        found = []

        def links(fields: Any) -> bool:
            return any(links_records(f) and f.get("form") == form for f in fields)

        for key, document in await published_forms(session, app):
            if links(document["fields"]) or any(links(f.get("fields", [])) for f in document["fields"]):
                source = await self._get(session, app, key)
                for holder in (source, *source.children.values()):
                    found += [(holder, s) for s in holder.fields if links_records(s) and s.raw["form"] == form]
        return found

    async def _get(self, session: AsyncSession, app: str, form: str) -> CompiledForm:
        d = tables.definitions
        # The one query every request pays: which version is published now. A writer holds
        # it (FOR KEY SHARE on PostgreSQL) until it commits, so a publish, which locks the row
        # FOR UPDATE, waits for writers already on the old version, and later ones write to the new.
        which = _PUBLISHED_FOR_WRITE if is_writing(session) else _PUBLISHED
        found = (await session.execute(which, {"app": app, "form": form})).first()
        if found is None or found.published_version is None:
            await self._explain_missing(session, app, form, found is not None)
        cached = self._compiled.get((found.id, found.published_version))
        if cached is not None:
            return cached
        # A miss: read version and storage together, so they belong to one publish.
        where = (d.c.app_key == app, d.c.kind == "form", d.c.key == form)
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
            invalidate = getattr(session.get_bind().dialect, "_invalidate_schema_cache", None)
            if invalidate is not None:
                invalidate()
            self._compiled = {k: v for k, v in self._compiled.items() if k[0] != row.id}
        self._compiled[(row.id, row.published_version)] = compiled
        self._latest[(app, form)] = compiled
        return compiled

    async def _explain_missing(self, session: AsyncSession, app: str, form: str, has_draft: bool) -> NoReturn:
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
