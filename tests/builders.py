"""Small helpers that build metadata and publish it through the HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient


def field(key: str, type: str = "text", **rules: Any) -> dict[str, Any]:
    return {"id": f"fld_{key}", "key": key, "type": type, "label": key.replace("_", " ").title(), **rules}


def options(*values: str) -> list[dict[str, str]]:
    return [{"value": v, "label": v.title()} for v in values]


def form(key: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"key": key, "label": key.replace("_", " ").title(), "fields": list(fields), **extra}


def publish_app(client: TestClient, app: str, *forms: dict[str, Any]) -> None:
    response = client.put(f"/api/design/apps/{app}", json={"key": app, "label": app.title()})
    assert response.status_code == 200, response.text
    for document in forms:
        saved = client.put(f"/api/design/apps/{app}/forms/{document['key']}", json=document)
        assert saved.status_code == 200, saved.text
        published = client.post(f"/api/design/apps/{app}/forms/{document['key']}/publish")
        assert published.status_code == 200, published.text


def records_url(app: str, form_key: str) -> str:
    return f"/api/apps/{app}/forms/{form_key}/records"


PROBLEM_JSON = "application/problem+json"


def problem(response: Any, status: int, path: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem of `status` (naming `path` when given); return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    if path is not None:
        paths = [e["path"] for e in body.get("errors", [])]
        assert path in paths, (path, body)
        assert all(e["message"] for e in body["errors"]), body
    return body


def message_at(body: dict[str, Any], path: str) -> str:
    """The message of the error at `path` in a problem body."""
    return next(e["message"] for e in body["errors"] if e["path"] == path)


def create(client: TestClient, url: str, **values: Any) -> dict[str, Any]:
    response = client.post(url, json=values)
    assert response.status_code == 201, response.text
    return response.json()


def list_all(client: TestClient, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of a list, walking the pages through next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the list never ended")


@contextmanager
def admin_client(kind: str, directory: Path, **settings: Any) -> Iterator[TestClient]:
    """A logged-in admin client on a fresh database, for a module's tests to share.

    Publishing and logging in cost seconds; tests that share one such client
    keep their data apart (own records, or own forms) instead.
    """
    from opsloom.app import create_app
    from opsloom.platform.settings import Settings
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, create_user, log_in
    from tests.databases import database

    with database(kind, directory) as url:
        config = Settings(database_url=url, data_dir=directory / "data", secret_key="test-secret", **settings)
        with TestClient(create_app(config), raise_server_exceptions=False) as client:
            create_user(client, ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
            log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
            yield client


_fresh = iter(range(1, 10**9))


def publish_fresh(client: TestClient, app: str, document: dict[str, Any]) -> str:
    """Publish `document` under a new form key; return its records URL (a clean table per test)."""
    key = f"{document['key']}_{next(_fresh)}"
    publish_app(client, app, {**document, "key": key})
    return records_url(app, key)
