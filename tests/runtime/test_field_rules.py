"""Field rules (visible/read-only/required when, cross-field validations) are enforced by the server."""

from __future__ import annotations

from tests.builders import field, form, options, publish_app, records_url

APP = "rules"
URL = records_url(APP, "trip")
TRAVEL = {"field": "kind", "op": "eq", "value": "travel"}


def trip_form():
    return form(
        "trip",
        field("title", required=True),
        field("kind", "select", options=options("travel", "office")),
        field("destination", visible_when=TRAVEL, required=True),
        field("start_date", "date"),
        field("end_date", "date"),
        field("amount", "decimal", scale=2, required_when={"field": "kind", "op": "eq", "value": "travel"}),
        field("locked", "boolean"),
        field("note", readonly_when={"field": "locked", "op": "eq", "value": True}),
        validations=[
            {
                "condition": {"field": "end_date", "op": "gte", "value": {"field": "start_date"}},
                "message": "The end date cannot be before the start date",
                "fields": ["end_date"],
            }
        ],
        title_field="title",
    )


def paths(response):
    return {e["path"]: e["message"] for e in response.json()["errors"]}


def test_hidden_field_must_stay_empty_and_is_required_only_when_visible(client):
    publish_app(client, APP, trip_form())
    assert client.post(URL, json={"title": "desk", "kind": "office"}).status_code == 201
    hidden = client.post(URL, json={"title": "desk", "kind": "office", "destination": "Paris"})
    assert hidden.status_code == 422 and "destination" in paths(hidden)
    missing = client.post(URL, json={"title": "visit", "kind": "travel", "amount": "10"})
    assert missing.status_code == 422 and paths(missing) == {"destination": "is required"}
    ok = client.post(URL, json={"title": "visit", "kind": "travel", "destination": "Paris", "amount": "10"})
    assert ok.status_code == 201, ok.text


def test_required_when_applies_to_patches_too(client):
    publish_app(client, APP, trip_form())
    rid = client.post(URL, json={"title": "t", "kind": "office"}).json()["id"]
    refused = client.patch(f"{URL}/{rid}", json={"kind": "travel", "destination": "Rome"})
    assert refused.status_code == 422 and "amount" in paths(refused)
    assert client.get(f"{URL}/{rid}").json()["kind"] == "office"


def test_cross_field_validation_with_its_message(client):
    publish_app(client, APP, trip_form())
    bad = client.post(URL, json={"title": "t", "start_date": "2026-05-02", "end_date": "2026-05-01"})
    assert bad.status_code == 422
    assert paths(bad) == {"end_date": "The end date cannot be before the start date"}
    good = client.post(URL, json={"title": "t", "start_date": "2026-05-01", "end_date": "2026-05-01"})
    assert good.status_code == 201


def test_read_only_when_refuses_changes(client):
    publish_app(client, APP, trip_form())
    rid = client.post(URL, json={"title": "t", "note": "draft"}).json()["id"]
    assert client.patch(f"{URL}/{rid}", json={"locked": True}).status_code == 200
    refused = client.patch(f"{URL}/{rid}", json={"note": "changed"})
    assert refused.status_code == 422 and "note" in paths(refused)
    assert client.patch(f"{URL}/{rid}", json={"note": "draft", "title": "t2"}).status_code == 200
    client.patch(f"{URL}/{rid}", json={"locked": False})
    assert client.patch(f"{URL}/{rid}", json={"note": "changed"}).status_code == 200


def test_bulk_create_checks_rules_row_by_row(client):
    publish_app(client, APP, trip_form())
    response = client.post(
        f"{URL}/bulk",
        json={"records": [{"title": "a"}, {"title": "b", "kind": "office", "destination": "x"}]},
    )
    assert response.status_code == 422
    assert "records[1].destination" in paths(response)
    assert client.get(URL).json()["total"] == 0


def test_rules_that_do_not_parse_are_refused_at_publish(client):
    bad = trip_form()
    bad["fields"][2]["visible_when"] = {"field": "nope", "op": "eq", "value": 1}
    client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Rules"})
    problems = client.put(f"/api/design/apps/{APP}/forms/trip", json=bad).json()["problems"]
    assert problems[0]["path"] == "fields[2].visible_when.field"


def test_a_patch_that_hides_a_field_empties_it(client):
    publish_app(client, APP, trip_form())
    trip = client.post(URL, json={"title": "visit", "kind": "travel", "destination": "Paris", "amount": "10"}).json()
    url = f"{URL}/{trip['id']}"
    changed = client.patch(url, json={"kind": "office"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["destination"] is None
    assert client.get(url).json()["destination"] is None
    history = client.get(f"{url}/history").json()["items"]
    assert history[-1]["changes"]["destination"] == {"before": "Paris", "after": None}
    # Visible again, and empty: required (only while visible), though the patch does not name it.
    again = client.patch(url, json={"kind": "travel"})
    assert again.status_code == 422 and paths(again) == {"destination": "is required"}


def test_a_value_sent_for_a_field_the_same_patch_hides_is_refused(client):
    publish_app(client, APP, trip_form())
    trip = client.post(URL, json={"title": "visit", "kind": "travel", "destination": "Paris", "amount": "10"}).json()
    url = f"{URL}/{trip['id']}"
    refused = client.patch(url, json={"kind": "office", "destination": "Rome"})
    assert refused.status_code == 422 and paths(refused) == {"destination": "is hidden for this record; leave it empty"}
    assert client.get(url).json()["destination"] == "Paris"
    assert client.patch(url, json={"kind": "office", "destination": None}).json()["destination"] is None


def test_a_default_of_a_hidden_field_stays_empty_and_formulas_read_it_empty(client):
    document = trip_form()
    document["fields"][2]["default"] = "Head office"
    document["fields"].append(field("badge", "formula", result="text", formula='CONCAT(title, "@", destination)'))
    publish_app(client, APP, document)
    office = client.post(URL, json={"title": "desk", "kind": "office"})
    assert office.status_code == 201, office.text
    assert office.json()["destination"] is None and office.json()["badge"] == "desk@"
    travel = client.post(URL, json={"title": "visit", "kind": "travel", "amount": "10"}).json()
    assert travel["destination"] == "Head office" and travel["badge"] == "visit@Head office"
    hidden = client.patch(f"{URL}/{travel['id']}", json={"kind": "office"}).json()
    assert hidden["destination"] is None and hidden["badge"] == "visit@"


def test_required_when_that_a_patch_makes_true_needs_the_stored_value(client):
    publish_app(client, APP, trip_form())
    trip = client.post(URL, json={"title": "t", "kind": "office", "destination": None}).json()
    url = f"{URL}/{trip['id']}"
    refused = client.patch(url, json={"kind": "travel", "destination": "Rome"})
    assert refused.status_code == 422 and paths(refused) == {"amount": "is required for this record"}
    assert client.patch(url, json={"amount": "12.50"}).status_code == 200
    assert client.patch(url, json={"kind": "travel", "destination": "Rome"}).status_code == 200
