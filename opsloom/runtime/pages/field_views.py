"""What the widgets of a record form need to know about each field, worked out on the server.

A `FieldView` is one field as one reader sees it in one record: its value,
the text of a computed value, whether it is required, read-only or hidden
right now (the rules evaluated on the server, so the first paint is already
right; static/js/fields.js re-evaluates them as the user types), where a
picker searches and where files go. `form_meta` is the same knowledge for the
browser: each field's value kind, options and rules, as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.errors import NotFound
from opsloom.runtime.conditions import EvalContext, evaluate
from opsloom.runtime.fields import FieldSpec, FieldType, Invalid, unit_of, value_unit
from opsloom.runtime.fields.formatting import as_moment
from opsloom.runtime.forms import CompiledForm, FormRegistry
from opsloom.runtime.formulas import FormulaContext
from opsloom.runtime.pages.display import value_text
from opsloom.runtime.pages.i18n import Translator
from opsloom.runtime.rules import FIELD_RULES

MAX_ROWS = 1000
# Where a picker searches, by what the field links to (a record's form is added to its URL).
PICKER_SOURCES = {"user": "/api/users", "department": "/api/departments"}


@dataclass
class RowView:
    id: int | None
    cells: list[FieldView]


@dataclass
class FieldView:
    spec: FieldSpec
    value: Any = None
    text: str = ""
    local_value: str = ""
    required: bool = False
    read_only: bool = False
    hidden: bool = False
    help: Any = None
    error: str = ""
    source: str = ""
    title_field: str = ""
    upload_url: str = ""
    download_url: str = ""
    columns: list[FieldView] = field(default_factory=list)
    rows: list[RowView] = field(default_factory=list)
    blank_row: RowView | None = None

    @property
    def unit(self) -> FieldType:
        """The field's type, which its widget template may ask (a percent's percentage, an address's parts)."""
        return unit_of(self.spec)

    @property
    def widget(self) -> str:
        """The widget that edits it: templates/widgets/<widget>.html."""
        return unit_of(self.spec).widget

    @property
    def link(self) -> str | None:
        """What a picker chooses: "record", "user" or "department"."""
        return unit_of(self.spec).link

    @property
    def multiple(self) -> bool:
        return unit_of(self.spec).multiple

    @property
    def child_rows(self) -> bool:
        """Its value is rows (a subform): edited as a table, shown as one."""
        return unit_of(self.spec).child_rows

    @property
    def numbered(self) -> bool:
        """The system numbers the record with it when it is saved."""
        return unit_of(self.spec).numbered


@dataclass(frozen=True)
class FormPlace:
    """Where a form lives, for the URLs its widgets call."""

    app: str
    form: str

    @property
    def files(self) -> str:
        return f"/api/apps/{self.app}/forms/{self.form}/files"


async def field_views(
    session: AsyncSession,
    registry: FormRegistry,
    place: FormPlace,
    form: CompiledForm,
    record: Mapping[str, Any],
    t: Translator,
    ctx: EvalContext,
    *,
    read_only: frozenset[str] = frozenset(),
    creating: bool = False,
) -> list[FieldView]:
    """One view per field of `form` (already restricted to what the reader may see).

    `record` is the record as the API writes it (links expanded), or {} for a new one."""
    titles = await _title_fields(session, registry, place.app, form)
    parsed = computed_draft(form, record, ctx, creating=creating)
    shown = {**record, **{s.key: form.unit(s).dump(s, parsed[s.key]) for s in form.fields if not unit_of(s).entered}}
    views = []
    for spec in form.fields:
        view = _view(place, form, spec, shown, parsed, t, ctx, read_only, titles)
        if unit_of(spec).child_rows:
            child = form.children[spec.key]
            rows = record.get(spec.key) or []
            view.columns = [_view(place, child, s, {}, {}, t, ctx, frozenset(), titles) for s in child.fields]
            view.rows = [
                RowView(row.get("id"), _row_cells(place, child, row, parsed_row, t, ctx, titles))
                for row, parsed_row in zip(rows, parsed[spec.key] or [], strict=False)
            ]
            blank = computed_draft(child, {}, ctx, creating=True)
            view.blank_row = RowView(None, _row_cells(place, child, {}, blank, t, ctx, titles))
        views.append(view)
    return views


def _row_cells(
    place: FormPlace,
    child: CompiledForm,
    row: Mapping[str, Any],
    parsed: Mapping[str, Any],
    t: Translator,
    ctx: EvalContext,
    titles: Mapping[str, str],
) -> list[FieldView]:
    shown = {**row, **{s.key: child.unit(s).dump(s, parsed.get(s.key)) for s in child.fields if not unit_of(s).entered}}
    if not row:  # a new row shows its defaults
        shown.update({k: v for k, v in child.literal_defaults().items()})
    return [_view(place, child, s, shown, parsed, t, ctx, frozenset(), titles) for s in child.fields]


def parse_draft(form: CompiledForm, payload: Mapping[str, Any], zone: Any) -> dict[str, Any]:
    """A half-filled record read as the server reads a saved one: what does not parse counts as empty."""
    values: dict[str, Any] = {}
    for spec in form.fields:
        raw = payload.get(spec.key)
        unit = form.unit(spec)
        if unit.child_rows:
            rows = raw if isinstance(raw, list) else []
            values[spec.key] = [
                {**parse_draft(form.children[spec.key], row if isinstance(row, Mapping) else {}, zone), "id": None}
                for row in rows[:MAX_ROWS]
            ]
            continue
        values[spec.key] = raw if unit.numbered else None
        if raw is None or not unit.entered:
            continue
        try:
            value = unit.parse(spec, raw, zone)
        except (Invalid, TypeError, ValueError, ArithmeticError):
            continue
        values[spec.key] = None if unit.is_empty(value) else value
    return values


def computed_draft(
    form: CompiledForm, payload: Mapping[str, Any], ctx: EvalContext, *, creating: bool
) -> dict[str, Any]:
    """`parse_draft`, then the formulas (and, for a new record, the defaults) computed over it."""
    values = parse_draft(form, payload, ctx.zone)
    if creating:
        for key, default in form.literal_defaults(exclude=[k for k, v in values.items() if v is not None]).items():
            spec = form.by_key[key]
            try:
                values[key] = form.unit(spec).parse(spec, default, ctx.zone)
            except (Invalid, TypeError, ValueError):
                pass
    user_id = ctx.user.get("id")
    department_id = ctx.user.get("department_id")
    formula_ctx = FormulaContext(now=ctx.now, zone=ctx.zone, user_id=user_id, department_id=department_id)
    form.compute(values, formula_ctx, creating=creating)
    return values


def _view(
    place: FormPlace,
    form: CompiledForm,
    spec: FieldSpec,
    record: Mapping[str, Any],
    parsed: Mapping[str, Any],
    t: Translator,
    ctx: EvalContext,
    read_only: frozenset[str],
    titles: Mapping[str, str],
) -> FieldView:
    """A field of `record` (as the API writes it); its rules are judged on `parsed` (as the server reads it)."""
    value = record.get(spec.key)
    zone = ctx.zone
    unit = unit_of(spec)
    rules = form.rules
    visible = rules.visible.get(spec.key)
    locked = rules.read_only.get(spec.key)
    required_when = rules.required.get(spec.key)
    view = FieldView(
        spec,
        value=value,
        help=spec.get("help") or spec.get("description"),
        read_only=spec.key in read_only or not unit.entered or _holds(locked, parsed, ctx),
        hidden=visible is not None and not _holds(visible, parsed, ctx),
        required=spec.required or _holds(required_when, parsed, ctx),
    )
    if not unit.entered:
        view.text = value_text(t, zone, spec, value) if value is not None else ""
    if unit.temporal == "moment" and value:
        view.local_value = as_moment(value).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    if unit.link == "record":
        view.source = f"/api/apps/{place.app}/forms/{spec.get('form')}/records"
        view.title_field = titles.get(spec.key, "")
    elif unit.link is not None:
        view.source = PICKER_SOURCES[unit.link]
    elif unit.holds_files:
        view.upload_url = f"{place.files}?field={spec.key}"
        view.download_url = place.files
    return view


def _holds(condition: Any, record: Mapping[str, Any], ctx: EvalContext) -> bool:
    if condition is None:
        return False
    try:
        return bool(evaluate(condition, record, ctx))
    except (TypeError, ValueError, KeyError):
        return False


async def _title_fields(session: AsyncSession, registry: FormRegistry, app: str, form: CompiledForm) -> dict[str, str]:
    """The title field of each form the relations of `form` (and its subforms) link to."""
    titles: dict[str, str] = {}
    specs = list(form.fields) + [s for child in form.children.values() for s in child.fields]
    for spec in specs:
        if unit_of(spec).link != "record":
            continue
        try:
            target = await registry.get(session, app, spec.get("form"))
        except NotFound:
            continue
        titles[spec.key] = target.title_field or ""
    return titles


def form_meta(form: CompiledForm) -> dict[str, Any]:
    """The browser's knowledge of a form: each field's value kind, options and rules (conditions.js's `fields`)."""
    return {"fields": {spec.key: _meta(form, spec) for spec in form.fields}}


def _meta(form: CompiledForm, spec: FieldSpec) -> dict[str, Any]:
    unit = value_unit(spec)
    meta: dict[str, Any] = {"kind": unit.client_kind, "required": spec.required, **unit.browser_meta(spec)}
    if spec.get("options"):
        meta["options"] = list(spec.option_values())
    for rule in FIELD_RULES:
        if spec.get(rule) is not None:
            meta[rule] = spec.get(rule)
    if unit_of(spec).child_rows:
        child = form.children[spec.key]
        meta["fields"] = {s.key: _meta(child, s) for s in child.fields}
    return meta
