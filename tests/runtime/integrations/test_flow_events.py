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
