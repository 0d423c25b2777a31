"""Template packages: a whole app (manifest, app, forms, roles, flows, automations, reports,
dashboards, sample data) as data, installed in one go.

A package is a folder (`app.json`, optional `manifest.json`, `forms/*.json`, `roles/*.json`,
`flows/*.json`, ... one folder per document kind, `data/<form>.json`) or one JSON file of the
`package` schema. Every document kind a package carries is one entry of `KINDS`: its list in the
package, how it is checked and how it is installed (the definitions store's draft + publish of that
kind; roles are stored as roles). Everything is validated before anything is written; the install
runs in one transaction. Nothing in a package is executed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom import __version__
from opsloom.designer import definitions, roles
from opsloom.designer.automations import publish_automation
from opsloom.designer.documents import has_schema, schema_errors
from opsloom.designer.flows import publish_flow
from opsloom.designer.publishing import form_problems, publish_form
from opsloom.designer.reports import publish_dashboard, publish_report
from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, FieldError, OpsloomError, ValidationFailed
from opsloom.platform.permissions import full_access
from opsloom.runtime.fields import links_records
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.records import create_records

MAX_PACKAGE_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 40  # objects and arrays inside each other; a form with subforms and conditions needs about 12
FORMAT = "opsloom-package/1"

Doc = dict[str, Any]
Publisher = Callable[[AsyncSession, RequestContext, FormRegistry, str, Doc], Awaitable[None]]


async def _publish_form(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, document: Doc
) -> None:
    await definitions.save_draft(session, ctx, app, "form", document["key"], document)
    await publish_form(session, ctx, app, document["key"])


async def _publish_role(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, document: Doc
) -> None:
    await roles.save_role(session, ctx, registry, app, document)


def _draft_and_publish(
    publish: Callable[[AsyncSession, RequestContext, FormRegistry, str, str], Awaitable[Any]], kind: str
) -> Publisher:
    async def install(
        session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, document: Doc
    ) -> None:
        await definitions.save_draft(session, ctx, app, kind, document["key"], document)
        await publish(session, ctx, registry, app, document["key"])

    return install


@dataclass(frozen=True)
class DocumentKind:
    kind: str  # the definitions store's kind, e.g. "flow"
    plural: str  # the package's list, e.g. "flows"
    publish: Publisher


# In install order: a role names forms, a flow names roles, an automation or a report names forms.
KINDS: tuple[DocumentKind, ...] = (
    DocumentKind("form", "forms", _publish_form),
    DocumentKind("role", "roles", _publish_role),
    DocumentKind("flow", "flows", _draft_and_publish(publish_flow, "flow")),
    DocumentKind("automation", "automations", _draft_and_publish(publish_automation, "automation")),
    DocumentKind("report", "reports", _draft_and_publish(publish_report, "report")),
    DocumentKind("dashboard", "dashboards", _draft_and_publish(publish_dashboard, "dashboard")),
)
BY_PLURAL = {k.plural: k for k in KINDS}
BY_KIND = {k.kind: k for k in KINDS}


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
        if (path / "manifest.json").exists():
            package["manifest"] = _read_json(path / "manifest.json")
        for kind in KINDS[1:]:
            if (path / kind.plural).is_dir():
                package[kind.plural] = [_read_json(p) for p in sorted((path / kind.plural).glob("*.json"))]
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


def manifest_of(package: Mapping[str, Any]) -> dict[str, Any]:
    """The package's manifest; a package without one is the app's key at the app's version."""
    app = package.get("app") or {}
    given = package.get("manifest") or {}
    return {
        "key": given.get("key", app.get("key")),
        "version": str(given.get("version", app.get("version", "1.0.0")))[:32],
        "dependencies": list(given.get("dependencies", [])),
        "min_opsloom": given.get("min_opsloom", "0.1.0"),
    }


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def too_deep(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """The JSON path of the first value nested deeper than `limit`, or None."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > limit:
            return path
        if isinstance(item, dict):
            stack.extend((v, f"{path}.{k}", depth + 1) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
    return None


def package_problems(package: Any) -> list[FieldError]:
    deep = too_deep(package)
    if deep is not None:
        return [FieldError(deep.removeprefix("$.") or "$", f"is nested deeper than {MAX_DEPTH} levels")]
    errors = schema_errors("package", package)
    if errors:
        return errors
    errors += schema_errors("app", package["app"], "app")
    manifest = manifest_of(package)
    if "manifest" in package and manifest["key"] != package["app"].get("key"):
        errors.append(FieldError("manifest.key", f"must be the app's key '{package['app'].get('key')}'"))
    if version_tuple(str(manifest["min_opsloom"])) > version_tuple(__version__):
        errors.append(
            FieldError("manifest.min_opsloom", f"needs Opsloom {manifest['min_opsloom']}; this is {__version__}")
        )
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
    for kind in KINDS[1:]:
        documents = package.get(kind.plural, [])
        if documents and not has_schema(kind.kind):
            errors.append(FieldError(kind.plural, f"this Opsloom ({__version__}) does not know {kind.plural} yet"))
            continue
        seen: set[str] = set()
        for i, document in enumerate(documents):
            errors += schema_errors(kind.kind, document, f"{kind.plural}[{i}]")
            key = document.get("key")
            if isinstance(key, str) and key in seen:
                errors.append(FieldError(f"{kind.plural}[{i}].key", f"{kind.kind} '{key}' appears twice"))
            seen.add(str(key))
    return errors


def check_package(package: Any) -> None:
    problems = package_problems(package)
    if problems:
        raise ValidationFailed("The package is not valid; nothing was installed", problems)


async def install_document(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str, kind: DocumentKind, document: Doc
) -> None:
    """Install one document of the package through its kind's publishing; problems name the package's path."""
    try:
        await kind.publish(session, ctx, registry, app, document)
    except OpsloomError as error:
        raise _in_part(
            error, f"{kind.plural}.{document.get('key')}", f"The {kind.kind} {document.get('key')} is not valid"
        ) from None


async def install_package(
    session: AsyncSession,
    ctx: RequestContext,
    package: Any,
    *,
    registry: FormRegistry,
    with_sample_data: bool = True,
) -> InstallReport:
    check_package(package)
    app = package["app"]["key"]
    await definitions.save_app(session, ctx, package["app"])
    form_keys = []
    await draft_forms(session, ctx, app, package["forms"])
    for kind in KINDS:
        documents = in_link_order(package["forms"]) if kind.kind == "form" else package.get(kind.plural, [])
        for document in documents:
            await install_document(session, ctx, registry, app, kind, document)
            if kind.kind == "form":
                form_keys.append(document["key"])
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


async def installed_documents(session: AsyncSession, app: str) -> dict[str, list[Doc]]:
    """Every published document of the app by the package's list name (`forms`, `flows`, ...), by key.

    Kinds this module has no entry for yet are carried too, as `<kind>s`."""
    d, v = tables.definitions, tables.definition_versions
    rows = await session.execute(
        select(d.c.kind, d.c.key, v.c.document)
        .join(v, (v.c.definition_id == d.c.id) & (v.c.version == d.c.published_version))
        .where(d.c.app_key == app)
        .order_by(d.c.kind, d.c.key)
    )
    out: dict[str, list[Doc]] = {}
    for kind, _key, document in rows:
        plural = BY_KIND[kind].plural if kind in BY_KIND else f"{kind}s"
        out.setdefault(plural, []).append(dict(document))
    r = tables.roles
    role_rows = await session.execute(select(r.c.document).where(r.c.app_key == app).order_by(r.c.key))
    documents = [dict(doc) for (doc,) in role_rows]
    if documents:
        out["roles"] = documents
    return out


async def draft_forms(session: AsyncSession, ctx: RequestContext, app: str, documents: list[Doc]) -> None:
    """Save the forms as drafts before publishing any: a form's rollup may read a form that links
    back to it, so is published after it, and publishing judges the rollup by that form's draft."""
    for document in documents:
        try:
            await definitions.save_draft(session, ctx, app, "form", document["key"], document)
        except OpsloomError as error:
            raise _in_part(
                error, f"forms.{document.get('key')}", f"The form {document.get('key')} is not valid"
            ) from None


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
