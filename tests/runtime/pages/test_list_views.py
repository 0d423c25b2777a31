"""The list page's sort headers, filter bar and chips, and saved views (API and page)."""

from __future__ import annotations

import json
import re
from html import unescape

from fastapi.testclient import TestClient

from tests.builders import field, form, options, problem, publish_app, records_url
from tests.conftest import another_client, create_user, log_in
from tests.runtime.pages.test_list_page import URL, add, bob
from tests.runtime.pages.test_pages import assert_secure

VIEWS = "/api/apps/claims/forms/claim/views"


def claim_form() -> dict:
    return form(
        "claim",
        field("title"),
        field("amount", "decimal"),
        field("kind", "select", options=options("travel", "meal")),
        field("spent_on", "date"),
        field("notes", "textarea"),
        field("secret"),
        field("paid", "boolean"),
        title_field="title",
    )


def setup(client: TestClient) -> None:
    publish_app(client, "claims", claim_form())
    client.cookies.set("opsloom_locale", "en")
    add(client, title="Taxi", amount="12.50", kind="travel", spent_on="2026-01-05", notes="n1")
    add(client, title="Lunch", amount="30.00", kind="meal", spent_on="2026-02-01")
    add(client, title="Train", amount="80.00", kind="travel", spent_on="2026-03-01")


def titles(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="[^"]+">(Taxi|Lunch|Train|Hotel|Bob claim)</a></th>', html)


def links(html: str, text: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<a href="([^"]+)"[^>]*>' + re.escape(text) + "</a>", html)]


def csrf(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match
    return match.group(1)


# ------------------------------------------------------------------ sort


def test_headers_sort_ascending_then_descending(client: TestClient) -> None:
    setup(client)
    page = client.get(URL).text
    assert titles(page) == ["Train", "Lunch", "Taxi"]  # newest first
    assert ">No.</a></th>" not in page  # the title names the rows; the internal id is no column of its own
    (ascending,) = links(page, "Amount")
    assert ascending.endswith("?sort=amount")
    page = client.get(ascending).text
    assert titles(page) == ["Taxi", "Lunch", "Train"]
    assert '<th scope="col" aria-sort="ascending"><a href="/apps/claims/forms/claim?sort=-amount">Amount</a>' in page
    (descending,) = links(page, "Amount")
    page = client.get(descending).text
    assert titles(page) == ["Train", "Lunch", "Taxi"] and 'aria-sort="descending"' in page
    assert '<th scope="col">Notes</th>' in page  # a textarea cannot be sorted: no link


def test_sort_survives_paging_and_search(client: TestClient) -> None:
    publish_app(client, "claims", claim_form())
    client.cookies.set("opsloom_locale", "en")
    for n in range(23):
        add(client, title=f"claim-{n:02d}", amount=str(100 - n))
    page = client.get(URL, params={"sort": "amount"}).text
    assert re.findall(r"claim-\d\d", page)[0] == "claim-22"
    (next_url,) = re.findall(r'<a href="([^"]+)" rel="next">', page)
    assert "sort=amount" in unescape(next_url)
    second = client.get(unescape(next_url)).text
    assert re.findall(r"<a href=\"[^\"]+\">(claim-\d\d)</a>", second) == ["claim-02", "claim-01", "claim-00"]
    assert '<input type="hidden" name="sort" value="amount">' in page  # the search form keeps it
    searched = client.get(URL, params={"sort": "amount", "q": "claim-1"}).text
    assert re.findall(r"claim-\d\d", searched)[0] == "claim-19"
    assert all("q=claim-1" in unescape(u) for u in links(searched, "Title"))
    assert client.get(URL, params={"sort": "notes"}).status_code == 400
    bad = client.get(URL, params={"sort": "nope"})
    assert bad.status_code == 400 and "cannot be sorted that way" in bad.text


# ------------------------------------------------------------------ filters


def test_filter_bar_rows_become_the_filter_and_chips(client: TestClient) -> None:
    setup(client)
    params = [
        ("sort", "amount"),
        *[("f_field", "amount"), ("f_op", "gt"), ("f_value", "20")],
        *[("f_field", "kind"), ("f_op", "eq"), ("f_value", "travel")],
        *[("f_field", ""), ("f_op", "eq"), ("f_value", "")],  # the bar's empty row
    ]
    response = client.get(URL, params=params, follow_redirects=False)
    assert response.status_code == 303
    target = response.headers["location"]
    assert "sort=amount" in target and "f_field" not in target
    page = client.get(target)
    assert page.status_code == 200 and titles(page.text) == ["Train"]
    assert "Amount is greater than 20" in page.text and "Kind is Travel" in page.text
    remove = [
        unescape(u) for u in re.findall(r'<a href="([^"]+)" aria-label="Remove the filter Kind is Travel"', page.text)
    ]
    assert len(remove) == 1
    widened = client.get(remove[0]).text
    assert titles(widened) == ["Lunch", "Train"] and "Kind is Travel" not in widened
    # the bar shows the conditions again as rows, with the field's own operators and inputs
    assert '<option value="gt" selected>is greater than</option>' in page.text
    assert '<option value="travel" selected>Travel</option>' in page.text
    assert 'type="date"' in page.text or "spent_on" in page.text


def test_filter_param_is_the_api_condition(client: TestClient) -> None:
    setup(client)
    condition = {"field": "spent_on", "op": "between", "value": ["2026-01-01", "2026-02-15"]}
    page = client.get(URL, params={"filter": json.dumps(condition)})
    assert page.status_code == 200 and titles(page.text) == ["Lunch", "Taxi"]
    grouped = {"or": [{"field": "title", "op": "eq", "value": "Taxi"}, {"field": "kind", "op": "eq", "value": "meal"}]}
    page = client.get(URL, params={"filter": json.dumps(grouped)})
    assert titles(page.text) == ["Lunch", "Taxi"] and "Custom condition" in page.text


def test_bad_filter_is_a_friendly_400_page(client: TestClient) -> None:
    setup(client)
    for bad in (
        "not json",
        '{"field": "nope", "op": "eq", "value": 1}',
        '{"field": "amount", "op": "contains", "value": "x"}',
    ):
        page = client.get(URL, params={"filter": bad})
        assert page.status_code == 400, bad
        assert page.headers["content-type"].startswith("text/html")
        assert_secure(page)
        assert "The filter is not valid" in page.text and "Clear all filters" in page.text
    wrong_op = client.get(URL, params=[("f_field", "paid"), ("f_op", "gt"), ("f_value", "true")])
    assert wrong_op.status_code == 400 and "filter.op" in wrong_op.text


def test_hidden_fields_cannot_be_filtered_or_offered(client: TestClient) -> None:
    setup(client)
    browser = bob(client, {"read": "all", "fields": {"secret": "hidden"}})
    page = browser.get(URL)
    assert page.status_code == 200 and 'value="secret"' not in page.text
    assert browser.get(URL, params={"filter": '{"field": "secret", "op": "eq", "value": "x"}'}).status_code == 400


# ------------------------------------------------------------------ saved views: API


def test_views_are_saved_listed_and_deleted_by_their_owner_only(client: TestClient) -> None:
    setup(client)
    body = {"name": "Big travel", "filter": {"field": "kind", "op": "eq", "value": "travel"}, "sort": "-amount"}
    created = client.post(VIEWS, json={**body, "columns": ["title", "amount"]})
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["name"] == "Big travel" and view["filter"] == body["filter"] and view["columns"] == ["title", "amount"]
    assert created.headers["location"].endswith(f"/views/{view['id']}")
    default = client.post(VIEWS, json={"name": "Plain"}).json()
    assert default["columns"] == ["title", "amount", "kind", "spent_on", "notes", "secret"]
    assert [v["name"] for v in client.get(VIEWS).json()["items"]] == ["Big travel", "Plain"]
    assert problem(client.post(VIEWS, json={"name": "Plain"}), 409, "name")

    bob_browser = bob(client, {"read": "all"})
    bob_api = another_client(client)
    log_in(bob_api, "bob@example.com", "right-password-1")
    assert bob_api.get(VIEWS).json()["items"] == []
    assert problem(bob_api.delete(f"{VIEWS}/{view['id']}"), 404)
    assert bob_browser.get(URL, params={"view": view["id"]}).status_code == 404
    mine = bob_api.post(VIEWS, json={"name": "Plain"})  # names are per user
    assert mine.status_code == 201
    assert [v["name"] for v in client.get(VIEWS).json()["items"]] == ["Big travel", "Plain"]

    no_token = another_client(client, cookies=dict(client.cookies))
    assert no_token.delete(f"{VIEWS}/{view['id']}").status_code == 403  # a session write needs X-CSRF-Token
    assert client.delete(f"{VIEWS}/{view['id']}").status_code == 204
    assert [v["name"] for v in client.get(VIEWS).json()["items"]] == ["Plain"]
    assert problem(client.delete(f"{VIEWS}/{view['id']}"), 404)


def test_views_are_validated_with_paths(client: TestClient) -> None:
    setup(client)
    problem(client.post(VIEWS, json={"name": ""}), 422, "name")
    problem(client.post(VIEWS, json={"name": "x" * 101}), 422, "name")
    problem(client.post(VIEWS, json={"sort": "amount"}), 422, "name")
    problem(client.post(VIEWS, json={"name": "a", "columns": ["title", "nope"]}), 422, "columns[1]")
    problem(client.post(VIEWS, json={"name": "a", "colour": "red"}), 422, "colour")
    problem(
        client.post(VIEWS, json={"name": "a", "filter": {"field": "nope", "op": "eq", "value": 1}}), 400, "filter.field"
    )
    problem(
        client.post(VIEWS, json={"name": "a", "filter": {"and": [{"field": "paid", "op": "gt", "value": True}]}}),
        400,
        "filter.and[0].op",
    )
    problem(client.post(VIEWS, json={"name": "a", "sort": "notes"}), 400, "sort")
    problem(client.post(VIEWS, json=["a"]), 422, "$")
    assert client.get(VIEWS).json()["items"] == []


def test_views_follow_what_the_caller_may_see(client: TestClient) -> None:
    setup(client)
    bob(client, {"read": "all", "fields": {"secret": "hidden"}})
    api = another_client(client)
    log_in(api, "bob@example.com", "right-password-1")
    problem(api.post(VIEWS, json={"name": "s", "columns": ["secret"]}), 422, "columns[0]")
    problem(
        api.post(VIEWS, json={"name": "s", "filter": {"field": "secret", "op": "eq", "value": "x"}}),
        400,
        "filter.field",
    )
    assert api.post(VIEWS, json={"name": "ok"}).json()["columns"] == [
        "title",
        "amount",
        "kind",
        "spent_on",
        "notes",
        "paid",
    ]
    create_user(client, "eve@example.com", "right-password-1")
    eve = another_client(client)
    log_in(eve, "eve@example.com", "right-password-1")
    problem(eve.get(VIEWS), 403)
    problem(eve.post(VIEWS, json={"name": "x"}), 403)


def test_at_most_fifty_views_per_user_and_form(client: TestClient) -> None:
    setup(client)
    for n in range(50):
        assert client.post(VIEWS, json={"name": f"v{n}"}).status_code == 201
    problem(client.post(VIEWS, json={"name": "one more"}), 409, "name")


# ------------------------------------------------------------------ saved views: the page


def test_view_link_applies_filter_sort_and_columns(client: TestClient) -> None:
    setup(client)
    body = {
        "name": "Travel by amount",
        "filter": {"field": "kind", "op": "eq", "value": "travel"},
        "sort": "amount",
        "columns": ["amount", "title"],
    }
    view = client.post(VIEWS, json=body).json()
    page = client.get(URL)
    assert f'href="/apps/claims/forms/claim?view={view["id"]}">Travel by amount</a>' in page.text
    shown = client.get(URL, params={"view": view["id"]}).text
    assert titles(shown) == ["Taxi", "Train"]
    headers = re.findall(r'<th scope="col"[^>]*>(?:<a [^>]*>)?([^<]+)', shown)
    assert headers == ["Amount", "Title", "Status"]
    assert "Kind is Travel" in shown and 'aria-current="page">Travel by amount' in shown
    # the URL's own sort and filter win over the view's, and the view's columns stay
    resorted = client.get(URL, params={"view": view["id"], "sort": "-amount"}).text
    assert titles(resorted) == ["Train", "Taxi"]
    unfiltered = client.get(URL, params={"view": view["id"], "filter": ""}).text
    assert titles(unfiltered) == ["Taxi", "Lunch", "Train"] and "Kind is Travel" not in unfiltered
    assert client.get(URL, params={"view": 999999}).status_code == 404


def test_views_are_saved_and_deleted_from_the_page(client: TestClient) -> None:
    setup(client)
    condition = json.dumps({"field": "kind", "op": "eq", "value": "meal"})
    page = client.get(URL, params={"filter": condition, "sort": "-amount"}).text
    assert 'name="filter" value="{&#34;field&#34;:&#34;kind&#34;' in page or 'name="filter"' in page
    form_data = {
        "csrf_token": csrf(page),
        "name": "Meals",
        "filter": condition,
        "sort": "-amount",
        "columns": ["title", "kind"],
    }
    refused = client.post(f"{URL}/views", data={**form_data, "csrf_token": "wrong"}, follow_redirects=False)
    assert refused.status_code == 403
    saved = client.post(f"{URL}/views", data=form_data, follow_redirects=False)
    assert saved.status_code == 303
    (view,) = client.get(VIEWS).json()["items"]
    assert saved.headers["location"] == f"{URL}?view={view['id']}"
    assert view["columns"] == ["title", "kind"] and view["filter"] == json.loads(condition)
    shown = client.get(saved.headers["location"]).text
    assert titles(shown) == ["Lunch"]
    again = client.post(f"{URL}/views", data=form_data, follow_redirects=False)
    assert again.status_code == 409 and "The view was not saved" in again.text
    deleted = client.post(f"{URL}/views/{view['id']}/delete", data={"csrf_token": csrf(page)}, follow_redirects=False)
    assert deleted.status_code == 303
    assert client.get(VIEWS).json()["items"] == []


def test_the_page_loads_its_script_as_a_module_and_nothing_inline(client: TestClient) -> None:
    setup(client)
    page = client.get(URL).text
    assert '<script type="module" src="/static/js/list.js"></script>' in page
    assert not re.search(r"<script(?![^>]*src=)", page) and " onclick=" not in page
    assert client.get("/static/js/list.js").status_code == 200
    created = client.post(records_url("claims", "claim"), json={"title": "Hotel"})
    assert created.status_code == 201


def test_a_view_is_renamed_or_changed_by_its_owner_only(client: TestClient) -> None:
    setup(client)
    body = {"name": "Travel", "filter": {"field": "kind", "op": "eq", "value": "travel"}, "sort": "-amount"}
    view = client.post(VIEWS, json={**body, "columns": ["title", "amount"]}).json()
    client.post(VIEWS, json={"name": "Meals"})
    renamed = client.patch(f"{VIEWS}/{view['id']}", json={"name": "  Big travel "})
    assert renamed.status_code == 200, renamed.text
    after = renamed.json()
    assert after["name"] == "Big travel" and after["filter"] == body["filter"]  # what was not sent stays
    assert after["sort"] == "-amount" and after["columns"] == ["title", "amount"]
    changed = client.patch(f"{VIEWS}/{view['id']}", json={"sort": "title", "filter": None}).json()
    assert changed["sort"] == "title" and changed["filter"] is None and changed["name"] == "Big travel"
    assert problem(client.patch(f"{VIEWS}/{view['id']}", json={"name": "Meals"}), 409, "name")
    assert problem(client.patch(f"{VIEWS}/{view['id']}", json={"columns": ["nope"]}), 422, "columns[0]")
    assert problem(client.patch(f"{VIEWS}/{view['id']}", json={"sort": "notes"}), 400, "sort")
    assert problem(client.patch(f"{VIEWS}/{view['id']}", json=["x"]), 422, "$")
    assert client.get(f"{VIEWS}").json()["items"][0]["name"] == "Big travel"  # the refusals changed nothing
    bob(client, {"read": "all"})
    bob_api = another_client(client)
    log_in(bob_api, "bob@example.com", "right-password-1")
    assert problem(bob_api.patch(f"{VIEWS}/{view['id']}", json={"name": "Mine now"}), 404)


def test_the_current_view_is_renamed_and_updated_from_the_page(client: TestClient) -> None:
    setup(client)
    view = client.post(VIEWS, json={"name": "Meals", "filter": {"field": "kind", "op": "eq", "value": "meal"}}).json()
    page = client.get(URL, params={"view": view["id"]}).text
    assert f'action="{URL}/views/{view["id"]}"' in page and 'id="current-view-name" name="name"' in page
    assert 'value="Meals"' in page  # the name to change, filled in
    travel = json.dumps({"field": "kind", "op": "eq", "value": "travel"})
    form_data = {"csrf_token": csrf(page), "name": "Travel", "filter": travel, "sort": "-amount", "columns": ["title"]}
    refused = client.post(f"{URL}/views/{view['id']}", data={**form_data, "csrf_token": "x"}, follow_redirects=False)
    assert refused.status_code == 403
    updated = client.post(f"{URL}/views/{view['id']}", data=form_data, follow_redirects=False)
    assert updated.status_code == 303 and updated.headers["location"] == f"{URL}?view={view['id']}"
    (stored,) = client.get(VIEWS).json()["items"]
    assert stored["name"] == "Travel" and stored["filter"] == json.loads(travel)
    assert stored["sort"] == "-amount" and stored["columns"] == ["title"]
    assert "Taxi" in client.get(updated.headers["location"]).text
    bad = client.post(f"{URL}/views/{view['id']}", data={**form_data, "name": ""}, follow_redirects=False)
    assert bad.status_code == 422 and "The view was not saved" in bad.text
    assert client.post(f"{URL}/views/999", data=form_data, follow_redirects=False).status_code == 404


def test_the_filter_opens_on_demand_and_stays_open_while_it_applies(client: TestClient) -> None:
    setup(client)
    plain = client.get(URL).text
    assert '<details class="filter-panel">' in plain  # closed: the records come first, on a phone too
    condition = '{"field": "kind", "op": "eq", "value": "travel"}'
    filtered = client.get(URL, params={"filter": condition}).text
    assert '<details class="filter-panel" open>' in filtered and '<span class="filter-count">1</span>' in filtered
