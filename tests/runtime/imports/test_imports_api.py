"""Importing spreadsheets through the HTTP API, on both databases."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from opsloom.platform import tables
from opsloom.platform.files import FileStore
from tests.builders import list_all, problem
from tests.conftest import another_client, create_user, log_in, query
from tests.runtime.imports.helpers import (
    APP,
    HEADERS,
    IMPORTS,
    RECORDS,
    commit,
    csv_bytes,
    publish_purchases,
    upload,
    uploaded,
    xlsx_bytes,
)


def by_code(client: TestClient) -> dict[str, dict]:
    return {r["code"]: r for r in list_all(client, RECORDS, expand="supplier")}


def test_a_gbk_csv_is_detected_mapped_cleaned_and_imported(client: TestClient) -> None:
    publish_purchases(client)
    rows = [
        HEADERS,
        ["P-001", "笔记本电脑", "￥1,234.50", "信息技术", "2024年1月5日", "是", "２", "华为"],
        ["P-002", " 打印纸 ", "￥12,000", "办公", "2024/1/6", "否", "１０", "联想"],
    ]
    created = uploaded(client, "采购.csv", csv_bytes(rows, "gbk"))
    assert created["file"]["encoding"] == "gb18030" and created["state"] == "draft"
    assert created["total_rows"] == 2
    assert created["mapping"] == {
        "code": 0,
        "title": 1,
        "amount": 2,
        "category": 3,
        "ordered_on": 4,
        "urgent": 5,
        "qty": 6,
        "supplier": 7,
    }
    assert created["unmatched"] == {}
    assert created["sample"][0][1] == "笔记本电脑"
    done = commit(client, f"{IMPORTS}/{created['id']}")
    assert done["state"] == "done", done
    assert done["counts"] == {"inserted": 2, "updated": 0, "skipped": 0, "failed": 0}
    progress = done["job"]["progress"]
    assert progress["done"] == progress["total"] == 2 and done["job"]["state"] == "done"
    assert progress["rows_per_second"] > 0 and progress["seconds_left"] == 0
    records = by_code(client)
    first, second = records["P-001"], records["P-002"]
    assert (first["amount"], first["category"], first["ordered_on"], first["urgent"], first["qty"]) == (
        "1234.50",
        "it",
        "2024-01-05",
        True,
        2,
    )
    assert first["supplier"]["title"] == "华为"
    assert (second["title"], second["amount"], second["qty"], second["urgent"]) == ("打印纸", "12000.00", 10, False)
    history = client.get(f"{RECORDS}/{first['id']}/history").json()["items"]
    assert [h["action"] for h in history] == ["import"]


def test_unmapped_values_block_the_commit_until_mapped(client: TestClient) -> None:
    publish_purchases(client)
    rows = [
        HEADERS,
        ["P-101", "显示器", "800", "硬件", "2024.1.5", "Y", "1", "戴尔"],
        ["P-102", "键盘", "120", "硬件", "45296", "N", "3", "华为"],
        ["P-103", "椅子", "500", "办公", "2024-01-07", "√", "1", "戴尔"],
    ]
    created = uploaded(client, "mixed.csv", csv_bytes(rows))
    url = f"{IMPORTS}/{created['id']}"
    assert created["unmatched"] == {
        "category": [{"value": "硬件", "count": 2, "rows": [2, 3]}],
        "supplier": [{"value": "戴尔", "count": 2, "rows": [2, 4]}],
    }
    refused = problem(client.post(f"{url}/commit"), 409, "values.category")
    assert "硬件" in refused["detail"] or any("硬件" in e["message"] for e in refused["errors"])
    problem(client.post(f"{url}/dry-run"), 409, "values.supplier")
    lenovo = list_all(client, f"/api/apps/{APP}/forms/supplier/records", q="联想")[0]["id"]
    changed = client.patch(url, json={"values": {"category": {"硬件": "it"}, "supplier": {"戴尔": lenovo}}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["unmatched"] == {}
    report = client.post(f"{url}/dry-run").json()
    assert (report["rows"], report["valid"], report["invalid"], report["insert"]) == (3, 3, 0, 3)
    assert by_code(client) == {}  # a dry run stores nothing
    done = commit(client, url)
    assert done["counts"]["inserted"] == 3
    records = by_code(client)
    assert records["P-101"]["category"] == "it" and records["P-101"]["supplier"]["title"] == "联想"
    assert records["P-102"]["ordered_on"] == "2024-01-05"  # an Excel serial number
    assert records["P-101"]["ordered_on"] == "2024-01-05"
    assert [records[c]["urgent"] for c in ("P-101", "P-102", "P-103")] == [True, False, True]


def test_upsert_by_key_updates_existing_records_and_inserts_new_ones(client: TestClient) -> None:
    publish_purchases(client)
    existing = client.post(RECORDS, json={"code": "P-201", "title": "旧标题", "amount": "1.00", "qty": 5}).json()
    rows = [["编号", "标题", "金额"], ["P-201", "新标题", "99.90"], ["P-202", "新记录", "5"]]
    created = uploaded(client, "upsert.xlsx", xlsx_bytes({"Sheet1": rows}))
    url = f"{IMPORTS}/{created['id']}"
    problem(client.patch(url, json={"mode": "merge"}), 400, "mode")
    problem(
        client.patch(url, json={"mode": "upsert"}).status_code == 200 and client.post(f"{url}/commit"), 409, "key_field"
    )
    assert client.patch(url, json={"key_field": "code"}).status_code == 200
    report = client.post(f"{url}/dry-run").json()
    assert (report["insert"], report["update"]) == (1, 1)
    done = commit(client, url)
    assert done["counts"] == {"inserted": 1, "updated": 1, "skipped": 0, "failed": 0}
    records = by_code(client)
    assert len(records) == 2
    updated = records["P-201"]
    assert updated["id"] == existing["id"] and updated["title"] == "新标题" and updated["amount"] == "99.90"
    assert updated["qty"] == 5  # a column the file does not have keeps its value
    assert updated["version"] == 2


def test_bad_rows_are_skipped_and_listed_in_the_error_file(client: TestClient) -> None:
    publish_purchases(client)
    rows = [
        HEADERS,
        ["P-301", "好的", "10", "办公", "2024-01-01", "是", "1", "华为"],
        ["P-302", "", "abc", "办公", "2024-01-01", "是", "0", "华为"],
        ["P-301", "重复编号", "10", "办公", "2024-01-01", "是", "1", "华为"],
        ["P-304", "也好", "10", "办公", "2024-13-45", "是", "1", "华为"],
    ]
    created = uploaded(client, "bad.xlsx", xlsx_bytes({"数据": rows}))
    url = f"{IMPORTS}/{created['id']}"
    assert created["sheets"] == ["数据"] and created["sheet"] == "数据"
    report = client.post(f"{url}/dry-run").json()
    assert report["invalid"] == 3 and [p["row"] for p in report["problems"]] == [3, 4, 5]
    paths = {e["path"] for e in report["problems"][0]["errors"]}
    assert {"title", "amount", "qty"} <= paths
    done = commit(client, url)
    assert done["counts"] == {"inserted": 1, "updated": 0, "skipped": 0, "failed": 3}
    assert set(by_code(client)) == {"P-301"}
    response = client.get(f"{url}/errors", params={"locale": "en"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert lines[0] == [*HEADERS, "Problems", "Row"]
    assert [line[-1] for line in lines[1:]] == [3, 4, 5]
    assert lines[1][0] == "P-302" and lines[1][2] == "abc"
    assert "title" in lines[1][-2] and "qty" in lines[1][-2]
    assert lines[2][-2] == "code: repeats the value of row 2's code"
    assert "ordered_on" in lines[3][-2] and lines[3][4] == "2024-13-45"


def test_all_or_nothing_stores_nothing_when_one_row_is_bad(client: TestClient) -> None:
    publish_purchases(client)
    rows = [["编号", "标题"], ["P-401", "好"], ["P-402", ""], ["P-403", "好"]]
    created = uploaded(client, "strict.csv", csv_bytes(rows))
    url = f"{IMPORTS}/{created['id']}"
    assert client.patch(url, json={"error_policy": "all_or_nothing"}).status_code == 200
    done = commit(client, url)
    assert done["state"] == "failed" and "nothing was imported" in done["job"]["error"]
    assert by_code(client) == {}
    assert client.patch(url, json={"error_policy": "skip_bad_rows"}).status_code == 200
    again = commit(client, url)
    assert again["state"] == "done" and again["counts"]["inserted"] == 2


def test_undo_deletes_the_records_the_import_created(client: TestClient) -> None:
    publish_purchases(client)
    created = uploaded(client, "undo.csv", csv_bytes([["编号", "标题"], ["P-501", "一"], ["P-502", "二"]]))
    url = f"{IMPORTS}/{created['id']}"
    done = commit(client, url)
    assert done["undo_until"] is not None
    answer = client.post(f"{url}/undo")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"deleted": 2, "kept": 0}
    assert by_code(client) == {}
    assert client.get(url).json()["state"] == "undone"
    problem(client.post(f"{url}/undo"), 409)


def test_an_import_older_than_a_day_cannot_be_undone(client: TestClient) -> None:
    publish_purchases(client)
    created = uploaded(client, "old.csv", csv_bytes([["编号", "标题"], ["P-511", "一"]]))
    url = f"{IMPORTS}/{created['id']}"
    commit(client, url)
    i = tables.imports
    statement = update(i).where(i.c.id == created["id"]).values(finished_at=datetime.now(UTC) - timedelta(days=2))

    async def age() -> None:
        async with client.app.state.db.session(write=True) as session:  # type: ignore[attr-defined]
            await session.execute(statement)

    client.portal.call(age)
    body = problem(client.post(f"{url}/undo"), 409)
    assert "more than a day ago" in body["detail"]
    assert set(by_code(client)) == {"P-511"}


def test_a_finished_imports_file_is_deleted_once_it_cannot_be_undone(client: TestClient) -> None:
    """The next upload removes files of imports done more than a day ago; the error file still comes
    from the refused rows kept in the database, and a newer import keeps its file."""
    publish_purchases(client)

    def rows(n: int) -> list[list[str]]:
        return [["编号", "标题"], [f"P-5{n}1", "一"], [f"P-5{n}2", ""]]

    old = uploaded(client, "old.csv", csv_bytes(rows(2)))
    recent = uploaded(client, "recent.csv", csv_bytes(rows(3)))
    for made in (old, recent):
        assert commit(client, f"{IMPORTS}/{made['id']}")["counts"]["failed"] == 1
    i = tables.imports
    keys = dict(query(client, select(i.c.id, i.c.file_key).where(i.c.id.in_([old["id"], recent["id"]]))))
    store = FileStore(client.app.state.settings.imports_dir)  # type: ignore[attr-defined]
    paths = {n: store.path(keys[n]) for n in keys}
    assert all(path.is_file() for path in paths.values())
    aged = update(i).where(i.c.id == old["id"]).values(finished_at=datetime.now(UTC) - timedelta(days=2))

    async def age() -> None:
        async with client.app.state.db.session(write=True) as session:  # type: ignore[attr-defined]
            await session.execute(aged)

    client.portal.call(age)
    assert client.get(f"{IMPORTS}/{old['id']}").json()["file"]["kept"] is True
    uploaded(client, "next.csv", csv_bytes(rows(4)))
    assert not paths[old["id"]].exists() and paths[recent["id"]].exists()
    assert client.get(f"{IMPORTS}/{old['id']}").json()["file"]["kept"] is False
    errors = client.get(f"{IMPORTS}/{old['id']}/errors", params={"locale": "en"})
    assert errors.status_code == 200
    lines = [
        list(r) for r in load_workbook(io.BytesIO(errors.content), read_only=True).active.iter_rows(values_only=True)
    ]
    assert lines[1][0] == "P-522" and lines[1][-1] == 3 and "title" in lines[1][-2]


def test_importing_needs_the_import_right(client: TestClient) -> None:
    publish_purchases(client)
    user = create_user(client, "bob@example.com", "right-password-1", locale="en")
    role = {"app": APP, "key": "clerk", "label": "Clerk", "permissions": {"purchase": {"create": "all", "read": "all"}}}
    assert client.post("/api/roles", json=role).status_code == 200
    assert client.post(f"/api/roles/{APP}/clerk/members", json={"add": [user["id"]]}).status_code == 200
    bob = another_client(client)
    log_in(bob, "bob@example.com", "right-password-1")
    content = csv_bytes([["编号", "标题"], ["P-601", "一"]])
    body = problem(upload(bob, "x.csv", content), 403)
    assert "import" in body["detail"]
    mine = uploaded(client, "x.csv", content)
    problem(bob.get(f"{IMPORTS}/{mine['id']}"), 403)
    problem(bob.post(f"{IMPORTS}/{mine['id']}/commit"), 403)
    role["permissions"]["purchase"]["import"] = "all"
    assert client.post("/api/roles", json=role).status_code == 200
    problem(bob.get(f"{IMPORTS}/{mine['id']}"), 404)  # someone else's import
    assert upload(bob, "x.csv", content).status_code == 201


def test_a_file_that_is_no_spreadsheet_is_refused(client: TestClient) -> None:
    publish_purchases(client)
    problem(upload(client, "notes.pdf", b"%PDF-1.4"), 422, "file")
    problem(upload(client, "broken.xlsx", b"not a zip at all"), 400, "file")
    problem(client.patch(f"{IMPORTS}/999", json={}), 404)


def test_a_template_has_the_columns_an_example_and_option_lists(client: TestClient) -> None:
    publish_purchases(client)
    response = client.get(f"{IMPORTS}/template", params={"locale": "zh-CN"})
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["数据"]
    assert [c.value for c in sheet[1]] == HEADERS
    assert sheet["D2"].value == "信息技术"  # the first option, by its label
    assert sheet["H2"].value is None  # a link: named by title, no example id
    lists = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
    assert [str(v.sqref) for v in lists] == ["D2:D100001", "F2:F100001"]
    assert [c.value for c in book["lists"]["D"]] == ["信息技术", "办公"]
    assert book["lists"].sheet_state == "hidden"
    # the template, filled in, imports as it is
    created = uploaded(client, "template.xlsx", response.content)
    assert len(created["mapping"]) == len(HEADERS) and created["unmatched"] == {}


def test_the_import_page_is_offered_to_those_who_may_import(client: TestClient) -> None:
    publish_purchases(client)
    listing = client.get(f"/apps/{APP}/forms/purchase")
    assert f'href="/apps/{APP}/forms/purchase/import"' in listing.text
    page = client.get(f"/apps/{APP}/forms/purchase/import")
    assert page.status_code == 200 and 'id="import-meta"' in page.text
    assert "/static/js/import.js" in page.text
    user = create_user(client, "carol@example.com", "right-password-1", locale="en")
    role = {"app": APP, "key": "viewer", "label": "Viewer", "permissions": {"purchase": {"read": "all"}}}
    assert client.post("/api/roles", json=role).status_code == 200
    assert client.post(f"/api/roles/{APP}/viewer/members", json={"add": [user["id"]]}).status_code == 200
    carol = another_client(client)
    log_in(carol, "carol@example.com", "right-password-1")
    assert "/import" not in carol.get(f"/apps/{APP}/forms/purchase").text.split("list-actions")[1].split("</div>")[0]
    assert carol.get(f"/apps/{APP}/forms/purchase/import").status_code == 404


def test_an_import_reaches_only_the_rows_its_import_scope_allows(client: TestClient) -> None:
    publish_purchases(client)
    theirs = client.post(RECORDS, json={"code": "P-900", "title": "别人的"}).json()
    user = create_user(client, "dan@example.com", "right-password-1", locale="en")
    grant = {"read": "all", "import": "own"}
    role = {"app": APP, "key": "own_importer", "label": "Own", "permissions": {"purchase": grant}}
    assert client.post("/api/roles", json=role).status_code == 200
    assert client.post(f"/api/roles/{APP}/own_importer/members", json={"add": [user["id"]]}).status_code == 200
    dan = another_client(client)
    log_in(dan, "dan@example.com", "right-password-1")
    content = csv_bytes([["编号", "标题"], ["P-900", "改别人的"], ["P-901", "我的"]])
    created = uploaded(dan, "mine.csv", content)
    url = f"{IMPORTS}/{created['id']}"
    assert dan.patch(url, json={"mode": "upsert", "key_field": "code"}).status_code == 200
    done = commit(dan, url)
    assert done["counts"] == {"inserted": 1, "updated": 0, "skipped": 0, "failed": 1}, done
    records = by_code(client)
    assert records["P-900"]["title"] == "别人的" and records["P-900"]["version"] == theirs["version"]
    assert records["P-901"]["owner_id"] == user["id"]


def test_a_batch_of_rows_is_stored_in_order_with_one_audit_line(client: TestClient) -> None:
    publish_purchases(client)
    rows = [HEADERS] + [[f"P-{n:03d}", f"第 {n} 行", "1", "办公", "2024-01-01", "否", str(n), ""] for n in range(1, 41)]
    created = uploaded(client, "many.csv", csv_bytes(rows))
    done = commit(client, f"{IMPORTS}/{created['id']}")
    assert done["counts"]["inserted"] == 40, done
    records = sorted(list_all(client, RECORDS), key=lambda r: r["id"])
    assert [(r["code"], r["qty"]) for r in records] == [(f"P-{n:03d}", n) for n in range(1, 41)]
    a = tables.audit_log
    lines = query(client, select(a.c.action, a.c.target, a.c.detail).where(a.c.action == "record.import"))
    assert len(lines) == 1
    action, target, detail = lines[0]
    assert target == f"{APP}/purchase" and detail["count"] == 40 and detail["import_id"] == created["id"]
    assert detail["records"] == [r["id"] for r in records]
    ir = tables.import_rows
    stored = query(client, select(ir.c.row_number, ir.c.record_id).where(ir.c.import_id == created["id"]))
    assert sorted(stored) == [(n + 1, r["id"]) for n, r in enumerate(records, start=1)]
