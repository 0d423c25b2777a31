"""Automation triggers: a schedule in a time zone, a date field reached, a field changed from → to,
a flow step reached. Timed triggers fire once per slot (or record and date), however many workers run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from opsloom.runtime.integrations.worker import OutboxWorker
from tests.builders import field, form, list_all, publish_app, records_url
from tests.runtime.flow.office import Office, approval, users
from tests.runtime.integrations.automation_helpers import publish_automation, runs, save_automation, when_published
from tests.runtime.integrations.helpers import APP, FORM, URL, deliver, publish_orders

REPORTS = records_url(APP, "reports")


def reports(client) -> list[dict]:
    return sorted(list_all(client, REPORTS), key=lambda r: r["id"])


SHANGHAI = ZoneInfo("Asia/Shanghai")


def publish_reports(client) -> None:
    publish_app(client, APP, form("reports", field("title"), field("note")))


def daily_report(**trigger) -> dict:
    return {
        "key": "daily_report",
        "label": "Daily report",
        "form": FORM,
        "trigger": {"on": "schedule", "cron": "0 9 * * *", "timezone": "Asia/Shanghai"} | trigger,
        "actions": [
            {"kind": "create_record", "form": "reports", "mapping": {"title": {"formula": '"Daily " & "report"'}}}
        ],
    }


def next_nine_in_shanghai(after: datetime) -> datetime:
    local = after.astimezone(SHANGHAI)
    nine = local.replace(hour=9, minute=0, second=0, microsecond=0)
    return (nine if nine > local else nine + timedelta(days=1)).astimezone(UTC)


def test_a_schedule_fires_once_at_each_slot_of_its_cron_expression_in_its_time_zone(client):
    publish_orders(client)
    publish_reports(client)
    publish_automation(client, daily_report())
    slot = next_nine_in_shanghai(when_published(client, "daily_report"))
    assert slot.hour == 1  # 09:00 in Shanghai is 01:00 UTC
    deliver(client, slot - timedelta(seconds=1))
    assert list_all(client, REPORTS) == []
    deliver(client, slot)
    deliver(client, slot + timedelta(minutes=30))  # the same slot: not again
    assert [r["title"] for r in list_all(client, REPORTS)] == ["Daily report"]
    deliver(client, slot + timedelta(days=2, hours=3))  # a worker down for a day fires the slot it missed once
    assert len(list_all(client, REPORTS)) == 2
    assert [r["fire_key"] for r in runs(client, "daily_report")] == [
        f"cron:{(slot + timedelta(days=2)).isoformat()}",
        f"cron:{slot.isoformat()}",
    ]
    assert all(r["outcome"] == "done" for r in runs(client, "daily_report"))


def test_two_workers_at_the_same_slot_fire_it_once(client):
    publish_orders(client)
    publish_reports(client)
    publish_automation(client, daily_report())
    slot = next_nine_in_shanghai(when_published(client, "daily_report"))
    state = client.app.state

    async def two_at_once() -> list[int]:
        workers = [OutboxWorker(state.db, state.forms, state.settings, f"worker-{i}") for i in range(2)]
        try:
            rounds = await asyncio.gather(*(w.round(slot) for w in workers))
            return sorted(r.fired for r in rounds)
        finally:
            for w in workers:
                await w.close()

    assert client.portal.call(two_at_once) == [0, 1]
    assert len(list_all(client, REPORTS)) == 1


def test_a_schedule_with_a_condition_runs_for_each_matching_record(client):
    publish_orders(client)
    publish_reports(client)
    document = daily_report(cron="*/15 * * * *") | {
        "condition": {"field": "amount", "op": "gt", "value": 100},
        "actions": [{"kind": "update_record", "values": {"title": "reviewed"}}],
    }
    publish_automation(client, document)
    big = client.post(URL, json={"title": "Desks", "amount": "900.00"}).json()
    small = client.post(URL, json={"title": "Pens", "amount": "5.00"}).json()
    slot = when_published(client, "daily_report").replace(second=0, microsecond=0) + timedelta(minutes=15)
    deliver(client, slot)
    assert client.get(f"{URL}/{big['id']}").json()["title"] == "reviewed"
    assert client.get(f"{URL}/{small['id']}").json()["title"] == "Pens"
    assert [r["record_id"] for r in runs(client, "daily_report")] == [big["id"]]


def test_a_schedule_that_is_not_cron_or_updates_without_a_record_is_refused(client):
    publish_orders(client)
    publish_reports(client)
    saved = save_automation(client, daily_report(cron="every day at nine"))
    assert [p["path"] for p in saved["problems"]] == ["trigger.cron"]
    recordless = daily_report() | {"actions": [{"kind": "update_record", "values": {"title": "x"}}]}
    saved = save_automation(client, recordless)
    assert [p["path"] for p in saved["problems"]] == ["actions[0]"]
    saved = save_automation(client, daily_report(timezone="Mars/Olympus"))
    assert [p["path"] for p in saved["problems"]] == ["trigger.timezone"]


def test_a_date_reached_fires_once_per_record_and_date_value(client):
    publish_app(client, APP, form("contracts", field("title"), field("end_date", "date")))
    publish_reports(client)
    contracts = records_url(APP, "contracts")
    document = {
        "key": "renewal_reminder",
        "label": "Renewal reminder",
        "form": "contracts",
        "trigger": {"on": "date_reached", "field": "end_date", "offset_days": -3},
        "actions": [{"kind": "create_record", "form": "reports", "mapping": {"title": "title", "note": "end_date"}}],
    }
    publish_automation(client, document)
    published = when_published(client, "renewal_reminder")
    today = published.date()

    def contract(title: str, end: object) -> dict:
        created = client.post(contracts, json={"title": title, "end_date": end})
        assert created.status_code == 201, created.text
        return created.json()

    later = contract("Later", (today + timedelta(days=5)).isoformat())
    contract("Now", (today + timedelta(days=3)).isoformat())
    contract("Long gone", (today - timedelta(days=10)).isoformat())  # before it was published: never
    contract("No date", None)
    deliver(client, published + timedelta(minutes=1))
    assert [r["title"] for r in list_all(client, REPORTS)] == ["Now"]
    deliver(client, published + timedelta(days=2))
    deliver(client, published + timedelta(days=3))
    assert [r["title"] for r in reports(client)] == ["Now", "Later"]
    moved = (today + timedelta(days=9)).isoformat()
    client.patch(f"{contracts}/{later['id']}", json={"end_date": moved})
    deliver(client, published + timedelta(days=5))
    assert len(list_all(client, REPORTS)) == 2
    deliver(client, published + timedelta(days=6))  # the new date is reached: once more
    assert [r["note"] for r in reports(client)][-1] == moved
    keys = [r["fire_key"] for r in runs(client, "renewal_reminder")]
    assert keys[0] == f"date:{later['id']}:{moved}" and len(keys) == 3


def test_a_date_trigger_needs_a_date_field(client):
    publish_app(client, APP, form("contracts", field("title"), field("end_date", "date")))
    document = {
        "key": "renewal_reminder",
        "label": "Renewal reminder",
        "form": "contracts",
        "trigger": {"on": "date_reached", "field": "title"},
        "actions": [{"kind": "update_record", "values": {"title": "x"}}],
    }
    assert [p["path"] for p in save_automation(client, document)["problems"]] == ["trigger.field"]


def test_a_field_changed_from_one_value_to_another(client):
    publish_app(client, APP, form(FORM, field("title"), field("stage")))
    publish_reports(client)
    document = {
        "key": "approved_report",
        "label": "Approved report",
        "form": FORM,
        "trigger": {"on": "field_changed", "field": "stage", "from": "draft", "to": "approved"},
        "actions": [{"kind": "create_record", "form": "reports", "mapping": {"title": "title"}}],
    }
    publish_automation(client, document)
    a = client.post(URL, json={"title": "A", "stage": "draft"}).json()
    b = client.post(URL, json={"title": "B", "stage": "review"}).json()
    client.patch(f"{URL}/{b['id']}", json={"stage": "approved"})  # from review: not this trigger
    client.patch(f"{URL}/{a['id']}", json={"stage": "review"})  # to review: not this trigger
    c = client.post(URL, json={"title": "C", "stage": "draft"}).json()
    client.patch(f"{URL}/{c['id']}", json={"stage": "approved"})
    deliver(client)
    assert [r["title"] for r in list_all(client, REPORTS)] == ["C"]


def test_a_flow_step_reached_starts_an_automation_for_that_step_only(client):
    office = Office(client)
    office.publish_form()
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    for node, key in (("head", "at_head"), ("elsewhere", "elsewhere")):
        document = {
            "key": key,
            "label": key,
            "form": office.form_key,
            "trigger": {"on": "flow.step_reached", "node": node},
            "actions": [{"kind": "update_record", "values": {"title": f"reached {node}"}}],
        }
        publish_automation(client, document, app=office.app)
    record = office.submitted(clerk)
    deliver(client)
    assert client.get(f"{office.url}/{record['id']}").json()["title"] == "reached head"
    assert [r["outcome"] for r in runs(client, "at_head", app=office.app)] == ["done"]
    assert runs(client, "elsewhere", app=office.app) == []
