"""To-do items show a few fields of their record: the form's `summary_fields`, else the number and
the amount; a field the step hides is left out (API, the to-do page and the home page)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import field, form, problem, publish_app, records_url
from tests.runtime.flow.office import REQUEST_FIELDS, Office, approval, users

NUMBER = field("number", "autonumber", pattern="R-{seq:3}")


def publish(office: Office, *extra_fields: dict[str, Any], **document: Any) -> None:
    office.form_key = f"request_{office.serial}"
    fields = (*REQUEST_FIELDS, *extra_fields)
    publish_app(office.admin, office.app, form(office.form_key, *fields, title_field="title", **document))
    office.url = records_url(office.app, office.form_key)


@pytest.fixture
def office(client) -> Office:
    return Office(client)


def summary(item: dict[str, Any]) -> dict[str, Any]:
    return {entry["key"]: entry["value"] for entry in item["summary"]}


def test_by_default_an_item_shows_the_number_and_the_amount(office: Office) -> None:
    publish(office, NUMBER)
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    record = office.submitted(clerk, amount="1200.50", note="n")
    [item] = boss.tasks()
    assert summary(item) == {"number": record["number"], "amount": "1200.50"}
    assert item["summary"][1]["label"] == "Amount"  # the field's label, as the form names it
    [mine] = clerk.tasks("submitted")
    assert summary(mine) == {"number": record["number"], "amount": "1200.50"}


def test_without_a_number_the_title_names_the_record(office: Office) -> None:
    publish(office)
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    office.submitted(clerk, amount="7.00")
    assert summary(boss.tasks()[0]) == {"title": "Laptops", "amount": "7.00"}


def test_named_summary_fields_are_shown_as_the_step_shows_the_record(office: Office) -> None:
    publish(office, summary_fields=["amount", "note", "owner"])
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), fields={"amount": "hidden"}))
    office.submitted(clerk, amount="99.00", note="for the new team", owner=clerk.id)
    [item] = boss.tasks()
    shown = summary(item)
    assert set(shown) == {"note", "owner"}  # the amount is hidden at this step
    assert shown["note"] == "for the new team" and shown["owner"]["id"] == clerk.id  # a person, with a name
    assert summary(clerk.tasks("submitted")[0])["amount"] == "99.00"  # the submitter's own view

    boss.client.cookies.set("opsloom_locale", "en")
    page = boss.client.get("/tasks").text
    assert "<dt>Note</dt><dd>for the new team</dd>" in page and "99.00" not in page
    home = boss.client.get("/").text
    assert "<dt>Note</dt><dd>for the new team</dd>" in home and "99.00" not in home


def test_summary_fields_must_name_fields_with_one_value(office: Office) -> None:
    publish(office)  # the app exists
    key = f"other_{office.serial}"

    def refused_at(document: dict[str, Any]) -> set[str]:
        """A draft keeps its problems; publishing refuses them (422, with their paths)."""
        saved = office.admin.put(f"/api/design/apps/{office.app}/forms/{key}", json=document)
        assert saved.status_code == 200, saved.text
        published = office.admin.post(f"/api/design/apps/{office.app}/forms/{key}/publish")
        return {e["path"] for e in problem(published, 422)["errors"]}

    items = field("items", "subform", fields=[field("item")])
    named = form(key, *REQUEST_FIELDS, items, title_field="title", summary_fields=["amount", "ghost", "items"])
    assert refused_at(named) == {"summary_fields[1]", "summary_fields[2]"}
    five = ["title", "amount", "note", "secret", "owner"]
    assert "summary_fields" in refused_at(form(key, *REQUEST_FIELDS, title_field="title", summary_fields=five))
