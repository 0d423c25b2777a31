"""A step's name is shown in the reader's language: home, to-do list, task page, record timeline, API, notifications."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from opsloom.platform import tables
from tests.builders import admin_client
from tests.conftest import DATABASES
from tests.runtime.flow.office import Office, approval, users
from tests.runtime.pages.test_task_pages import page

HEAD = {"zh-CN": "部门负责人", "en": "Department head"}
CHECK = {"zh-CN": "预算核对", "en": "Budget check"}


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("step_names")) as client:
        yield client


@pytest.fixture
def office(api):
    office = Office(api, app="steps")
    office.publish_form()
    return office


def test_each_reader_sees_the_step_name_in_their_language(office):
    checker, boss, clerk = office.people("checker", "boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("check", users(checker), label=CHECK), approval("head", users(boss), label=HEAD))
    record = office.submitted(clerk, title="Standing desks")
    checker.approve()
    task = boss.task()
    record_page = f"/apps/steps/forms/{office.form_key}/records/{record['id']}"

    for locale, other in (("zh-CN", "en"), ("en", "zh-CN")):
        home = page(boss, "/", locale).text
        todo = page(boss, "/tasks", locale).text
        task_page = page(boss, f"/tasks/{task}", locale).text
        timeline = page(clerk, record_page, locale).text
        for html in (home, todo, task_page, timeline):
            assert f'<html lang="{locale}"' in html
            assert HEAD[locale] in html and HEAD[other] not in html
        assert f'<option value="check">{CHECK[locale]}</option>' in task_page  # return to a step passed
        assert CHECK[locale] in timeline and CHECK[other] not in timeline  # who approved at which step
    assert "环节：部门负责人" in page(boss, "/tasks", "zh-CN").text
    assert "Step: Department head" in page(boss, "/tasks", "en").text


def test_the_api_gives_the_step_name_in_every_language(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), label=HEAD), approval("plain", users(boss), label="Sign off"))
    office.submitted(clerk)
    [item] = boss.tasks()
    assert (item["node_label"], item["node_labels"]) == ("Department head", HEAD)
    boss.approve()
    [item] = boss.tasks()
    assert (item["node_label"], item["node_labels"]) == ("Sign off", {"zh-CN": "Sign off", "en": "Sign off"})


def test_notifications_are_written_in_the_recipients_language(office):
    english, chinese, unchosen, clerk = office.people("english", "chinese", "unchosen", "clerk")
    office.move(english, locale="en")
    office.move(chinese, locale="zh-CN")
    office.grant(clerk)
    office.publish_flow(approval("head", users(english, chinese, unchosen), label=HEAD, mode="countersign"))
    office.submitted(clerk, title="Chairs")

    def text(person):
        [item] = person.get("/api/notifications").json()["items"]
        return item["text"]

    assert text(english) == "“Chairs” is waiting for you · Step: Department head"
    assert text(chinese) == "「Chairs」等待你处理 · 环节：部门负责人"
    assert text(unchosen) == "「Chairs」等待你处理 · 环节：部门负责人"  # no language chosen: the platform's


def test_a_task_made_before_steps_kept_their_translations_shows_its_one_name(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), label=HEAD))
    office.submitted(clerk, title="Old desks")
    task = boss.task()
    forget_translations(office.admin, task)  # as a task stored before migration 0007 holds only node_label
    [item] = boss.tasks()
    assert item["node_labels"] == {"zh-CN": "Department head", "en": "Department head"}
    assert "环节：Department head" in page(boss, "/tasks", "zh-CN").text


def forget_translations(client, task: int) -> None:
    t = tables.flow_tasks

    async def run() -> None:
        async with client.app.state.db.session(write=True) as session:
            await session.execute(update(t).where(t.c.id == task).values(node_labels=None))

    client.portal.call(run)
