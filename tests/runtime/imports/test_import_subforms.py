"""Line items from a spreadsheet: rows under a record (its key cell empty, as under a merged cell, or
repeated) become the record's subform rows."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import field, form, list_all, publish_app
from tests.runtime.imports.helpers import commit, uploaded, xlsx_bytes

IMPORTS = "/api/apps/shop/forms/order/imports"
RECORDS = "/api/apps/shop/forms/order/records"


def order_form() -> dict:
    lines = {
        **field("items", "subform", label={"zh-CN": "明细", "en": "Lines"}),
        "fields": [
            field("item", label={"zh-CN": "品名", "en": "Item"}, required=True),
            field("qty", "integer", label={"zh-CN": "数量", "en": "Quantity"}, min=1),
            field("price", "decimal", label={"zh-CN": "单价", "en": "Unit price"}, scale=2),
        ],
    }
    return form(
        "order",
        field("code", label={"zh-CN": "编号", "en": "Code"}, unique=True),
        field("title", label={"zh-CN": "标题", "en": "Title"}, required=True),
        lines,
        title_field="title",
    )


def test_rows_under_a_record_become_its_line_items(client: TestClient) -> None:
    publish_app(client, "shop", order_form())
    rows = [
        ["编号", "标题", "明细-品名", "明细-数量", "单价"],
        ["P-1", "电脑采购", "笔记本", "２", "¥5,000"],
        [None, None, "鼠标", 3, "50"],  # under a merged cell
        ["P-2", "椅子", "椅子", 4, 300],
        ["P-2", "椅子", "靠垫", "４", 20],  # the key repeated
        ["P-3", "空单", None, None, None],
        ["P-4", "坏单", "螺丝", 0, 1],
    ]
    created = uploaded(client, "orders.xlsx", xlsx_bytes({"Sheet1": rows}), IMPORTS)
    assert created["mapping"] == {"code": 0, "title": 1, "items.item": 2, "items.qty": 3, "items.price": 4}
    lines = next(f for f in created["fields"] if f["key"] == "items.qty")
    assert lines["label"] == {"en": "Lines · Quantity", "zh-CN": "明细 · 数量"}
    url = f"{IMPORTS}/{created['id']}"
    report = client.post(f"{url}/dry-run").json()
    assert (report["rows"], report["valid"], report["invalid"]) == (4, 3, 1)
    assert report["problems"] == [{"row": 7, "errors": [{"path": "items[0].qty", "message": "must be at least 1"}]}]
    done = commit(client, url)
    assert done["counts"] == {"inserted": 3, "updated": 0, "skipped": 0, "failed": 1}
    assert done["job"]["progress"]["done"] == 6  # data rows, not records
    orders = {r["code"]: r for r in list_all(client, RECORDS)}
    assert set(orders) == {"P-1", "P-2", "P-3"}
    assert [(i["item"], i["qty"], i["price"]) for i in orders["P-1"]["items"]] == [
        ("笔记本", 2, "5000.00"),
        ("鼠标", 3, "50.00"),
    ]
    assert [(i["item"], i["qty"]) for i in orders["P-2"]["items"]] == [("椅子", 4), ("靠垫", 4)]
    assert orders["P-3"]["items"] == []
