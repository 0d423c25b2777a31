"""What flow actions may take and what the timeline may show: a rejection says why; a comment
shows only files its readers may read."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import admin_client, field, problem
from tests.conftest import DATABASES
from tests.runtime.flow.office import REQUEST_FIELDS, Office, Person, approval, users


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


# ------------------------------------------------------------------ comment files


FILES_FIELDS = (*REQUEST_FIELDS, field("docs", "attachment"), field("contract", "attachment"))


def _upload(person: Person | Any, office: Office, key: str, name: str) -> dict[str, Any]:
    client = person.client if isinstance(person, Person) else person
    files = f"/api/apps/{office.app}/forms/{office.form_key}/files"
    response = client.post(files, params={"field": key}, files={"file": (name, b"%PDF-1.4 secret", "x")})
    assert response.status_code == 201, response.text
    return response.json()


def _commented_files(person: Person | Any, office: Office, record: dict[str, Any]) -> list[list[str]]:
    client = person.client if isinstance(person, Person) else person
    response = client.get(f"{office.record_url(record)}/timeline")
    assert response.status_code == 200, response.text
    events = response.json()["items"][-1]["events"]
    return [[f["name"] for f in e["detail"]["files"]] for e in events if e["action"] == "commented"]


@pytest.fixture
def contract_office(api) -> tuple[Office, Person, dict[str, Any], dict[str, Any]]:
    """A record holding a contract that the clerk's role hides from them; the clerk may comment."""
    office = Office(api)
    office.publish_form(*FILES_FIELDS)
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk, read="all", update="all", fields={"contract": "hidden"})
    office.publish_flow(approval("head", users(boss)))
    contract = _upload(api, office, "contract", "merger-terms.pdf")
    created = api.post(office.url, json={"title": "Laptops", "contract": [contract["id"]]})
    assert created.status_code == 201, created.text
    record = created.json()
    assert api.post(f"{office.record_url(record)}/submit").status_code == 200
    return office, clerk, record, contract


def test_a_comment_may_not_take_a_file_of_a_field_hidden_from_the_commenter(contract_office) -> None:
    office, clerk, record, contract = contract_office
    url = f"{office.record_url(record)}/comments"
    body = problem(clerk.post(url, {"text": "look", "files": [contract["id"]]}), 422, "files[0]")
    assert "merger-terms" not in str(body)
    mine = _upload(clerk, office, "docs", "my-quote.pdf")
    assert clerk.post(url, {"text": "my quote", "files": [mine["id"]]}).status_code == 200
    assert _commented_files(clerk, office, record) == [["my-quote.pdf"]]


def test_the_timeline_shows_a_comments_files_only_to_readers_of_their_field(contract_office) -> None:
    office, clerk, record, contract = contract_office
    body = {"text": "signed", "files": [contract["id"]]}
    said = office.admin.post(f"{office.record_url(record)}/comments", json=body)
    assert said.status_code == 200, said.text
    assert _commented_files(office.admin, office, record) == [["merger-terms.pdf"]]
    assert _commented_files(clerk, office, record) == [[]]
    timeline = clerk.client.get(f"{office.record_url(record)}/timeline").text
    assert "merger-terms" not in timeline
    page = clerk.client.get(f"/apps/{office.app}/forms/{office.form_key}/records/{record['id']}")
    assert page.status_code == 200 and "signed" in page.text and "merger-terms" not in page.text
