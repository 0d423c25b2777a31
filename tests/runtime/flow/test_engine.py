"""The flow engine's node types and multi-approver modes, event by event, without a database."""

from __future__ import annotations

import pytest

from opsloom.runtime.flow.model import Act, Flow, Log, Notify, Reason, RunAction, SetStatus, Submit
from tests.runtime.flow.builders import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    NOW,
    Instance,
    action,
    approval,
    cc,
    flow,
    handler,
    line,
    node,
    role,
    users,
)

# ----------------------------------------------------------------- start, approval, end


def test_submission_enters_the_first_step_and_puts_the_record_in_review():
    instance = Instance(line(approval("head", users(BOB), label={"en": "Head", "zh-CN": "负责人"})))
    effects = instance.submit(ALICE, comment="please")

    assert instance.status == "running"
    assert instance.current.submitter == ALICE
    assert instance.current.submitted_at == NOW.isoformat()
    assert instance.tasks() == [("head", BOB, "pending")]
    assert instance.tokens() == [("head", (), False)]
    task = instance.task_of(BOB)
    assert (task.kind, task.visit, task.created_at) == ("approval", 1, NOW.isoformat())
    assert effects[0] == SetStatus("in_review")
    assert Notify((BOB,), "task", task.id, "Head waits for you") in effects
    assert instance.logs() == ["submitted", "node_entered"]
    submitted = instance.log("submitted")
    assert (submitted.actor, submitted.comment) == (ALICE, "please")
    assert instance.log("node_entered").detail == {"assignees": [BOB]}


def test_the_only_approver_approving_ends_the_flow_approved():
    instance = Instance(line(approval("head", users(BOB))))
    instance.submit()
    task = instance.task_of(BOB)
    effects = instance.approve(BOB, comment="fine", changes={"note": {"before": None, "after": "ok"}})

    assert instance.status == "approved"
    assert instance.tasks() == [("head", BOB, "approved")]
    assert instance.current.tokens == []
    assert instance.current.passed == ["head"]
    assert instance.current.approvals == {"head": [BOB]}
    assert instance.current.acted is True
    approved = instance.current.task(task.id)
    assert (approved.comment, approved.acted_at) == ("fine", NOW.isoformat())
    assert instance.statuses() == ["approved"]
    assert Notify((ALICE,), "approved") in effects
    assert instance.logs() == ["approved", "node_passed", "approved"]
    by_bob = effects[0]
    assert isinstance(by_bob, Log)
    assert (by_bob.actor, by_bob.node, by_bob.task, by_bob.comment) == (BOB, "head", task.id, "fine")
    assert by_bob.detail["changes"] == {"note": {"before": None, "after": "ok"}}


def test_a_rejection_ends_the_flow_rejected_by_default():
    instance = Instance(line(approval("head", users(BOB)), approval("finance", users(CAROL))))
    instance.submit()
    effects = instance.reject(BOB, comment="too dear")

    assert instance.status == "rejected"
    assert instance.tasks() == [("head", BOB, "rejected")]
    assert instance.current.tokens == []
    assert instance.statuses() == ["rejected"]
    assert Notify((ALICE,), "rejected") in effects
    assert instance.logs() == ["rejected", "rejected"]
    assert instance.task_of(BOB, "rejected").comment == "too dear"


def test_a_flow_of_only_start_and_end_is_approved_on_submission():
    instance = Instance(line())
    instance.submit()

    assert instance.status == "approved"
    assert instance.current.tasks == [] and instance.current.tokens == []
    assert instance.statuses() == ["in_review", "approved"]


def test_steps_follow_one_another_with_a_new_task_at_each():
    instance = Instance(line(approval("head", users(BOB)), approval("finance", users(CAROL))))
    instance.submit()
    effects = instance.approve(BOB)

    assert instance.status == "running"
    assert instance.tasks() == [("head", BOB, "approved"), ("finance", CAROL, "pending")]
    assert instance.tokens() == [("finance", (), False)]
    assert instance.statuses() == []
    assert [n.users for n in effects if isinstance(n, Notify)] == [(CAROL,)]


# ----------------------------------------------------------------- handler


def test_a_handler_step_is_completed_not_approved():
    instance = Instance(line(handler("fill", users(BOB))))
    instance.submit()
    assert instance.task_of(BOB).kind == "handler"
    instance.approve(BOB)

    assert instance.status == "approved"
    assert instance.logs()[0] == "completed"


def test_a_handler_step_cannot_be_rejected():
    instance = Instance(line(handler("fill", users(BOB))))
    instance.submit()
    instance.refused(Act(BOB, instance.task_of(BOB).id, "reject"), Reason.INVALID, "cannot be rejected")


def test_a_handler_step_can_be_returned_to_the_submitter():
    instance = Instance(line(handler("fill", users(BOB))))
    instance.submit()
    instance.send_back(BOB, "submitter")
    assert instance.status == "returned"


# ----------------------------------------------------------------- cc


def test_cc_notifies_its_recipients_keeps_a_copy_for_them_and_moves_on():
    instance = Instance(line(cc("tell", users(CAROL, DAVE)), approval("head", users(BOB))))
    effects = instance.submit()

    copies = [(t.node, t.assignee, t.kind, t.state) for t in instance.current.tasks if t.kind == "cc"]
    assert copies == [("tell", CAROL, "cc", "cc"), ("tell", DAVE, "cc", "cc")]
    assert Notify((CAROL, DAVE), "cc") in effects
    assert instance.log("cc").detail == {"recipients": [CAROL, DAVE]}
    assert instance.open() == [("head", BOB, "pending")]


def test_cc_as_the_last_step_lets_the_flow_end():
    instance = Instance(line(approval("head", users(BOB)), cc("tell", users(CAROL))))
    instance.submit()
    instance.approve(BOB)

    assert instance.status == "approved"
    assert instance.notified("cc") == [((CAROL,), "cc")]


def test_cc_to_nobody_sends_nothing_and_moves_on():
    instance = Instance(line(cc("tell", role("nobody"))))
    instance.submit()
    assert instance.status == "approved"
    assert instance.notified("cc") == []


# ----------------------------------------------------------------- condition


def amount_flow(branches: list[dict], otherwise: str | None = "small") -> Flow:
    conditions = {("check", i): b.pop("when") for i, b in enumerate(branches)}
    extra = {"else": otherwise} if otherwise else {}
    return flow(
        node("start", "start", next="check"),
        node("check", "condition", label="Amount", branches=branches, **extra),
        approval("big", users(BOB), next="end"),
        approval("mid", users(CAROL), next="end"),
        approval("small", users(DAVE), next="end"),
        node("end", "end"),
        conditions=conditions,
    )


def over(limit: int):
    return lambda record: record["amount"] > limit


def test_condition_branches_are_tried_in_priority_order():
    branches = [{"when": over(100), "next": "big", "priority": 2}, {"when": over(10), "next": "mid", "priority": 1}]
    instance = Instance(amount_flow(branches), record={"amount": 500})
    instance.submit()

    assert instance.open() == [("mid", CAROL, "pending")]
    assert instance.log("branch").detail == {"branch": 1, "to": "mid"}


def test_condition_branches_without_priority_are_tried_in_their_order():
    branches = [{"when": over(100), "next": "big"}, {"when": over(10), "next": "mid"}]
    instance = Instance(amount_flow(branches), record={"amount": 500})
    instance.submit()
    assert instance.open() == [("big", BOB, "pending")]


def test_condition_with_equal_priorities_keeps_the_order_of_the_branches():
    branches = [{"when": over(10), "next": "mid", "priority": 5}, {"when": over(100), "next": "big", "priority": 5}]
    instance = Instance(amount_flow(branches), record={"amount": 500})
    instance.submit()
    assert instance.open() == [("mid", CAROL, "pending")]


def test_condition_takes_else_when_no_branch_matches():
    branches = [{"when": over(100), "next": "big"}, {"when": over(10), "next": "mid"}]
    instance = Instance(amount_flow(branches), record={"amount": 5})
    instance.submit()

    assert instance.open() == [("small", DAVE, "pending")]
    assert instance.log("branch").detail == {"branch": "else", "to": "small"}


def test_condition_without_else_that_matches_nothing_is_an_error():
    instance = Instance(amount_flow([{"when": over(100), "next": "big"}], otherwise=None), record={"amount": 5})
    error = instance.refused(Submit(ALICE), Reason.FLOW_STUCK, "no branch of 'Amount' matches")
    assert "else" in str(error)
    assert instance.state is None


# ----------------------------------------------------------------- parallel and join


def parallel_flow(left: str = "legal", right: str = "it", **raw) -> Flow:
    return flow(
        node("start", "start", next="split"),
        node("split", "parallel", branches=[left, right], join="join"),
        approval("legal", users(BOB), next="join", **raw),
        approval("it", users(CAROL), next="join"),
        cc("tell", users(ERIN), next="join"),
        node("join", "join", next="final"),
        approval("final", users(DAVE), next="end"),
        node("end", "end"),
        in_parallel=("legal", "it", "tell"),
    )


def test_parallel_opens_one_token_and_one_task_per_branch():
    instance = Instance(parallel_flow())
    instance.submit()

    assert instance.tokens() == [("it", ("split",), False), ("legal", ("split",), False)]
    assert instance.open() == [("legal", BOB, "pending"), ("it", CAROL, "pending")]


def test_join_waits_for_every_branch():
    instance = Instance(parallel_flow())
    instance.submit()
    instance.approve(BOB)

    assert instance.status == "running"
    assert instance.tokens() == [("it", ("split",), False), ("join", ("split",), True)]
    assert instance.open() == [("it", CAROL, "pending")]
    assert instance.log("branch_joined").detail == {"waiting": 1}

    instance.approve(CAROL)
    assert instance.tokens() == [("final", (), False)]
    assert instance.open() == [("final", DAVE, "pending")]

    instance.approve(DAVE)
    assert instance.status == "approved"


def test_a_branch_that_passes_straight_through_waits_at_the_join():
    instance = Instance(parallel_flow(left="tell"))
    instance.submit()

    assert instance.tokens() == [("it", ("split",), False), ("join", ("split",), True)]
    assert instance.open() == [("it", CAROL, "pending")]
    instance.approve(CAROL)
    assert instance.open() == [("final", DAVE, "pending")]


def test_a_rejection_in_one_branch_ends_the_flow_and_cancels_the_other_branches():
    instance = Instance(parallel_flow())
    instance.submit()
    instance.reject(CAROL)

    assert instance.status == "rejected"
    assert instance.tasks() == [("legal", BOB, "cancelled"), ("it", CAROL, "rejected")]
    assert instance.current.tokens == []
    assert instance.statuses() == ["rejected"]


def test_a_rejection_after_the_other_branch_arrived_still_ends_the_flow():
    instance = Instance(parallel_flow())
    instance.submit()
    instance.approve(BOB)
    instance.reject(CAROL)

    assert instance.status == "rejected"
    assert instance.current.tokens == []
    assert instance.open() == []


def test_nested_parallel_regions_join_inside_out():
    nested = flow(
        node("start", "start", next="outer"),
        node("outer", "parallel", branches=["a", "inner"], join="outer_join"),
        approval("a", users(BOB), next="outer_join"),
        node("inner", "parallel", branches=["b", "c"], join="inner_join"),
        approval("b", users(CAROL), next="inner_join"),
        approval("c", users(DAVE), next="inner_join"),
        node("inner_join", "join", next="outer_join"),
        node("outer_join", "join", next="end"),
        node("end", "end"),
    )
    instance = Instance(nested)
    instance.submit()
    assert sorted(instance.pending()) == [("a", BOB), ("b", CAROL), ("c", DAVE)]
    assert ("b", ("outer", "inner"), False) in instance.tokens()

    instance.approve(CAROL)
    instance.approve(DAVE)
    assert instance.tokens() == [("a", ("outer",), False), ("outer_join", ("outer",), True)]
    instance.approve(BOB)
    assert instance.status == "approved"


def test_a_join_reached_without_a_split_is_an_error():
    broken = flow(
        node("start", "start", next="join"),
        node("join", "join", next="end"),
        node("end", "end"),
    )
    Instance(broken).refused(Submit(ALICE), Reason.FLOW_STUCK, "never split")


# ----------------------------------------------------------------- action


def test_an_action_node_asks_the_shell_to_run_it_and_moves_on():
    create = {"kind": "create_record", "form": "purchase_order", "mapping": {"request": "id"}}
    instance = Instance(line(approval("head", users(BOB)), action("order", **create)))
    instance.submit()
    assert instance.actions() == []
    effects = instance.approve(BOB)

    assert instance.actions() == [RunAction("order", create)]
    assert instance.status == "approved"
    assert instance.log("action").detail == {"kind": "create_record"}
    assert effects.index(RunAction("order", create)) < effects.index(SetStatus("approved"))


def test_values_set_by_an_update_action_are_seen_by_a_later_condition():
    gold = flow(
        node("start", "start", next="promote"),
        action("promote", next="check", kind="update_record", values={"tier": "gold"}),
        node("check", "condition", branches=[{"next": "vip"}], **{"else": "plain"}),
        approval("vip", users(BOB), next="end"),
        approval("plain", users(CAROL), next="end"),
        node("end", "end"),
        conditions={("check", 0): lambda record: record["tier"] == "gold"},
    )
    record = {"tier": "basic"}
    instance = Instance(gold, record=record)
    instance.submit()

    assert instance.actions() == [RunAction("promote", {"kind": "update_record", "values": {"tier": "gold"}})]
    assert instance.open() == [("vip", BOB, "pending")]
    assert record == {"tier": "basic"}, "the engine changes its own copy, never the caller's record"


# ----------------------------------------------------------------- modes


def finance_step(mode: str, **raw) -> Instance:
    return Instance(line(approval("finance", role("finance"), mode=mode, **raw)))


def test_any_mode_the_first_approval_decides_and_cancels_the_others():
    instance = finance_step("any")
    instance.submit()
    assert instance.pending() == [("finance", CAROL), ("finance", DAVE), ("finance", ERIN)]
    instance.approve(DAVE)

    assert instance.status == "approved"
    assert instance.tasks() == [
        ("finance", CAROL, "cancelled"),
        ("finance", DAVE, "approved"),
        ("finance", ERIN, "cancelled"),
    ]
    assert instance.current.approvals == {"finance": [DAVE]}


def test_any_mode_the_first_rejection_decides():
    instance = finance_step("any")
    instance.submit()
    instance.reject(ERIN)

    assert instance.status == "rejected"
    assert instance.open() == []


def test_mode_defaults_to_any():
    instance = Instance(line(approval("finance", role("finance"))))
    instance.submit()
    instance.approve(CAROL)
    assert instance.status == "approved"


def test_countersign_needs_everyone():
    instance = finance_step("countersign")
    instance.submit()
    instance.approve(CAROL)
    instance.approve(ERIN)
    assert instance.status == "running"
    assert instance.open() == [("finance", DAVE, "pending")]

    instance.approve(DAVE)
    assert instance.status == "approved"
    assert instance.current.approvals == {"finance": [CAROL, DAVE, ERIN]}


def test_countersign_one_rejection_is_a_veto():
    instance = finance_step("countersign")
    instance.submit()
    instance.approve(CAROL)
    instance.approve(ERIN)
    instance.reject(DAVE)

    assert instance.status == "rejected"
    assert instance.tasks() == [
        ("finance", CAROL, "approved"),
        ("finance", DAVE, "rejected"),
        ("finance", ERIN, "approved"),
    ]


def test_sequential_asks_one_person_at_a_time_in_order():
    instance = Instance(line(approval("finance", users(ERIN, CAROL, DAVE), mode="sequential")))
    instance.submit()
    assert instance.tasks() == [
        ("finance", ERIN, "pending"),
        ("finance", CAROL, "waiting"),
        ("finance", DAVE, "waiting"),
    ]
    assert [t.order for t in instance.current.tasks] == [0, 1, 2]
    assert [n.users for n in instance.notices("task")] == [(ERIN,)]

    instance.approve(ERIN)
    assert instance.tasks() == [
        ("finance", ERIN, "approved"),
        ("finance", CAROL, "pending"),
        ("finance", DAVE, "waiting"),
    ]
    assert [n.users for n in instance.notices("task")] == [(CAROL,)]

    instance.approve(CAROL)
    instance.approve(DAVE)
    assert instance.status == "approved"


def test_sequential_a_later_person_cannot_act_before_their_turn():
    instance = Instance(line(approval("finance", users(ERIN, CAROL), mode="sequential")))
    instance.submit()
    waiting = instance.task_of(CAROL, "waiting")
    instance.refused(Act(CAROL, waiting.id, "approve"), Reason.NOT_NOW, "not your turn")


def test_sequential_a_rejection_ends_it():
    instance = Instance(line(approval("finance", users(ERIN, CAROL, DAVE), mode="sequential")))
    instance.submit()
    instance.approve(ERIN)
    instance.reject(CAROL)

    assert instance.status == "rejected"
    assert instance.tasks() == [
        ("finance", ERIN, "approved"),
        ("finance", CAROL, "rejected"),
        ("finance", DAVE, "cancelled"),
    ]


def test_vote_passes_once_the_share_approves():
    instance = finance_step("vote", vote_percent=60)
    instance.submit()
    instance.approve(CAROL)
    assert instance.status == "running"  # 1 of 3 is 33%

    instance.approve(DAVE)  # 2 of 3 is 67%
    assert instance.status == "approved"
    assert instance.tasks()[-1] == ("finance", ERIN, "cancelled")


def test_vote_fails_once_it_can_no_longer_pass():
    instance = finance_step("vote", vote_percent=60)
    instance.submit()
    instance.reject(CAROL)
    assert instance.status == "running"  # 2 of 3 can still approve

    instance.reject(DAVE)  # at most 1 of 3
    assert instance.status == "rejected"
    assert instance.tasks()[-1] == ("finance", ERIN, "cancelled")


def test_vote_counts_rejections_and_approvals_together():
    instance = finance_step("vote", vote_percent=60)
    instance.submit()
    instance.reject(CAROL)
    instance.approve(DAVE)
    assert instance.status == "running"
    instance.approve(ERIN)
    assert instance.status == "approved"


def test_vote_defaults_to_half():
    instance = Instance(line(approval("pair", users(BOB, CAROL), mode="vote")))
    instance.submit()
    instance.approve(CAROL)
    assert instance.status == "approved"


@pytest.mark.parametrize("percent, approvals_needed", [(1, 1), (34, 2), (67, 3), (100, 3)])
def test_vote_needs_the_given_percentage(percent, approvals_needed):
    instance = finance_step("vote", vote_percent=percent)
    instance.submit()
    voters = [CAROL, DAVE, ERIN]
    for person in voters[: approvals_needed - 1]:
        instance.approve(person)
        assert instance.status == "running"
    instance.approve(voters[approvals_needed - 1])
    assert instance.status == "approved"
