"""Importing people from a spreadsheet on the people page, on both databases: columns matched by their
names, a try that reports every row, and an import that writes all rows or none."""

from __future__ import annotations

import csv
import io
import itertools
import re
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select

from opsloom.platform import tables
from tests.admin.test_admin_pages import page
from tests.builders import admin_client
from tests.conftest import DATABASES, query
from tests.runtime.pages.test_pages import token_in

_serial = itertools.count(1)


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("people-import")) as client:
        client.cookies.set("opsloom_locale", "en")
        yield client


def department(api: TestClient, name: str, parent: int | None = None) -> int:
    response = api.post("/api/departments", json={"name": name, "parent_id": parent})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def as_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def upload(api: TestClient, content: bytes, name: str = "people.csv") -> Any:
    token = token_in(page(api, "/admin/people/import"))
    return api.post("/admin/people/import", data={"csrf_token": token}, files={"file": (name, content)})


def file_token(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found, html[:3000]
    return found.group(1)


def mapped(html: str) -> dict[str, str]:
    """Each target and the header of the column chosen for it."""
    chosen = {}
    for target, body in re.findall(r'<select id="map-(\w+)" name="map_\w+">(.*?)</select>', html, re.S):
        selected = re.search(r'<option value="\d+" selected>([^<]*)</option>', body)
        chosen[target] = selected.group(1) if selected else ""
    return chosen


def run(api: TestClient, html: str, mode: str, **mapping: int) -> Any:
    fields = {"csrf_token": token_in(html), "token": file_token(html), "mode": mode}
    chosen = mapping or {
        target: int(selected.group(1))
        for target, body in re.findall(r'<select id="map-(\w+)" name="map_\w+">(.*?)</select>', html, re.S)
        if (selected := re.search(r'<option value="(\d+)" selected>', body))
    }
    fields |= {f"map_{target}": str(index) for target, index in chosen.items()}
    return api.post("/admin/people/import/run", data=fields)


def outcome(html: str, row: int) -> str:
    found = re.search(rf'<tr data-row="{row}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, (row, html[:3000])
    return html_text(found.group(1))


def html_text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def emails_like(api: TestClient, marker: str) -> list[str]:
    u = tables.users
    return sorted(e for (e,) in query(api, select(u.c.email).where(u.c.email.contains(marker))))


HEADER = ["Name", "E-mail", "Employee number", "Phone", "Department", "Manager"]


def test_a_file_with_a_bad_row_is_reported_row_by_row_and_nothing_is_imported(api: TestClient) -> None:
    n = next(_serial)
    sales = department(api, f"Sales {n}")
    rows = [
        HEADER,
        ["Ann Lead", f"ann.{n}@example.com", f"A{n}", "555-0100", f"Sales {n}", ""],
        ["Bob Typo", f"bob.{n}@example.com", f"B{n}", "", f"Salse {n}", f"ann.{n}@example.com"],
        ["Cy Later", f"cy.{n}@example.com", f"C{n}", "", f"Sales {n}", f"A{n}"],
    ]
    mapping_page = upload(api, as_csv(rows))
    assert mapping_page.status_code == 200, mapping_page.text[:2000]
    assert "The file has 3 rows." in mapping_page.text
    assert mapped(mapping_page.text) == {
        "name": "Name",
        "email": "E-mail",
        "employee_no": "Employee number",
        "phone": "Phone",
        "department": "Department",
        "manager": "Manager",
    }
    for mode in ("check", "commit"):
        report = run(api, mapping_page.text, mode)
        assert report.status_code == 400, report.text[:2000]
        assert "1 row has a problem. Nothing was saved" in report.text
        assert outcome(report.text, 2) == f"2 Ann Lead ann.{n}@example.com New person"
        assert (
            outcome(report.text, 3)
            == f"3 Bob Typo bob.{n}@example.com Department: there is no department named 'Salse {n}'."
        )
        assert outcome(report.text, 4).endswith("New person")
        assert emails_like(api, f".{n}@example.com") == []  # all or nothing
    # Corrected, the try says what will happen, and the import does it.
    rows[2][4] = f"Sales {n}"
    mapping_page = upload(api, as_csv(rows))
    tried = run(api, mapping_page.text, "check")
    assert tried.status_code == 200 and "Every row is right: 3 new, 0 updated." in tried.text
    assert emails_like(api, f".{n}@example.com") == []  # a try writes nothing
    done = run(api, tried.text, "commit")
    assert done.status_code == 200 and "Imported: 3 new, 0 updated." in done.text
    people = {p["email"]: p for p in api.get("/api/users", params={"q": f".{n}@example.com"}).json()["items"]}
    ann, bob, cy = (people[f"{who}.{n}@example.com"] for who in ("ann", "bob", "cy"))
    assert ann["department_id"] == bob["department_id"] == cy["department_id"] == sales
    assert bob["manager_id"] == ann["id"] and cy["manager_id"] == ann["id"]  # by e-mail, by employee number
    assert ann["phone"] == "555-0100" and ann["employee_no"] == f"A{n}"
    # The import is audited as a whole (and each person by the organisation service).
    actions = [a for (a,) in query(api, select(tables.audit_log.c.action))]
    assert "people.imported" in actions and actions.count("user.created") >= 3


def test_people_are_updated_by_e_mail_or_employee_number(api: TestClient) -> None:
    n = next(_serial)
    first = [HEADER, ["Dee", f"dee.{n}@example.com", f"D{n}", "1", "", ""], ["Eve", "", f"E{n}", "", "", ""]]
    mapping_page = upload(api, as_csv(first))
    report = run(api, mapping_page.text, "commit")
    assert report.status_code == 400 and "E-mail: is needed for a new person." in outcome(report.text, 3)
    first[2][1] = f"eve.{n}@example.com"
    assert "Imported: 2 new" in run(api, upload(api, as_csv(first)).text, "commit").text
    again = [HEADER, ["Dee Renamed", f"dee.{n}@example.com", "", "2", "", ""], ["Eve", "", f"E{n}", "3", "", ""]]
    done = run(api, upload(api, as_csv(again)).text, "commit")
    assert "Imported: 0 new, 2 updated." in done.text
    people = {p["email"]: p for p in api.get("/api/users", params={"q": f".{n}@example.com"}).json()["items"]}
    assert people[f"dee.{n}@example.com"]["name"] == "Dee Renamed"
    assert people[f"eve.{n}@example.com"]["phone"] == "3"


def test_an_excel_file_with_chinese_headers_and_department_paths(api: TestClient) -> None:
    n = next(_serial)
    east = department(api, f"East {n}", department(api, f"Region {n}"))
    department(api, f"East {n}", department(api, f"Other {n}"))  # the same name elsewhere
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "邮箱", "工号", "手机", "部门", "直属上级"])
    sheet.append(["王芳", f"wang.{n}@example.com", f"W{n}", "13800000000", f"Region {n} / East {n}", ""])
    sheet.append(["李雷", f"li.{n}@example.com", f"L{n}", "", f"East {n}", f"W{n}"])
    content = io.BytesIO()
    book.save(content)
    mapping_page = upload(api, content.getvalue(), "人员.xlsx")
    assert mapped(mapping_page.text)["department"] == "部门" and mapped(mapping_page.text)["manager"] == "直属上级"
    report = run(api, mapping_page.text, "check")
    assert "2 departments are named" in outcome(report.text, 3)
    sheet["E3"] = f"Region {n}/East {n}"
    content = io.BytesIO()
    book.save(content)
    done = run(api, upload(api, content.getvalue(), "人员.xlsx").text, "commit")
    assert "Imported: 2 new" in done.text, done.text[:3000]
    people = {p["email"]: p for p in api.get("/api/users", params={"q": f".{n}@example.com"}).json()["items"]}
    assert people[f"li.{n}@example.com"]["department_id"] == east
    assert people[f"li.{n}@example.com"]["manager_id"] == people[f"wang.{n}@example.com"]["id"]


def test_bad_files_and_mappings_are_explained(api: TestClient) -> None:
    assert "Choose an Excel" in upload(api, b"hello", "notes.pdf").text
    assert "no rows under its header" in upload(api, as_csv([HEADER])).text
    mapping_page = upload(api, as_csv([HEADER, ["Fay", "fay@example.com", "", "", "", ""]]))
    refused = run(api, mapping_page.text, "check", name=0)
    assert refused.status_code == 400 and "Choose the column with the e-mail" in refused.text
    gone = api.post(
        "/admin/people/import/run",
        data={"csrf_token": token_in(mapping_page.text), "token": "x" * 20 + ".csv", "mode": "check"},
    )
    assert gone.status_code == 400 and "Upload it again" in gone.text
    api.cookies.set("opsloom_locale", "zh-CN")
    try:
        assert "<h1>导入人员</h1>" in page(api, "/admin/people/import")
    finally:
        api.cookies.set("opsloom_locale", "en")
