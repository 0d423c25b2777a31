"""The permissions page through HTTP, on both databases: roles made, named, granted, peopled and deleted on the
page, saved through the roles service with its checks, and enforced by the records API."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from tests.builders import create, field, form, publish_app, records_url
from tests.conftest import another_client, create_user, log_in
from tests.runtime.pages.test_pages import token_in

APP = "shop"
PAGE = f"/design/apps/{APP}/permissions"
URL = records_url(APP, "order")


def order_form():
    return form(
        "order", field("title", required=True), field("amount", "decimal"), field("secret"), title_field="title"
    )


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def matrix(**cells: str) -> dict[str, str]:
    """Cells as the page posts them: `order_read="own"` -> `scope:order:read=own`."""
    out = {}
    for name, value in cells.items():
        form_key, _, action = name.rpartition("_")
        out[f"scope:{form_key}:{action}"] = value
    return out


def make_role(client: TestClient, token: str, key: str = "buyer") -> None:
    created = client.post(
        f"{PAGE}/roles",
        data={"csrf_token": token, "key": key, "label_zh": "采购员", "label_en": "Buyer"},
        follow_redirects=False,
    )
    assert created.status_code == 303 and created.headers["location"] == f"{PAGE}?role={key}&saved=created"


def test_a_role_made_on_the_page_is_enforced_by_the_records_api(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    publish_app(client, APP, order_form())
    create_user(client, "amy@example.com", "right-password-1")
    theirs = create(client, URL, title="admin's order", secret="s1")
    token = token_in(client.get(PAGE).text)
    make_role(client, token)
    page = client.get(f"{PAGE}?role=buyer&saved=created")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Role created." in words and "Every form (default)" in words
    assert 'aria-label="Order · View"' in page.text and "Dept. & below" in words
    saved = client.post(
        f"{PAGE}/roles/buyer",
        data={
            "csrf_token": token,
            "label_zh": "采购员",
            "label_en": "Purchaser",
            **matrix(order_create="all", order_read="own", order_update="own"),
            "field:order:secret": "hidden",
            "field:order:amount": "read_only",
            "field:order:title": "editable",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    role = next(r for r in client.get("/api/roles", params={"app": APP}).json()["items"] if r["key"] == "buyer")
    assert role["label"] == {"zh-CN": "采购员", "en": "Purchaser"}
    assert role["permissions"] == {
        "order": {
            "create": "all",
            "read": "own",
            "update": "own",
            "fields": {"secret": "hidden", "amount": "read_only"},
        }
    }
    members = client.post(
        f"{PAGE}/roles/buyer/members",
        data={"csrf_token": token, "add_person": "amy <amy@example.com>"},
        follow_redirects=False,
    )
    assert members.status_code == 303
    shown = text_of(client.get(f"{PAGE}?role=buyer").text)
    assert "amy@example.com" in shown and "1 member" in shown

    amy = another_client(client)
    log_in(amy, "amy@example.com", "right-password-1")
    mine = amy.post(URL, json={"title": "amy's order"})
    assert mine.status_code == 201, mine.text
    listed = amy.get(URL).json()["items"]
    assert [r["title"] for r in listed] == ["amy's order"] and "secret" not in listed[0]
    assert amy.get(f"{URL}/{theirs['id']}").status_code == 404
    assert amy.patch(f"{URL}/{mine.json()['id']}", json={"amount": "5"}).status_code in (403, 422)
    assert amy.get(PAGE).status_code == 404  # a member is not a designer


def test_refused_roles_are_told_on_the_page(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    publish_app(client, APP, order_form())
    token = token_in(client.get(PAGE).text)
    make_role(client, token)
    bad_json = client.post(
        f"{PAGE}/roles/buyer",
        data={"csrf_token": token, **matrix(order_read="condition"), "condition:order:read": "{not json"},
    )
    assert bad_json.status_code == 422
    assert "Not saved" in text_of(bad_json.text) and "permissions.order.read.condition" in bad_json.text
    bad_field = client.post(
        f"{PAGE}/roles/buyer",
        data={
            "csrf_token": token,
            **matrix(order_read="condition"),
            "condition:order:read": '{"field": "nothing", "op": "eq", "value": 1}',
        },
    )
    assert bad_field.status_code == 422 and "permissions.order.read.condition" in bad_field.text
    again = client.post(f"{PAGE}/roles", data={"csrf_token": token, "key": "buyer", "label_en": "Again"})
    assert again.status_code == 422 and "A role with the key buyer exists already" in text_of(again.text)
    bad_key = client.post(f"{PAGE}/roles", data={"csrf_token": token, "key": "Bad Key"})
    assert bad_key.status_code == 422 and "Not saved" in text_of(bad_key.text)
    nobody = client.post(f"{PAGE}/roles/buyer/members", data={"csrf_token": token, "add_person": "ghost@example.com"})
    assert nobody.status_code == 422 and "Nobody is called ghost@example.com" in text_of(nobody.text)
    huge = str(2**70)
    odd = client.post(
        f"{PAGE}/roles/buyer/members",
        data={"csrf_token": token, "add_department": huge, "remove": huge},
        follow_redirects=False,
    )
    assert odd.status_code == 303  # nothing to add or remove, and no 500
    forged = client.post(f"{PAGE}/roles/buyer", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert client.get(f"{PAGE}?role=nothing").status_code == 404


def test_an_existing_condition_is_shown_as_text_and_kept(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    publish_app(client, APP, order_form())
    condition = {
        "and": [{"field": "amount", "op": "gt", "value": 100}, {"field": "title", "op": "contains", "value": "x"}]
    }
    saved = client.post(
        "/api/roles",
        json={
            "app": APP,
            "key": "big",
            "label": "Big orders",
            "permissions": {"order": {"read": {"condition": condition}}},
        },
    )
    assert saved.status_code == 200, saved.text
    page = client.get(f"{PAGE}?role=big")
    assert "amount &gt; 100 and title contains x" in page.text
    assert "data-condition-slot" in page.text  # where the condition builder plugs in
    token = token_in(page.text)
    condition_input = re.search(r'name="condition:order:read" value="([^"]*)"', page.text)
    assert condition_input
    again = client.post(
        f"{PAGE}/roles/big",
        data={
            "csrf_token": token,
            "label_en": "Big orders",
            **matrix(order_read="condition", order_export="all"),
            "condition:order:read": unescape(condition_input.group(1)),
        },
        follow_redirects=False,
    )
    assert again.status_code == 303, again.text
    role = next(r for r in client.get("/api/roles", params={"app": APP}).json()["items"] if r["key"] == "big")
    assert role["permissions"]["order"] == {"read": {"condition": condition}, "export": "all"}


def test_a_department_an_everyone_switch_and_people_make_the_members(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    publish_app(client, APP, order_form())
    sales = client.post("/api/departments", json={"name": "Sales"}).json()
    a = create_user(client, "a@example.com", "right-password-1", department_id=sales["id"])
    token = token_in(client.get(PAGE).text)
    make_role(client, token)
    client.post(f"{PAGE}/roles/buyer/members", data={"csrf_token": token, "add_department": str(sales["id"])})
    role = client.get("/api/roles", params={"app": APP}).json()["items"][0]
    assert (role["departments"], role["members"], role["everyone"]) == ([sales["id"]], [], False)
    page = text_of(client.get(f"{PAGE}?role=buyer").text)
    assert "Everyone in Sales and below" in page and "1 department" in page
    client.post(
        f"{PAGE}/roles/buyer/members",
        data={"csrf_token": token, "add_person": "a@example.com", "everyone_shown": "1", "everyone": "on"},
    )
    role = client.get("/api/roles", params={"app": APP}).json()["items"][0]
    assert (role["members"], role["everyone"]) == ([a["id"]], True)
    client.post(
        f"{PAGE}/roles/buyer/members",
        data={
            "csrf_token": token,
            "remove": str(a["id"]),
            "remove_department": str(sales["id"]),
            "everyone_shown": "1",
        },
    )
    role = client.get("/api/roles", params={"app": APP}).json()["items"][0]
    assert (role["departments"], role["members"], role["everyone"]) == ([], [], False)
    deleted = client.post(f"{PAGE}/roles/buyer/delete", data={"csrf_token": token}, follow_redirects=False)
    assert deleted.status_code == 303
    assert client.get("/api/roles", params={"app": APP}).json()["items"] == []
    assert "Role deleted." in text_of(client.get(f"{PAGE}?saved=deleted").text)


def test_people_who_do_not_design_the_app_get_404(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    create_user(client, "amy@example.com", "right-password-1")
    amy = another_client(client)
    log_in(amy, "amy@example.com", "right-password-1")
    assert amy.get(PAGE).status_code == 404
    token = token_in(amy.get("/design").text)
    assert amy.post(f"{PAGE}/roles", data={"csrf_token": token, "key": "x"}).status_code == 404
    assert amy.post(f"{PAGE}/roles/x/delete", data={"csrf_token": token}).status_code == 404
