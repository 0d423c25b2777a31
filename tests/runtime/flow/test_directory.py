"""The organisation read piecemeal for one flow event: the same answers as the whole of it, read only as asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from opsloom.platform import tables
from opsloom.runtime.flow.directory import OrgReader
from tests.conftest import create_user, query
from tests.runtime.flow.office import Office

NOW = datetime.now(UTC)


@pytest.fixture
def office(client) -> Office:
    return Office(client)


def answered(office: Office, ask, *, want=()) -> tuple[object, OrgReader]:
    """`ask(reader)` answered once everything it asked about is read: the rounds the shell runs."""

    async def run():
        reader = OrgReader(office.app, NOW)
        reader.want(want)
        async with office.admin.app.state.db.session() as session:
            for _ in range(20):
                await reader.read(session)
                answer = ask(reader)
                if not reader.missing:
                    return answer, reader
        raise AssertionError("still missing after 20 rounds")

    return office.admin.portal.call(run)


def test_managers_and_heads_up_the_department_chain_are_read_only_as_asked(office):
    ceo, sales_head, lead, clerk, stranger = office.people("ceo", "sales_head", "lead", "clerk", "stranger")
    company = office.department("Company", head=ceo)
    sales = office.department("Sales", parent=company, head=sales_head)
    team = office.department("Team", parent=sales)
    office.move(sales_head, department_id=sales)
    office.move(clerk, department_id=team)
    office.move(lead, department_id=team, manager_id=sales_head.id)

    def chain(reader: OrgReader) -> list[int | None]:
        first = reader.manager_of(clerk.id)
        second = reader.manager_of(first) if first is not None else None
        return [reader.department_of(clerk.id), first, second, reader.manager_of(lead.id), reader.head_of(company)]

    answer, reader = answered(office, chain)
    assert answer == [team, sales_head.id, ceo.id, sales_head.id, ceo.id]
    assert stranger.id not in reader.users  # nobody the questions did not name
    assert set(reader.departments) == {team, sales, company}
    assert reader.roles is None and reader.app_admins is None


def test_people_who_do_not_exist_or_left_are_inactive_and_asked_once(office):
    gone = create_user(office.admin, "gone@example.com", "gone-password-1", active=False)["id"]
    answer, reader = answered(office, lambda r: (r.is_active(gone), r.is_active(987654321)), want=[gone])
    assert answer == (False, False)
    assert reader.users[987654321] is None
    beyond, _ = answered(office, lambda r: (r.is_active(2**70), r.is_active(-1), r.head_of(2**64)))
    assert beyond == (False, False, None)


def test_a_delegation_is_read_with_its_person_and_the_delegate_must_be_active(office):
    boss, deputy, idle, stand_in = office.people("boss", "deputy", "idle", "stand_in")
    for person, delegate in ((boss, deputy), (idle, stand_in)):
        period = {"delegate_id": delegate.id, "starts_at": (NOW - timedelta(days=1)).isoformat()}
        period["ends_at"] = (NOW + timedelta(days=1)).isoformat()
        assert person.client.put("/api/me/delegation", json=period).status_code == 200
    office.move(stand_in, active=False)
    answer, _ = answered(office, lambda r: (r.delegate_of(boss.id, NOW), r.delegate_of(idle.id, NOW)))
    assert answer == (deputy.id, None)


def test_roles_and_admins_of_the_app_are_read_when_asked(office):
    office.publish_form()
    member, other = office.people("member", "other")
    key = office.grant(member, other)
    answer, reader = answered(office, lambda r: sorted(r.role_members(key)))
    assert answer == sorted([member.id, other.id])
    assert reader.app_admins is None
    admins, _ = answered(office, lambda r: r.admins())
    u = tables.users
    assert admins == [row.id for row in query(office.admin, select(u.c.id).where(u.c.is_admin, u.c.active))]
