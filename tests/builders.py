"""Small helpers that build metadata and publish it through the HTTP API."""

from __future__ import annotations

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
