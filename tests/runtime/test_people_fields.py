"""User and department fields: links to the organisation, checked, expanded, filtered."""

from __future__ import annotations

import json

from tests.builders import field, form, publish_app, records_url

APP = "people"
URL = records_url(APP, "ticket")


def ticket_form():
    return form(
        "ticket",
        field("title", required=True),
        field("assignee", "user", default={"formula": "CURRENT_USER()"}),
        field("team", "department"),
        title_field="title",
    )


def test_user_and_department_fields_are_checked_and_expanded(client):
    publish_app(client, APP, ticket_form())
    me = client.get("/api/me").json()
    team = client.post("/api/departments", json={"name": "Support"}).json()
    ticket = client.post(URL, json={"title": "printer", "team": team["id"]})
    assert ticket.status_code == 201, ticket.text
    assert ticket.json()["assignee"] == me["id"]  # the CURRENT_USER() default
    expanded = client.get(f"{URL}/{ticket.json()['id']}", params={"expand": "assignee,team"}).json()
    assert expanded["assignee"] == {"id": me["id"], "name": me["name"]}
    assert expanded["team"] == {"id": team["id"], "name": "Support"}
    unknown = client.post(URL, json={"title": "x", "assignee": 9999, "team": 9999})
    assert unknown.status_code == 422
    assert {e["path"] for e in unknown.json()["errors"]} == {"assignee", "team"}


def test_filter_by_the_current_user(client):
    publish_app(client, APP, ticket_form())
    other = client.post("/api/users", json={"email": "o@example.com", "name": "Other", "password": "password-1"}).json()
    client.post(URL, json={"title": "mine"})
    client.post(URL, json={"title": "theirs", "assignee": other["id"]})
    mine = json.dumps({"field": "assignee", "op": "eq", "value": {"var": "current_user.id"}})
    assert [r["title"] for r in client.get(URL, params={"filter": mine}).json()["items"]] == ["mine"]
    bad = json.dumps({"field": "assignee", "op": "contains", "value": "x"})
    assert client.get(URL, params={"filter": bad}).status_code == 400
