"""Unknown URLs: browsers get the HTML 404 page; the API and scripts keep problem+json."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from opsloom.runtime.pages.errors import prefers_html
from tests.conftest import ADMIN_EMAIL
from tests.runtime.pages.test_pages import assert_secure

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def test_an_unknown_page_shows_the_html_error_page(anonymous: TestClient) -> None:
    response = anonymous.get("/nope", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN"' in response.text and "这里什么也没有" in response.text
    assert 'href="/"' in response.text
    assert_secure(response)


def test_the_error_page_knows_who_is_logged_in(client: TestClient) -> None:
    response = client.get("/apps/x/y/z", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404
    assert "这里什么也没有" in response.text
    assert ADMIN_EMAIL in response.text  # the user menu, as on every page


def test_the_api_and_scripts_keep_problem_json(anonymous: TestClient) -> None:
    for path, accept in (("/api/nope", BROWSER_ACCEPT), ("/nope", "*/*"), ("/nope", "application/json")):
        response = anonymous.get(path, headers={"Accept": accept})
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json", (path, accept)
    posted = anonymous.post("/nope", headers={"Accept": BROWSER_ACCEPT})
    assert posted.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.9, application/problem+json", False),
        ("text/html;q=0", False),
        ("*/*", False),
        ("", False),
    ],
)
def test_prefers_html(accept: str, expected: bool) -> None:
    assert prefers_html(accept) is expected
