"""What people do to a running flow: reject, return, resubmit, withdraw, urge, comment; and who may not.

Transfer, delegate and added signers: test_engine_signers.py."""

from __future__ import annotations

from opsloom.runtime.flow.model import Act, Notify, Reason, SetStatus, Submit, Urge, Withdraw
from tests.runtime.flow.builders import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    Instance,
    approval,
    flow,
    line,
    node,
    users,
)


def three_steps(**settings) -> Instance:
    """head (Bob) -> finance (Carol) -> director (Dave)."""
    steps = (approval("head", users(BOB)), approval("finance", users(CAROL)), approval("director", users(DAVE)))
    return Instance(line(*steps, settings=settings))


# ----------------------------------------------------------------- reject


def test_reject_with_on_reject_submitter_returns_the_record_as_a_draft():
    instance = Instance(line(approval("head", users(BOB, CAROL), mode="countersign", on_reject="submitter")))
    instance.submit()
    effects = instance.reject(BOB, comment="fix the amount")

    assert instance.status == "returned"
    assert instance.current.return_to == "head"
    assert instance.current.tokens == []
    assert instance.tasks() == [("head", BOB, "rejected"), ("head", CAROL, "cancelled")]
    assert instance.statuses() == ["draft"]
    assert Notify((ALICE,), "returned") in effects
    assert instance.logs() == ["rejected", "returned_to_submitter"]


def test_reject_with_on_reject_end_ends_the_flow():
    instance = Instance(line(approval("head", users(BOB), on_reject="end")))
    instance.submit()
    instance.reject(BOB)
    assert instance.status == "rejected"


def test_a_rejection_needs_a_comment_saying_why():
    instance = Instance(line(approval("head", users(BOB))))
    instance.submit()
    task = instance.task_of(BOB).id
    for comment in (None, "", "  \n "):
        refused = instance.refused(Act(BOB, task, "reject", comment=comment), Reason.INVALID, "needs a comment")
        assert refused.path == "comment"
    instance.reject(BOB, comment="no budget")
    assert instance.status == "rejected"


# ----------------------------------------------------------------- return


def test_return_to_the_submitter():
    instance = three_steps()
    instance.submit()
    instance.approve(BOB)
    effects = instance.send_back(CAROL, "submitter", comment="attach the quote")

    assert instance.status == "returned"
    assert instance.current.return_to == "finance"
    assert instance.tasks() == [("head", BOB, "approved"), ("finance", CAROL, "returned")]
    assert instance.statuses() == ["draft"]
    assert Notify((ALICE,), "returned") in effects
    returned = instance.effects[0]
    assert (returned.action, returned.actor, returned.comment, returned.detail) == (
        "returned",
        CAROL,
        "attach the quote",
        {"to": "submitter"},
    )


def test_return_without_a_target_goes_to_the_submitter():
    instance = three_steps()
    instance.submit()
    instance.send_back(BOB)
    assert instance.status == "returned"


def test_return_to_the_previous_step_asks_its_approver_again():
    instance = three_steps()
    instance.submit()
    instance.approve(BOB)
    instance.send_back(CAROL, "previous")

    assert instance.status == "running"
    assert instance.tasks() == [("head", BOB, "approved"), ("finance", CAROL, "returned"), ("head", BOB, "pending")]
    assert instance.task_of(BOB).visit == 2
    assert instance.current.passed == []
    assert instance.tokens() == [("head", (), False)]
    assert instance.log("returned").detail == {"to": "head"}

    instance.approve(BOB)
    assert instance.pending() == [("finance", CAROL)]
    assert instance.task_of(CAROL).visit == 2


def test_return_to_the_previous_step_from_the_first_goes_to_the_submitter():
    instance = three_steps()
    instance.submit()
    instance.send_back(BOB, "previous")
    assert instance.status == "returned"


def test_return_to_any_step_the_record_passed():
    instance = three_steps()
    instance.submit()
    instance.approve(BOB)
    instance.approve(CAROL)
    instance.send_back(DAVE, "head")

    assert instance.pending() == [("head", BOB)]
    assert instance.current.passed == []


def test_return_to_a_step_not_passed_is_refused_with_the_choices():
    instance = three_steps()
    instance.submit()
    instance.approve(BOB)
    task = instance.task_of(CAROL).id
    error = instance.refused(Act(CAROL, task, "return", target="director"), Reason.INVALID, "'director' is not a step")
    assert "submitter, previous, head" in str(error)
    instance.refused(Act(CAROL, task, "return", target="nowhere"), Reason.INVALID)


def test_return_into_a_parallel_region_is_refused():
    regions = flow(
        node("start", "start", next="split"),
        node("split", "parallel", branches=["legal", "it"], join="join"),
        approval("legal", users(BOB), next="join"),
        approval("it", users(CAROL), next="join"),
        node("join", "join", next="final"),
        approval("final", users(DAVE), next="end"),
        node("end", "end"),
        in_parallel=("legal", "it"),
    )
    instance = Instance(regions)
    instance.submit()
    instance.approve(BOB)
    instance.approve(CAROL)
    task = instance.task_of(DAVE).id
    instance.refused(Act(DAVE, task, "return", target="legal"), Reason.INVALID, "inside parallel branches")
    instance.refused(Act(DAVE, task, "return", target="previous"), Reason.INVALID, "inside parallel branches")
    instance.send_back(DAVE, "submitter")
    assert instance.status == "returned"


def test_return_from_inside_a_parallel_region_to_a_step_before_it_cancels_every_branch():
    regions = flow(
        node("start", "start", next="head"),
        approval("head", users(ERIN), next="split"),
        node("split", "parallel", branches=["legal", "it"], join="join"),
        approval("legal", users(BOB), next="join"),
        approval("it", users(CAROL), next="join"),
        node("join", "join", next="end"),
        node("end", "end"),
        in_parallel=("legal", "it"),
    )
    instance = Instance(regions)
    instance.submit()
    instance.approve(ERIN)
    instance.send_back(BOB, "head")

    assert instance.open() == [("head", ERIN, "pending")]
    assert instance.tokens() == [("head", (), False)]
    assert ("it", CAROL, "cancelled") in instance.tasks()


# ----------------------------------------------------------------- resubmission


def test_resubmission_restarts_from_the_start_by_default():
    instance = three_steps()
    instance.submit()
    instance.approve(BOB)
    instance.send_back(CAROL, "submitter")
    effects = instance.submit(ALICE, comment="quote attached")

    assert instance.status == "running"
    assert instance.pending() == [("head", BOB)]
    assert instance.task_of(BOB).visit == 2
    assert instance.current.return_to is None
    assert instance.current.acted is False
    assert effects[0] == SetStatus("in_review")
    assert instance.log("resubmitted").comment == "quote attached"


def test_resubmission_with_jump_back_goes_straight_to_the_step_that_returned_it():
    instance = three_steps(resubmit="jump_back")
    instance.submit()
    instance.approve(BOB)
    instance.send_back(CAROL, "submitter")
    instance.submit(ALICE)

    assert instance.pending() == [("finance", CAROL)]
    assert instance.current.passed == ["head"]
    instance.approve(CAROL)
    instance.approve(DAVE)
    assert instance.status == "approved"


def test_resubmission_with_jump_back_after_a_rejection_goes_back_to_the_rejecting_step():
    steps = (approval("head", users(BOB)), approval("finance", users(CAROL), on_reject="submitter"))
    instance = Instance(line(*steps, settings={"resubmit": "jump_back"}))
    instance.submit()
    instance.approve(BOB)
    instance.reject(CAROL)
    instance.submit(ALICE)
    assert instance.pending() == [("finance", CAROL)]


def test_resubmission_with_restart_asks_earlier_approvers_again_even_with_same_approver_any_earlier():
    instance = three_steps(same_approver="any_earlier")
    instance.submit()
    instance.approve(BOB)
    instance.send_back(CAROL, "submitter")
    instance.submit(ALICE)

    assert instance.pending() == [("head", BOB)], "the record changed; a restart asks everyone again"


def test_a_step_returned_to_asks_its_approver_again_even_with_same_approver_any_earlier():
    instance = three_steps(same_approver="any_earlier")
    instance.submit()
    instance.approve(BOB)
    instance.send_back(CAROL, "head")
    assert instance.pending() == [("head", BOB)]


def test_resubmission_with_jump_back_into_a_parallel_branch_runs_the_flow_again():
    regions = flow(
        node("start", "start", next="split"),
        node("split", "parallel", branches=["legal", "it"], join="join"),
        approval("legal", users(BOB), next="join"),
        approval("it", users(CAROL), next="join", on_reject="submitter"),
        node("join", "join", next="end"),
        node("end", "end"),
        settings={"resubmit": "jump_back"},
        in_parallel=("legal", "it"),
    )
    instance = Instance(regions)
    instance.submit()
    instance.approve(BOB)
    instance.reject(CAROL)
    assert instance.status == "returned"
    instance.submit(ALICE)

    assert instance.status == "running"
    assert sorted(instance.pending()) == [("it", CAROL), ("legal", BOB)]
    instance.approve(BOB)
    instance.approve(CAROL)
    assert instance.status == "approved"


def test_only_the_submitter_can_submit_again():
    instance = three_steps()
    instance.submit()
    instance.send_back(BOB)
    instance.refused(Submit(BOB), Reason.NOT_YOURS, "only the submitter")


def test_submitting_a_running_flow_again_is_refused():
    instance = three_steps()
    instance.submit()
    instance.refused(Submit(ALICE), Reason.NOT_NOW, "already in review")


def test_submitting_an_ended_flow_again_is_refused():
    instance = Instance(line(approval("head", users(BOB))))
    instance.submit()
    instance.approve(BOB)
    instance.refused(Submit(ALICE), Reason.NOT_NOW, "has ended")


def test_submitting_again_a_flow_that_ended_without_any_task_is_refused():
    instance = Instance(line(approval("head", users(ALICE), when_submitter="auto_pass")))
    instance.submit()
    assert instance.status == "approved"
    empty = Instance(line())
    empty.submit()
    empty.refused(Submit(ALICE), Reason.NOT_NOW, "has ended")


# ----------------------------------------------------------------- withdraw


def test_the_submitter_withdraws_before_anyone_acted():
    instance = three_steps()
    instance.submit()
    effects = instance.withdraw(ALICE)

    assert instance.status == "withdrawn"
    assert instance.tasks() == [("head", BOB, "cancelled")]
    assert instance.current.tokens == []
    assert effects[-1] == SetStatus("withdrawn")
    assert instance.logs() == ["withdrawn"]


def test_only_the_submitter_can_withdraw():
    instance = three_steps()
    instance.submit()
    instance.refused(Withdraw(BOB), Reason.NOT_YOURS, "only the submitter")


def test_withdraw_is_refused_once_someone_acted():
    instance = three_steps()
    instance.submit()
    instance.approve(BOB)
    instance.refused(Withdraw(ALICE), Reason.NOT_NOW, "already acted")


def test_withdraw_is_allowed_while_the_record_is_returned():
    instance = three_steps()
    instance.submit()
    instance.approve(BOB)
    instance.send_back(CAROL)
    instance.withdraw(ALICE)
    assert instance.status == "withdrawn"


def test_withdraw_after_the_flow_ended_is_refused():
    instance = Instance(line(approval("head", users(BOB))))
    instance.submit()
    instance.approve(BOB)
    instance.refused(Withdraw(ALICE), Reason.NOT_NOW, "has ended")


def test_withdraw_is_allowed_again_after_a_resubmission_nobody_acted_on():
    instance = three_steps()
    instance.submit()
    instance.approve(BOB)
    instance.send_back(CAROL)
    instance.submit(ALICE)
    instance.withdraw(ALICE)
    assert instance.status == "withdrawn"


# ----------------------------------------------------------------- urge and comment


def test_urge_reminds_everyone_whose_turn_it_is():
    instance = Instance(line(approval("seq", users(BOB, CAROL), mode="sequential"), approval("x", users(DAVE))))
    instance.submit()
    instance.act(BOB, "add_signer", users=(ERIN,), position="parallel")
    effects = instance.urge(ALICE, "please, today")

    bob, erin = instance.task_of(BOB), instance.task_of(ERIN)
    assert [e for e in effects if isinstance(e, Notify)] == [
        Notify((BOB,), "urge", bob.id, "please, today"),
        Notify((ERIN,), "urge", erin.id, "please, today"),
    ]
    assert instance.log("urged").detail == {"users": [BOB, ERIN]}
    assert instance.pending() == [("seq", BOB), ("seq", ERIN)], "an urge changes nobody's turn"


def test_only_the_submitter_can_urge():
    instance = three_steps()
    instance.submit()
    instance.refused(Urge(BOB), Reason.NOT_YOURS, "only the submitter")


def test_urge_after_the_flow_ended_is_refused():
    instance = three_steps()
    instance.submit()
    instance.reject(BOB)
    instance.refused(Urge(ALICE), Reason.NOT_NOW, "not running")


def test_a_comment_is_logged_with_its_files_and_told_to_the_others():
    instance = Instance(line(approval("pair", users(BOB, CAROL), mode="countersign")))
    instance.submit()
    effects = instance.comment(BOB, "see the attached quote", files=({"id": 9, "name": "quote.pdf"},))

    logged = instance.log("commented")
    assert (logged.actor, logged.comment, logged.detail) == (
        BOB,
        "see the attached quote",
        {"files": [{"id": 9, "name": "quote.pdf"}]},
    )
    assert [e for e in effects if isinstance(e, Notify)] == [Notify((CAROL, ALICE), "comment")]
    assert instance.status == "running" and instance.pending() == [("pair", BOB), ("pair", CAROL)]


def test_a_comment_by_the_submitter_is_not_told_to_the_submitter():
    instance = three_steps()
    instance.submit()
    instance.comment(ALICE, "ping")
    assert instance.notified() == [((BOB,), "comment")]


# ----------------------------------------------------------------- who may act on what


def test_acting_on_someone_else_s_task_is_forbidden():
    instance = three_steps()
    instance.submit()
    instance.refused(Act(CAROL, instance.task_of(BOB).id, "approve"), Reason.NOT_YOURS, "not yours")
    instance.refused(Act(ALICE, instance.task_of(BOB).id, "reject"), Reason.NOT_YOURS, "not yours")


def test_acting_on_a_task_that_is_not_yet_due_is_a_conflict():
    instance = Instance(line(approval("seq", users(BOB, CAROL), mode="sequential")))
    instance.submit()
    instance.refused(Act(CAROL, instance.task_of(CAROL, "waiting").id, "approve"), Reason.NOT_NOW, "not your turn")


def test_acting_twice_on_a_task_is_a_conflict():
    instance = Instance(line(approval("pair", users(BOB, CAROL), mode="countersign")))
    instance.submit()
    task = instance.task_of(BOB).id
    instance.approve(BOB)
    instance.refused(Act(BOB, task, "approve"), Reason.NOT_NOW, "already approved")
    instance.refused(Act(BOB, task, "reject"), Reason.NOT_NOW, "already approved")


def test_acting_on_a_cancelled_task_is_a_conflict():
    instance = Instance(line(approval("any", users(BOB, CAROL)), approval("next", users(DAVE))))
    instance.submit()
    task = instance.task_of(CAROL).id
    instance.approve(BOB)
    instance.refused(Act(CAROL, task, "approve"), Reason.NOT_NOW, "already cancelled")


def test_acting_on_an_unknown_task_is_not_found():
    instance = three_steps()
    instance.submit()
    instance.refused(Act(BOB, 999, "approve"), Reason.NO_SUCH_TASK, "no task 999")


def test_acting_before_any_submission_is_not_found():
    Instance(three_steps().flow).refused(Act(BOB, 1, "approve"), Reason.NO_SUCH_TASK)


def test_an_unknown_action_is_refused_with_the_actions_there_are():
    instance = three_steps()
    instance.submit()
    error = instance.refused(Act(BOB, instance.task_of(BOB).id, "shrug"), Reason.INVALID, "unknown action 'shrug'")
    assert "add_signer, approve, delegate, reject, return, transfer" in str(error)


def test_acting_once_the_flow_ended_is_a_conflict():
    instance = Instance(line(approval("pair", users(BOB, CAROL), mode="countersign")))
    instance.submit()
    task = instance.task_of(CAROL).id
    instance.withdraw()
    instance.refused(Act(CAROL, task, "approve"), Reason.NOT_NOW, "not running")


def test_an_unknown_event_is_refused():
    instance = three_steps()
    instance.submit()
    instance.refused(object(), Reason.FLOW_STUCK, "unknown event")
