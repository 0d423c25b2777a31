"""What flow actions may take and what the timeline may show: a rejection says why."""

from __future__ import annotations

import pytest

from tests.builders import admin_client, problem
from tests.conftest import DATABASES
from tests.runtime.flow.office import Office, approval, users


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("flow_reads")) as client:
        yield client


# ------------------------------------------------------------------ a rejection needs a comment


@pytest.mark.parametrize("body", [None, {}, {"comment": "   "}, {"comment": None}])
def test_a_rejection_without_a_comment_is_refused_naming_comment(api, body) -> None:
    office = Office(api)
    office.publish_form()
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk)
    task = boss.task()
    refused = problem(boss.act("reject", body, task=task), 422, "comment")
    assert "comment" in refused["detail"]
    assert office.status(record) == "in_review" and boss.task() == task  # nothing changed
    assert "rejected" not in [action for action, _ in office.story(record)]
    assert boss.act("reject", {"comment": "over budget"}, task=task).status_code == 200
    assert office.status(record) == "rejected"
