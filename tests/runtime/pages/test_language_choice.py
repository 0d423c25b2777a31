"""The browser's language decides until the user chooses one; the choice follows them across logins."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import another_client, create_user
from tests.runtime.pages.test_pages import page_login, token_in

PASSWORD = "right-password-1"


def browser(client: TestClient, language: str) -> TestClient:
    return another_client(client, headers={"Accept-Language": language})


def test_a_new_user_is_served_in_their_browsers_language_after_logging_in(client: TestClient) -> None:
    made = create_user(client, "ann@example.com", PASSWORD)
    assert made["locale"] is None
    english = browser(client, "en-GB,en;q=0.9,zh-CN;q=0.5")
    assert '<html lang="en"' in english.get("/login").text
    page_login(english, "ann@example.com", PASSWORD)
    home = english.get("/")
    assert '<html lang="en"' in home.text and home.headers["content-language"] == "en"
    assert english.get("/api/me").json()["locale"] is None

    chinese = browser(client, "zh-CN,zh;q=0.9")
    page_login(chinese, "ann@example.com", PASSWORD)
    assert '<html lang="zh-CN"' in chinese.get("/").text


def test_the_language_chosen_with_the_switcher_is_kept_across_logins(client: TestClient) -> None:
    create_user(client, "bo@example.com", PASSWORD)
    english = browser(client, "en")
    page_login(english, "bo@example.com", PASSWORD)
    home = english.get("/").text
    chosen = english.post("/locale", data={"locale": "zh-CN", "next": "/", "csrf_token": token_in(home)})
    assert chosen.status_code == 200 and '<html lang="zh-CN"' in chosen.text
    assert english.get("/api/me").json()["locale"] == "zh-CN"

    elsewhere = browser(client, "en")  # another browser, no cookie of the choice: the user's choice wins
    page_login(elsewhere, "bo@example.com", PASSWORD)
    assert '<html lang="zh-CN"' in elsewhere.get("/").text
    assert '<html lang="zh-CN"' in elsewhere.get("/tasks").text


def test_my_settings_can_forget_the_choice_so_the_browser_decides_again(client: TestClient) -> None:
    create_user(client, "cy@example.com", PASSWORD, locale="zh-CN")
    english = browser(client, "en")
    page_login(english, "cy@example.com", PASSWORD)
    settings = english.get("/me").text
    assert '<html lang="zh-CN"' in settings
    assert 'name="locale" value="zh-CN" lang="zh-CN" aria-pressed="true"' in settings
    assert 'value="browser" aria-pressed="false">跟随浏览器</button>' in settings
    forgot = english.post("/locale", data={"locale": "browser", "next": "/me", "csrf_token": token_in(settings)})
    assert forgot.status_code == 200 and '<html lang="en"' in forgot.text
    assert 'value="browser" aria-pressed="true">Follow my browser</button>' in forgot.text
    assert english.get("/api/me").json()["locale"] is None
    nonsense = english.post("/locale", data={"locale": "fr", "next": "/", "csrf_token": token_in(forgot.text)})
    assert nonsense.status_code == 200 and english.get("/api/me").json()["locale"] is None
