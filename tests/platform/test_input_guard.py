"""Text no database can store (NUL, lone surrogates) is refused at the door, alike on SQLite and PostgreSQL.

PostgreSQL cannot hold U+0000 in text or JSONB; SQLite can, so without the
guard a name saved on SQLite breaks the move to PostgreSQL, and PostgreSQL
answers 500. Every entry point answers 422 naming the field, and stores nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import field, form, problem, publish_app
from tests.conftest import ADMIN_EMAIL

APP = "guard"
NUL = "a\x00b"
VIEWS = f"/api/apps/{APP}/forms/note/views"


def _published(client: Any) -> Any:
    publish_app(client, APP, form("note", field("title"), title_field="title"))
    return client


# (method, url, JSON body, path named in the answer, url that lists what would have been stored)
ENTRY_POINTS = [
    ("post", "/api/auth/tokens", {"name": NUL}, "name", "/api/auth/tokens"),
    ("post", "/api/departments", {"name": NUL}, "name", "/api/departments"),
    ("post", "/api/users", {"email": "x@example.com", "name": NUL, "password": "long-password"}, "name", "/api/users"),
    ("put", f"/api/design/apps/{APP}", {"key": APP, "label": {"en": NUL}}, "label.en", None),
    ("put", f"/api/design/apps/{APP}/forms/other", form("other", field("t", label=NUL)), "fields[0].label", None),
    ("put", f"/api/design/apps/{APP}/flows/ok", {"key": "ok", "form": "note", "name": NUL}, "name", None),
    ("post", "/api/roles", {"app": APP, "key": "r", "label": NUL, "grants": {}}, "label", f"/api/roles?app={APP}"),
    ("post", VIEWS, {"name": NUL, "sort": "title"}, "name", VIEWS),
    ("post", f"/api/apps/{APP}/forms/note/records", {"title": NUL}, "title", f"/api/apps/{APP}/forms/note/records"),
]


@pytest.mark.parametrize(("method", "url", "body", "path", "listing"), ENTRY_POINTS)
def test_nul_in_a_json_body_is_a_422_naming_the_field(client, method, url, body, path, listing):
    _published(client)
    before = client.get(listing).text if listing else None
    answer = problem(getattr(client, method)(url, json=body), 422, path)
    assert "NUL" in answer["errors"][0]["message"]
    if listing:
        after = client.get(listing)
        assert after.status_code == 200 and after.text == before  # nothing was stored


def test_nul_in_the_login_body_is_a_422_before_any_login(anonymous):
    problem(anonymous.post("/api/auth/login", json={"email": f"{NUL}@example.com", "password": "x"}), 422, "email")
    problem(anonymous.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": NUL}), 422, "password")


def test_nul_in_the_login_page_form_shows_a_page_naming_the_field(anonymous):
    answer = anonymous.post("/login", data={"email": NUL, "password": "x", "csrf_token": "t"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "<code>email</code>" in answer.text and "\\u0000" in answer.text


def test_the_page_answer_links_back_to_the_form_it_came_from(anonymous):
    origin = str(anonymous.base_url) + "/login?next=/apps"
    answer = anonymous.post("/login", data={"password": NUL}, headers={"referer": origin})
    assert answer.status_code == 422 and 'href="/login?next=/apps"' in answer.text
    elsewhere = anonymous.post("/login", data={"password": NUL}, headers={"referer": "https://evil.example/login"})
    assert "evil.example" not in elsewhere.text


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("/api/users?q=a%00", "q"),
        ("/api/users?limit=1&q=%00x", "q"),
        ("/api/apps/guard/forms/note/records?sort=title%00", "sort"),
        ("/api/design/apps/gu%00ard", "app"),
        ("/api/apps/guard/forms/no%00te/records/1", "form"),
        ("/api/nowhere%00", "path"),
    ],
)
def test_nul_in_the_url_is_a_422_naming_the_parameter(client, url, path):
    _published(client)
    problem(client.get(url), 422, path)


def test_nul_in_a_parameter_name_is_named_escaped(client):
    problem(client.get("/api/users?a%00b=1"), 422, "a\\u0000b")


def test_nul_in_a_page_query_answers_a_page(client):
    answer = client.get("/apps/guard?q=%00", headers={"accept": "text/html"})
    assert answer.status_code == 422 and "<code>q</code>" in answer.text


def test_lone_surrogates_in_a_pydantic_body_are_a_422_with_their_path(client):
    raw = b'{"name": "\\ud800x"}'
    body = problem(client.post("/api/departments", content=raw, headers={"content-type": "application/json"}), 422)
    assert body["errors"][0]["path"] == "name" and "surrogate" in body["errors"][0]["message"]


def test_an_escaped_backslash_before_u0000_is_plain_text(client):
    raw = b'{"name": "C:\\\\u0000"}'  # the text C:\u0000, no NUL in it
    created = client.post("/api/departments", content=raw, headers={"content-type": "application/json"})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "C:\\u0000"


def _upload(client: Any, name: str, filename: str, extra: dict[str, str] | None = None) -> Any:
    publish_app(client, APP, form("note", field("title"), field("docs", "attachment"), title_field="title"))
    boundary = "b0undary"
    parts = [(k, None, v.encode()) for k, v in (extra or {}).items()] + [(name, filename, b"\x00binary\x00")]
    body = b""
    for part, file, data in parts:
        disposition = f'form-data; name="{part}"' + (f'; filename="{file}"' if file is not None else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    return client.post(f"/api/apps/{APP}/forms/note/files?field=docs", content=body, headers=headers)


def test_nul_in_a_multipart_filename_or_part_name_is_a_422(client):
    assert _upload(client, "file", "ok.bin").status_code == 201  # NUL bytes inside a file are data
    problem(_upload(client, "file", "a\x00.pdf"), 422, "file")
    problem(_upload(client, "fi\x00le", "a.pdf"), 422, "fi\\u0000le")
    problem(_upload(client, "file", "a.pdf", {"note": NUL}), 422, "note")


# ------------------------------------------------------------------ property: any depth, any place


_KEYS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)
_LEAVES = st.none() | st.booleans() | st.integers(-(2**31), 2**31) | _KEYS
_JSON = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3))
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _step(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _PLAIN.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{json.dumps(key, ensure_ascii=chr(0) in key)}]"


@st.composite
def _with_nul(draw: st.DrawFn) -> tuple[Any, str]:
    """A JSON object with exactly one NUL, in a string value or a key, at any depth; and the path to it."""
    value = draw(st.dictionaries(_KEYS, _JSON, min_size=1, max_size=3))
    container: Any = value
    path = ""
    while True:
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        nested = [k for k in keys if isinstance(container[k], dict | list) and container[k]]
        if not nested or draw(st.booleans()):
            break
        key = draw(st.sampled_from(nested))
        path, container = _step(path, key), container[key]
    text = draw(_KEYS)
    at = draw(st.integers(0, len(text)))
    nul_text = text[:at] + "\x00" + text[at:]
    if isinstance(container, dict) and draw(st.booleans()):
        container[nul_text] = draw(_LEAVES)
        return value, _step(path, nul_text)
    if isinstance(container, dict):
        key = draw(st.sampled_from(list(container)))
        container[key] = nul_text
        return value, _step(path, key)
    index = draw(st.integers(0, len(container) - 1))
    container[index] = nul_text
    return value, _step(path, index)


def test_nul_anywhere_in_a_json_body_is_a_422_at_its_path_never_a_500(client):
    _published(client)
    urls = (
        ("post", "/api/departments"),
        ("put", f"/api/design/apps/{APP}"),
        ("post", f"/api/apps/{APP}/forms/note/records"),
    )

    @settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(_with_nul(), st.sampled_from(urls))
    def check(case: tuple[Any, str], route: tuple[str, str]) -> None:
        body, path = case
        method, url = route
        answer = getattr(client, method)(url, json=body)
        assert answer.status_code == 422, answer.text
        assert [e["path"] for e in answer.json()["errors"]] == [path]

    check()


def test_a_lone_surrogate_in_a_key_is_named_escaped(client):
    raw = b'{"label": {"\\udc00x": "a"}}'
    body = problem(
        client.put(f"/api/design/apps/{APP}", content=raw, headers={"content-type": "application/json"}), 422
    )
    assert body["errors"][0]["path"] == 'label["\\udc00x"]'
