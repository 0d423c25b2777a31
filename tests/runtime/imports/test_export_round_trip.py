"""An export of a list re-imports unchanged: CSV and XLSX, options as labels or as values."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import list_all, problem
from tests.runtime.imports.helpers import APP, IMPORTS, RECORDS, commit, publish_purchases, uploaded

EXPORT = f"/api/apps/{APP}/forms/purchase/export"
KEPT = ("code", "title", "amount", "category", "ordered_on", "urgent", "qty", "supplier")


def values_of(client: TestClient) -> list[dict[str, Any]]:
    rows = list_all(client, RECORDS, expand="supplier")
    kept = [{key: row.get(key) for key in KEPT} for row in rows]
    for row in kept:
        row["supplier"] = row["supplier"] and row["supplier"]["title"]
    return sorted(kept, key=lambda row: row["code"])


def add_purchases(client: TestClient) -> None:
    suppliers = {r["name"]: r["id"] for r in list_all(client, f"/api/apps/{APP}/forms/supplier/records")}
    rows = [
        {"code": "P-1", "title": "笔记本电脑", "amount": "1234.50", "category": "it", "ordered_on": "2024-01-05",
         "urgent": True, "qty": 2, "supplier": suppliers["华为"]},
        {"code": "P-2", "title": "打印纸, A4", "amount": "12000.00", "category": "office", "ordered_on": "2024-12-31",
         "urgent": False, "qty": 10, "supplier": suppliers["联想"]},
        {"code": "P-3", "title": "=1+2 不是公式", "amount": None, "category": None, "ordered_on": None,
         "urgent": None, "qty": None, "supplier": None},
    ]  # fmt: skip
    for row in rows:
        response = client.post(RECORDS, json={k: v for k, v in row.items() if v is not None})
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
@pytest.mark.parametrize("options", ["labels", "values"])
def test_an_exported_list_reimports_unchanged(client: TestClient, file_format: str, options: str) -> None:
    publish_purchases(client)
    add_purchases(client)
    before = values_of(client)
    exported = client.get(EXPORT, params={"format": file_format, "options": options})
    assert exported.status_code == 200, exported.text
    for record in list_all(client, RECORDS):
        assert client.delete(f"{RECORDS}/{record['id']}").status_code == 204
    assert list_all(client, RECORDS) == []

    created = uploaded(client, f"export.{file_format}", exported.content)
    assert set(KEPT) <= set(created["mapping"]) and created["unmatched"] == {}, created
    done = commit(client, f"{IMPORTS}/{created['id']}")
    assert done["counts"] == {"inserted": 3, "updated": 0, "skipped": 0, "failed": 0}, done
    assert values_of(client) == before


def test_options_are_written_as_labels_or_as_values(client: TestClient) -> None:
    publish_purchases(client)
    add_purchases(client)
    labels = client.get(EXPORT, params={"options": "labels", "locale": "zh-CN"}).content.decode("utf-8-sig")
    values = client.get(EXPORT, params={"options": "values", "locale": "zh-CN"}).content.decode("utf-8-sig")
    assert "信息技术" in labels and ",it," not in labels
    assert ",it," in values and "信息技术" not in values
    problem(client.get(EXPORT, params={"options": "codes"}), 400, "options")
