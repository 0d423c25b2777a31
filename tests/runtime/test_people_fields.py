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


def review_form():
    return form(
        "review",
        field("title", required=True),
        field("reviewers", "users", min_items=1, max_items=3),
        title_field="title",
    )


def _person(client, email):
    return client.post(
        "/api/users", json={"email": email, "name": email.split("@")[0], "password": "password-1"}
    ).json()


def test_a_users_field_holds_several_checked_people(client):
    publish_app(client, APP, review_form())
    me = client.get("/api/me").json()
    ann, bob = _person(client, "ann@example.com"), _person(client, "bob@example.com")
    url = records_url(APP, "review")
    made = client.post(url, json={"title": "design", "reviewers": [ann["id"], bob["id"], ann["id"]]})
    assert made.status_code == 201, made.text
    assert made.json()["reviewers"] == [ann["id"], bob["id"]]  # the same person twice is once
    expanded = client.get(f"{url}/{made.json()['id']}", params={"expand": "reviewers"}).json()
    assert expanded["reviewers"] == [{"id": ann["id"], "name": "ann"}, {"id": bob["id"], "name": "bob"}]
    # An expanded list sent back as it was read is understood.
    again = client.patch(f"{url}/{made.json()['id']}", json={"reviewers": expanded["reviewers"] + [me["id"]]})
    assert again.status_code == 200 and again.json()["reviewers"] == [ann["id"], bob["id"], me["id"]]
    history = client.get(f"{url}/{made.json()['id']}/history").json()["items"]
    assert history[-1]["changes"]["reviewers"] == {"before": [ann["id"], bob["id"]], "after": again.json()["reviewers"]}


def test_bad_people_lists_are_refused_with_their_path(client):
    publish_app(client, APP, review_form())
    url = records_url(APP, "review")
    ann = _person(client, "ann@example.com")
    cases = {
        "not a list": 5,
        "unknown person": [ann["id"], 99999],
        "not an id": ["ann"],
        "too many": [ann["id"], *(_person(client, f"p{i}@example.com")["id"] for i in range(3))],
        "too few": [],
    }
    for name, value in cases.items():
        answer = client.post(url, json={"title": name, "reviewers": value})
        if name == "too few":  # an empty list is no value: allowed, the field is not required
            assert answer.status_code == 201, answer.text
            assert answer.json()["reviewers"] is None
            continue
        assert answer.status_code == 422, (name, answer.text)
        assert [e["path"] for e in answer.json()["errors"]] == ["reviewers"], name
    bulk = client.post(
        f"{url}/bulk", json={"records": [{"title": "ok", "reviewers": [ann["id"]]}, {"title": "x", "reviewers": [0]}]}
    )
    assert bulk.status_code == 422 and bulk.json()["errors"][0]["path"] == "records[1].reviewers"


def test_filter_records_where_i_am_among_the_people(client):
    publish_app(client, APP, review_form())
    url = records_url(APP, "review")
    me = client.get("/api/me").json()
    ann = _person(client, "ann@example.com")
    client.post(url, json={"title": "mine", "reviewers": [ann["id"], me["id"]]})
    client.post(url, json={"title": "ann's", "reviewers": [ann["id"]]})
    client.post(url, json={"title": "nobody's"})

    def titles(condition):
        answer = client.get(url, params={"filter": json.dumps(condition), "sort": "title"})
        assert answer.status_code == 200, answer.text
        return [r["title"] for r in answer.json()["items"]]

    assert titles({"field": "reviewers", "op": "contains", "value": {"var": "current_user.id"}}) == ["mine"]
    assert titles({"field": "reviewers", "op": "contains", "value": ann["id"]}) == ["ann's", "mine"]
    assert titles({"field": "reviewers", "op": "is_empty"}) == ["nobody's"]
    assert titles({"not": {"field": "reviewers", "op": "contains", "value": ann["id"]}}) == ["nobody's"]
    refused = client.get(url, params={"filter": json.dumps({"field": "reviewers", "op": "eq", "value": [1]})})
    assert refused.status_code == 400 and refused.json()["errors"][0]["path"] == "filter.op"
