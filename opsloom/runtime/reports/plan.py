"""A report document checked against its form and its viewer: the plan the query is built from.

`plan_report` resolves every field a report names (the form's own fields and
system fields, a relation's target fields as `supplier.country`, the report's
subform rows as `items.qty`), checks that each may be a dimension or a measure
(asking the field's unit), that the viewer may see it (a hidden field does not
exist for them), and parses the filter in the condition language. Problems are
collected with their JSON paths and raised together (422).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from opsloom.platform.errors import BadRequest, FieldError, ValidationFailed
from opsloom.platform.permissions import FormAccess
from opsloom.runtime.conditions import Condition, parse_condition
from opsloom.runtime.fields import FieldSpec, links_records, unit_of, value_unit
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.formulas import FormulaError, check, parse_formula, references
from opsloom.runtime.reports.buckets import BUCKETS
from opsloom.runtime.reports.measures import MEASURES, Aggregate

NUMBER = "number"
# How a report names the system fields (their specs carry only their keys).
SYSTEM_LABELS: dict[str, dict[str, str]] = {
    "id": {"en": "Record", "zh-CN": "记录"},
    "version": {"en": "Version", "zh-CN": "版本"},
    "status": {"en": "Status", "zh-CN": "状态"},
    "created_at": {"en": "Created", "zh-CN": "创建时间"},
    "created_by": {"en": "Created by", "zh-CN": "创建人"},
    "updated_at": {"en": "Updated", "zh-CN": "更新时间"},
    "updated_by": {"en": "Updated by", "zh-CN": "更新人"},
    "owner_id": {"en": "Owner", "zh-CN": "负责人"},
    "department_id": {"en": "Department", "zh-CN": "部门"},
}


@dataclass(frozen=True)
class FieldPath:
    """A field a report names, and where its column is."""

    ref: str
    spec: FieldSpec
    table: Table | Any  # the form's table, the rows' table, or the alias of a relation's target
    form: CompiledForm  # the form that owns the field
    via: str | None = None  # the relation field it is reached through (`supplier`), or "rows"

    @property
    def multiple(self) -> bool:
        """A field holding several values (multiple choice, people): a record counts under each."""
        return value_unit(self.spec).multiple

    @property
    def column(self) -> Any:
        return self.table.c[self.spec.column]

    @property
    def label(self) -> Any:
        if self.spec.key not in self.form.by_key:
            return SYSTEM_LABELS.get(self.spec.key, self.spec.label)
        return self.spec.label

    @property
    def on_form(self) -> bool:
        """A field of the source form itself: a drill-down can filter the records list by it."""
        return self.via is None


@dataclass(frozen=True)
class Dimension:
    key: str
    field: FieldPath
    bucket: str | None
    label: Any


@dataclass(frozen=True)
class Measure:
    key: str
    label: Any
    aggregate: Aggregate | None = None
    field: FieldPath | None = None
    formula: Any = None  # a parsed formula over other measures
    scale: int = 2

    @property
    def result_type(self) -> str:
        if self.formula is not None:
            return "decimal"
        assert self.aggregate is not None
        return self.aggregate.result_type(self.field.spec if self.field else None)


@dataclass(frozen=True)
class Join:
    relation: FieldSpec
    target: CompiledForm
    alias: Any
    access: FormAccess


@dataclass(frozen=True)
class ReportPlan:
    document: Mapping[str, Any]
    form: CompiledForm  # the source form as stored (row scopes are written against it)
    access: FormAccess
    accesses: Mapping[str, FormAccess]  # the viewer's, to the source form and the forms it links to
    rows: CompiledForm | None  # the subform whose rows are the report's rows
    joins: Mapping[str, Join]
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    filter: Condition | None
    date_field: FieldPath | None
    sort: tuple[tuple[str, bool], ...]
    limit: int | None
    others: bool
    totals: bool

    def column_keys(self) -> list[str]:
        return [d.key for d in self.dimensions] + [m.key for m in self.measures]


class _Resolver:
    def __init__(
        self, form: CompiledForm, accesses: Mapping[str, FormAccess], rows: CompiledForm | None, rows_key: str | None
    ) -> None:
        self.form = form
        self.rows_key = rows_key
        self.view = form.restricted(accesses[form.key].hidden)
        self.accesses = accesses
        self.rows = rows
        self.joins: dict[str, Join] = {}

    def resolve(self, ref: str, path: str) -> FieldPath:
        head, _, tail = ref.partition(".")
        if not tail:
            spec = self.view.spec(head)
            if spec is None:
                raise _problem(path, self._unknown(head))
            return FieldPath(ref, spec, self.form.table, self.form)
        if self.rows is not None and head == self.rows_key:
            spec = self.rows.spec(tail) if tail not in ("id",) else None
            if spec is None or spec.key not in self.rows.by_key:
                raise _problem(path, f"'{tail}' is not a column of the subform {head}")
            return FieldPath(ref, spec, self.rows.table, self.rows, via="rows")
        relation = self.view.by_key.get(head)
        if relation is None or not links_records(relation) or relation.raw.get("form") not in self.form.related:
            raise _problem(path, f"'{head}' is not a relation field of {self.form.key} (nor the report's rows)")
        join = self._join(relation, path)
        target = join.target.restricted(join.access.hidden)
        spec = target.spec(tail)
        if spec is None:
            raise _problem(path, f"'{tail}' is not a field of {join.target.key} that you may see")
        return FieldPath(ref, spec, join.alias, join.target, via=head)

    def _join(self, relation: FieldSpec, path: str) -> Join:
        if relation.key not in self.joins:
            target = self.form.target(relation)
            access = self.accesses.get(target.key)
            if access is None or not access.can("read"):
                raise _problem(path, f"you may not read records of {target.key}, so its fields cannot be reported")
            alias = target.table.alias(f"j_{relation.key}")
            self.joins[relation.key] = Join(relation, target, alias, access)
        return self.joins[relation.key]

    def _unknown(self, key: str) -> str:
        if key in self.form.by_key:
            return f"'{key}' is not a field you may see"  # hidden: it does not exist for this viewer
        return f"'{key}' is not a field of {self.form.key}"


def _problem(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"The report cannot run: {message}", [FieldError(path, message)])


def related_forms(form: CompiledForm) -> list[str]:
    """The forms a report over `form` may join (whose access the caller must look up)."""
    return sorted(form.related)


def plan_report(document: Mapping[str, Any], form: CompiledForm, accesses: Mapping[str, FormAccess]) -> ReportPlan:
    """The report as the viewer whose accesses are given may run it; ValidationFailed lists every problem."""
    errors: list[FieldError] = []
    rows = _rows_of(document, form, accesses[form.key].hidden, errors)
    resolver = _Resolver(form, accesses, rows, document.get("rows"))

    def attempt(work: Any, *args: Any) -> Any:
        try:
            return work(*args)
        except (ValidationFailed, BadRequest) as error:
            errors.extend(error.errors)
            return None

    dimensions = [
        d for i, doc in enumerate(document.get("dimensions", [])) if (d := attempt(_dimension, resolver, doc, i))
    ]
    measures = _measures(document, resolver, errors, attempt)
    keys = [d.key for d in dimensions] + [m.key for m in measures]
    for key in {k for k in keys if keys.count(k) > 1}:
        errors.append(FieldError("measures", f"the column key '{key}' is used twice; give each column its own key"))
    condition = None
    if document.get("filter") is not None:
        condition = attempt(parse_condition, document["filter"], resolver.view, "filter")
    date_field = None
    if document.get("date_field"):
        date_field = attempt(resolver.resolve, document["date_field"], "date_field")
        if date_field is not None and value_unit(date_field.spec).temporal is None:
            errors.append(FieldError("date_field", "must be a date or datetime field"))
    sort = []
    for i, s in enumerate(document.get("sort", [])):
        if s["by"] not in keys:
            errors.append(FieldError(f"sort[{i}].by", f"'{s['by']}' is not a dimension or measure key of this report"))
        elif any(m.key == s["by"] and m.formula is not None for m in measures) and document.get("limit"):
            errors.append(FieldError(f"sort[{i}].by", "top N cannot rank by a formula measure; rank by a measure"))
        sort.append((s["by"], bool(s.get("desc"))))
    if document.get("limit") and not dimensions:
        errors.append(FieldError("limit", "top N needs a dimension to rank"))
    if errors:
        raise ValidationFailed("The report cannot run until these are fixed", errors)
    return ReportPlan(
        document=document,
        form=form,
        access=accesses[form.key],
        accesses=accesses,
        rows=rows,
        joins=dict(resolver.joins),
        dimensions=tuple(dimensions),
        measures=tuple(measures),
        filter=condition,
        date_field=date_field,
        sort=tuple(sort),
        limit=document.get("limit"),
        others=bool(document.get("others")),
        totals=document.get("totals", True),
    )


def _rows_of(
    document: Mapping[str, Any], form: CompiledForm, hidden: frozenset[str], errors: list[FieldError]
) -> CompiledForm | None:
    key = document.get("rows")
    if key is None:
        return None
    if key not in form.children or key in hidden:
        errors.append(FieldError("rows", f"'{key}' is not a subform of {form.key}"))
        return None
    return form.children[key]


def _dimension(resolver: _Resolver, doc: Mapping[str, Any], i: int) -> Dimension:
    path = f"dimensions[{i}]"
    found = resolver.resolve(doc["field"], f"{path}.field")
    unit = value_unit(found.spec)
    if not (unit.dimension or unit_of(found.spec).dimension) or not unit_of(found.spec).has_column:
        raise _problem(f"{path}.field", f"a {found.spec.type} field cannot be a dimension")
    bucket = doc.get("bucket")
    if bucket is not None and unit.temporal is None:
        raise _problem(f"{path}.bucket", "only date and datetime fields are grouped by period; remove the bucket")
    if bucket is not None and bucket not in BUCKETS:
        raise _problem(f"{path}.bucket", f"use one of {', '.join(BUCKETS)}")
    key = doc.get("key") or (doc["field"].replace(".", "__") + (f"__{bucket}" if bucket else ""))
    return Dimension(key, found, bucket, doc.get("label") or found.label)


def _measures(
    document: Mapping[str, Any], resolver: _Resolver, errors: list[FieldError], attempt: Any
) -> list[Measure]:
    measures: list[Measure] = []
    formulas: list[tuple[int, Mapping[str, Any]]] = []
    for i, doc in enumerate(document.get("measures", [])):
        if "formula" in doc:
            formulas.append((i, doc))
            continue
        measure = attempt(_measure, resolver, doc, i)
        if measure is not None:
            measures.append(measure)
    env = {m.key: NUMBER for m in measures}
    for i, doc in formulas:
        path = f"measures[{i}].formula"
        try:
            node = parse_formula(doc["formula"])
            if check(node, env) != NUMBER:
                raise FormulaError("a measure formula must give a number", 0)
        except FormulaError as error:
            errors.append(FieldError(path, f"{error}; a formula may use the keys of the measures above it"))
            continue
        if not references(node):
            errors.append(FieldError(path, "name at least one measure key, e.g. approved / total"))
            continue
        measures.append(Measure(doc["key"], doc.get("label", doc["key"]), formula=node, scale=doc.get("scale", 2)))
    return measures


def _measure(resolver: _Resolver, doc: Mapping[str, Any], i: int) -> Measure:
    path = f"measures[{i}]"
    aggregate = MEASURES[doc["agg"]]
    field = None
    if doc.get("field") is not None:
        field = resolver.resolve(doc["field"], f"{path}.field")
        if not unit_of(field.spec).has_column or not aggregate.accepts(field.spec):
            what = aggregate.takes or "a field"
            raise _problem(f"{path}.field", f"{doc['agg']} needs {what}, not a {field.spec.type} field")
    elif aggregate.needs_field:
        raise _problem(f"{path}.field", f"{doc['agg']} needs a field")
    label = doc.get("label") or (field.label if field else doc["key"])
    return Measure(doc["key"], label, aggregate, field, scale=doc.get("scale", 2))
