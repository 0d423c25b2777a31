"""Template packages: a whole app (app, forms, roles, flows, reports, dashboards, sample data) as data.

A package is a folder (`app.json`, `forms/*.json`, `roles/*.json`,
`flows/*.json`, `reports/*.json`, `dashboards/*.json`, `data/<form>.json`)
or one JSON file of the `package` schema. Everything is validated before anything is
written; the install runs in one transaction. Nothing in a package is executed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions, roles
from opsloom.designer.documents import schema_errors
from opsloom.designer.flows import publish_flow
from opsloom.designer.publishing import form_problems, publish_form
from opsloom.designer.reports import publish_dashboard, publish_report
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, FieldError, OpsloomError, ValidationFailed
from opsloom.platform.permissions import full_access
from opsloom.runtime.fields import links_records
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.records import create_records

MAX_PACKAGE_BYTES = 20 * 1024 * 1024
# Folders of documents besides forms, in the order they are installed (a dashboard names reports).
DOCUMENT_FOLDERS = ("roles", "flows", "reports", "dashboards")
FORMAT = "opsloom-package/1"


@dataclass(frozen=True)
class InstallReport:
    app: str
    forms: list[str]
    records: dict[str, int]


def read_package(path: Path) -> dict[str, Any]:
    """Load a package folder or file into one package document."""
    if path.is_dir():
        app = _read_json(path / "app.json")
        forms = [_read_json(p) for p in sorted((path / "forms").glob("*.json"))]
        data = {p.stem: _read_json(p) for p in sorted((path / "data").glob("*.json"))}
        package = {"format": FORMAT, "app": app, "forms": forms, "sample_data": data}
        for kind in DOCUMENT_FOLDERS:
            if (path / kind).is_dir():
                package[kind] = [_read_json(p) for p in sorted((path / kind).glob("*.json"))]
        return package
    return _read_json(path)


def _read_json(path: Path) -> Any:
    if not path.exists():
        raise BadRequest(f"{path} does not exist", [FieldError(str(path), "missing file")])
    if path.stat().st_size > MAX_PACKAGE_BYTES:
        raise BadRequest(f"{path} is larger than {MAX_PACKAGE_BYTES} bytes")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise BadRequest(f"{path} is not valid JSON: {error}", [FieldError(str(path), str(error))]) from None


def package_problems(package: Any) -> list[FieldError]:
    errors = schema_errors("package", package)
    if errors:
        return errors
    errors += schema_errors("app", package["app"], "app")
    keys: set[str] = set()
    for i, form in enumerate(package["forms"]):
        errors += [FieldError(f"forms[{i}].{e.path}".rstrip(".$"), e.message) for e in form_problems(form)]
        if isinstance(form.get("key"), str):
            if form["key"] in keys:
                errors.append(FieldError(f"forms[{i}].key", f"form '{form['key']}' appears twice"))
            keys.add(form["key"])
    for form_key in package.get("sample_data", {}):
        if form_key not in keys:
            errors.append(FieldError(f"sample_data.{form_key}", "is not a form of this package"))
    for kind in DOCUMENT_FOLDERS:
        for i, document in enumerate(package.get(kind, [])):
            errors += schema_errors(kind.removesuffix("s"), document, f"{kind}[{i}]")
    return errors


async def install_package(
    session: AsyncSession,
    ctx: RequestContext,
    package: Any,
    *,
    registry: FormRegistry,
    with_sample_data: bool = True,
) -> InstallReport:
    problems = package_problems(package)
    if problems:
        raise ValidationFailed("The package is not valid; nothing was installed", problems)
    app = package["app"]["key"]
    await definitions.save_app(session, ctx, package["app"])
    form_keys = []
    for form in in_link_order(package["forms"]):
        await definitions.save_draft(session, ctx, app, "form", form["key"], form)
        await publish_form(session, ctx, app, form["key"])
        form_keys.append(form["key"])
    for i, role in enumerate(package.get("roles", [])):
        try:
            await roles.save_role(session, ctx, registry, app, role)
        except OpsloomError as error:
            raise _in_part(error, f"roles[{i}]", f"The role {role.get('key')} is not valid") from None
    for i, flow in enumerate(package.get("flows", [])):
        try:
            await definitions.save_draft(session, ctx, app, "flow", flow["key"], flow)
            await publish_flow(session, ctx, registry, app, flow["key"])
        except OpsloomError as error:
            raise _in_part(error, f"flows[{i}]", f"The flow {flow.get('key')} is not valid") from None
    for kind, publish in (("report", publish_report), ("dashboard", publish_dashboard)):
        for i, document in enumerate(package.get(f"{kind}s", [])):
            try:
                await definitions.save_draft(session, ctx, app, kind, document["key"], document)
                await publish(session, ctx, registry, app, document["key"])
            except OpsloomError as error:
                raise _in_part(error, f"{kind}s[{i}]", f"The {kind} {document.get('key')} is not valid") from None
    counts: dict[str, int] = {}
    if with_sample_data:
        sample = package.get("sample_data", {})
        for form_key in [f["key"] for f in in_link_order(package["forms"]) if f["key"] in sample]:
            rows = sample[form_key]
            compiled = await registry.get(session, app, form_key)
            try:
                rows = await _links_by_title(session, compiled, rows)
                counts[form_key] = (
                    len(await create_records(session, compiled, ctx, rows, full_access(app, form_key))) if rows else 0
                )
            except OpsloomError as error:
                raise _in_sample_data(error, form_key) from None
    return InstallReport(app=app, forms=form_keys, records=counts)


def in_link_order(forms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Forms ordered so that a form comes after the forms its relation fields link to."""
    by_key = {f["key"]: f for f in forms}
    ordered: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(form: dict[str, Any]) -> None:
        if form["key"] in seen:
            return
        seen.add(form["key"])
        for f in form["fields"]:
            if links_records(f) and f.get("form") in by_key:
                visit(by_key[f["form"]])
        ordered.append(form)

    for form in forms:
        visit(form)
    return ordered


async def _links_by_title(session: AsyncSession, form: Any, rows: list[Any]) -> list[Any]:
    """Sample data may name linked records by title ("supplier": "Northwind"); ids differ per install."""
    out = []
    for row in rows:
        row = dict(row) if isinstance(row, dict) else row
        for spec in form.fields:
            if links_records(spec) and isinstance(row, dict) and isinstance(row.get(spec.key), str):
                target = form.target(spec)
                found = await session.execute(
                    select(target.table.c.id).where(target.title_column() == row[spec.key]).limit(1)
                )
                row[spec.key] = found.scalar() or row[spec.key]
        out.append(row)
    return out


def _in_part(error: OpsloomError, prefix: str, detail: str) -> OpsloomError:
    errors = [FieldError(f"{prefix}.{e.path}", e.message) for e in error.errors]
    return type(error)(f"{detail}; nothing was installed", errors, error.extra)


def _in_sample_data(error: OpsloomError, form_key: str) -> OpsloomError:
    """Name the package's own path (`sample_data.order[1].amount`), not the records API's."""
    prefix = f"sample_data.{form_key}"
    errors = [
        FieldError(prefix + e.path.removeprefix("records"), e.message) if e.path.startswith("records") else e
        for e in error.errors
    ]
    detail = f"The sample data of {form_key} is not valid; nothing was installed"
    return type(error)(detail, errors, error.extra)
