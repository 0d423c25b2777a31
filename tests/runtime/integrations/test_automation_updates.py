"""update_record on records of another form: the record a relation links to, or the records linking to the
triggering one; mapped like create_record, written through the record pipeline, harmless when repeated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update

from opsloom.platform import tables
from tests.builders import create, field, form, problem, publish_app, records_url
from tests.runtime.flow.office import Office, approval, users
from tests.runtime.integrations.automation_helpers import publish_automation, runs, save_automation
from tests.runtime.integrations.helpers import deliver

APP = "office"


def publish_accounts_and_calls(client, office: Office | None = None) -> tuple[str, str]:
    """`accounts`, and a form of calls linking to them (the office's own form when given); their URLs."""
    publish_app(
        client, APP, form("accounts", field("name", required=True), field("last_called", "date"), field("tier"))
    )
    calls = [
        field("title", required=True),
        field("account", "relation", form="accounts"),
        field("date", "date"),
        field("tier"),
    ]
    if office is not None:
        return records_url(APP, "accounts"), office.publish_form(*calls, key="calls")
    publish_app(client, APP, form("calls", *calls))
    return records_url(APP, "accounts"), records_url(APP, "calls")


def call_touches_account(calls_form: str = "calls") -> dict[str, Any]:
    return {
        "key": "call_touches_account",
        "label": "A call touches its account",
        "form": calls_form,
        "trigger": {"on": "record.created"},
        "actions": [
            {
                "kind": "update_record",
                "form": "accounts",
                "record": "account",
                "mapping": {"last_called": "date", "tier": {"formula": 'CONCAT(UPPER(title), "-", YEAR(date))'}},
            }
        ],
    }


def tier_reaches_calls(calls_form: str = "calls") -> dict[str, Any]:
    return {
        "key": "tier_reaches_calls",
        "label": "An account's tier reaches its calls",
        "form": "accounts",
        "trigger": {"on": "field_changed", "field": "tier"},
        "actions": [
            {"kind": "update_record", "form": calls_form, "where": {"via": "account"}, "mapping": {"tier": "tier"}}
        ],
    }


def history(client, url: str, record: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get(f"{url}/{record['id']}/history")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_a_call_sets_the_linked_accounts_fields_from_a_mapping_with_a_formula(client):
    accounts, calls = publish_accounts_and_calls(client)
    publish_automation(client, call_touches_account(), app=APP)
    acme = create(client, accounts, name="Acme")
    other = create(client, accounts, name="Other")
    create(client, calls, title="kickoff", account=acme["id"], date="2026-03-05")
    create(client, calls, title="no account", date="2026-03-06")  # nothing linked: nothing to change
    deliver(client)
    assert {k: client.get(f"{accounts}/{acme['id']}").json()[k] for k in ("last_called", "tier")} == {
        "last_called": "2026-03-05",
        "tier": "KICKOFF-2026",
    }
    assert client.get(f"{accounts}/{other['id']}").json()["last_called"] is None
    done = [r for r in runs(client, "call_touches_account", app=APP) if r["outcome"] == "done"]
    shown = sorted((r["detail"]["actions"][0]["record_ids"] for r in done), key=len)
    assert shown == [[], [acme["id"]]]
    (change,) = [h for h in history(client, accounts, acme) if h["action"] == "update"]
    assert change["changes"]["last_called"] == {"before": None, "after": "2026-03-05"}


def test_an_accounts_tier_is_copied_to_every_call_linking_to_it(client):
    accounts, calls = publish_accounts_and_calls(client)
    publish_automation(client, tier_reaches_calls(), app=APP)
    acme, other = create(client, accounts, name="Acme"), create(client, accounts, name="Other")
    mine = [create(client, calls, title=t, account=acme["id"]) for t in ("one", "two")]
    theirs = create(client, calls, title="three", account=other["id"])
    client.delete(f"{calls}/{mine[1]['id']}")  # a deleted call is left alone
    assert client.patch(f"{accounts}/{acme['id']}", json={"tier": "gold"}).status_code == 200
    deliver(client)
    assert client.get(f"{calls}/{mine[0]['id']}").json()["tier"] == "gold"
    assert client.get(f"{calls}/{theirs['id']}").json()["tier"] is None
    (run,) = runs(client, "tier_reaches_calls", app=APP)
    assert run["outcome"] == "done" and run["detail"]["actions"][0]["record_ids"] == [mine[0]["id"]]


def test_a_target_held_by_its_flow_fails_the_run_and_nothing_is_written(client):
    office = Office(client, APP)
    boss = office.person("boss")
    accounts, calls = publish_accounts_and_calls(client, office)
    office.publish_flow(approval("head", users(boss)))
    publish_automation(client, tier_reaches_calls(office.form_key), app=APP)
    acme = create(client, accounts, name="Acme")
    free = create(client, calls, title="free", account=acme["id"])
    held = create(client, calls, title="held", account=acme["id"])
    assert client.post(f"{calls}/{held['id']}/submit", json={}).status_code == 200  # in review now
    client.patch(f"{accounts}/{acme['id']}", json={"tier": "gold"})
    deliver(client)
    (run,) = runs(client, "tier_reaches_calls", app=APP)
    assert run["outcome"] == "failed"
    assert run["detail"]["error"].startswith(f"{office.form_key} record {held['id']} cannot be updated: ")
    assert "in review" in run["detail"]["error"]
    assert client.get(f"{calls}/{free['id']}").json()["tier"] is None  # the call before it is rolled back too
    assert client.get(f"{calls}/{held['id']}").json()["tier"] is None


def test_a_wrong_target_is_refused_at_its_path(client):
    publish_accounts_and_calls(client)
    url = f"/api/design/apps/{APP}/automations/broken"
    document = {
        "key": "broken",
        "label": "Broken",
        "form": "calls",
        "trigger": {"on": "record.created"},
        "actions": [
            {"kind": "update_record", "form": "nowhere", "record": "account", "values": {"x": 1}},
            {"kind": "update_record", "form": "accounts", "record": "title", "values": {"tier": "a"}},
            {"kind": "update_record", "form": "accounts", "where": {"via": "name"}, "values": {"tier": "a"}},
            {"kind": "update_record", "form": "accounts", "record": "account", "mapping": {"ghost": "title"}},
            {"kind": "update_record", "form": "accounts", "record": "account", "mapping": {"tier": {"formula": "1 +"}}},
            {"kind": "update_record", "form": "accounts", "record": "account", "mapping": {"tier": "nope"}},
        ],
    }
    problems = {p["path"]: p["message"] for p in save_automation(client, document, app=APP)["problems"]}
    assert set(problems) == {
        "actions[0].form",
        "actions[1].record",
        "actions[2].where.via",
        "actions[3].mapping.ghost",
        "actions[4].mapping.tier.formula",
        "actions[5].mapping.tier",
    }, problems
    assert problems["actions[1].record"] == "name a relation field of calls linking to accounts"
    assert problems["actions[2].where.via"] == "name a relation field of accounts linking to calls"
    problem(client.post(f"{url}/publish"), 422, "actions[2].where.via")
    which = {"kind": "update_record", "form": "accounts", "values": {"tier": "a"}}  # which of its records?
    (unsaid,) = save_automation(client, document | {"actions": [which]}, app=APP)["problems"]
    assert unsaid["path"] == "actions[0]" and "'record'" in unsaid["message"]


def test_a_repeated_delivery_changes_nothing_and_writes_no_second_history_entry(client):
    accounts, calls = publish_accounts_and_calls(client)
    publish_automation(client, call_touches_account(), app=APP)
    acme = create(client, accounts, name="Acme")
    create(client, calls, title="kickoff", account=acme["id"], date="2026-03-05")
    deliver(client)
    once = client.get(f"{accounts}/{acme['id']}").json()
    entries = history(client, accounts, acme)

    async def deliver_again() -> None:  # as after a worker died between running the actions and marking it
        async with client.app.state.db.session(write=True) as session:
            await session.execute(delete(tables.automation_runs))
            await session.execute(update(tables.outbox).values(dispatched_at=None))

    client.portal.call(deliver_again)
    deliver(client)
    assert [r["outcome"] for r in runs(client, "call_touches_account", app=APP)] == ["done"]
    again = client.get(f"{accounts}/{acme['id']}").json()
    assert (again["version"], again["last_called"], again["tier"]) == (once["version"], "2026-03-05", "KICKOFF-2026")
    assert history(client, accounts, acme) == entries
