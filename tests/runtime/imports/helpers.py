"""Forms, files and steps the import tests share."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]
from fastapi.testclient import TestClient

from tests.builders import field, form, publish_app

APP = "buy"
IMPORTS = f"/api/apps/{APP}/forms/purchase/imports"
RECORDS = f"/api/apps/{APP}/forms/purchase/records"
FINISHED = ("done", "failed", "cancelled")


def supplier_form() -> dict[str, Any]:
    return form(
        "supplier",
        field("name", label={"zh-CN": "名称", "en": "Name"}, required=True, unique=True),
        title_field="name",
    )


def purchase_form() -> dict[str, Any]:
    return form(
        "purchase",
        field("code", label={"zh-CN": "编号", "en": "Code"}, required=True, unique=True),
        field("title", label={"zh-CN": "标题", "en": "Title"}, required=True),
        field("amount", "decimal", label={"zh-CN": "金额", "en": "Amount"}, precision=14, scale=2),
        field(
            "category",
            "select",
            label={"zh-CN": "类别", "en": "Category"},
            options=[
                {"value": "it", "label": {"zh-CN": "信息技术", "en": "IT"}},
                {"value": "office", "label": {"zh-CN": "办公", "en": "Office"}},
            ],
        ),
        field("ordered_on", "date", label={"zh-CN": "下单日期", "en": "Ordered on"}),
        field("urgent", "boolean", label={"zh-CN": "加急", "en": "Urgent"}),
        field("qty", "integer", label={"zh-CN": "数量", "en": "Quantity"}, min=1),
        field("supplier", "relation", form="supplier", label={"zh-CN": "供应商", "en": "Supplier"}),
        title_field="title",
    )


def publish_purchases(client: TestClient) -> None:
    publish_app(client, APP, supplier_form(), purchase_form())
    for name in ("华为", "联想"):
        response = client.post(f"/api/apps/{APP}/forms/supplier/records", json={"name": name})
        assert response.status_code == 201, response.text


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    return text.getvalue().encode(encoding)


def xlsx_bytes(sheets: dict[str, list[list[Any]]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                if cell is not None:
                    sheet.write(r, c, cell)
    book.close()
    return buffer.getvalue()


def upload(client: TestClient, name: str, content: bytes, url: str = IMPORTS) -> Any:
    return client.post(url, files={"file": (name, content, "application/octet-stream")})


def uploaded(client: TestClient, name: str, content: bytes, url: str = IMPORTS) -> dict[str, Any]:
    response = upload(client, name, content, url)
    assert response.status_code == 201, response.text
    return response.json()


def wait_finished(client: TestClient, url: str, rounds: int = 600) -> dict[str, Any]:
    """The import once its job ended (the in-process runner works while the test waits)."""
    for _ in range(rounds):
        body = client.get(url).json()
        if body["state"] in FINISHED:
            return body
        time.sleep(0.05)
    raise AssertionError(f"the import never finished: {body}")


def commit(client: TestClient, url: str) -> dict[str, Any]:
    response = client.post(f"{url}/commit")
    assert response.status_code == 202, response.text
    return wait_finished(client, url)


HEADERS = ["编号", "标题", "金额", "类别", "下单日期", "加急", "数量", "供应商"]
