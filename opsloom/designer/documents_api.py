"""The designer API for every document kind with drafts: save, read, publish, versions.

One set of handlers serves flows, automations, reports and dashboards
(`document_kinds.DOCUMENT_KINDS`); each kind gets its own routes, with its own
path parameter name (`/{app}/flows/{flow}`), so the URLs and the OpenAPI
document read as if written by hand.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from opsloom.designer import definitions
from opsloom.designer.api import parse_revision
from opsloom.designer.document_kinds import DOCUMENT_KINDS, DocumentKind
from opsloom.platform.api_document import json_body
from opsloom.platform.http import DB, authenticated, context_of, principal_of, read_json
from opsloom.platform.permissions import require_app_admin
from opsloom.runtime.dependencies import Forms
from opsloom.runtime.forms import FormRegistry

router = APIRouter(prefix="/api/design/apps", tags=["designer"], dependencies=[Depends(authenticated)])

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="An identifier")]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
DryRun = Annotated[bool, Query()]


async def draft_view(
    session: Any, forms: FormRegistry, kind: DocumentKind, d: definitions.Definition
) -> dict[str, Any]:
    problems = await kind.problems(session, forms, d.app, d.draft) if d.draft is not None else []
    return {
        "key": d.key,
        "draft": d.draft,
        "draft_revision": d.draft_revision,
        "published_version": d.published_version,
        "problems": [e.as_json() for e in problems],
    }


def _handlers(kind: DocumentKind) -> dict[str, Callable[..., Any]]:
    async def put(app: str, key: str, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
        expected = parse_revision(request.headers.get("If-Match"))  # the designer pages' autosave sends it
        document = await read_json(request)
        async with db.session(write=True) as session:
            await require_app_admin(session, principal_of(request), app)
            saved = await definitions.save_draft(
                session, context_of(request), app, kind.name, key, document, expected_revision=expected
            )
            return await draft_view(session, forms, kind, saved)

    async def get(app: str, key: str, request: Request, db: DB, forms: Forms) -> dict[str, Any]:
        async with db.session() as session:
            await require_app_admin(session, principal_of(request), app)
            found = await definitions.load_definition(session, app, kind.name, key)
            return await draft_view(session, forms, kind, found)

    async def publish(app: str, key: str, request: Request, db: DB, forms: Forms, dry_run: DryRun = False) -> Any:
        async with db.session(write=True) as session:
            await require_app_admin(session, principal_of(request), app)
            return await kind.publish_draft(session, context_of(request), forms, app, key, dry_run=dry_run)

    async def versions(app: str, key: str, request: Request, db: DB) -> dict[str, Any]:
        async with db.session() as session:
            await require_app_admin(session, principal_of(request), app)
            found = await definitions.load_definition(session, app, kind.name, key)
            return {"items": await definitions.list_versions(session, found)}

    async def version(app: str, key: str, version: Version, request: Request, db: DB) -> dict[str, Any]:
        async with db.session() as session:
            await require_app_admin(session, principal_of(request), app)
            found = await definitions.load_definition(session, app, kind.name, key)
            return {"version": version, "document": await definitions.published_document(session, found, version)}

    return {"put": put, "get": get, "publish": publish, "versions": versions, "version": version}


def _named(handler: Callable[..., Any], kind: DocumentKind, name: str) -> Callable[..., Any]:
    """The handler with its `key` parameter renamed to the kind's path parameter (`flow`, `report`)."""
    signature = inspect.signature(handler)
    hints = {"app": Key, "key": Key}
    parameters = []
    for p in signature.parameters.values():
        annotation = hints.get(p.name, handler.__annotations__.get(p.name, p.annotation))
        renamed = kind.name if p.name == "key" else p.name
        parameters.append(p.replace(name=renamed, annotation=annotation))

    async def endpoint(**values: Any) -> Any:
        values["key"] = values.pop(kind.name)
        return await handler(**values)

    endpoint.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = f"{name}_{kind.name}"
    return endpoint


def _add_routes(kind: DocumentKind) -> None:
    handlers = _handlers(kind)
    base = f"/{{app}}/{kind.plural}/{{{kind.name}}}"
    a, what = kind.article, kind.name
    routes: list[tuple[str, str, str, str, dict[str, Any]]] = [
        ("PUT", "", "put", f"Save {a} {what} draft", {"openapi_extra": _body(kind)}),
        ("GET", "", "get", f"Read {a} {what} draft, its problems and state", {}),
        ("POST", "/publish", "publish", f"Publish the {what} draft (dry_run: check only)", {}),
        ("GET", "/versions", "versions", f"Published versions of {a} {what}, newest first", {}),
        ("GET", "/versions/{version}", "version", f"One published version of {a} {what}", {}),
    ]
    for method, suffix, name, summary, extra in routes:
        router.add_api_route(
            base + suffix, _named(handlers[name], kind, name), methods=[method], summary=summary, **extra
        )


def _body(kind: DocumentKind) -> dict[str, Any]:
    return json_body(description=f"{kind.article.title()} {kind.name} document (schemas/{kind.name}.schema.json)")


for _kind in DOCUMENT_KINDS.values():
    _add_routes(_kind)
