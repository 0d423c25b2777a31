"""Handing a step on: transfer, delegate, and adding signers before, after or alongside oneself."""

from __future__ import annotations

import pytest

from opsloom.runtime.flow.model import Act, Notify, Reason
from tests.runtime.flow.builders import (
    BOB,
    CAROL,
    DAVE,
    ERIN,
    GONE,
    Instance,
    approval,
    handler,
    line,
    users,
)


def three_steps(**settings) -> Instance:
    """head (Bob) -> finance (Carol) -> director (Dave)."""
    steps = (approval("head", users(BOB)), approval("finance", users(CAROL)), approval("director", users(DAVE)))
    return Instance(line(*steps, settings=settings))


# ----------------------------------------------------------------- transfer and delegate


def test_transfer_hands_the_step_to_someone_else():
    instance = three_steps()
    instance.submit()
    old = instance.task_of(BOB).id
    effects = instance.act(BOB, "transfer", to=ERIN, comment="Erin knows")

    assert instance.tasks("head") == [("head", BOB, "transferred"), ("head", ERIN, "pending")]
    new = instance.task_of(ERIN)
    assert new.id != old and new.visit == 1
    assert Notify((ERIN,), "task", new.id, "head waits for you") in effects
    assert instance.log("transferred").detail == {"to": ERIN}

    instance.approve(ERIN)
    assert instance.pending() == [("finance", CAROL)]
    assert instance.current.approvals["head"] == [ERIN]


def test_transfer_keeps_the_place_in_a_sequence():
    instance = Instance(line(approval("seq", users(BOB, CAROL), mode="sequential")))
    instance.submit()
    instance.act(BOB, "transfer", to=ERIN)
    assert instance.task_of(ERIN).order == 0
    instance.approve(ERIN)
    assert instance.pending() == [("seq", CAROL)]


@pytest.mark.parametrize(
    "to, why", [(None, "name an active person"), (GONE, "name an active person"), (BOB, "already has")]
)
def test_transfer_needs_an_active_person_not_already_on_the_step(to, why):
    instance = three_steps()
    instance.submit()
    instance.refused(Act(BOB, instance.task_of(BOB).id, "transfer", to=to), Reason.INVALID, why)


def test_transfer_to_someone_with_an_open_task_at_the_step_is_refused():
    instance = Instance(line(approval("pair", users(BOB, CAROL), mode="countersign")))
    instance.submit()
    instance.refused(Act(BOB, instance.task_of(BOB).id, "transfer", to=CAROL), Reason.INVALID, "already has this step")


def test_delegate_lets_someone_act_on_the_same_task_on_one_s_behalf():
    instance = three_steps()
    instance.submit()
    task = instance.task_of(BOB)
    effects = instance.act(BOB, "delegate", to=ERIN)

    delegated = instance.current.task(task.id)
    assert (delegated.assignee, delegated.on_behalf_of, delegated.state) == (ERIN, BOB, "pending")
    assert Notify((ERIN,), "task", task.id, "a task was delegated to you") in effects
    assert instance.log("delegated").detail == {"to": ERIN}
    instance.refused(Act(BOB, task.id, "approve"), Reason.NOT_YOURS, "not yours")

    instance.act(ERIN, "delegate", to=DAVE)
    assert instance.current.task(task.id).on_behalf_of == BOB, "still on behalf of the first person"
    instance.approve(DAVE)
    assert instance.pending() == [("finance", CAROL)]


# ----------------------------------------------------------------- add signer


def test_add_signer_before_waits_for_them_then_comes_back():
    instance = three_steps()
    instance.submit()
    mine = instance.task_of(BOB).id
    instance.act(BOB, "add_signer", users=(ERIN,), position="before", comment="Erin first")

    assert instance.tasks("head") == [("head", BOB, "waiting"), ("head", ERIN, "pending")]
    assert instance.task_of(ERIN).added == "before"
    assert instance.current.task(mine).waits_for == [instance.task_of(ERIN).id]
    assert instance.log("signer_added").detail == {"users": [ERIN], "position": "before"}
    instance.refused(Act(BOB, mine, "approve"), Reason.NOT_NOW, "not your turn")

    instance.approve(ERIN)
    assert instance.tasks("head") == [("head", BOB, "pending"), ("head", ERIN, "approved")]
    instance.approve(BOB)
    assert instance.pending() == [("finance", CAROL)]
    assert instance.current.approvals["head"] == [BOB, ERIN]


def test_add_signer_before_waits_for_every_added_person():
    instance = three_steps()
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN, DAVE, ERIN), position="before")
    assert instance.pending() == [("head", ERIN), ("head", DAVE)]
    instance.approve(ERIN)
    assert instance.task_of(BOB, "waiting")
    instance.approve(DAVE)
    assert instance.pending() == [("head", BOB)]


def test_add_signer_after_asks_them_once_the_adder_approved():
    instance = three_steps()
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN,), position="after")

    assert instance.tasks("head") == [("head", BOB, "pending"), ("head", ERIN, "waiting")]
    instance.approve(BOB)
    assert instance.pending() == [("head", ERIN)]
    assert instance.notices("task")[0].users == (ERIN,)
    instance.approve(ERIN)
    assert instance.pending() == [("finance", CAROL)]


def test_add_signer_in_parallel_the_step_waits_for_them():
    instance = three_steps()
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN,), position="parallel")

    assert instance.pending() == [("head", BOB), ("head", ERIN)]
    instance.approve(BOB)
    assert instance.pending() == [("head", ERIN)], "the step waits for the added signer"
    instance.approve(ERIN)
    assert instance.pending() == [("finance", CAROL)]


def test_add_signer_in_parallel_can_approve_first():
    instance = three_steps()
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN,), position="parallel")
    instance.approve(ERIN)
    assert instance.pending() == [("head", BOB)]
    instance.approve(BOB)
    assert instance.pending() == [("finance", CAROL)]


@pytest.mark.parametrize("position", ["before", "after", "parallel"])
def test_a_rejection_by_an_added_signer_fails_the_step(position):
    instance = three_steps()
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN,), position=position)
    if position == "after":
        instance.approve(BOB)
    instance.reject(ERIN)

    assert instance.status == "rejected"
    assert instance.open() == []


def test_a_return_by_an_added_signer_fails_the_step_back_to_the_submitter():
    instance = three_steps()
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN,), position="parallel")
    instance.send_back(ERIN, "submitter")
    assert instance.status == "returned"


def test_add_signer_in_a_handler_step_adds_handler_tasks():
    instance = Instance(line(handler("fill", users(BOB))))
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN,), position="parallel")
    assert instance.task_of(ERIN).kind == "handler"


@pytest.mark.parametrize(
    "options, why",
    [
        ({"users": ()}, "name one or more active people"),
        ({"users": (GONE,)}, "name one or more active people"),
        ({"users": (ERIN,), "position": "beside"}, "before, after or parallel"),
    ],
)
def test_add_signer_needs_active_people_and_a_known_position(options, why):
    instance = three_steps()
    instance.submit()
    instance.refused(Act(BOB, instance.task_of(BOB).id, "add_signer", **options), Reason.INVALID, why)


def test_an_added_signer_before_can_hand_their_task_on():
    instance = three_steps()
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN,), position="before")
    instance.act(ERIN, "transfer", to=DAVE)
    instance.approve(DAVE)

    assert instance.pending() == [("head", BOB)], "Bob's turn comes after whoever took Erin's task"


def test_a_transferred_task_brings_its_after_signers_along():
    instance = three_steps()
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN,), position="after")
    instance.act(BOB, "transfer", to=DAVE)
    instance.approve(DAVE)

    assert instance.pending() == [("head", ERIN)]
    instance.approve(ERIN)
    assert instance.pending() == [("finance", CAROL)]


def test_an_after_signer_who_adds_a_signer_before_waits_for_them_whatever_else_happens():
    instance = Instance(line(approval("pair", users(BOB, CAROL), mode="countersign")))
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN,), position="after")
    instance.approve(BOB)
    instance.act(ERIN, "add_signer", users=(DAVE,), position="before")
    instance.approve(CAROL)  # the step settles again while Dave has not signed

    assert instance.task_of(ERIN, "waiting").waits_for == [instance.task_of(DAVE).id]
    instance.approve(DAVE)
    instance.approve(ERIN)
    assert instance.status == "approved"
