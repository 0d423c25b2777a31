"""Time limits: timers start when a task becomes due, reminders repeat up to a cap, and a timeout acts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsloom.runtime.flow.model import Notify, Schedule
from tests.runtime.flow.builders import (
    ALICE,
    BOB,
    CAROL,
    CEO,
    DAVE,
    EAST_HEAD,
    ERIN,
    FINANCE_HEAD,
    FRANK,
    NOW,
    Instance,
    approval,
    hours,
    line,
    org,
    submitter,
    users,
)


def limited(*approvers, mode: str = "any", **time_limit) -> Instance:
    steps = (approval("head", *approvers, mode=mode, time_limit=time_limit), approval("next", users(ERIN)))
    return Instance(line(*steps))


def test_a_task_that_becomes_due_schedules_its_timeout_and_first_reminder():
    instance = limited(users(BOB), hours=48, remind_every_hours=24)
    instance.submit()

    task = instance.task_of(BOB)
    assert task.due_at == (NOW + hours(48)).isoformat()
    assert instance.schedules() == [(task.id, "timeout", NOW + hours(48)), (task.id, "remind", NOW + hours(24))]


def test_a_step_without_a_time_limit_schedules_nothing():
    instance = Instance(line(approval("head", users(BOB))))
    instance.submit()
    assert instance.schedules() == []
    assert instance.task_of(BOB).due_at is None


def test_a_reminder_only_limit_schedules_only_reminders():
    instance = limited(users(BOB), remind_every_hours=2)
    instance.submit()
    assert [kind for _, kind, _ in instance.schedules()] == ["remind"]


def test_only_tasks_whose_turn_it_is_get_timers():
    instance = limited(users(BOB, CAROL), mode="sequential", hours=8)
    instance.submit()
    assert instance.schedules() == [(instance.task_of(BOB).id, "timeout", NOW + hours(8))]

    instance.now = NOW + hours(3)
    instance.approve(BOB)
    carol = instance.task_of(CAROL)
    assert instance.schedules() == [(carol.id, "timeout", NOW + hours(11))]
    assert carol.due_at == (NOW + hours(11)).isoformat()


def test_a_reminder_tells_the_assignee_and_schedules_the_next_one():
    instance = limited(users(BOB), remind_every_hours=24, max_reminders=2)
    instance.submit()
    task = instance.task_of(BOB).id
    instance.now = NOW + hours(24)
    effects = instance.time_out(task, "remind")

    assert Notify((BOB,), "remind", task, "head is still waiting for you") in effects
    assert instance.current.task(task).reminders == 1
    assert instance.schedules() == [(task, "remind", NOW + hours(48))]
    assert instance.log("reminded").detail == {"count": 1}


def test_reminders_stop_at_the_cap():
    instance = limited(users(BOB), remind_every_hours=24, max_reminders=2)
    instance.submit()
    task = instance.task_of(BOB).id
    instance.time_out(task, "remind")
    instance.time_out(task, "remind")

    assert instance.notified("remind") == [((BOB,), "remind")]
    assert instance.schedules() == [], "the second reminder was the last"
    assert instance.current.task(task).reminders == 2


def test_reminders_are_capped_at_three_by_default():
    instance = limited(users(BOB), remind_every_hours=1)
    instance.submit()
    task = instance.task_of(BOB).id
    scheduled = []
    for _ in range(3):
        instance.time_out(task, "remind")
        scheduled.append(len(instance.schedules()))
    assert scheduled == [1, 1, 0]


def test_a_reminder_does_not_change_who_must_act():
    instance = limited(users(BOB), remind_every_hours=1)
    instance.submit()
    instance.time_out(instance.task_of(BOB).id, "remind")
    assert instance.pending() == [("head", BOB)]
    assert instance.status == "running"


def test_on_timeout_escalate_hands_the_task_to_the_assignee_s_manager():
    instance = limited(users(BOB), hours=48, on_timeout="escalate")
    instance.submit()
    task = instance.task_of(BOB).id
    instance.now = NOW + hours(48)
    effects = instance.time_out(task)

    assert instance.tasks("head") == [("head", BOB, "transferred"), ("head", DAVE, "pending")]
    assert instance.current.task(task).auto == "escalated"
    dave = instance.task_of(DAVE)
    assert Notify((DAVE,), "task", dave.id, "head waits for you") in effects
    assert instance.schedules() == [(dave.id, "timeout", NOW + hours(96))], "the manager gets a fresh limit"
    assert instance.logs() == ["timed_out", "escalated"]
    assert instance.log("escalated").detail == {"to": DAVE}

    instance.approve(DAVE)
    assert instance.pending() == [("next", ERIN)]


def test_escalation_goes_to_the_department_head_when_there_is_no_explicit_manager():
    instance = limited(submitter(), hours=1, on_timeout="escalate")
    instance.submit(ALICE)
    instance.time_out(instance.task_of(ALICE).id)
    assert instance.pending() == [("head", EAST_HEAD)]


def test_escalation_of_a_delegated_task_goes_to_the_manager_of_the_person_delegated_for():
    directory = org(delegations=[(BOB, CAROL, NOW - timedelta(days=1), NOW + timedelta(days=9))])
    instance = Instance(
        line(approval("head", users(BOB), time_limit={"hours": 1, "on_timeout": "escalate"})), directory=directory
    )
    instance.submit()
    instance.time_out(instance.task_of(CAROL).id)
    assert instance.pending() == [("head", DAVE)]


@pytest.mark.parametrize("person", [CEO, FRANK])
def test_escalation_with_no_manager_reminds_instead(person):
    instance = limited(users(person), hours=1, on_timeout="escalate")
    instance.submit()
    task = instance.task_of(person).id
    effects = instance.time_out(task)

    assert effects[-1] == Notify((person,), "remind", task, "head is overdue")
    assert instance.pending() == [("head", person)]


def test_on_timeout_approve_approves_automatically():
    instance = limited(users(BOB), hours=1, on_timeout="approve")
    instance.submit()
    task = instance.task_of(BOB).id
    instance.time_out(task)

    assert instance.current.task(task).state == "approved"
    assert instance.current.task(task).auto == "the time limit passed"
    assert instance.pending() == [("next", ERIN)]
    assert instance.logs()[:2] == ["timed_out", "auto_approved"]


def test_on_timeout_approve_counts_as_one_countersignature():
    instance = limited(users(BOB, CAROL), mode="countersign", hours=1, on_timeout="approve")
    instance.submit()
    instance.time_out(instance.task_of(BOB).id)
    assert instance.pending() == [("head", CAROL)]


def test_on_timeout_reject_rejects_automatically():
    instance = limited(users(BOB), hours=1, on_timeout="reject")
    instance.submit()
    task = instance.task_of(BOB).id
    instance.time_out(task)

    assert instance.status == "rejected"
    assert instance.current.task(task).auto == "the time limit passed"
    assert instance.statuses() == ["rejected"]


@pytest.mark.parametrize("limit", [{"hours": 1, "on_timeout": "remind"}, {"hours": 1}])
def test_on_timeout_remind_tells_the_assignee_it_is_overdue(limit):
    instance = limited(users(BOB), **limit)
    instance.submit()
    task = instance.task_of(BOB).id
    effects = instance.time_out(task)

    assert effects[-1] == Notify((BOB,), "remind", task, "head is overdue")
    assert instance.pending() == [("head", BOB)]
    assert instance.log("timed_out").detail == {"then": "remind"}


@pytest.mark.parametrize("kind", ["timeout", "remind"])
def test_a_timer_of_a_task_already_handled_does_nothing(kind):
    instance = limited(users(BOB), hours=1, remind_every_hours=1, on_timeout="reject")
    instance.submit()
    task = instance.task_of(BOB).id
    instance.approve(BOB)
    before = instance.current.as_json()
    effects = instance.time_out(task, kind)

    assert effects == []
    assert instance.current.as_json() == before


def test_a_timer_of_an_ended_flow_or_of_an_unknown_task_does_nothing():
    instance = limited(users(BOB, CAROL), mode="countersign", hours=1, on_timeout="reject")
    instance.submit()
    carol = instance.task_of(CAROL).id
    assert instance.time_out(999) == []
    instance.withdraw()
    assert instance.time_out(carol) == []
    assert instance.status == "withdrawn"


def test_a_timer_of_a_task_put_back_to_waiting_does_nothing():
    instance = limited(users(BOB), hours=1, on_timeout="reject")
    instance.submit()
    bob = instance.task_of(BOB).id
    instance.act(BOB, "add_signer", users=(CAROL,), position="before")
    assert instance.time_out(bob) == []
    assert instance.status == "running"


def test_a_reactivated_task_gets_new_timers():
    instance = limited(users(BOB), hours=1)
    instance.submit()
    bob = instance.task_of(BOB).id
    instance.act(BOB, "add_signer", users=(CAROL,), position="before")
    instance.now = NOW + hours(5)
    instance.approve(CAROL)
    assert instance.schedules() == [(bob, "timeout", NOW + hours(6))]


def test_an_escalated_added_signer_still_releases_the_task_waiting_on_it():
    instance = limited(users(BOB), hours=1, on_timeout="escalate")
    instance.submit()
    instance.act(BOB, "add_signer", users=(CAROL,), position="before")
    instance.time_out(instance.task_of(CAROL).id)
    assert instance.pending() == [("head", FINANCE_HEAD)]
    instance.approve(FINANCE_HEAD)
    assert instance.pending() == [("head", BOB)]


def test_schedules_carry_datetimes_the_shell_can_store():
    instance = limited(users(BOB), hours=1.5, remind_every_hours=0.5)
    instance.submit()
    assert all(isinstance(e.due, type(NOW)) and e.due.tzinfo for e in instance.effects if isinstance(e, Schedule))
    assert instance.schedules()[0][2] == NOW + timedelta(minutes=90)
