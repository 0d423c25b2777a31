"""The metric trigger ("data alert"): a report's grand total checked at the slots of a cron expression;
the actions run when the total crosses the threshold, once, not at every slot while it stays beyond."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from opsloom.platform import tables
from tests.builders import field, form, list_all, problem, publish_app, records_url
from tests.conftest import query
from tests.runtime.integrations.automation_helpers import publish_automation, runs, save_automation, when_published
from tests.runtime.integrations.helpers import APP, FORM, URL, deliver, publish_orders

ALERTS = records_url(APP, "alerts")


def setup(client) -> None:
    publish_orders(client)
    publish_app(client, APP, form("alerts", field("title"), field("note")))
    spend = {
        "key": "spend",
        "label": "Spend",
        "form": FORM,
        "dimensions": [],
        "measures": [{"key": "orders", "agg": "count"}, {"key": "total", "agg": "sum", "field": "amount"}],
    }
    saved = client.put(f"/api/design/apps/{APP}/reports/spend", json=spend)
    assert saved.status_code == 200, saved.text
    assert client.post(f"/api/design/apps/{APP}/reports/spend/publish").status_code == 200


def alert(**trigger) -> dict:
    return {
        "key": "big_spend",
        "label": "Spend above 1,000",
        "form": FORM,
        "trigger": {"on": "metric", "report": "spend", "measure": "total", "op": "gt", "value": 1000}
        | {"cron": "*/15 * * * *"}
        | trigger,
        "actions": [{"kind": "create_record", "form": "alerts", "mapping": {"title": {"formula": '"Spend is high"'}}}],
    }


def test_the_actions_run_when_the_total_crosses_the_threshold_and_not_again_while_it_stays(client):
    setup(client)
    publish_automation(client, alert())
    start = when_published(client, "big_spend").replace(second=0, microsecond=0)
    slot = start + timedelta(minutes=15 - start.minute % 15)
    client.post(URL, json={"title": "Desks", "amount": "600.00"})
    deliver(client, slot)  # 600: below
    assert list_all(client, ALERTS) == []
    client.post(URL, json={"title": "Chairs", "amount": "700.00"})
    deliver(client, slot + timedelta(minutes=15))  # 1,300: crossed
    deliver(client, slot + timedelta(minutes=30))  # still above: nothing new
    assert [a["title"] for a in list_all(client, ALERTS)] == ["Spend is high"]
    chairs = next(o for o in list_all(client, URL) if o["title"] == "Chairs")
    assert client.delete(f"{URL}/{chairs['id']}").status_code == 204
    deliver(client, slot + timedelta(minutes=45))  # 600: back below
    client.post(URL, json={"title": "Lamps", "amount": "900.00"})
    deliver(client, slot + timedelta(minutes=60))  # 1,500: crossed again
    assert len(list_all(client, ALERTS)) == 2
    r = tables.automation_runs
    readings = query(
        client, select(r.c.outcome, r.c.detail, r.c.fire_key).where(r.c.automation_key == "big_spend").order_by(r.c.id)
    )
    assert [(o, d["metric"], d["holds"]) for o, d, _ in readings] == [
        ("skipped", "600.00", False),
        ("done", "1300.00", True),
        ("skipped", "1300.00", True),
        ("skipped", "600.00", False),
        ("done", "1500.00", True),
    ]
    assert all(key.startswith("metric:") for _, _, key in readings)
    assert [run["outcome"] for run in runs(client, "big_spend")] == ["done", "done"]  # the log shows firings


def test_a_metric_names_a_published_report_and_measure_and_needs_no_record(client):
    setup(client)
    wrong = save_automation(client, alert(report="nope"))
    assert [p["path"] for p in wrong["problems"]] == ["trigger.report"]
    wrong = save_automation(client, alert(measure="average"))
    assert "orders, total" in next(p["message"] for p in wrong["problems"] if p["path"] == "trigger.measure")
    with_record = alert() | {"actions": [{"kind": "update_record", "values": {"title": "x"}}]}
    assert [p["path"] for p in save_automation(client, with_record)["problems"]] == ["actions[0]"]
    problem(client.post(f"/api/design/apps/{APP}/automations/big_spend/publish"), 422, "actions[0]")
    incomplete = save_automation(client, alert() | {"trigger": {"on": "metric", "report": "spend"}})
    assert {p["path"] for p in incomplete["problems"]} >= {"trigger"}
