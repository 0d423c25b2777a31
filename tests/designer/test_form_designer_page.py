"""The form designer page and the preview of a draft, through HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from tests.builders import field, form, options
from tests.conftest import another_client, create_user, log_in
from tests.designer.test_design_api import put_app, put_form
from tests.runtime.pages.test_pages import assert_secure

PAGE = "/design/apps/shop/forms/order"
ORDER = form(
    "order",
    field("title", required=True),
    field("qty", "integer"),
    field("kind", "select", options=options("a", "b")),
    field("due", "date"),
    title_field="title",
    layout={
        "sections": [{"tab": "Main", "rows": [[{"field": "title", "width": "1/2"}, {"field": "qty", "width": "1/2"}]]}]
    },
)


def boot_of(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="designer-boot">(.*?)</script>', html, re.S)
    assert match, html
    return json.loads(match.group(1))


def test_the_designer_page_starts_from_the_draft_the_registry_and_the_apps_forms(client: TestClient) -> None:
    put_app(client)
    saved = put_form(client, ORDER)
    client.cookies.set("opsloom_locale", "en")
    page = client.get(PAGE)
    assert page.status_code == 200, page.text
    assert_secure(page)
    assert "<script>" not in page.text  # strict CSP: the module is a file, the data is JSON
    assert '<script type="module" src="/static/design/js/form_designer/main.js"></script>' in page.text
    boot = boot_of(page.text)
    assert boot["draft"] == saved["draft"] and boot["draft_revision"] == saved["draft_revision"]
    assert {"text", "select", "subform", "formula", "relation"} <= {t["type"] for t in boot["field_types"]}
    assert [f["key"] for f in boot["forms"]] == ["order"]
    assert "SUM" in boot["functions"] and boot["messages"]["fd.undo"] == "Undo"
    assert boot["urls"]["publish"] == "/design/apps/shop/forms/order/publish"
    client.cookies.set("opsloom_locale", "zh-CN")
    assert boot_of(client.get(PAGE).text)["messages"]["fd.undo"] == "撤销"


def test_the_preview_renders_the_draft_with_the_runtimes_form_and_sample_values(client: TestClient) -> None:
    put_app(client)
    put_form(client, ORDER)
    client.cookies.set("opsloom_locale", "en")
    preview = client.get(f"{PAGE}/preview")
    assert preview.status_code == 200, preview.text
    assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
    html = preview.text
    assert '<div class="field-cell span-6">' in html and 'data-tab="Main"' in html
    assert re.search(r'id="f-qty"[^>]*value="42"', html) or re.search(r'value="42"[^>]*id="f-qty"', html)
    assert 'id="f-due"' in html and "2026-01-15" in html
    empty = client.get(f"{PAGE}/preview?sample=0").text
    assert "2026-01-15" not in empty


def test_the_preview_fills_line_items_with_two_sample_rows_and_sums_them(client: TestClient) -> None:
    put_app(client)
    items = field(
        "items",
        "subform",
        fields=[
            field("item", required=True),
            field("quantity", "integer"),
            field("price", "decimal", precision=12, scale=2),
            field("line", "formula", formula="quantity * price"),
        ],
    )
    put_form(client, form("order", field("title"), items, field("total", "formula", formula="SUM(items.line)")))
    html = client.get(f"{PAGE}/preview").text
    # Two rows numbered differently (42 × 42.00 and 3 × 3.00), then their sum: the formulas run on them.
    assert 'id="f-items-1-quantity"' in html and 'id="f-items-2-quantity"' not in html
    assert "1,764.00" in html and "9.00" in html and "1,773.00" in html, html


def test_a_draft_with_problems_previews_the_problems(client: TestClient) -> None:
    put_app(client)
    put_form(client, {**ORDER, "fields": [*ORDER["fields"], field("total", "formula", formula="qty * nope")]})
    html = client.get(f"{PAGE}/preview").text
    assert "preview-problems" in html and "nope" in html


def test_people_who_do_not_design_the_app_get_no_designer(client: TestClient) -> None:
    put_app(client)
    put_form(client, ORDER)
    create_user(client, "clerk@example.com", "clerk-password-1")
    clerk = another_client(client)
    log_in(clerk, "clerk@example.com", "clerk-password-1")
    assert clerk.get(PAGE).status_code == 404
    assert clerk.get(f"{PAGE}/preview").status_code == 404
    assert client.get("/design/apps/shop/forms/nothing").status_code == 404
