"""An administrator hands someone's open task to another person (a colleague who left): the pure core."""

from __future__ import annotations

from opsloom.runtime.flow.model import HandOver, Notify, Reason
from tests.runtime.flow.builders import ADMIN, ALICE, BOB, CAROL, DAVE, GONE, Instance, approval, line, users


def test_a_pending_task_goes_to_the_new_person_and_the_timeline_says_who_moved_it():
    instance = Instance(line(approval("head", users(BOB)), approval("finance", users(CAROL))))
    instance.submit()
    task = instance.task_of(BOB).id
    effects = instance.apply(HandOver(ADMIN, task, DAVE, comment="Bob left"))
    assert instance.tasks("head") == [("head", BOB, "transferred"), ("head", DAVE, "pending")]
    assert [(e.users, e.kind, e.task) for e in effects if isinstance(e, Notify)] == [
        ((DAVE,), "task", instance.task_of(DAVE).id)
    ]
    handed = instance.log("handed_over")
    assert (handed.actor, handed.comment, handed.detail) == (ADMIN, "Bob left", {"to": DAVE, "from": BOB})
    assert not instance.current.acted  # nobody acted on the record: the submitter may still withdraw it
    instance.approve(DAVE)
    assert instance.pending() == [("finance", CAROL)]


def test_a_task_not_yet_due_keeps_waiting_for_the_new_person():
    instance = Instance(line(approval("seq", users(BOB, CAROL), mode="sequential")))
    instance.submit()
    later = instance.task_of(CAROL, state="waiting").id
    instance.apply(HandOver(ADMIN, later, DAVE))
    assert instance.tasks() == [("seq", BOB, "pending"), ("seq", CAROL, "transferred"), ("seq", DAVE, "waiting")]
    instance.approve(BOB)
    assert instance.pending() == [("seq", DAVE)]
    instance.approve(DAVE)
    assert instance.status == "approved"


def test_a_hand_over_to_someone_inactive_or_already_on_the_step_or_of_a_done_task_is_refused():
    instance = Instance(line(approval("pair", users(BOB, CAROL), mode="countersign")))
    instance.submit()
    task = instance.task_of(BOB).id
    assert instance.refused(HandOver(ADMIN, task, GONE), Reason.INVALID, "active person").path == "to"
    instance.refused(HandOver(ADMIN, task, CAROL), Reason.INVALID, "already has this step")
    instance.refused(HandOver(ADMIN, 999, DAVE), Reason.NO_SUCH_TASK)
    instance.approve(BOB)
    instance.refused(HandOver(ADMIN, task, DAVE), Reason.NOT_NOW)
    assert instance.pending() == [("pair", CAROL)] and ALICE == instance.current.submitter
