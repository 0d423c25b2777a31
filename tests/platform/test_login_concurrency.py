"""Logins under concurrency: the throttle counts attempts before any password is checked, and
password hashing runs off the event loop so that the server keeps answering."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

import pytest
from fastapi.testclient import TestClient

from opsloom.platform import passwords
from opsloom.platform.site_settings import DEFAULTS
from tests.builders import problem
from tests.conftest import another_client, create_user

EMAIL = "ann@example.com"
PASSWORD = "user-password"
BURST = 20


def api_login(app: TestClient, password: str) -> Callable[[], int]:
    browser = another_client(app)
    return lambda: browser.post("/api/auth/login", json={"email": EMAIL, "password": password}).status_code


def page_login(app: TestClient, password: str) -> Callable[[], int]:
    browser = another_client(app)
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
    assert token, "the login page has a CSRF token"
    form = {"email": EMAIL, "password": password, "csrf_token": token.group(1)}
    return lambda: browser.post("/login", data=form, follow_redirects=False).status_code


@pytest.fixture
def held_checks(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], threading.Event]:
    """Every password check is recorded, and waits until the event is set (30 s at most)."""
    checks: list[str] = []
    release = threading.Event()
    check = passwords._verify

    def held(password_hash: str | None, password: str) -> bool:
        checks.append(password)
        release.wait(30)
        return check(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", held)
    return checks, release


@pytest.mark.parametrize("login", [api_login, page_login], ids=["api", "page"])
def test_concurrent_wrong_passwords_get_at_most_five_checks_and_lock_out_the_right_one(
    anonymous: TestClient, held_checks: tuple[list[str], threading.Event], login: Callable
) -> None:
    create_user(anonymous, EMAIL, PASSWORD)
    checks, release = held_checks
    attempts = [login(anonymous, "wrong-password") for _ in range(BURST)]
    right = api_login(anonymous, PASSWORD)
    with ThreadPoolExecutor(BURST) as threads:
        try:
            burst = [threads.submit(attempt) for attempt in attempts]
            # The attempts past the limit answer while the admitted ones are still being checked.
            for answered, _ in enumerate(as_completed(burst, timeout=20), start=1):
                if answered == BURST - DEFAULTS.login_max_failures:
                    break
            right_password = right()
        finally:
            release.set()
        statuses = Counter(future.result() for future in burst)
    assert right_password == 429
    assert 1 <= len(checks) <= DEFAULTS.login_max_failures
    assert "user-password" not in checks
    assert statuses == {401: len(checks), 429: BURST - len(checks)}


def test_health_answers_while_a_login_hashes_its_password(
    anonymous: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_user(anonymous, EMAIL, PASSWORD)
    hashing, release = threading.Event(), threading.Event()
    seen: dict[str, object] = {}
    check = passwords._verify

    def slow(password_hash: str | None, password: str) -> bool:
        seen["thread"] = threading.current_thread()
        hashing.set()
        seen["released"] = release.wait(30)  # False: nothing answered while the hash ran
        return check(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", slow)
    event_loop_thread = anonymous.portal.call(threading.current_thread)
    with ThreadPoolExecutor(1) as threads:
        login = threads.submit(api_login(anonymous, PASSWORD))
        try:
            assert hashing.wait(30)
            health = anonymous.get("/api/health")
        finally:
            release.set()
        assert login.result(60) == 200
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert seen["released"] is True
    assert seen["thread"] is not event_loop_thread


def test_a_wrong_current_password_is_refused_and_a_right_one_changes_it(anonymous: TestClient) -> None:
    create_user(anonymous, EMAIL, PASSWORD)
    browser = another_client(anonymous)
    login = browser.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
    browser.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    change = {"current_password": "not-it-at-all", "new_password": "a-new-password"}
    problem(browser.post("/api/auth/password", json=change), 403, "current_password")
    changed = browser.post("/api/auth/password", json={**change, "current_password": PASSWORD})
    assert changed.status_code == 200, changed.text
    assert api_login(anonymous, "a-new-password")() == 200
    assert api_login(anonymous, PASSWORD)() == 401
