"""The record form, the record's page and the live preview, through HTTP (each on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from tests.builders import field, form, options, publish_app, records_url
from tests.conftest import another_client, create_user
from tests.runtime.flow.test_procurement_flow import REQUESTS, Company
from tests.runtime.pages.test_pages import assert_secure, page_login

APP, FORM = "shop", "order"
BASE = f"/apps/{APP}/forms/{FORM}"


def order_form() -> dict:
    return form(
        FORM,
        field("title", required=True, max_length=80),
        field("note", "textarea"),
        field("qty", "integer"),
        field("price", "decimal", scale=2),
        field("due", "date"),
        field("at", "datetime"),
        field("rush", "boolean", default=False),
        field("kind", "select", options=options("retail", "trade")),
        field("tags", "multiselect", options=options("red", "blue")),
        field("owner", "user"),
        field("watchers", "users"),
        field("dept", "department"),
        field("files", "attachment"),
        field("secret"),
        field(
            "lines",
            "subform",
            fields=[field("sku", required=True), field("n", "integer", default=1), field("cost", "decimal")],
        ),
        {"id": "fld_total", "key": "total", "type": "formula", "formula": "SUM(lines.cost)", "label": "Total"},
        field("trade_no", required_when={"field": "kind", "op": "eq", "value": "trade"}),
        field("reason", visible_when={"field": "rush", "op": "eq", "value": True}),
        title_field="title",
        validations=[
            {
                "condition": {"field": "qty", "op": "gt", "value": 0},
                "message": {"en": "Order at least one", "zh-CN": "至少订一件"},
                "fields": ["qty"],
            }
        ],
    )


def meta_of(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="form-meta">(.*?)</script>', html, re.S)
    assert match, html
    return json.loads(match.group(1))


def test_the_new_record_page_has_a_labelled_widget_for_every_field_type(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    client.cookies.set("opsloom_locale", "en")
    page = client.get(f"{BASE}/new")
    assert page.status_code == 200, page.text
    assert_secure(page)
    html = page.text
    assert "<script>" not in html and " on" + "click=" not in html  # strict CSP: no inline code
    assert '<script type="module" src="/static/js/record_form.js">' in html
    widgets = {
        "title": 'type="text"',
        "note": "<textarea",
        "qty": 'inputmode="numeric"',
        "price": 'inputmode="decimal"',
        "due": 'type="date"',
        "at": 'type="datetime-local"',
        "rush": 'type="checkbox"',
        "kind": "<select",
        "owner": 'data-picker="user" data-source="/api/users" data-title-field="">',
        "watchers": 'data-picker="user" data-source="/api/users" data-title-field="" data-multiple>',
        "dept": 'data-picker="department"',
        "files": 'type="file"',
        "total": "<output",
    }
    for key, widget in widgets.items():
        block = re.search(rf'data-field="{key}" data-widget="[a-z_]+".*?data-error', html, re.S)
        assert block and widget in block.group(0), key
        assert f'<label id="f-{key}-label" for="f-{key}">' in html, key
    assert 'maxlength="80"' in html
    assert 'aria-describedby="f-title-error"' in html
    assert html.count('type="checkbox" value="') == 2  # the multiselect's two options
    assert "<template data-row-template>" in html and "data-add-row" in html
    assert 'data-upload="/api/apps/shop/forms/order/files?field=files"' in html
    meta = meta_of(html)
    assert meta["fields"]["lines"]["fields"]["sku"] == {"kind": "text", "required": True}
    assert meta["fields"]["trade_no"]["required_when"] == {"field": "kind", "op": "eq", "value": "trade"}
    assert meta["fields"]["kind"]["options"] == ["retail", "trade"]
    assert meta["preview"] == f"{BASE}/preview?locale=en"
    assert meta["messages"] == {"Order at least one": "Order at least one"}
    # the first paint applies the rules: rush is false by default, so the reason is hidden
    assert re.search(r'data-field="reason" data-widget="text" data-reads="text" hidden', html)


def test_validation_messages_are_shown_in_the_readers_language(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    client.cookies.set("opsloom_locale", "zh-CN")
    meta = meta_of(client.get(f"{BASE}/new").text)
    assert meta["messages"] == {"Order at least one": "至少订一件"}


def test_the_preview_computes_formulas_exactly_and_formats_them_for_the_locale(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    lines = [{"sku": "a", "cost": "1234.50"}, {"sku": "b", "cost": "0.25"}, {"sku": "c", "cost": "not a number"}]
    answer = client.post(f"{BASE}/preview?locale=en", json={"values": {"lines": lines, "qty": "x"}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["values"]["total"] == "1234.75"  # what does not parse counts as empty, as on save
    assert body["text"]["total"] == "1,234.75"
    assert body["rows"]["lines"] == [{}, {}, {}]  # no formula columns in the rows
    assert client.post(f"{BASE}/preview?locale=zh-CN", json={"values": {"lines": lines}}).json()["text"] == {
        "total": "1,234.75"
    }


def test_the_preview_names_what_a_save_would_refuse_so_fixed_errors_clear(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    bad = {"qty": "x", "kind": "trade", "lines": [{"sku": "", "cost": "1"}]}
    problems = client.post(f"{BASE}/preview", json={"values": bad}).json()["problems"]
    paths = {problem["path"] for problem in problems}
    assert {"title", "qty", "lines[0].sku"} <= paths, problems
    fixed = {"title": "Desk", "qty": 2, "kind": "trade", "trade_no": "T-1", "lines": [{"sku": "a", "cost": "1"}]}
    assert client.post(f"{BASE}/preview", json={"values": fixed}).json()["problems"] == []
    missing_rule = {**fixed, "trade_no": None}
    answer = client.post(f"{BASE}/preview", json={"values": missing_rule}).json()["problems"]
    assert [problem["path"] for problem in answer] == ["trade_no"]  # required_when, judged on the draft


def test_the_preview_needs_the_session_token_and_the_right_to_write(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    token = client.headers.pop("X-CSRF-Token")
    assert client.post(f"{BASE}/preview", json={"values": {}}).status_code == 403
    client.headers["X-CSRF-Token"] = token
    create_user(client, "reader@example.com", "right-password-1")
    role = {"app": APP, "key": "readers", "label": "Readers", "permissions": {FORM: {"read": "all"}}}
    assert client.post("/api/roles", json=role).status_code == 200
    user = client.get("/api/users", params={"q": "reader"}).json()["items"][0]
    assert client.post(f"/api/roles/{APP}/readers/members", json={"add": [user["id"]]}).status_code == 200
    reader = another_client(client)
    page_login(reader, "reader@example.com", "right-password-1")
    assert reader.get(f"{BASE}/new").status_code == 404  # may read, may not create
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', reader.get("/").text).group(1)
    refused = reader.post(f"{BASE}/preview", json={"values": {}}, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 404


def test_hidden_and_read_only_fields_follow_the_role(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    create_user(client, "clerk@example.com", "right-password-1", locale="en")
    grant = {"create": True, "read": "all", "update": "all", "fields": {"secret": "hidden", "price": "read_only"}}
    role = {"app": APP, "key": "clerks", "label": "Clerks", "permissions": {FORM: grant}}
    assert client.post("/api/roles", json=role).status_code == 200
    user = client.get("/api/users", params={"q": "clerk"}).json()["items"][0]
    assert client.post(f"/api/roles/{APP}/clerks/members", json={"add": [user["id"]]}).status_code == 200
    clerk = another_client(client)
    page_login(clerk, "clerk@example.com", "right-password-1")
    html = clerk.get(f"{BASE}/new").text
    assert 'data-field="secret"' not in html and '"secret"' not in json.dumps(meta_of(html))
    price = re.search(r'<div class="field" data-field="price"[^>]*>', html).group(0)
    assert "data-locked" in price
    assert re.search(r'id="f-price"[^>]*disabled', html)


def test_edit_page_shows_the_stored_values_and_rows(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    created = client.post(
        records_url(APP, FORM),
        json={"title": "Desk <b>", "qty": 2, "kind": "trade", "trade_no": "T-1", "lines": [{"sku": "x", "cost": "5"}]},
    )
    assert created.status_code == 201, created.text
    record = created.json()
    client.cookies.set("opsloom_locale", "en")
    page = client.get(f"{BASE}/records/{record['id']}/edit")
    assert page.status_code == 200
    html = page.text
    assert 'value="Desk &lt;b&gt;"' in html
    assert f'data-record-id="{record["id"]}" data-version="{record["version"]}"' in html
    assert re.search(r'<option value="trade" selected>', html)
    rows = re.findall(r'<tr data-row data-row-id="(\d+)">', html)
    assert rows == [str(record["lines"][0]["id"])]
    assert "5.00" in html
    assert meta_of(html)["record_id"] == record["id"]
    assert client.get(f"{BASE}/records/99999/edit").status_code == 404


def test_the_records_page_shows_values_rows_history_and_actions(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    created = client.post(
        records_url(APP, FORM),
        json={"title": "Desk", "price": "1234567.5", "due": "2026-03-01", "lines": [{"sku": "x", "cost": "5"}]},
    ).json()
    assert client.patch(f"{records_url(APP, FORM)}/{created['id']}", json={"title": "Big desk"}).status_code == 200
    client.cookies.set("opsloom_locale", "en")
    page = client.get(f"{BASE}/records/{created['id']}")
    assert page.status_code == 200
    assert_secure(page)
    html = page.text
    assert "1,234,567.50" in html and "Mar 1, 2026" in html
    assert re.search(r'<td data-label="[^"]+">x</td>', html) and re.search(r'<td data-label="[^"]+">5.00</td>', html)
    assert "<del>Desk</del>" in html and "<ins>Big desk</ins>" in html
    assert f'href="{BASE}/records/{created["id"]}/edit"' in html and 'data-record-action="delete"' in html
    assert 'data-record-action="submit"' not in html  # the form has no flow
    client.cookies.set("opsloom_locale", "zh-CN")
    chinese = client.get(f"{BASE}/records/{created['id']}").text
    assert "2026年3月1日" in chinese and "修改记录" in chinese
    assert client.get(f"{BASE}/records/424242").status_code == 404


def test_a_submitted_purchase_request_shows_its_approval_timeline(client: TestClient) -> None:
    company = Company(client)
    request = company.request(("Laptop", 2, "100.00"))
    requester = company.requester.client
    assert requester.post(f"{REQUESTS}/{request['id']}/submit", json={}).status_code == 200
    page = requester.get(f"/apps/procurement/forms/purchase_request/records/{request['id']}")
    assert page.status_code == 200
    html = page.text
    assert 'data-event="submitted"' in html  # the timeline
    assert 'data-event="node_entered"' not in html  # the engine's bookkeeping is not for people
    assert "event-waiting" in html  # who it waits for
    assert 'data-flow-action="withdraw"' in html and 'data-flow-action="urge"' in html
    assert 'href="/apps/procurement/forms/purchase_request/records/' + str(request["id"]) + '/edit"' not in html
    requester.cookies.set("opsloom_locale", "en")
    english = requester.get(f"/apps/procurement/forms/purchase_request/records/{request['id']}").text
    assert "<li>Status: <del>Draft</del> → <ins>In review</ins></li>" in english  # history names the values
    history = requester.get(f"{REQUESTS}/{request['id']}/history").json()["items"]
    assert history[-1]["changes"] == {"status": {"before": "draft", "after": "in_review"}}
    # in review, the edit page sends the requester back to the record
    edit = requester.get(
        f"/apps/procurement/forms/purchase_request/records/{request['id']}/edit", follow_redirects=False
    )
    assert edit.status_code == 303 and edit.headers["location"].endswith("?locked=1")


def test_the_procurement_form_offers_save_and_submit(client: TestClient) -> None:
    Company(client)
    html = client.get("/apps/procurement/forms/purchase_request/new").text
    assert 'data-action="submit"' in html
    assert 'data-source="/api/apps/procurement/forms/supplier/records" data-title-field="name"' in html


def test_a_page_asked_for_before_login_is_shown_after_it(anonymous: TestClient) -> None:
    """A link to a task or a record (from a chat message, say) survives the login in between."""
    create_user(anonymous, "amy@example.com", "right-password-1")
    response = anonymous.get(f"{BASE}/records/7?notice=saved", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fapps%2Fshop%2Fforms%2Forder%2Frecords%2F7%3Fnotice%3Dsaved"
    login = anonymous.get(response.headers["location"]).text
    assert f'name="next" value="{BASE}/records/7?notice=saved"' in login
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    form = {"email": "amy@example.com", "password": "right-password-1", "csrf_token": token}
    done = anonymous.post("/login", data={**form, "next": f"{BASE}/records/7"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{BASE}/records/7"
    # logged in, /login sends on at once; a next that leaves the site goes home instead
    assert anonymous.get("/login?next=/tasks", follow_redirects=False).headers["location"] == "/tasks"
    assert anonymous.get("/login?next=//evil.example/x", follow_redirects=False).headers["location"] == "/"


def test_a_wrong_password_keeps_where_to_go_next(anonymous: TestClient) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', anonymous.get("/login").text).group(1)
    form = {"email": "nobody@example.com", "password": "x", "csrf_token": token, "next": "/tasks"}
    refused = anonymous.post("/login", data=form)
    assert refused.status_code == 401 and 'name="next" value="/tasks"' in refused.text


def test_a_value_that_does_not_parse_is_reported_once(client: TestClient) -> None:
    """The form shows one message per problem: not also "is required" for a value it could not read."""
    required_rows = form(
        "sheet",
        field("n", "integer", required=True),
        field("rows", "subform", required=True, fields=[field("q", "integer", required=True)]),
    )
    publish_app(client, "books", required_rows)
    response = client.post(records_url("books", "sheet"), json={"n": "abc", "rows": [{"q": "x"}]})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["path"] for e in errors] == ["n", "rows[0].q"], errors
    assert errors[0]["message"].startswith("expected a whole number")


def test_links_in_subform_rows_are_shown_by_name(client: TestClient) -> None:
    vendor = form("vendor", field("name"), title_field="name")
    bill = form(
        "bill",
        field("title"),
        field("lines", "subform", fields=[field("who", "relation", form="vendor"), field("payer", "user")]),
        title_field="title",
    )
    publish_app(client, "books", vendor, bill)
    acme = client.post(records_url("books", "vendor"), json={"name": "Acme <Ltd>"}).json()
    me = client.get("/api/me").json()
    lines = [{"who": acme["id"], "payer": me["id"]}]
    created = client.post(records_url("books", "bill"), json={"title": "May", "lines": lines})
    assert created.status_code == 201, created.text
    record_id = created.json()["id"]
    client.cookies.set("opsloom_locale", "en")
    edit = client.get(f"/apps/books/forms/bill/records/{record_id}/edit").text
    assert f'<li class="chip" data-id="{acme["id"]}"><span>Acme &lt;Ltd&gt;</span>' in edit
    assert f'data-id="{me["id"]}"><span>{me["name"]}</span>' in edit
    page = client.get(f"/apps/books/forms/bill/records/{record_id}").text
    assert re.search(r'<td data-label="[^"]+">Acme &lt;Ltd&gt;</td>', page)
    assert re.search(f'<td data-label="[^"]+">{re.escape(me["name"])}</td>', page)


def test_the_history_names_linked_records_and_people(client: TestClient) -> None:
    vendor = form("vendor", field("name"), title_field="name")
    bill = form("bill", field("title"), field("who", "relation", form="vendor"), field("payer", "user"))
    publish_app(client, "books", vendor, bill)
    acme = client.post(records_url("books", "vendor"), json={"name": "Acme"}).json()
    globex = client.post(records_url("books", "vendor"), json={"name": "Globex"}).json()
    me = client.get("/api/me").json()
    created = client.post(records_url("books", "bill"), json={"title": "May", "who": acme["id"], "payer": me["id"]})
    record = created.json()
    assert client.patch(f"{records_url('books', 'bill')}/{record['id']}", json={"who": globex["id"]}).status_code == 200
    client.cookies.set("opsloom_locale", "en")
    page = client.get(f"/apps/books/forms/bill/records/{record['id']}").text
    assert "<del>Acme</del> → <ins>Globex</ins>" in page
    assert f"<ins>{me['name']}</ins>" in page


def test_the_edit_page_names_the_linked_supplier(client: TestClient) -> None:
    company = Company(client)
    request = company.request(("Laptop", 1, "10.00"))
    page = company.requester.client.get(f"/apps/procurement/forms/purchase_request/records/{request['id']}/edit")
    assert page.status_code == 200
    assert f'data-id="{company.supplier}"><span>Northwind Computing</span>' in page.text


def test_home_and_app_home_offer_to_start_what_the_user_may_create(client: TestClient) -> None:
    company = Company(client)
    client.cookies.set("opsloom_locale", "en")
    requester = company.requester.client
    requester.cookies.set("opsloom_locale", "en")
    home = requester.get("/").text
    assert 'href="/apps/procurement/forms/purchase_request/new">New Purchase request</a>' in home
    assert "forms/purchase_order/new" not in home  # requesters do not raise orders themselves
    assert '<a class="nav-link" href="/tasks">My to-do<span class="nav-count" data-count="pending" hidden>' in home
    app = requester.get("/apps/procurement").text
    menu = re.search(r'<nav id="app-nav" class="sidebar" aria-label="Procurement".*?</nav>', app, re.S)
    assert menu is not None
    names = re.findall(r">([^<>]+)</a></li>", menu.group(0))
    # the forms they may use, then the reports over forms they may read
    assert names[:2] == ["Purchase request", "Supplier"] and "Spend by department and month" in names[2:]
    assert (
        'href="/apps/procurement/forms/purchase_request/new">New<span class="visually-hidden"> Purchase request' in app
    )


def test_a_url_naming_no_record_is_the_404_page_not_a_validation_problem(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    client.cookies.set("opsloom_locale", "en")
    for url in (f"{BASE}/records/abc", f"{BASE}/records/0/edit", f"{BASE}/records/{2**64}", f"{BASE}/records/-1"):
        page = client.get(url, headers={"Accept": "text/html"})
        assert page.status_code == 404 and "There is nothing here" in page.text, url


def test_a_records_page_links_the_records_made_from_it_for_readers_of_them(client: TestClient) -> None:
    company = Company(client)
    request = company.request(("Laptop", 2, "100.00"))
    orders = "/api/apps/procurement/forms/purchase_order/records"
    order = client.post(orders, json={"request": request["id"], "amount": "200.00", "supplier_name": "Northwind"})
    assert order.status_code == 201, order.text
    client.cookies.set("opsloom_locale", "en")
    page = client.get(f"/apps/procurement/forms/purchase_request/records/{request['id']}").text  # an admin
    link = f'href="/apps/procurement/forms/purchase_order/records/{order.json()["id"]}">{order.json()["order_no"]}</a>'
    assert 'id="related-title">Linked records' in page and link in page
    assert "by Purchase request · 1 record" in page
    requester = company.requester.client  # requesters may not read purchase orders
    assert client.get(orders.replace("/records", "/records?limit=1")).status_code == 200
    assert requester.get(orders).status_code == 403
    mine = requester.get(f"/apps/procurement/forms/purchase_request/records/{request['id']}").text
    assert "related-title" not in mine and "purchase_order/records" not in mine
