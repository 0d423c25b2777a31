"""Flow events reach webhooks: submitted, a step reached, approved, ended."""

from __future__ import annotations

from tests.runtime.flow.office import Office, approval, users
from tests.runtime.integrations.helpers import deliver


def test_a_flow_announces_its_submission_steps_and_outcome(client, receiver):
    office = Office(client)
    office.publish_form()
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    hook = client.post(
        f"/api/apps/{office.app}/webhooks",
        json={"url": receiver.url, "events": ["flow.submitted", "flow.step_reached", "flow.approved", "flow.ended"]},
    )
    assert hook.status_code == 201, hook.text
    record = office.submitted(clerk)
    boss.approve()
    deliver(client)
    payloads = sorted((r.json() for r in receiver.requests), key=lambda p: int(p["id"].removeprefix("evt_")))
    assert [p["type"] for p in payloads] == ["flow.submitted", "flow.step_reached", "flow.approved", "flow.ended"]
    assert {p["data"]["record_id"] for p in payloads} == {record["id"]}
    assert payloads[1]["data"]["node"] == "head"
    assert payloads[3]["data"]["outcome"] == "approved" and payloads[3]["data"]["status"] == "approved"
    assert payloads[3]["data"]["record"]["status"] == "approved"  # read as it then is


def test_an_approved_record_is_changed_by_an_automation_on_flow_approved(client):
    office = Office(client)
    office.publish_form()
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    document = {
        "key": "stamp_approved",
        "label": "Stamp approved requests",
        "form": office.form_key,
        "trigger": {"on": "flow.approved"},
        "actions": [{"kind": "update_record", "values": {"note": "approved: order placed"}}],
    }
    url = f"/api/design/apps/{office.app}/automations/stamp_approved"
    assert client.put(url, json=document).json()["problems"] == []
    assert client.post(f"{url}/publish").status_code == 200
    record = office.submitted(clerk)
    deliver(client)
    assert office.read(record)["note"] is None  # still in review: nothing yet
    boss.approve()
    deliver(client)
    stamped = office.read(record)
    assert stamped["status"] == "approved" and stamped["note"] == "approved: order placed"
