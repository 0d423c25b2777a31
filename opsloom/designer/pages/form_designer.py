"""The form designer page, and the live preview of a draft as the runtime itself renders it.

The page is a shell: the designer (static/js/form_designer/) reads what it starts from out of one JSON
block (the draft, its revision and problems, the field-type registry, the app's forms, the formula
functions, the page's messages) and from then on talks only to the designer API. The preview renders the
saved draft with the runtime's own record form templates, in an iframe the designer reloads after each
autosave, so what the designer shows is what people will fill in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from opsloom.designer import definitions
from opsloom.designer.field_types_api import describe
from opsloom.designer.pages.shell import Designer, design_nav, open_designer
from opsloom.designer.publishing import form_problems
from opsloom.platform.errors import FieldError, NotFound, OpsloomError
from opsloom.runtime import formulas
from opsloom.runtime.access import eval_context
from opsloom.runtime.fields import FIELD_TYPES, FieldSpec
from opsloom.runtime.fields.base import Invalid
from opsloom.runtime.forms import CompiledForm, compile_form, initial_storage
from opsloom.runtime.pages.field_views import FormPlace, field_views
from opsloom.runtime.pages.i18n import catalog
from opsloom.runtime.pages.record_pages import sections
from opsloom.runtime.pages.rendering import not_found, render, request_context

router = APIRouter(include_in_schema=False)

PAGE = "/design/apps/{app}/forms/{form}"
MESSAGE_PREFIXES = ("fd.", "cb.")  # the designer's and the condition builder's messages
# What a sample value may be; each field keeps the first its own type accepts (no type is named here).
SAMPLE_CANDIDATES: tuple[Any, ...] = (
    "42",
    "1280.50",
    "2026-01-15",
    "2026-01-15T09:30:00+08:00",
    True,
    "someone@example.com",
    "13800138000",
    "https://example.com",
)
SAMPLE_ROWS = 2  # rows of sample line items, numbered differently so that sums show
ROW_NUMBERS: tuple[tuple[str, str], ...] = (("42", "1280.50"), ("3", "99.90"))


@router.get(PAGE)
async def form_designer(app: str, form: str, request: Request) -> Response:
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    async with request.app.state.db.session() as session:
        try:
            found = await definitions.load_definition(session, app, "form", form)
        except NotFound:
            return not_found(page.ctx)
        nav = await design_nav(session, app)
        forms = await _app_forms(session, app)
    draft = found.draft or {"key": form, "label": form, "fields": []}
    boot = {
        "app": app,
        "form": form,
        "locale": page.ctx.t.locale,
        "draft": draft,
        "draft_revision": found.draft_revision,
        "published_version": found.published_version,
        "problems": [e.as_json() for e in form_problems(draft)],
        "archived_fields": [e["field"] for e in ((found.storage or {}).get("archived") or {}).values() if "field" in e],
        "field_types": [describe(unit) for unit in FIELD_TYPES.values()],
        "forms": forms,
        "functions": sorted(formulas.FUNCTIONS),
        "messages": {k: v for k, v in catalog(page.ctx.t.locale).items() if k.startswith(MESSAGE_PREFIXES)},
        "urls": {
            "draft": f"/api/design/apps/{app}/forms/{form}",
            "formula_check": f"/api/design/apps/{app}/forms/{form}/formula-check",
            "preview": f"/design/apps/{app}/forms/{form}/preview",
            "publish": f"/design/apps/{app}/forms/{form}/publish",
        },
    }
    label = draft.get("label") or form
    return render(page.ctx, "form_designer.html", nav=nav, boot=boot, form_label=label, app_key=app, form_key=form)


async def _app_forms(session: Any, app: str) -> list[dict[str, Any]]:
    """The app's forms as relation fields link to them and rollups read them: key, label and fields."""
    nav = await design_nav(session, app)
    out = []
    for item in nav["forms"]:
        found = await definitions.load_definition(session, app, "form", item["key"])
        fields = [f for f in (found.draft or {}).get("fields", []) if isinstance(f, Mapping)]
        out.append(
            {
                "key": item["key"],
                "label": item["label"],
                "title_field": (found.draft or {}).get("title_field"),
                "fields": [
                    {"key": f.get("key"), "label": f.get("label"), "type": f.get("type")}
                    # what a rollup over the form picks fields and options by
                    | {k: f[k] for k in ("form", "result", "options") if k in f}
                    for f in fields
                ],
            }
        )
    return out


@router.get(PAGE + "/preview")
async def form_preview(app: str, form: str, request: Request, sample: int = 1) -> Response:
    """The saved draft rendered by the runtime's record form, with sample values (`sample=0`: empty)."""
    page = await open_designer(request, app)
    if not isinstance(page, Designer):
        return page
    ctx = page.ctx
    async with request.app.state.db.session() as session:
        try:
            found = await definitions.load_definition(session, app, "form", form)
        except NotFound:
            return not_found(ctx)
        draft = found.draft or {}
        problems = form_problems(draft)
        shown: list[dict[str, Any]] = []
        if not problems:
            try:
                compiled = compile_form(app, draft, form_id=0, version=0, storage=initial_storage(app, draft))
                econtext = eval_context(request_context(request, page.user))
                record = sample_record(compiled, econtext.zone) if sample else {}
                views = await field_views(
                    session, request.app.state.forms, FormPlace(app, form), compiled, record, ctx.t, econtext
                )
                shown = sections(compiled, views)
            except (OpsloomError, formulas.FormulaError, KeyError, TypeError, ValueError) as failed:
                problems = [*problems, *getattr(failed, "errors", [])] or [_problem(str(failed))]
    response = render(
        ctx,
        "form_preview.html",
        form={"key": form, "label": draft.get("label") or form},
        sections=shown,
        problems=problems,
    )
    # The designer shows this page in its own frame; nobody else may.
    response.headers["Content-Security-Policy"] = response.headers["Content-Security-Policy"].replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'"
    )
    return response


def _problem(message: str) -> FieldError:
    return FieldError("$", message)


def sample_record(form: CompiledForm, zone: Any, row: int = 0) -> dict[str, Any]:
    """A record with a plausible value in every field one types into, as the API would write it;
    a subform gets two rows (its formulas, and the record's over them, then show real sums)."""
    record: dict[str, Any] = {}
    for spec in form.fields:
        unit = form.unit(spec)
        if unit.child_rows and spec.key in form.children:
            record[spec.key] = [sample_record(form.children[spec.key], zone, n) for n in range(SAMPLE_ROWS)]
        if not unit.entered or unit.link or unit.holds_files or unit.child_rows:
            continue
        value = _sample_value(spec, unit, zone, row)
        if value is not None:
            record[spec.key] = unit.dump(spec, value)
    return record


def _sample_value(spec: FieldSpec, unit: Any, zone: Any, row: int = 0) -> Any:
    options = list(spec.option_values())
    label = spec.label.get("en") if isinstance(spec.label, Mapping) else spec.label
    samples = ROW_NUMBERS[row % len(ROW_NUMBERS)] + SAMPLE_CANDIDATES[2:]
    options = options[row % len(options) :] + options[: row % len(options)] if options else []
    candidates = (
        [*options[:1], options[:1], f"{label or spec.key} …", *samples]
        if options
        else [f"{label or spec.key}" if not row else f"{label or spec.key} {row + 1}", *samples]
    )
    for candidate in candidates:
        try:
            value = unit.parse(spec, candidate, zone)
        except (Invalid, TypeError, ValueError, ArithmeticError):
            continue
        if value is not None and not list(unit.check(spec, value)):
            return value
    return None
