"""What the tests of one field type ask over HTTP: matching ids, exported cells, OpenAPI schemas, draft problems."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from openpyxl import load_workbook


def ids_matching(api: TestClient, url: str, condition: dict[str, Any]) -> set[int]:
    response = api.get(url, params={"filter": json.dumps(condition), "limit": 500})
    assert response.status_code == 200, response.text
    return {r["id"] for r in response.json()["items"]}


def exported(api: TestClient, url: str, fmt: str, column: str) -> dict[int, Any]:
    """One column of a form's export, by record id (`url`: the form's records URL)."""
    response = api.get(url.removesuffix("/records") + "/export", params={"format": fmt, "locale": "en", "sort": "id"})
    assert response.status_code == 200, response.text
    if fmt == "csv":
        rows: list[list[Any]] = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    else:
        sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header = rows[0]
    return {int(row[0]): row[header.index(column)] for row in rows[1:]}


def field_schema(api: TestClient, app: str, component: str, key: str, write: bool = False) -> dict[str, Any]:
    response = api.get(f"/api/apps/{app}/openapi.json")
    assert response.status_code == 200, response.text
    document = response.json()
    validate(document)
    schemas = document["components"]["schemas"]
    schema = schemas[f"{component}Create" if write else component]["properties"][key]
    return next((s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"), schema)


def draft_problems(api: TestClient, app: str, document: dict[str, Any]) -> dict[str, str]:
    """The problems the designer finds in a form draft, as {path: message}."""
    response = api.put(f"/api/design/apps/{app}/forms/{document['key']}", json=document)
    assert response.status_code == 200, response.text
    return {p["path"]: p["message"] for p in response.json()["problems"]}
