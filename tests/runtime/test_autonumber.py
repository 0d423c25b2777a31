"""Autonumber fields: patterns, periods, and gap-free numbers under concurrent creates."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from tests.builders import field, form, options, publish_app, records_url

APP = "numbers"
URL = records_url(APP, "request")


def request_form(pattern="PR-{YYYY}{MM}-{seq:4}", **extra):
    return form(
        "request",
        field("title", required=True),
        field("dept", "select", options=options("hr", "it")),
        {"id": "fld_no", "key": "number", "type": "autonumber", "label": "No.", "pattern": pattern, **extra},
        title_field="title",
    )


def test_numbers_follow_the_pattern_and_count_up(client):
    publish_app(client, APP, request_form())
    month = datetime.now(UTC).strftime("%Y%m")
    numbers = [client.post(URL, json={"title": f"r{i}"}).json()["number"] for i in range(3)]
    assert numbers == [f"PR-{month}-0001", f"PR-{month}-0002", f"PR-{month}-0003"]
    bulk = client.post(f"{URL}/bulk", json={"records": [{"title": "a"}, {"title": "b"}]}).json()["items"]
    assert [r["number"] for r in bulk] == [f"PR-{month}-0004", f"PR-{month}-0005"]


def test_field_tokens_and_refusal_of_client_values(client):
    publish_app(client, APP, request_form("{dept}-{seq:3}", reset="never"))
    assert client.post(URL, json={"title": "a", "dept": "hr"}).json()["number"] == "hr-001"
    refused = client.post(URL, json={"title": "b", "number": "X-1"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "number"
    number = client.post(URL, json={"title": "c"}).json()
    assert number["number"] == "-002"
    flt = '{"field": "number", "op": "starts_with", "value": "hr"}'
    assert client.get(URL, params={"filter": flt}).json()["total"] == 1


def test_a_failed_create_does_not_use_up_a_number(client):
    publish_app(client, APP, request_form("N{seq:2}"))
    assert client.post(URL, json={"title": "a"}).json()["number"] == "N01"
    assert client.post(URL, json={"dept": "hr"}).status_code == 422  # title missing: nothing saved
    assert client.post(URL, json={"title": "b"}).json()["number"] == "N02"


def test_bad_patterns_are_refused_at_publish(client):
    client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Numbers"})
    saved = client.put(f"/api/design/apps/{APP}/forms/request", json=request_form("PR-{nope}")).json()
    messages = {p["path"]: p["message"] for p in saved["problems"]}
    assert "seq" in messages["fields[2].pattern"] or "nope" in messages["fields[2].pattern"]


def test_fifty_concurrent_creates_get_fifty_consecutive_numbers(client):
    publish_app(client, APP, request_form("{seq:3}", reset="never"))

    def create(i):
        return client.post(URL, json={"title": f"r{i}"})

    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(create, range(50)))
    assert [r.status_code for r in responses] == [201] * 50
    numbers = sorted(int(r.json()["number"]) for r in responses)
    assert numbers == list(range(1, 51))
    assert all(re.fullmatch(r"\d{3}", r.json()["number"]) for r in responses)


def test_the_number_is_stored_and_in_the_history_of_the_create(client):
    publish_app(client, APP, request_form("{dept}-{seq:3}", reset="never"))
    created = client.post(URL, json={"title": "a", "dept": "it"}).json()
    assert created["number"] == "it-001"
    assert client.get(f"{URL}/{created['id']}").json()["number"] == "it-001"
    (entry,) = client.get(f"{URL}/{created['id']}/history").json()["items"]
    assert entry["action"] == "create" and entry["changes"]["number"] == {"before": None, "after": "it-001"}
