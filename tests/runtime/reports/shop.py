"""A small purchasing app for report tests: suppliers, and requests with lines, published over HTTP."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.builders import field, form, options, publish_app

SUPPLIER = form(
    "supplier",
    field("name", required=True),
    field("country", "select", options=options("cn", "de", "us")),
    field("rating", "integer"),
    title_field="name",
)


def request_form(key: str, supplier: str) -> dict[str, Any]:
    return form(
        key,
        field("title", required=True),
        field("amount", "decimal", precision=14, scale=2),
        field("qty", "integer"),
        field("category", "select", options=options("it", "office", "travel")),
        field("needed", "date"),
        field("at", "datetime"),
        field("urgent", "boolean"),
        field("buyer", "user"),
        field("team", "department"),
        field("secret", "decimal", precision=14, scale=2),
        field("supplier", "relation", form=supplier),
        field("tags", "multiselect", options=options("red", "green", "blue")),
        field("watchers", "users"),
        {
            "id": f"fld_{key}_items",
            "key": "items",
            "type": "subform",
            "label": "Items",
            "fields": [
                field("item", required=True),
                field("units", "integer"),
                field("price", "decimal", precision=12, scale=2),
            ],
        },
        title_field="title",
    )


_serial = iter(range(1, 10**6))


class Shop:
    """One app per test module; each Shop gets fresh forms (its own tables)."""

    def __init__(self, client: TestClient, app: str = "shop") -> None:
        self.client = client
        self.app = app
        n = next(_serial)
        self.supplier = f"supplier_{n}"
        self.request = f"request_{n}"
        publish_app(client, app, {**SUPPLIER, "key": self.supplier}, request_form(self.request, self.supplier))

    @property
    def records(self) -> str:
        return f"/api/apps/{self.app}/forms/{self.request}/records"

    def add_supplier(self, **values: Any) -> int:
        response = self.client.post(f"/api/apps/{self.app}/forms/{self.supplier}/records", json=values)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def add(self, client: TestClient | None = None, **values: Any) -> dict[str, Any]:
        response = (client or self.client).post(self.records, json={"title": "r", **values})
        assert response.status_code == 201, response.text
        return response.json()

    def report(self, key: str, **document: Any) -> dict[str, Any]:
        """Save and publish a report over this shop's requests."""
        body = {"key": key, "label": key.title(), "form": self.request, **document}
        saved = self.client.put(f"/api/design/apps/{self.app}/reports/{key}", json=body)
        assert saved.status_code == 200, saved.text
        assert saved.json()["problems"] == [], saved.text
        published = self.client.post(f"/api/design/apps/{self.app}/reports/{key}/publish")
        assert published.status_code == 200, published.text
        return body

    def run(self, key: str, client: TestClient | None = None, **shared: Any) -> Any:
        return (client or self.client).post(f"/api/apps/{self.app}/reports/{key}/run", json=shared or None)

    def answer(self, key: str, client: TestClient | None = None, **shared: Any) -> dict[str, Any]:
        response = self.run(key, client, **shared)
        assert response.status_code == 200, response.text
        return response.json()

    def preview(self, client: TestClient | None = None, filters: Any = None, **document: Any) -> Any:
        body = {"document": {"form": self.request, **document}, "filters": filters}
        return (client or self.client).post(f"/api/design/apps/{self.app}/reports/preview", json=body)

    def behind(self, condition: Any, client: TestClient | None = None) -> list[dict[str, Any]]:
        """The records a drill-down filter lists."""
        response = (client or self.client).get(self.records, params={"filter": json.dumps(condition), "limit": 500})
        assert response.status_code == 200, response.text
        return response.json()["items"]


def by(answer: dict[str, Any], key: str) -> dict[Any, dict[str, Any]]:
    """Detail rows by the value of one dimension."""
    return {row["values"][key]: row for row in answer["rows"]}
