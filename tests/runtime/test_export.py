"""Export of a form's list to CSV and XLSX: labels, values, permissions, row scope, the cap."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.builders import field, form, options, problem, publish_app, records_url
from tests.conftest import another_client, create_user, log_in
from tests.runtime.pages.test_pages import page_login

EXPORT = "/api/apps/claims/forms/claim/export"
PAGE = "/apps/claims/forms/claim"


def claim_form() -> dict:
    return form(
        "claim",
        field("title", label={"zh-CN": "标题", "en": "Title"}),
        field("amount", "decimal", label={"zh-CN": "金额", "en": "Amount"}),
        field("kind", "select", options=options("travel", "meal")),
        field("spent_on", "date"),
        field("paid", "boolean"),
        field("secret"),
        title_field="title",
        label={"zh-CN": "报销单", "en": "Claim"},
    )


def add(client: TestClient, **values: object) -> int:
    response = client.post(records_url("claims", "claim"), json=values)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def setup(client: TestClient) -> None:
    publish_app(client, "claims", claim_form())
    add(client, title="出租车 Taxi", amount="1234.50", kind="travel", spent_on="2026-01-05", paid=True, secret="s1")
    add(client, title="=HYPERLINK(1)", amount="30.00", kind="meal", spent_on="2026-02-01", paid=False)
    add(client, title="Train", amount="80.00", kind="travel")


def read_csv(response) -> list[list[str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def staff(client: TestClient, grant: dict) -> TestClient:
    """bob, with the role `grant` on claim, logged in to the API."""
    user = create_user(client, "bob@example.com", "right-password-1", locale="en")
    role = {"app": "claims", "key": "staff", "label": "Staff", "permissions": {"claim": grant}}
    assert client.post("/api/roles", json=role).status_code == 200
    assert client.post("/api/roles/claims/staff/members", json={"add": [user["id"]]}).status_code == 200
    api = another_client(client)
    log_in(api, "bob@example.com", "right-password-1")
    return api


def test_csv_has_a_bom_labels_and_machine_readable_values(client: TestClient) -> None:
    setup(client)
    response = client.get(EXPORT, params={"format": "csv", "locale": "en", "sort": "id"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["x-export-max-rows"] == "100000"
    assert response.headers["x-export-truncated"] == "false" and response.headers["x-export-rows"] == "3"
    disposition = response.headers["content-disposition"]
    assert disposition == "attachment; filename=\"Claim.csv\"; filename*=UTF-8''Claim.csv"
    rows = read_csv(response)
    assert rows[0] == ["No.", "Title", "Amount", "Kind", "Spent On", "Paid", "Secret", "Status"]
    assert rows[1][1:] == ["出租车 Taxi", "1234.50", "Travel", "2026-01-05", "Yes", "s1", "Draft"]
    assert rows[2][1:3] == ["'=HYPERLINK(1)", "30.00"]  # never run as a formula
    assert rows[3][1:] == ["Train", "80.00", "Travel", "", "", "", "Draft"]


def test_header_in_the_callers_language_and_a_non_ascii_file_name(client: TestClient) -> None:
    setup(client)
    response = client.get(EXPORT, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 200
    rows = read_csv(response)
    assert rows[0][:3] == ["编号", "标题", "金额"] and rows[0][-1] == "状态"
    assert "草稿" in rows[1]
    disposition = response.headers["content-disposition"]
    assert disposition == f"attachment; filename=\"claim.csv\"; filename*=UTF-8''{quote('报销单.csv')}"
    assert read_csv(client.get(EXPORT, params={"locale": "en"}, headers={"Accept-Language": "zh-CN"}))[0][1] == "Title"


def test_xlsx_holds_numbers_dates_and_text(client: TestClient) -> None:
    setup(client)
    response = client.get(EXPORT, params={"format": "xlsx", "locale": "en", "sort": "id"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="Claim.xlsx"' in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    sheet = book.active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["No.", "Title", "Amount", "Kind", "Spent On", "Paid", "Secret", "Status"]
    first = rows[1]
    assert first[1] == "出租车 Taxi" and Decimal(str(first[2])) == Decimal("1234.50")
    assert first[4] in (datetime(2026, 1, 5), date(2026, 1, 5)) and first[5] == "Yes"
    assert rows[2][1] == "'=HYPERLINK(1)"
    assert rows[3][4] is None and len(rows) == 4


def test_filter_sort_and_search_apply_as_in_the_list(client: TestClient) -> None:
    setup(client)
    condition = json.dumps({"field": "kind", "op": "eq", "value": "travel"})
    rows = read_csv(client.get(EXPORT, params={"filter": condition, "sort": "-amount", "locale": "en"}))
    assert [r[1] for r in rows[1:]] == ["出租车 Taxi", "Train"]
    rows = read_csv(client.get(EXPORT, params={"q": "train"}))
    assert [r[1] for r in rows[1:]] == ["Train"]
    problem(client.get(EXPORT, params={"filter": "{"}), 400, "filter")
    problem(client.get(EXPORT, params={"sort": "nope"}), 400, "sort")
    problem(client.get(EXPORT, params={"format": "pdf"}), 400, "format")
    rows = read_csv(client.get(EXPORT, params={"columns": "amount,title", "sort": "id", "locale": "en"}))
    assert rows[0] == ["No.", "Amount", "Title", "Status"]


def test_export_needs_the_export_permission_and_the_button_follows_it(client: TestClient) -> None:
    setup(client)
    api = staff(client, {"read": "all"})
    problem(api.get(EXPORT), 403)
    browser = another_client(client)
    page_login(browser, "bob@example.com", "right-password-1")
    page = browser.get(PAGE)
    assert page.status_code == 200 and "/export?" not in page.text
    admin_page = client.get(PAGE, params={"sort": "amount", "q": "t"}).text
    assert "/api/apps/claims/forms/claim/export?format=csv&amp;sort=amount&amp;q=t" in admin_page
    assert "/api/apps/claims/forms/claim/export?format=xlsx" in admin_page
    assert problem(another_client(client).get(EXPORT), 401)


def test_export_keeps_to_the_row_scope_and_never_writes_hidden_fields(client: TestClient) -> None:
    setup(client)
    api = staff(client, {"read": "all", "create": "all", "export": "own", "fields": {"secret": "hidden"}})
    assert api.post(records_url("claims", "claim"), json={"title": "Bob claim", "amount": "5.00"}).status_code == 201
    rows = read_csv(api.get(EXPORT, params={"locale": "en"}))
    assert [r[1] for r in rows[1:]] == ["Bob claim"]
    assert "Secret" not in rows[0] and not any("s1" in cell for row in rows for cell in row)
    problem(api.get(EXPORT, params={"columns": "title,secret"}), 400, "columns")
    xlsx = api.get(EXPORT, params={"format": "xlsx"})
    values = [v for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True) for v in row]
    assert "s1" not in values and "出租车 Taxi" not in values


def test_export_stops_at_the_cap_and_says_so(client: TestClient) -> None:
    setup(client)
    client.app.state.settings.export_max_rows = 2
    response = client.get(EXPORT, params={"sort": "id"})
    assert response.headers["x-export-max-rows"] == "2" and response.headers["x-export-truncated"] == "true"
    assert len(read_csv(response)) == 3


def test_export_walks_every_page_of_the_list(client: TestClient, monkeypatch) -> None:
    from opsloom.runtime import export

    setup(client)
    monkeypatch.setattr(export, "PAGE_ROWS", 2)
    rows = read_csv(client.get(EXPORT, params={"sort": "-id", "locale": "en"}))
    assert [r[1] for r in rows[1:]] == ["Train", "'=HYPERLINK(1)", "出租车 Taxi"]
