"""The flow simulator and rollback over HTTP, on the procurement example (both databases).

The simulator answers the route a sample request would take and the named people at each step, for
the draft or a published version, and writes nothing; rollback publishes an earlier version again.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from opsloom.platform import tables
from tests.builders import problem
from tests.conftest import query
from tests.runtime.flow.test_procurement_flow import APP, BIG, REQUESTS, Company

FLOW = f"/api/design/apps/{APP}/flows/purchase_approval"


@pytest.fixture
def company(client) -> Company:
    return Company(client)


def simulate(client, **body: Any) -> dict[str, Any]:
    response = client.post(f"{FLOW}/simulate", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def route(answer: dict[str, Any]) -> list[tuple[str, list[int]]]:
    return [(step["node"], [p["id"] for p in step["people"]]) for step in answer["steps"]]


def test_a_request_of_50000_skips_the_vice_president(company, client):
    c = company
    answer = simulate(client, values={"amount": "50000"}, submitter=c.requester.id)
    assert route(answer) == [
        ("head", [c.head.id]),
        ("amount_check", []),
        ("finance", [c.qian.id, c.sun.id]),
        ("cc_manager", [c.lead.id]),
    ]
    assert answer["steps"][1]["branch"] == "else" and answer["steps"][2]["mode"] == "countersign"
    assert answer["outcome"] == "approved" and answer["submitter"]["id"] == c.requester.id
    assert answer["steps"][0]["people"][0]["name"]  # named, not only numbered


def test_a_request_over_100000_goes_to_the_vice_president_with_the_amount_computed_from_its_lines(company, client):
    c = company
    lines = [{"item": item, "qty": qty, "unit_price": price} for item, qty, price in BIG]  # 105,600
    answer = simulate(client, values={"items": lines, "title": "Laptops"}, submitter=c.requester.id)
    assert [node for node, _ in route(answer)] == [
        "head",
        "amount_check",
        "vp",
        "finance",
        "cc_manager",
    ]
    assert route(answer)[2] == ("vp", [c.vp.id])
    assert answer["steps"][1]["branch"] == 0 and answer["steps"][1]["branch_label"]["en"] == "Over 100,000"


def test_the_simulator_writes_nothing(company, client):
    c = company
    counted = [tables.flow_instances, tables.flow_tasks, tables.notifications, tables.audit_log]
    before = [query(client, select(func.count()).select_from(t))[0][0] for t in counted]
    simulate(client, values={"amount": "150000"}, submitter=c.requester.id)
    simulate(client, values={"amount": "150000"}, submitter=c.requester.id, version=1)
    after = [query(client, select(func.count()).select_from(t))[0][0] for t in counted]
    assert after == before
    assert client.get(REQUESTS).json()["items"] == []


def test_the_draft_and_the_published_version_are_simulated_each_as_it_is(company, client):
    c = company
    draft = client.get(FLOW).json()["draft"]
    for n in draft["nodes"]:
        if n["id"] == "amount_check":
            n["branches"][0]["condition"]["value"] = "200000"
    assert client.put(FLOW, json=draft).status_code == 200
    values = {"amount": "150000"}
    assert "vp" not in [s["node"] for s in simulate(client, values=values, submitter=c.requester.id)["steps"]]
    published = simulate(client, values=values, submitter=c.requester.id, version=1)
    assert "vp" in [s["node"] for s in published["steps"]] and published["version"] == 1


def test_bad_samples_are_refused_with_the_path_of_what_is_wrong(company, client):
    c = company
    problem(client.post(f"{FLOW}/simulate", json={"values": {}, "submitter": 2**40}), 422, "submitter")
    problem(
        client.post(f"{FLOW}/simulate", json={"values": {"amount_x": 1}, "submitter": c.requester.id}),
        422,
        "values.amount_x",
    )
    problem(
        client.post(f"{FLOW}/simulate", json={"values": {"needed_by": "soon"}, "submitter": c.requester.id}),
        422,
        "values.needed_by",
    )
    problem(client.post(f"{FLOW}/simulate", json={"submitter": c.requester.id, "version": 9}), 422, "version")
    problem(client.post(f"{FLOW}/simulate", json={"submitter": c.requester.id, "extra": 1}), 400, "extra")
    problem(client.post(f"/api/design/apps/{APP}/flows/nothing/simulate", json={"submitter": c.requester.id}), 404)
    problem(c.requester.post(f"{FLOW}/simulate", {"submitter": c.requester.id}), 403)


def test_a_draft_with_problems_is_not_simulated(company, client):
    c = company
    draft = client.get(FLOW).json()["draft"]
    draft["nodes"] = [n for n in draft["nodes"] if n["id"] != "vp"]  # the branch now leads nowhere
    assert client.put(FLOW, json=draft).status_code == 200
    body = problem(client.post(f"{FLOW}/simulate", json={"submitter": c.requester.id}), 422)
    assert any(e["path"].startswith("nodes[") for e in body["errors"])


def test_rolling_back_publishes_the_earlier_version_again_and_new_requests_follow_it(company, client):
    c = company
    draft = client.get(FLOW).json()["draft"]
    original = [dict(n) for n in draft["nodes"]]
    draft["nodes"] = [n for n in draft["nodes"] if n["id"] != "cc_manager"]
    for n in draft["nodes"]:
        if n["id"] == "finance":
            n["next"] = "end"
    assert client.put(FLOW, json=draft).status_code == 200
    assert client.post(f"{FLOW}/publish").json()["version"] == 2

    rolled = client.post(f"{FLOW}/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"] == 3 and rolled.json()["rolled_back_to"] == 1
    assert [v["version"] for v in client.get(f"{FLOW}/versions").json()["items"]] == [3, 2, 1]
    assert client.get(f"{FLOW}/versions/3").json()["document"]["nodes"] == original
    assert client.get(FLOW).json()["draft"]["nodes"] == original

    request = c.request(("Keyboard", 1, "300.00"))
    assert c.requester.post(f"{REQUESTS}/{request['id']}/submit", {}).status_code == 200
    c.head.approve()
    c.qian.approve()
    c.sun.approve()
    assert c.lead.tasks("cc")[0]["node"] == "cc_manager"  # version 3 has the CC again


def test_rollback_to_a_version_that_does_not_exist_is_refused(company, client):
    c = company
    problem(client.post(f"{FLOW}/rollback", json={"version": 7}), 422, "version")
    problem(client.post(f"{FLOW}/rollback", json={}), 400, "version")
    problem(c.requester.post(f"{FLOW}/rollback", {"version": 1}), 403)
    assert [v["version"] for v in client.get(f"{FLOW}/versions").json()["items"]] == [1]


def test_two_designers_saving_one_flow_draft_the_later_stale_save_is_told(company, client):
    """The flow designer's autosave sends If-Match: a save based on an older revision answers 412."""
    read = client.get(FLOW)
    draft, revision = read.json()["draft"], read.json()["draft_revision"]
    assert read.headers["ETag"] == f'"{revision}"'
    first = client.put(FLOW, json={**draft, "label": "First"}, headers={"If-Match": f'"{revision}"'})
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == f'"{first.json()["draft_revision"]}"' != f'"{revision}"'
    stale = client.put(FLOW, json={**draft, "label": "Second"}, headers={"If-Match": f'"{revision}"'})
    problem(stale, 412)
    assert client.get(FLOW).json()["draft"]["label"] == "First"
    problem(client.put(FLOW, json=draft, headers={"If-Match": "yesterday"}), 400, "If-Match")
