"""The designer's entry pages through HTTP: the apps one designs, a new app, an app's overview, a new form."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import another_client, create_user, log_in
from tests.runtime.pages.test_pages import assert_secure, token_in


def test_an_admin_creates_an_app_and_its_first_form_from_the_pages(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    home = client.get("/design")
    assert home.status_code == 200 and "You do not design any app yet." in home.text
    assert_secure(home)
    token = token_in(home.text)
    created = client.post(
        "/design/apps",
        data={"csrf_token": token, "label_zh": "采购", "label_en": "Purchasing", "key": "purchasing"},
        follow_redirects=False,
    )
    assert created.status_code == 303 and created.headers["location"] == "/design/apps/purchasing"
    assert client.get("/api/design/apps/purchasing").json()["label"] == {"zh-CN": "采购", "en": "Purchasing"}
    overview = client.get("/design/apps/purchasing")
    assert "This app has no forms yet." in overview.text
    form = client.post(
        "/design/apps/purchasing/forms",
        data={"csrf_token": token, "label_en": "Purchase request", "key": "purchase_request"},
        follow_redirects=False,
    )
    assert form.status_code == 303 and form.headers["location"] == "/design/apps/purchasing/forms/purchase_request"
    draft = client.get("/api/design/apps/purchasing/forms/purchase_request").json()
    assert draft["draft"]["label"] == "Purchase request" and draft["problems"] == []
    assert draft["published_version"] is None
    client.cookies.set("opsloom_locale", "zh-CN")
    overview = client.get("/design/apps/purchasing").text
    assert 'href="/design/apps/purchasing/forms/purchase_request"' in overview and "草稿" in overview
    assert "采购" in client.get("/design").text


def test_bad_keys_and_taken_keys_are_told_on_the_page(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    token = token_in(client.get("/design").text)
    bad = client.post("/design/apps", data={"csrf_token": token, "label_en": "X", "key": "Bad Key"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text and 'value="Bad Key"' in bad.text
    empty = client.post("/design/apps", data={"csrf_token": token, "label_en": "X", "key": ""})
    assert empty.status_code == 400 and "Give a key, such as purchase_request." in empty.text
    client.post("/design/apps", data={"csrf_token": token, "label_en": "Sales", "key": "sales"})
    again = client.post("/design/apps", data={"csrf_token": token, "label_en": "Sales", "key": "sales"})
    assert again.status_code == 400 and "An app with the key sales exists already" in again.text
    client.post("/design/apps/sales/forms", data={"csrf_token": token, "label_en": "Lead", "key": "lead"})
    twice = client.post("/design/apps/sales/forms", data={"csrf_token": token, "label_en": "Lead", "key": "lead"})
    assert twice.status_code == 400 and "has a form with the key lead already" in twice.text
    forged = client.post("/design/apps", data={"csrf_token": "forged", "label_en": "Y", "key": "other"})
    assert forged.status_code == 403
    assert client.get("/api/design/apps/other").status_code == 404


def test_people_who_do_not_design_the_app_see_nothing_of_it(client: TestClient) -> None:
    token = token_in(client.get("/design").text)
    client.post("/design/apps", data={"csrf_token": token, "label_en": "Secret", "key": "secret"})
    create_user(client, "amy@example.com", "right-password-1")
    amy = another_client(client)
    log_in(amy, "amy@example.com", "right-password-1")
    amy.cookies.set("opsloom_locale", "en")
    home = amy.get("/design")
    assert home.status_code == 200 and "Secret" not in home.text and "New app" not in home.text
    assert amy.get("/design/apps/secret").status_code == 404
    assert amy.get("/design/apps/nothing").status_code == 404
    amy_token = token_in(home.text)
    mine = amy.post("/design/apps", data={"csrf_token": amy_token, "label_en": "Mine", "key": "mine"})
    assert mine.status_code == 403
    refused = amy.post("/design/apps/secret/forms", data={"csrf_token": amy_token, "key": "x"})
    assert refused.status_code == 404


def test_the_designer_needs_a_login(anonymous: TestClient) -> None:
    response = anonymous.get("/design/apps/x", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fdesign%2Fapps%2Fx"
