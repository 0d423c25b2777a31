"""Defaults from the person filling in: their department (CURRENT_DEPARTMENT()), themselves
(CURRENT_USER()) and today (TODAY()), on save through the API and prefilled on the new-record page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.builders import field, form, publish_app, records_url
from tests.conftest import another_client, create_user, log_in

APP = "visits"
URL = records_url(APP, "visit")


def visit_form() -> dict:
    return form(
        "visit",
        field("title", required=True),
        field("team", "department", default={"formula": "CURRENT_DEPARTMENT()"}),
        field("host", "user", default={"formula": "CURRENT_USER()"}),
        field("visit_on", "date", default={"formula": "TODAY()"}),
        title_field="title",
    )


def person_in(client, email: str, department: int | None):
    user = create_user(client, email, "right-password-1", locale="en")
    if department is not None:
        moved = client.patch(f"/api/users/{user['id']}", json={"department_id": department})
        assert moved.status_code == 200, moved.text
    role = {"app": APP, "key": "staff", "label": "Staff", "permissions": {"visit": {"create": "all", "read": "all"}}}
    assert client.post("/api/roles", json=role).status_code == 200
    assert client.post(f"/api/roles/{APP}/staff/members", json={"add": [user["id"]]}).status_code == 200
    browser = another_client(client)
    log_in(browser, email, "right-password-1")
    return user, browser


def test_a_new_record_takes_the_department_the_person_and_today(client) -> None:
    publish_app(client, APP, visit_form())
    sales = client.post("/api/departments", json={"name": "Sales"}).json()["id"]
    ann, browser = person_in(client, "ann@example.com", sales)
    created = browser.post(URL, json={"title": "Customer visit"})
    assert created.status_code == 201, created.text
    record = created.json()
    today = datetime.now(UTC).date().isoformat()
    assert (record["team"], record["host"]) == (sales, ann["id"])
    assert record["visit_on"] in (today, datetime.now().date().isoformat())  # the server's zone decides the day
    other = client.post("/api/departments", json={"name": "Support"}).json()["id"]
    chosen = browser.post(URL, json={"title": "Other", "team": other, "visit_on": "2026-01-05"}).json()
    assert (chosen["team"], chosen["visit_on"]) == (other, "2026-01-05")  # what is sent wins over the default


def test_someone_without_a_department_gets_none(client) -> None:
    publish_app(client, APP, visit_form())
    _, browser = person_in(client, "bo@example.com", None)
    record = browser.post(URL, json={"title": "Walk-in"}).json()
    assert record["team"] is None and record["host"] is not None


def test_the_new_record_page_is_prefilled_with_the_persons_department(client) -> None:
    publish_app(client, APP, visit_form())
    sales = client.post("/api/departments", json={"name": "Sales"}).json()["id"]
    _, browser = person_in(client, "cy@example.com", sales)
    page = browser.get(f"/apps/{APP}/forms/visit/new").text
    assert re.search(r'<input id="f-visit_on"[^>]*value="\d{4}-\d{2}-\d{2}"', page), "today is filled in"
    assert "Sales" in page  # the department, by name
