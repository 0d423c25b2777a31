"""Where a request stands, on the record page and the task page: the flow drawn with the path taken."""

from __future__ import annotations

import re

import pytest

from tests.runtime.flow.test_procurement_flow import APP, BIG, SMALL, Company

RECORD_PAGE = f"/apps/{APP}/forms/purchase_request/records"


@pytest.fixture
def company(client) -> Company:
    return Company(client)


def states(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-standing-node="([^"]+)" data-state="([^"]+)"', html))


def card(html: str, node: str) -> str:
    start = html.index(f'data-standing-node="{node}"')
    return html[start : html.index("</div>", start)]


def test_the_record_page_draws_the_path_taken_and_who_is_waited_for(company, client):
    c = company
    request = c.request(*BIG)
    before = c.requester.get(f"{RECORD_PAGE}/{request['id']}").text
    assert 'class="flow-standing"' not in before  # never submitted: nothing to draw

    assert (
        c.requester.post(f"/api/apps/{APP}/forms/purchase_request/records/{request['id']}/submit", {}).status_code
        == 200
    )
    c.head.approve()
    page = c.requester.get(f"{RECORD_PAGE}/{request['id']}").text
    assert states(page) == {
        "head": "done",
        "amount_check": "done",
        "vp": "current",
        "finance": "ahead",
        "cc_manager": "ahead",
    }
    assert 'aria-current="step"' in card(page, "vp")
    vp_name = client.get(f"/api/users/{c.vp.id}").json()["name"]
    assert vp_name in card(page, "vp")
    assert re.findall(r'data-branch-taken="(yes|no)"', page) == ["yes", "no"]  # over 100,000, not the else


def test_the_task_page_shows_the_countersign_waiting_for_both_and_the_branch_not_taken(company, client):
    c = company
    request = c.request(*SMALL)
    assert (
        c.requester.post(f"/api/apps/{APP}/forms/purchase_request/records/{request['id']}/submit", {}).status_code
        == 200
    )
    c.head.approve()
    c.qian.approve()
    page = c.sun.get(f"/tasks/{c.sun.task('finance')}").text
    assert states(page)["vp"] == "ahead" and states(page)["finance"] == "current"
    sun = client.get(f"/api/users/{c.sun.id}").json()["name"]
    qian = client.get(f"/api/users/{c.qian.id}").json()["name"]
    assert sun in card(page, "finance") and qian not in card(page, "finance")  # 钱 has approved: not waited for
    assert re.findall(r'data-branch-taken="(yes|no)"', page) == ["no", "yes"]  # the else branch
