"""Layouts in rows with widths, and tabs, on the record form and the record's page (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.builders import field, form, publish_app, records_url

APP, FORM = "shop", "visit"
BASE = f"/apps/{APP}/forms/{FORM}"
LAYOUT = {
    "sections": [
        {
            "title": "Who",
            "tab": {"en": "Main", "zh-CN": "基本"},
            "rows": [
                [
                    {"field": "name", "width": "1/2"},
                    {"field": "phone", "width": "1/4"},
                    {"field": "city", "width": "1/4"},
                ],
                [{"field": "note"}],
            ],
        },
        {"title": "When", "tab": {"en": "Plan", "zh-CN": "计划"}, "rows": [[{"field": "due", "width": "1/3"}]]},
    ]
}


def visit_form() -> dict:
    return form(
        FORM,
        field("name", required=True),
        field("phone"),
        field("city"),
        field("note", "textarea"),
        field("due", "date"),
        field("extra"),
        title_field="name",
        layout=LAYOUT,
    )


def cells(html: str) -> list[tuple[str, str]]:
    """(span class, field key) of each field cell of the record form, in page order."""
    return re.findall(r'<div class="field-cell (span-\d+)"><div class="field[^"]*" data-field="(\w+)"', html)


def test_the_record_form_lays_fields_out_in_rows_with_their_widths_and_tabs(client: TestClient) -> None:
    publish_app(client, APP, visit_form())
    client.cookies.set("opsloom_locale", "en")
    html = client.get(f"{BASE}/new").text
    assert cells(html) == [
        ("span-6", "name"),
        ("span-3", "phone"),
        ("span-3", "city"),
        ("span-12", "note"),
        ("span-4", "due"),
    ]
    assert html.count('<div class="field-row">') == 3
    assert 'data-tab="Main"' in html and 'data-tab="Plan"' in html
    assert '<script type="module" src="/static/js/form_tabs.js"></script>' in html
    assert 'data-field="extra"' in html  # a field no section names still shows, after the sections
    client.cookies.set("opsloom_locale", "zh-CN")
    assert 'data-tab="基本"' in client.get(f"{BASE}/new").text


def test_the_records_page_gives_each_field_its_width(client: TestClient) -> None:
    publish_app(client, APP, visit_form())
    created = client.post(records_url(APP, FORM), json={"name": "Ann", "city": "Hangzhou"}).json()
    client.cookies.set("opsloom_locale", "en")
    html = client.get(f"{BASE}/records/{created['id']}").text
    assert re.search(r'<div class="record-field span-6" data-field="name">', html)
    assert re.search(r'<div class="record-field span-3" data-field="city">', html)
    assert 'data-tab="Plan"' in html and "Hangzhou" in html


def test_sections_of_keys_in_columns_still_render_as_before(client: TestClient) -> None:
    old = {"sections": [{"title": "All", "columns": 2, "fields": ["name", "phone"]}]}
    publish_app(client, APP, {**visit_form(), "layout": old})
    html = client.get(f"{BASE}/new").text
    assert '<div class="field-grid columns-2">' in html and "field-cell" not in html
