"""The app settings page through HTTP, on both databases: names, description, icon, colour and menu order."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from tests.builders import field, form, publish_app
from tests.conftest import another_client, create_user, log_in
from tests.runtime.pages.test_pages import token_in

APP = "shop"
PAGE = f"/design/apps/{APP}/settings"


def three_forms(client: TestClient) -> None:
    publish_app(
        client, APP, *(form(key, field("title"), title_field="title") for key in ("order", "supplier", "invoice"))
    )
    client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Shop", "menu": ["order", "supplier", "invoice"]})


def menu_on(html: str) -> list[str]:
    return re.findall(r'name="menu" value="([a-z_]+)"', html)


def test_names_look_and_menu_are_saved(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    three_forms(client)
    overview = client.get(f"/design/apps/{APP}")
    assert f'href="{PAGE}"' in overview.text
    page = client.get(PAGE)
    assert page.status_code == 200 and menu_on(page.text) == ["order", "supplier", "invoice"]
    token = token_in(page.text)
    saved = client.post(
        PAGE,
        data={
            "csrf_token": token,
            "label_zh": "商店",
            "label_en": "Shop",
            "description_zh": "订单与供应商",
            "description_en": "Orders and suppliers",
            "icon": "🛒",
            "icon_own": "",
            "color": "#0f766e",
            "color_own": "#2563d0",
            "menu": ["invoice", "order", "supplier"],
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}?saved=1"
    document = client.get(f"/api/design/apps/{APP}").json()
    assert document["label"] == {"zh-CN": "商店", "en": "Shop"}
    assert document["description"] == {"zh-CN": "订单与供应商", "en": "Orders and suppliers"}
    assert document["icon"] == "🛒" and document["color"] == "#0f766e"
    assert document["menu"] == ["invoice", "order", "supplier"]
    again = client.get(f"{PAGE}?saved=1")
    assert "Settings saved." in again.text and menu_on(again.text) == ["invoice", "order", "supplier"]
    end_user = client.get(f"/apps/{APP}").text  # the app's own menu follows
    assert end_user.index(f"/apps/{APP}/forms/invoice") < end_user.index(f"/apps/{APP}/forms/order")


def test_the_move_buttons_work_without_javascript(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    three_forms(client)
    token = token_in(client.get(PAGE).text)
    base = {"csrf_token": token, "label_en": "Shop", "no_color": "on", "menu": ["order", "supplier", "invoice"]}
    moved = client.post(PAGE, data={**base, "move": "down:order"}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == f"{PAGE}?saved=1#move-order"
    assert client.get(f"/api/design/apps/{APP}").json()["menu"] == ["supplier", "order", "invoice"]
    client.post(PAGE, data={**base, "menu": ["supplier", "order", "invoice"], "move": "up:supplier"})
    assert client.get(f"/api/design/apps/{APP}").json()["menu"] == ["supplier", "order", "invoice"]  # already first
    document = client.get(f"/api/design/apps/{APP}").json()
    assert "color" not in document and "icon" not in document


def test_bad_settings_are_told_and_what_was_typed_stays(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    three_forms(client)
    token = token_in(client.get(PAGE).text)
    refused = client.post(
        PAGE, data={"csrf_token": token, "label_en": "Renamed", "color_own": "red", "menu": ["invoice"]}
    )
    assert refused.status_code == 422
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", refused.text)).split())
    assert "Not saved" in text and "color" in text
    assert 'value="Renamed"' in refused.text
    assert client.get(f"/api/design/apps/{APP}").json()["label"] == "Shop"
    assert client.post(PAGE, data={"csrf_token": "forged"}).status_code == 403


def test_people_who_do_not_design_the_app_get_404(client: TestClient) -> None:
    three_forms(client)
    create_user(client, "amy@example.com", "right-password-1")
    amy = another_client(client)
    log_in(amy, "amy@example.com", "right-password-1")
    assert amy.get(PAGE).status_code == 404
    token = token_in(amy.get("/design").text)
    assert amy.post(PAGE, data={"csrf_token": token, "label_en": "Mine"}).status_code == 404
