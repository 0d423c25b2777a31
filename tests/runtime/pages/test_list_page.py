"""The record list page: rows as the records service lists them, search, paging, permissions."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.builders import field, form, options, publish_app, records_url
from tests.conftest import another_client, create_user, log_in
from tests.runtime.pages.test_pages import assert_secure, page_login

URL = "/apps/claims/forms/claim"


def claim_form() -> dict:
    return form(
        "claim",
        field("title"),
        field("amount", "decimal"),
        field("kind", "select", options=options("travel", "meal")),
        field("paid", "boolean"),
        field("secret"),
        title_field="title",
    )


def add(client: TestClient, **values: object) -> int:
    response = client.post(records_url("claims", "claim"), json=values)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def bob(client: TestClient, grant: dict) -> TestClient:
    """A user with the role `grant` in claims, logged in to the pages."""
    user = create_user(client, "bob@example.com", "right-password-1", locale="en")
    role = {"app": "claims", "key": "staff", "label": "Staff", "permissions": {"claim": grant}}
    assert client.post("/api/roles", json=role).status_code == 200
    assert client.post("/api/roles/claims/staff/members", json={"add": [user["id"]]}).status_code == 200
    browser = another_client(client)
    page_login(browser, "bob@example.com", "right-password-1")
    return browser


def test_rows_are_shown_as_text_in_an_accessible_table(client: TestClient) -> None:
    publish_app(client, "claims", claim_form())
    add(client, title="Taxi <b>", amount="12.50", kind="travel", paid=True, secret="s3")
    client.cookies.set("opsloom_locale", "en")
    page = client.get(URL)
    assert page.status_code == 200
    assert_secure(page)
    html = page.text
    assert 'href="/apps/claims">Claims</a>' in html
    assert "<caption>" in html and '<th scope="row">' in html
    assert re.search(r'<th scope="col"><a href="[^"]*sort=amount">Amount</a></th>', html)
    record = re.search(r'<th scope="row"><a href="/apps/claims/forms/claim/records/(\d+)">Taxi &lt;b&gt;</a>', html)
    assert record, "the title names the record and links to it, in place of the internal id"
    assert "<td>12.50</td>" in html and f">{record.group(1)}</a>" not in html
    assert "<td>Travel</td>" in html and "<td>Yes</td>" in html
    assert '<span class="badge status-draft">Draft</span>' in html
    assert "1 record" in html and 'rel="next"' not in html
    client.cookies.set("opsloom_locale", "zh-CN")
    chinese = client.get(URL).text
    assert "<td>是</td>" in chinese and ">草稿</span>" in chinese


def test_empty_state(client: TestClient) -> None:
    publish_app(client, "claims", claim_form())
    client.cookies.set("opsloom_locale", "en")
    page = client.get(URL)
    assert page.status_code == 200 and "There are no records here yet." in page.text and "<table" not in page.text


def test_search_filters_by_title(client: TestClient) -> None:
    publish_app(client, "claims", claim_form())
    client.cookies.set("opsloom_locale", "en")
    add(client, title="Taxi to airport")
    add(client, title="Hotel night")
    page = client.get(URL, params={"q": "taxi"})
    assert page.status_code == 200
    assert "Taxi to airport" in page.text and "Hotel night" not in page.text
    assert 'name="q" type="search" value="taxi"' in page.text
    none = client.get(URL, params={"q": "nothing"})
    assert "No record matches your search." in none.text


def test_next_page_link_pages_through(client: TestClient) -> None:
    publish_app(client, "claims", claim_form())
    client.cookies.set("opsloom_locale", "en")
    for n in range(25):
        add(client, title=f"claim-{n:02d}")
    first = client.get(URL)
    assert "25 records" in first.text
    match = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert match, first.text
    second = client.get(match.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    seen_first = set(re.findall(r"claim-\d\d", first.text))
    seen_second = set(re.findall(r"claim-\d\d", second.text))
    assert len(seen_first) == 20 and len(seen_second) == 5 and not seen_first & seen_second
    assert 'rel="next"' not in second.text
    assert client.get(URL, params={"cursor": "garbage"}).status_code == 400


def test_hidden_field_and_rows_out_of_scope_are_absent(client: TestClient) -> None:
    publish_app(client, "claims", claim_form())
    client.cookies.set("opsloom_locale", "en")
    add(client, title="Admin claim", secret="top-secret-value")
    browser = bob(client, {"read": "own", "create": "all", "fields": {"secret": "hidden"}})
    api = another_client(client)
    log_in(api, "bob@example.com", "right-password-1")
    created = api.post(records_url("claims", "claim"), json={"title": "Bob claim"})
    assert created.status_code == 201, created.text
    page = browser.get(URL)
    assert page.status_code == 200
    assert "Bob claim" in page.text and "Admin claim" not in page.text
    assert "Secret" not in page.text and "top-secret-value" not in page.text
    assert "1 record" in page.text
    assert "Secret" in client.get(URL).text


def test_logged_out_redirects_and_unreadable_forms_are_not_found(client: TestClient, anonymous: TestClient) -> None:
    publish_app(client, "claims", claim_form())
    client.cookies.set("opsloom_locale", "en")
    publish_app(client, "secret", form("plan", field("title")))
    out = another_client(client).get(URL, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login?next=%2Fapps%2Fclaims%2Fforms%2Fclaim"
    assert_secure(out)
    browser = bob(client, {"read": "all"})
    assert browser.get(URL).status_code == 200
    missing = browser.get("/apps/secret/forms/plan")
    assert missing.status_code == 404 and "There is nothing here" in missing.text
    assert_secure(missing)
    assert browser.get("/apps/claims/forms/nope").status_code == 404
