"""People acting at the same moment: one step advances once, a race has one outcome, a retried request applies once.

The races need real concurrent writers, so they run on PostgreSQL only (SQLite
serialises writers with BEGIN IMMEDIATE: there is no race to lose). Without a
PostgreSQL server the database fixture skips them, except under CI=true where it
fails them. The sequential retries run on both databases.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.builders import problem
from tests.runtime.flow.office import Office, approval, users


@pytest.fixture
def office(client) -> Office:
    office = Office(client)
    office.publish_form()
    return office


# The races run on PostgreSQL only: the database fixture is fixed to it for them.
on_postgresql = pytest.mark.parametrize("db_kind", ["postgresql"])


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; answer their results in order."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@on_postgresql
def test_twenty_countersigners_at_the_same_moment_advance_the_step_exactly_once(office):
    signers = office.people(*[f"signer{i}" for i in range(20)])
    closer, clerk = office.people("closer", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("all", users(*signers), mode="countersign"), approval("close", users(closer)))
    record = office.submitted(clerk)
    tasks = [person.task("all") for person in signers]

    calls = [lambda p=p, t=t: p.act("approve", {"comment": "yes"}, task=t) for p, t in zip(signers, tasks, strict=True)]
    answers = at_once(*calls)

    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200]
    story = office.story(record)
    assert story.count(("approved", "all")) == 20
    assert story.count(("node_passed", "all")) == 1
    assert story.count(("node_entered", "close")) == 1
    assert [(n, who, state) for n, who, state in office.task_states(record) if n == "close"] == [
        ("close", closer.id, "pending")
    ]
    assert len(closer.tasks()) == 1 and closer.notified() == ["task"]
    assert all(p.tasks() == [] for p in signers)
    assert office.status(record) == "in_review"


@on_postgresql
def test_an_approval_and_a_withdrawal_racing_leave_one_consistent_outcome(office):
    boss, other, clerk = office.people("boss", "other", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("both", users(boss, other), mode="countersign"))
    outcomes = set()
    for _ in range(6):
        record = office.submitted(clerk)
        task = boss.task()
        approve, withdraw = at_once(
            lambda task=task: boss.act("approve", task=task),
            lambda record=record: clerk.post(f"{office.record_url(record)}/withdraw"),
        )
        assert sorted([approve.status_code, withdraw.status_code]) == [200, 409], (approve.text, withdraw.text)
        actions = [a for a, _ in office.story(record)]
        if approve.status_code == 200:
            outcomes.add("approved")
            problem(withdraw, 409)
            assert office.status(record) == "in_review"
            assert "withdrawn" not in actions and actions.count("approved") == 1
            [left] = [t["id"] for t in other.tasks() if t["record_id"] == record["id"]]
            cleared = other.act("reject", {"comment": "next round"}, task=left)  # clear the way for the next round
            assert cleared.status_code == 200
        else:
            outcomes.add("withdrawn")
            problem(approve, 409)
            assert office.status(record) == "withdrawn"
            assert "approved" not in actions and actions.count("withdrawn") == 1
            assert {state for node, _, state in office.task_states(record)} == {"cancelled"}
    assert boss.tasks() == [] and other.tasks() == []
    assert outcomes <= {"approved", "withdrawn"}


@on_postgresql
def test_two_submissions_of_one_record_at_the_same_moment_start_one_flow(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.record(clerk)
    answers = at_once(*[lambda: office.submit(clerk, record)] * 2)
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    assert len(office.instances(record)) == 1
    assert len(boss.tasks()) == 1 and boss.notified() == ["task"]


@on_postgresql
@pytest.mark.parametrize("action", ["approve", "submit"])
def test_the_same_request_with_the_same_key_sent_at_once_is_applied_once(office, action):
    boss, other, clerk = office.people("boss", "other", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("both", users(boss, other), mode="countersign"))
    key = {"Idempotency-Key": f"same-{action}"}
    if action == "approve":
        record = office.submitted(clerk)
        task = boss.task()
        first, second = at_once(*[lambda: boss.act("approve", {"comment": "ok"}, task=task, **key)] * 2)
    else:
        record = office.record(clerk)
        first, second = at_once(*[lambda: office.submit(clerk, record, {"comment": "go"}, **key)] * 2)

    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert first.json() == second.json()
    story = office.story(record)
    assert len(office.instances(record)) == 1
    assert story.count(("submitted", None)) == 1
    assert story.count(("approved", "both")) == (1 if action == "approve" else 0)
    assert len(other.tasks()) == 1


def test_a_retried_request_with_the_same_key_is_applied_once_and_answered_as_the_first_time(office):
    boss, other, clerk = office.people("boss", "other", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("both", users(boss, other), mode="countersign"))
    record = office.record(clerk)

    submitted = [office.submit(clerk, record, {"comment": "go"}, **{"Idempotency-Key": "submit-1"}) for _ in range(2)]
    assert [r.status_code for r in submitted] == [200, 200]
    assert submitted[0].json() == submitted[1].json()

    task = boss.task()
    key = {"Idempotency-Key": "approve-1"}
    first = boss.act("approve", {"comment": "ok"}, task=task, **key)
    again = boss.act("approve", {"comment": "ok"}, task=task, **key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    problem(boss.act("approve", {"comment": "changed"}, task=task, **key), 422, "Idempotency-Key")
    problem(boss.act("approve", {"comment": "ok"}, task=task, **{"Idempotency-Key": "approve-2"}), 409)

    url = f"{office.record_url(record)}/comments"
    said = [clerk.post(url, {"text": "see the quote"}, **{"Idempotency-Key": "comment-1"}) for _ in range(2)]
    assert [r.status_code for r in said] == [200, 200] and said[0].json() == said[1].json()

    story = office.story(record)
    assert story.count(("submitted", None)) == 1
    assert story.count(("approved", "both")) == 1
    assert story.count(("commented", None)) == 1
    assert boss.notified() == ["task"] and other.notified() == ["task", "comment"]  # whoever still has a turn
    # a key belongs to its user: someone else's identical key is their own request
    other_task = other.task()
    assert other.act("approve", {"comment": "ok"}, task=other_task, **key).status_code == 200
    assert office.status(record) == "approved"
