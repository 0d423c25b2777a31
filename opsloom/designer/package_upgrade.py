"""Importing a package into an installation: the plan (what is created, changed, left alone, in plain
words), the install or the upgrade in place, and the rollback of an upgrade.

An app installed from a package remembers the package's documents (`opsloom_app_packages`): they are
the base of the next upgrade's three-way comparison with the new version and the app as it stands
(`package_merge`). Forms change through the publish planner, so every record is kept; the documents
as they were before are stored with the upgrade, and a rollback publishes them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.designer import definitions
from opsloom.designer.migration_plan import diff_forms, plan_migration
from opsloom.designer.package_merge import MISSING, RESOLUTIONS, DocumentMerge, Merge, MergeConflict, merge_documents
from opsloom.designer.packages import (
    KINDS,
    InstallReport,
    check_package,
    draft_forms,
    in_link_order,
    install_document,
    install_package,
    installed_documents,
    manifest_of,
)
from opsloom.designer.pages.plan_sentences import Names, change_sentences, step_sentences
from opsloom.designer.publishing import plan_publish
from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, Conflict, FieldError, NotFound, OpsloomError
from opsloom.runtime.forms import FormRegistry, initial_storage
from opsloom.runtime.pages.i18n import Translator

Doc = dict[str, Any]
ByKey = dict[str, Doc]


def parse_resolutions(raw: Any) -> dict[str, str]:
    """`{"forms.customer.fields[f_name].label": "take_theirs"}`: a choice per conflicting path."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest("resolutions must be an object", [FieldError("resolutions", "expected {path: choice}")])
    for path, choice in raw.items():
        if choice not in RESOLUTIONS:
            raise BadRequest(
                "A resolution is keep_mine or take_theirs",
                [FieldError(f"resolutions.{path}", "use keep_mine or take_theirs")],
            )
    return dict(raw)


@dataclass(frozen=True)
class Installed:
    """The package an app was last installed or upgraded from."""

    id: int
    key: str
    version: str
    documents: Mapping[str, Any]
    previous: Mapping[str, Any] | None


async def installed_package(session: AsyncSession, app: str) -> Installed | None:
    p = tables.app_packages
    row = (
        await session.execute(
            select(p).where(p.c.app_key == app, p.c.status == "installed").order_by(p.c.id.desc()).limit(1)
        )
    ).first()
    if row is None:
        return None
    return Installed(row.id, row.package_key, row.version, row.documents, row.previous)


async def package_history(session: AsyncSession, app: str) -> list[dict[str, Any]]:
    p = tables.app_packages
    rows = await session.execute(select(p).where(p.c.app_key == app).order_by(p.c.id.desc()))
    return [
        {
            "package": r.package_key,
            "version": r.version,
            "status": r.status,
            "upgrade": r.previous is not None,
            "installed_at": r.installed_at.isoformat(),
        }
        for r in rows
    ]


def _by_key(documents: Mapping[str, Any]) -> dict[str, ByKey]:
    return {kind.plural: {d["key"]: d for d in documents.get(kind.plural, [])} for kind in KINDS}


def definitions_of(package: Mapping[str, Any]) -> dict[str, Any]:
    """A package's documents without its sample data: what is recorded as the base of the next upgrade."""
    return {k: v for k, v in package.items() if k != "sample_data"}


@dataclass(frozen=True)
class ImportPlan:
    app: str
    version: str
    installed_version: str | None
    upgrade: bool
    app_document: Doc
    documents: tuple[DocumentMerge, ...]
    conflicts: tuple[MergeConflict, ...]
    sentences: Mapping[tuple[str, str], list[str]]
    sample_data: Mapping[str, int]

    def as_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for d in self.documents:
            counts[d.outcome] = counts.get(d.outcome, 0) + 1
        return {
            "app": self.app,
            "action": "upgrade" if self.upgrade else "install",
            "version": self.version,
            "installed_version": self.installed_version,
            "summary": counts,
            "documents": [
                {
                    "kind": d.kind,
                    "key": d.key,
                    "label": (d.merged if d.merged is not MISSING else d.mine or {}).get("label"),
                    "outcome": d.outcome,
                    "customised": d.customised,
                    "sentences": self.sentences.get((d.kind, d.key), []),
                    "conflicts": [c.path for c in d.conflicts],
                }
                for d in self.documents
            ],
            "conflicts": [c.as_json() for c in self.conflicts],
            "can_apply": not self.conflicts,
            "sample_data": dict(self.sample_data),
        }


async def plan_import(
    session: AsyncSession,
    ctx: RequestContext,
    package: Mapping[str, Any],
    t: Translator,
    *,
    resolutions: Mapping[str, str] | None = None,
    with_sample_data: bool = True,
    lock: bool = False,
) -> ImportPlan:
    """What importing `package` would do; with `lock`, the app's row stays locked until the transaction
    ends, so that two upgrades of one app never plan on the same base."""
    check_package(package)
    resolutions = resolutions or {}
    app = package["app"]["key"]
    a = tables.apps
    statement = select(a.c.key).where(a.c.key == app)
    upgrade = (await session.execute(statement.with_for_update() if lock else statement)).first() is not None
    installed = await installed_package(session, app) if upgrade else None
    base_package: Mapping[str, Any] = installed.documents if installed else {}
    base, theirs = _by_key(base_package), _by_key(package)
    mine = _by_key(await installed_documents(session, app)) if upgrade else {k.plural: {} for k in KINDS}
    documents: list[DocumentMerge] = []
    used: set[str] = set()
    for kind in KINDS:
        documents += merge_documents(
            kind.plural, base[kind.plural], mine[kind.plural], theirs[kind.plural], resolutions, used
        )
    app_document = dict(package["app"])
    conflicts = [c for d in documents for c in d.conflicts]
    if upgrade:
        merge = Merge(resolutions)
        current = await definitions.load_app(session, app)
        app_document = merge.value(base_package.get("app", MISSING), current, package["app"], "app")
        conflicts = merge.conflicts + conflicts
        used |= merge.used
    unknown = sorted(set(resolutions) - used)
    if unknown:
        raise BadRequest(
            "Some resolutions name no conflict of this upgrade",
            [
                FieldError(f"resolutions.{path}", "is not a conflicting path; see the plan's conflicts")
                for path in unknown
            ],
        )
    coming = {d.key: d.merged for d in documents if d.kind == "forms" and isinstance(d.merged, dict)}
    sentences = {(d.kind, d.key): await _sentences(session, ctx, t, app, d, coming) for d in documents}
    sample = (
        {k: len(v) for k, v in (package.get("sample_data") or {}).items()} if with_sample_data and not upgrade else {}
    )
    return ImportPlan(
        app=app,
        version=manifest_of(package)["version"],
        installed_version=installed.version if installed else None,
        upgrade=upgrade,
        app_document=app_document,
        documents=tuple(documents),
        conflicts=tuple(conflicts),
        sentences=sentences,
        sample_data=sample,
    )


async def _sentences(
    session: AsyncSession, ctx: RequestContext, t: Translator, app: str, d: DocumentMerge, coming: Mapping[str, Doc]
) -> list[str]:
    kind = d.kind.removesuffix("s")
    name = t.label(((d.merged if d.merged is not MISSING else d.mine) or {}).get("label") or d.key)
    what = t(f"packages.kind.{kind}")
    if d.outcome == "created":
        out = [t("packages.created", kind=what, name=name)]
        if d.kind == "forms":
            plan = plan_migration(None, d.merged, initial_storage(app, d.merged))
            out += step_sentences(Names.of(t, d.merged), plan)
        return out
    if d.outcome == "kept":
        key = "packages.kept_removed_by_you" if d.mine is MISSING else "packages.kept_not_in_package"
        return [t(key, kind=what, name=name)]
    if d.outcome == "unchanged":
        return [t("packages.unchanged_customised" if d.customised else "packages.unchanged", kind=what, name=name)]
    out = [t("packages.changed_customised" if d.customised else "packages.changed", kind=what, name=name)]
    if d.kind == "forms":
        names = Names.of(t, d.mine, d.merged)
        out += change_sentences(names, diff_forms(d.mine, d.merged))
        try:
            planned = await plan_publish(session, app, d.key, ctx.zone, document=d.merged, drafts=coming)
        except OpsloomError as error:
            return [*out, *(f"{e.path}: {e.message}" for e in error.errors)] or [*out, str(error)]
        storage = planned.definition.storage
        out += step_sentences(Names.of(t, d.mine, d.merged, storage=storage), planned.plan)
        out += [f"{b.message} {b.fix}" for b in planned.plan.blockers]
        return out
    return out + _item_sentences(t, d.mine, d.merged)


def _item_sentences(t: Translator, old: Doc, new: Doc) -> list[str]:
    """What changes in a document that is not a form: its parts by id (a flow's steps), and its other settings."""
    out = []
    for key in [*new, *(k for k in old if k not in new)]:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if _parts(before) or _parts(after):
            was = {p["id"]: p for p in before or []}
            now = {p["id"]: p for p in after or []}
            for ident, part in now.items():
                label = t.label(part.get("label") or ident)
                if ident not in was:
                    out.append(t("packages.part_added", name=label))
                elif was[ident] != part:
                    out.append(t("packages.part_changed", name=label))
            out += [
                t("packages.part_removed", name=t.label(p.get("label") or i)) for i, p in was.items() if i not in now
            ]
        elif key == "label":
            out.append(t("packages.label_changed", before=t.label(before or ""), after=t.label(after or "")))
        else:
            out.append(t("packages.setting_changed", setting=key))
    return out


def _parts(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(p, dict) and "id" in p for p in value)


async def apply_import(
    session: AsyncSession,
    ctx: RequestContext,
    registry: FormRegistry,
    package: Mapping[str, Any],
    plan: ImportPlan,
    *,
    with_sample_data: bool = True,
) -> InstallReport:
    """Install the package, or upgrade the app in place as planned. One transaction: all or nothing."""
    manifest = manifest_of(package)
    if not plan.upgrade:
        report = await install_package(session, ctx, package, registry=registry, with_sample_data=with_sample_data)
        await _record(session, ctx, plan.app, manifest, definitions_of(package), None)
        return report
    if plan.conflicts:
        raise Conflict(
            "The upgrade changes what you changed too; choose keep_mine or take_theirs for each conflict",
            [FieldError(f"resolutions.{c.path}", "choose keep_mine or take_theirs") for c in plan.conflicts],
        )
    previous = {"app": await definitions.load_app(session, plan.app), **await installed_documents(session, plan.app)}
    await definitions.save_app(session, ctx, plan.app_document)
    changed = [d for d in plan.documents if d.outcome in ("created", "changed")]
    await draft_forms(session, ctx, plan.app, [d.merged for d in changed if d.kind == "forms"])
    forms = []
    for kind in KINDS:
        documents = [d.merged for d in changed if d.kind == kind.plural]
        for document in in_link_order(documents) if kind.kind == "form" else documents:
            await install_document(session, ctx, registry, plan.app, kind, document)
            if kind.kind == "form":
                forms.append(document["key"])
    await _record(session, ctx, plan.app, manifest, definitions_of(package), previous)
    return InstallReport(app=plan.app, forms=forms, records={})


async def _record(
    session: AsyncSession,
    ctx: RequestContext,
    app: str,
    manifest: Mapping[str, Any],
    documents: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
) -> None:
    await session.execute(
        insert(tables.app_packages).values(
            app_key=app,
            package_key=manifest["key"],
            version=manifest["version"],
            documents=dict(documents),
            previous=dict(previous) if previous is not None else None,
            status="installed",
            installed_at=ctx.now,
            installed_by=ctx.principal.user_id,
        )
    )
    a = tables.apps
    await session.execute(update(a).where(a.c.key == app).values(package_version=manifest["version"]))


async def rollback_upgrade(
    session: AsyncSession, ctx: RequestContext, registry: FormRegistry, app: str
) -> dict[str, Any]:
    """Publish again the documents the app had before its last upgrade; records stay (fields the upgrade
    added are archived with their values, as any removed field is)."""
    await definitions.load_app(session, app)
    latest = await installed_package(session, app)
    if latest is None:
        raise NotFound(f"App '{app}' was not installed from a package")
    if latest.previous is None:
        raise Conflict(
            f"App '{app}' was installed, not upgraded, from package version {latest.version}: nothing to go back to",
            [FieldError("$", "only an upgrade can be rolled back")],
        )
    previous, current = latest.previous, _by_key(await installed_documents(session, app))
    await definitions.save_app(session, ctx, previous["app"])
    restored = []
    await draft_forms(session, ctx, app, [d for d in previous.get("forms", []) if current["forms"].get(d["key"]) != d])
    for kind in KINDS:
        documents = [d for d in previous.get(kind.plural, []) if current[kind.plural].get(d["key"]) != d]
        for document in in_link_order(documents) if kind.kind == "form" else documents:
            await install_document(session, ctx, registry, app, kind, document)
            restored.append(f"{kind.plural}.{document['key']}")
    p = tables.app_packages
    await session.execute(update(p).where(p.c.id == latest.id).values(status="rolled_back"))
    before = await installed_package(session, app)
    a = tables.apps
    await session.execute(update(a).where(a.c.key == app).values(package_version=before.version if before else None))
    return {"app": app, "restored": restored, "version": before.version if before else None}
