"""Time limits: reminders, escalation, automatic approval and rejection, fired by the worker.

`fire` runs the worker's round on the app's own loop with a clock set past the
due time, so nothing here waits; the CLI test alone waits a second for a real
deadline.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from opsloom.cli import main
from opsloom.runtime.flow.instances import Services
from opsloom.runtime.flow.timers import run_due_timers
from tests.runtime.flow.office import Office, approval, users


def fire(client, at: datetime) -> int:
    """Fire the timers due by `at`, as `opsloom worker` would; answer how many it took."""

    async def run() -> int:
        services = Services(client.app.state.forms, client.app.state.flows)
        return await run_due_timers(client.app.state.db, services, now=at)

    return client.portal.call(run)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def started(person) -> datetime:
    """When `person`'s one pending task started."""
    [task] = person.tasks()
    return moment(task["created_at"])


@pytest.fixture
def office(client):
    office = Office(client)
    office.publish_form()
    return office


def _limited(office, **time_limit):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), time_limit=time_limit))
    return boss, clerk


def test_reminders_repeat_every_period_up_to_their_cap(office, client):
    boss, clerk = _limited(office, remind_every_hours=24, max_reminders=2)
    record = office.submitted(clerk)
    t0 = started(boss)
    assert fire(client, t0 + timedelta(hours=23)) == 0
    assert fire(client, t0 + timedelta(hours=25)) == 1
    assert boss.notified() == ["task", "remind"]
    assert fire(client, t0 + timedelta(hours=26)) == 0  # the next one is a period later
    assert fire(client, t0 + timedelta(hours=50)) == 1
    assert fire(client, t0 + timedelta(days=30)) == 0  # capped at two
    assert boss.notified() == ["task", "remind", "remind"]
    reminded = [e for e in office.events(record) if e["action"] == "reminded"]
    assert [(e["node"], e["detail"]["count"], e["actor_id"]) for e in reminded] == [
        ("head", 1, None),
        ("head", 2, None),
    ]
    assert office.status(record) == "in_review" and boss.task()


def test_an_overdue_task_escalates_to_the_approvers_manager(office, client):
    boss, clerk = _limited(office, hours=48, on_timeout="escalate")
    chief = office.person("chief")
    office.move(boss, manager_id=chief.id)
    record = office.submitted(clerk)
    [task] = boss.tasks()
    due = moment(task["due_at"])
    assert due == moment(task["created_at"]) + timedelta(hours=48)
    assert fire(client, due - timedelta(minutes=1)) == 0
    assert fire(client, due + timedelta(minutes=1)) == 1
    assert boss.tasks() == [] and [t["state"] for t in boss.tasks("done")] == ["transferred"]
    [escalated] = chief.tasks()
    assert escalated["node"] == "head" and chief.notified() == ["task"]
    assert [a for a, _ in office.story(record)][-2:] == ["timed_out", "escalated"]

    # the chief has nobody above: when their time runs out they are reminded instead
    assert fire(client, moment(escalated["due_at"]) + timedelta(minutes=1)) == 1
    assert chief.notified() == ["task", "remind"] and chief.task()
    chief.approve()
    assert office.status(record) == "approved"


def test_an_overdue_task_can_be_approved_automatically(office, client):
    boss, clerk = _limited(office, hours=8, on_timeout="approve")
    record = office.submitted(clerk)
    [task] = boss.tasks()
    assert fire(client, moment(task["due_at"]) + timedelta(seconds=1)) == 1
    assert office.status(record) == "approved"
    assert boss.tasks() == [] and [t["state"] for t in boss.tasks("done")] == ["approved"]
    [auto] = [e for e in office.events(record) if e["action"] == "auto_approved"]
    assert auto["detail"]["reason"] == "the time limit passed" and auto["actor_id"] is None
    assert clerk.notified() == ["approved"]


def test_an_overdue_task_can_be_rejected_automatically(office, client):
    boss, clerk = _limited(office, hours=8, on_timeout="reject")
    record = office.submitted(clerk)
    [task] = boss.tasks()
    assert fire(client, moment(task["due_at"]) + timedelta(seconds=1)) == 1
    assert office.status(record) == "rejected"
    assert boss.tasks() == []
    assert clerk.notified() == ["rejected"]
    assert ("timed_out", "head") in office.story(record)


def test_timers_of_tasks_handled_meanwhile_do_nothing(office, client):
    boss, clerk = _limited(office, hours=8, on_timeout="reject", remind_every_hours=2)
    approved = office.submitted(clerk)
    boss.approve()
    withdrawn = office.submitted(clerk)
    assert clerk.post(f"{office.record_url(withdrawn)}/withdraw").status_code == 200
    assert fire(client, datetime.now(UTC) + timedelta(days=2)) == 4  # a timeout and a reminder each
    assert (office.status(approved), office.status(withdrawn)) == ("approved", "withdrawn")
    for record in (approved, withdrawn):
        assert not {"timed_out", "reminded"} & {a for a, _ in office.story(record)}
    assert boss.notified() == ["task", "task"]
    assert fire(client, datetime.now(UTC) + timedelta(days=30)) == 0


def test_a_timer_its_instance_cannot_take_is_set_aside_not_retried_forever(office, client):
    from tests.builders import field, form, publish_app

    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    target = f"target_{office.serial}"
    publish_app(client, office.app, form(target, field("total", "decimal", precision=12, scale=2)))
    broken = {"kind": "create_record", "form": target, "mapping": {"total": {"value": "lots"}}}
    office.publish_flow(
        approval("head", users(boss), time_limit={"hours": 1, "on_timeout": "approve"}),
        {"id": "copy", "type": "action", "action": broken},
    )
    record = office.submitted(clerk)
    due = moment(boss.tasks()[0]["due_at"])
    assert fire(client, due + timedelta(minutes=1)) == 1
    assert fire(client, due + timedelta(days=1)) == 0
    assert office.status(record) == "in_review" and boss.task()
    assert "timed_out" not in [a for a, _ in office.story(record)]
    problem = boss.act("approve")  # by hand the step fails the same way, and says why
    assert problem.status_code == 409 and "copy" in problem.json()["detail"]


def test_opsloom_worker_once_fires_what_is_due_and_exits(office, settings):
    boss, clerk = _limited(office, hours=0.0003, on_timeout="approve")  # about a second
    record = office.submitted(clerk)
    [task] = boss.tasks()
    wait = (moment(task["due_at"]) - datetime.now(UTC)).total_seconds()
    time.sleep(max(wait, 0) + 0.3)
    env = {"OPSLOOM_DATABASE_URL": settings.database_url, "OPSLOOM_DATA_DIR": str(settings.data_dir)}
    ran = CliRunner().invoke(main, ["worker", "--once"], env=env, catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    assert ran.output.startswith("fired 1 timers;")
    assert office.status(record) == "approved"
    again = CliRunner().invoke(main, ["worker", "--once"], env=env, catch_exceptions=False)
    assert again.output.startswith("fired 0 timers;")
