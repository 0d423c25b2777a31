"""Who approves: every approver kind, and the policies for nobody, the submitter, a repeat approver, absence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsloom.runtime.flow.model import Act, Reason, Submit
from tests.runtime.flow.builders import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    CEO,
    DAVE,
    EAST_HEAD,
    ERIN,
    FINANCE,
    FINANCE_HEAD,
    FRANK,
    GONE,
    NOW,
    SALES_HEAD,
    Instance,
    approval,
    chosen,
    department_head,
    from_field,
    handler,
    line,
    managers,
    org,
    role,
    submitter,
    users,
)


def assignees(*sources, submitted_by: int = ALICE, record: dict | None = None, **raw) -> list[int]:
    """Who gets a task at a countersign step with these sources."""
    instance = Instance(line(approval("step", *sources, mode="countersign", **raw)), record=record or {})
    instance.submit(submitted_by)
    return [t.assignee for t in instance.current.tasks if t.state == "pending"]


# ----------------------------------------------------------------- kinds


def test_given_users_approve_in_the_order_given_each_once():
    assert assignees(users(DAVE, BOB, DAVE, CAROL)) == [DAVE, BOB, CAROL]


def test_several_sources_add_up_without_repeats():
    assert assignees(users(CAROL), role("finance"), users(BOB)) == [CAROL, DAVE, ERIN, BOB]


def test_a_role_means_its_members():
    assert assignees(role("finance")) == [CAROL, DAVE, ERIN]


@pytest.mark.parametrize("level, head", [(1, EAST_HEAD), (2, SALES_HEAD), (3, CEO)])
def test_department_head_at_level_n_is_the_head_n_departments_up(level, head):
    assert assignees(department_head(level)) == [head]


def test_department_head_above_the_top_is_nobody_and_the_step_passes():
    instance = Instance(line(approval("step", department_head(4))))
    instance.submit()
    assert instance.status == "approved"
    assert instance.log("auto_passed").detail == {"reason": "nobody to approve"}


def test_department_head_of_someone_without_a_department_is_nobody():
    assert assignees(department_head(1), submitted_by=FRANK, when_empty="user", empty_user=ERIN) == [ERIN]


@pytest.mark.parametrize(
    "levels, chain",
    [
        (1, [EAST_HEAD]),
        (2, [EAST_HEAD, SALES_HEAD]),
        (3, [EAST_HEAD, SALES_HEAD, CEO]),
        (9, [EAST_HEAD, SALES_HEAD, CEO]),
    ],
)
def test_managers_go_up_n_levels_from_the_submitter(levels, chain):
    assert assignees(managers(levels)) == chain


def test_managers_to_the_top_go_as_far_as_there_are_managers():
    assert assignees(managers("top")) == [EAST_HEAD, SALES_HEAD, CEO]


def test_managers_start_from_an_explicit_manager_then_follow_department_heads():
    # Bob's manager is Dave (finance); Dave has none, so the head of finance, then the CEO.
    assert assignees(managers("top"), submitted_by=BOB) == [DAVE, FINANCE_HEAD, CEO]


def test_a_department_head_s_manager_is_the_head_of_the_department_above():
    assert assignees(managers("top"), submitted_by=EAST_HEAD) == [SALES_HEAD, CEO]


def test_the_top_of_the_company_has_no_managers():
    instance = Instance(line(approval("step", managers("top"))))
    instance.submit(CEO)
    assert instance.status == "approved"


def test_a_user_field_names_its_person():
    assert assignees(from_field("owner"), record={"owner": CAROL}) == [CAROL]


def test_a_users_field_names_each_of_its_people():
    assert assignees(from_field("reviewers", "users"), record={"reviewers": [DAVE, CAROL]}) == [DAVE, CAROL]


def test_a_department_field_names_the_head_of_that_department():
    assert assignees(from_field("dept", "department"), record={"dept": FINANCE}) == [FINANCE_HEAD]


def test_an_empty_person_field_names_nobody():
    assert assignees(from_field("owner"), users(BOB), record={"owner": None}) == [BOB]
    assert assignees(from_field("owner"), users(BOB), record={}) == [BOB]


def test_the_submitter_can_be_the_approver():
    assert assignees(submitter()) == [ALICE]
    assert assignees(submitter(), submitted_by=BOB) == [BOB]


def test_inactive_people_are_skipped():
    assert assignees(users(GONE, BOB)) == [BOB]
    assert assignees(role("leavers"), users(CAROL)) == [CAROL]


def test_a_step_whose_only_people_are_inactive_counts_as_empty():
    assert assignees(role("leavers"), when_empty="admin") == [ADMIN]


# ----------------------------------------------------------------- chosen at submission


def picked(**rules) -> Instance:
    return Instance(line(approval("pick", chosen(**rules), mode="countersign")))


def test_approvers_chosen_by_the_submitter_get_the_tasks():
    instance = picked(min=1, max=2)
    instance.submit(chosen={"pick": [DAVE, CAROL]})

    assert instance.pending() == [("pick", DAVE), ("pick", CAROL)]
    assert instance.current.chosen == {"pick": [DAVE, CAROL]}


@pytest.mark.parametrize("people", [[], [BOB, CAROL, DAVE]])
def test_choosing_too_few_or_too_many_is_refused(people):
    picked(min=1, max=2).refused(Submit(ALICE, chosen={"pick": people}), Reason.INVALID, "choose 1 to 2 approvers")


def test_the_default_range_is_one_to_ten():
    picked().refused(Submit(ALICE, chosen={"pick": list(range(200, 211))}), Reason.INVALID, "choose 1 to 10")


def test_chosen_people_must_come_from_among_the_allowed():
    instance = picked(among=[role("finance")])
    instance.refused(Submit(ALICE, chosen={"pick": [CAROL, BOB]}), Reason.INVALID, f"user\\(s\\) {BOB} cannot approve")
    instance.submit(chosen={"pick": [ERIN]})
    assert instance.pending() == [("pick", ERIN)]


def test_chosen_people_must_be_active():
    picked().refused(Submit(ALICE, chosen={"pick": [GONE]}), Reason.INVALID, "not active")


def test_a_missing_choice_is_refused_naming_where_to_give_it():
    picked().refused(Submit(ALICE), Reason.INVALID, r"chosen\.pick")


def test_a_choice_for_a_step_that_does_not_take_one_is_refused():
    instance = Instance(line(approval("pick", chosen()), approval("fixed", users(BOB))))
    instance.refused(Submit(ALICE, chosen={"pick": [CAROL], "fixed": [DAVE]}), Reason.INVALID, "'fixed' is not a node")
    instance.refused(
        Submit(ALICE, chosen={"pick": [CAROL], "nowhere": [DAVE]}), Reason.INVALID, "'nowhere' is not a node"
    )


# ----------------------------------------------------------------- nobody to approve


def test_when_empty_auto_pass_lets_the_step_pass():
    instance = Instance(line(approval("step", role("nobody"), when_empty="auto_pass"), approval("next", users(BOB))))
    instance.submit()

    assert instance.open() == [("next", BOB, "pending")]
    assert "auto_passed" in instance.logs() and "node_passed" in instance.logs()
    assert instance.current.passed == ["step"]


def test_when_empty_defaults_to_auto_pass():
    instance = Instance(line(approval("step", role("nobody"))))
    instance.submit()
    assert instance.status == "approved"


def test_when_empty_admin_hands_the_step_to_the_app_admins():
    assert assignees(role("nobody"), when_empty="admin") == [ADMIN]


def test_when_empty_admin_without_admins_passes():
    instance = Instance(line(approval("step", role("nobody"), when_empty="admin")), directory=org(app_admins=[]))
    instance.submit()
    assert instance.status == "approved"
    assert instance.log("auto_passed").node == "step"


def test_when_empty_user_hands_the_step_to_that_user():
    assert assignees(role("nobody"), when_empty="user", empty_user=CAROL) == [CAROL]


# ----------------------------------------------------------------- the approver is the submitter


def test_when_submitter_approve_lets_the_submitter_approve_as_anyone():
    instance = Instance(line(approval("step", users(ALICE), when_submitter="approve")))
    instance.submit()
    assert instance.pending() == [("step", ALICE)]
    instance.approve(ALICE)
    assert instance.status == "approved"


def test_when_submitter_auto_pass_approves_the_submitter_s_own_task():
    instance = Instance(line(approval("step", users(ALICE), when_submitter="auto_pass"), approval("next", users(BOB))))
    instance.submit()

    mine = instance.task_of(ALICE, "approved")
    assert (mine.auto, mine.acted_at) == ("the approver is the submitter", NOW.isoformat())
    assert instance.open() == [("next", BOB, "pending")]
    assert instance.log("auto_approved").detail["assignee"] == ALICE
    assert instance.notices("task")[0].users == (BOB,)


def test_when_submitter_auto_pass_leaves_the_other_countersigners():
    instance = Instance(line(approval("step", users(ALICE, BOB), mode="countersign", when_submitter="auto_pass")))
    instance.submit()
    assert instance.tasks() == [("step", ALICE, "approved"), ("step", BOB, "pending")]


def test_when_submitter_manager_hands_the_task_to_the_submitter_s_manager():
    instance = Instance(line(approval("step", submitter(), when_submitter="manager")))
    instance.submit()
    assert instance.pending() == [("step", EAST_HEAD)]


def test_when_submitter_manager_without_a_manager_passes():
    instance = Instance(line(approval("step", submitter(), when_submitter="manager")))
    instance.submit(CEO)
    assert instance.status == "approved"
    assert instance.task_of(CEO, "approved").auto == "the submitter has no manager"


def test_when_submitter_applies_to_approvals_not_to_handler_steps():
    instance = Instance(line(handler("fill", submitter(), when_submitter="auto_pass")))
    instance.submit()
    assert instance.pending() == [("fill", ALICE)]


# ----------------------------------------------------------------- the same approver again


def repeat_flow(same_approver: str, *people: int) -> Instance:
    steps = [approval(f"s{i}", users(person)) for i, person in enumerate(people)]
    return Instance(line(*steps, settings={"same_approver": same_approver}))


def test_same_approver_off_asks_them_again():
    instance = repeat_flow("off", BOB, BOB)
    instance.submit()
    instance.approve(BOB)
    assert instance.pending() == [("s1", BOB)]


def test_same_approver_defaults_to_off():
    instance = Instance(line(approval("s0", users(BOB)), approval("s1", users(BOB))))
    instance.submit()
    instance.approve(BOB)
    assert instance.pending() == [("s1", BOB)]


def test_same_approver_any_earlier_approves_for_someone_who_approved_anywhere_before():
    instance = repeat_flow("any_earlier", BOB, CAROL, BOB)
    instance.submit()
    instance.approve(BOB)
    instance.approve(CAROL)

    assert instance.status == "approved"
    assert instance.current.tasks[-1].auto == "already approved earlier in this flow"
    assert "auto_approved" in instance.logs()


def test_same_approver_previous_node_only_looks_at_the_step_just_before():
    instance = repeat_flow("previous_node", BOB, CAROL, BOB, BOB)
    instance.submit()
    instance.approve(BOB)
    instance.approve(CAROL)
    assert instance.pending() == [("s2", BOB)], "Bob approved two steps back, not just before"

    instance.approve(BOB)
    assert instance.status == "approved", "s3 follows s2, which Bob approved"
    assert instance.current.tasks[-1].auto == "already approved earlier in this flow"


def test_same_approver_is_not_auto_approved_for_someone_who_only_was_asked():
    instance = Instance(
        line(approval("s0", users(BOB, CAROL)), approval("s1", users(BOB)), settings={"same_approver": "any_earlier"})
    )
    instance.submit()
    instance.approve(CAROL)  # Bob's task was cancelled, he did not approve
    assert instance.pending() == [("s1", BOB)]


# ----------------------------------------------------------------- out of office


def away(person: int, delegate: int, starts=NOW - timedelta(days=1), ends=NOW + timedelta(days=1)):
    return org(delegations=[(person, delegate, starts, ends)])


def test_a_task_of_someone_away_goes_to_their_delegate_on_their_behalf():
    instance = Instance(line(approval("step", users(BOB))), directory=away(BOB, CAROL))
    instance.submit()

    task = instance.task_of(CAROL)
    assert (task.assignee, task.on_behalf_of) == (CAROL, BOB)
    assert [n.users for n in instance.notices("task")] == [(CAROL,)]
    instance.refused(Act(BOB, task.id, "approve"), Reason.NOT_YOURS, "not yours")
    instance.approve(CAROL)
    assert instance.status == "approved"


def test_a_delegation_outside_its_period_does_not_apply():
    ended = away(BOB, CAROL, NOW - timedelta(days=2), NOW)
    future = away(BOB, CAROL, NOW + timedelta(hours=1), NOW + timedelta(days=1))
    for directory in (ended, future):
        instance = Instance(line(approval("step", users(BOB))), directory=directory)
        instance.submit()
        assert instance.task_of(BOB).on_behalf_of is None


def test_a_delegation_to_someone_inactive_does_not_apply():
    instance = Instance(line(approval("step", users(BOB))), directory=away(BOB, GONE))
    instance.submit()
    assert instance.pending() == [("step", BOB)]
