"""An import's updates run as one batch (`UPDATE_MANY`): each row is judged on its own, on both databases.

One upsert mixes rows that update, a row whose record is in review and one approved (locked by
their flow), a row that breaks a field's rule, a row that takes a unique value another record
holds, a row that changes nothing and new rows; the bad rows are refused with their reasons, the
rest are written, each update with its history entry. The import's row scope and the unique
values repeated within one batch are judged per row too.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select, text

from opsloom.runtime.imports import commit as import_commit
from tests.builders import field, list_all
from tests.conftest import another_client, create_user, log_in
from tests.runtime.flow.office import Office, approval, users
from tests.runtime.imports.helpers import commit, csv_bytes, uploaded

ASSET_FIELDS = (
    field("code", required=True, unique=True),
    field("title", required=True),
    field("serial", unique=True),
    field("qty", "integer", min=1),
)
HEADER = ["code", "title", "serial", "qty"]
AFTER = "(the step's editable fields), or after it is returned, withdrawn or rejected"


def asset_office(client: TestClient) -> Office:
    """A form of assets: a key (`code`), a second unique field (`serial`) and a rule (`qty` >= 1)."""
    office = Office(client, app="assets")
    office.publish_form(*ASSET_FIELDS, key="asset")
    return office


def imports_url(office: Office) -> str:
    return office.url.removesuffix("/records") + "/imports"


def add(client: TestClient, office: Office, code: str, title: str, serial: str, qty: int) -> dict[str, Any]:
    response = client.post(office.url, json={"code": code, "title": title, "serial": serial, "qty": qty})
    assert response.status_code == 201, response.text
    return response.json()


def by_code(client: TestClient, office: Office) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in list_all(client, office.url)}


def history(client: TestClient, office: Office, record: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.get(f"{office.record_url(record)}/history")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def upsert(client: TestClient, office: Office, rows: list[list[Any]]) -> tuple[str, dict[str, Any]]:
    """Upload `rows` (under HEADER) as CSV, upsert by code skipping bad rows, commit; the import's URL and body."""
    created = uploaded(client, "assets.csv", csv_bytes([HEADER, *rows]), url=imports_url(office))
    url = f"{imports_url(office)}/{created['id']}"
    options = {"mode": "upsert", "key_field": "code", "error_policy": "skip_bad_rows"}
    changed = client.patch(url, json=options)
    assert changed.status_code == 200, changed.text
    done = commit(client, url)
    assert done["state"] == "done", done
    return url, done


def refused_rows(client: TestClient, url: str) -> dict[int, tuple[list[Any], str]]:
    """The error file's rows: file row number -> (cells as in the file, problems)."""
    response = client.get(f"{url}/errors", params={"locale": "en"})
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    assert sheet is not None
    lines: list[list[Any]] = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert lines[0] == [*HEADER, "Problems", "Row"]
    return {line[-1]: (line[: len(HEADER)], line[-2]) for line in lines[1:]}


def test_an_upsert_batch_writes_its_good_rows_and_refuses_each_bad_one_with_its_reason(client: TestClient) -> None:
    office = asset_office(client)
    boss = office.person("boss")
    office.publish_flow(approval("head", users(boss)))
    one = add(client, office, "A-1", "one", "S-1", 1)
    two = add(client, office, "A-2", "two", "S-2", 2)
    approved = add(client, office, "A-3", "three", "S-3", 3)
    in_review = add(client, office, "A-4", "four", "S-4", 4)
    rule = add(client, office, "A-5", "five", "S-5", 5)
    clash = add(client, office, "A-6", "six", "S-6", 6)
    same = add(client, office, "A-7", "seven", "S-7", 7)
    submitted = client.post(f"{office.record_url(approved)}/submit")
    assert submitted.status_code == 200, submitted.text
    boss.approve()
    submitted = client.post(f"{office.record_url(in_review)}/submit")
    assert submitted.status_code == 200, submitted.text
    assert (office.status(approved), office.status(in_review)) == ("approved", "in_review")
    before = by_code(client, office)

    url, done = upsert(
        client,
        office,
        [
            ["A-1", "one, renamed", "S-1", "10"],  # 2: title and qty change
            ["A-2", "two", "", "20"],  # 3: qty only (an empty cell keeps the serial)
            ["A-3", "three, changed", "S-3", "3"],  # 4: approved: locked by its flow
            ["A-4", "four, changed", "S-4", "4"],  # 5: in review: locked by its flow
            ["A-5", "five, changed", "S-5", "0"],  # 6: qty below its minimum
            ["A-6", "six, changed", "S-1", "6"],  # 7: A-1's serial
            ["A-7", "seven", "S-7", "7"],  # 8: the values it has
            ["A-9", "nine", "S-9", "9"],  # 9: new
            ["A-10", "ten", "S-10", "1"],  # 10: new
        ],
    )

    assert done["counts"] == {"inserted": 2, "updated": 3, "skipped": 0, "failed": 4}, done
    after = by_code(client, office)
    # the updates: values changed, version bumped, one history entry each with before and after
    assert (after["A-1"]["title"], after["A-1"]["qty"], after["A-1"]["serial"]) == ("one, renamed", 10, "S-1")
    assert (after["A-2"]["title"], after["A-2"]["qty"], after["A-2"]["serial"]) == ("two", 20, "S-2")
    assert (after["A-1"]["version"], after["A-2"]["version"]) == (one["version"] + 1, two["version"] + 1)
    assert after["A-1"]["id"] == one["id"] and after["A-2"]["id"] == two["id"]
    first = history(client, office, one)
    assert [(h["action"], h["version"]) for h in first] == [("create", 1), ("update", 2)]
    assert first[1]["changes"] == {
        "title": {"before": "one", "after": "one, renamed"},
        "qty": {"before": 1, "after": 10},
    }
    second = history(client, office, two)
    assert [(h["action"], h["version"]) for h in second] == [("create", 1), ("update", 2)]
    assert second[1]["changes"] == {"qty": {"before": 2, "after": 20}}
    # the row that changes nothing: counted as updated (3 above), but the record is as it was, no history
    assert after["A-7"] == before["A-7"] and after["A-7"]["version"] == same["version"]
    assert [h["action"] for h in history(client, office, same)] == ["create"]
    # the new rows
    assert (after["A-9"]["title"], after["A-9"]["serial"], after["A-9"]["qty"]) == ("nine", "S-9", 9)
    assert (after["A-10"]["title"], after["A-10"]["serial"], after["A-10"]["qty"]) == ("ten", "S-10", 1)
    assert [h["action"] for h in history(client, office, after["A-9"])] == ["import"]
    assert set(after) == {f"A-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 9, 10)}
    # the refused rows: each in the error file, as it was, with its reason at its column
    refused = refused_rows(client, url)
    assert sorted(refused) == [4, 5, 6, 7]
    assert refused[4][0] == ["A-3", "three, changed", "S-3", "3"]
    assert refused[4][1] == f"Record {approved['id']} is approved: it changes only through its approval flow " + AFTER
    assert refused[5][1] == f"Record {in_review['id']} is in review: it changes only through its approval flow " + AFTER
    assert refused[6][0][3] == "0" and refused[6][1] == "qty: must be at least 1"
    assert refused[7][1] == f"serial: must be unique; record {one['id']} already has 'S-1'"
    # and their records are untouched
    for code in ("A-3", "A-4", "A-5", "A-6"):
        assert after[code] == before[code], code
    for record in (rule, clash):
        assert [h["action"] for h in history(client, office, record)] == ["create"]


def test_an_import_updates_only_the_records_its_import_scope_covers(client: TestClient) -> None:
    office = asset_office(client)
    theirs = add(client, office, "A-1", "theirs", "S-1", 1)
    user = create_user(client, "erin@example.com", "right-password-1", locale="en")
    grant = {"read": "all", "create": "all", "import": "own"}
    role = {"app": office.app, "key": "own_importer", "label": "Own importer", "permissions": {office.form_key: grant}}
    assert client.post("/api/roles", json=role).status_code == 200
    added = client.post(f"/api/roles/{office.app}/own_importer/members", json={"add": [user["id"]]})
    assert added.status_code == 200, added.text
    erin = another_client(client)
    log_in(erin, "erin@example.com", "right-password-1")
    made = erin.post(office.url, json={"code": "A-2", "title": "mine", "serial": "S-2", "qty": 2})
    assert made.status_code == 201, made.text
    mine = made.json()
    assert mine["owner_id"] == user["id"] and theirs["owner_id"] != user["id"]

    url, done = upsert(erin, office, [["A-1", "theirs, changed", "", "5"], ["A-2", "mine, changed", "", "7"]])

    assert done["counts"] == {"inserted": 0, "updated": 1, "skipped": 0, "failed": 1}, done
    after = by_code(client, office)
    assert (after["A-2"]["title"], after["A-2"]["qty"], after["A-2"]["version"]) == ("mine, changed", 7, 2)
    assert after["A-1"]["title"] == "theirs" and after["A-1"]["version"] == theirs["version"]
    assert [h["action"] for h in history(client, office, theirs)] == ["create"]
    refused = refused_rows(erin, url)
    assert list(refused) == [2]
    assert refused[2][1] == f"you may read record {theirs['id']} but not update it"


def test_two_rows_of_a_batch_giving_one_unique_value_the_second_is_refused(client: TestClient) -> None:
    office = asset_office(client)
    one = add(client, office, "A-1", "one", "S-1", 1)
    two = add(client, office, "A-2", "two", "S-2", 2)

    url, done = upsert(client, office, [["A-1", "one", "S-NEW", "1"], ["A-2", "two", "S-NEW", "2"]])

    assert done["counts"] == {"inserted": 0, "updated": 1, "skipped": 0, "failed": 1}, done
    after = by_code(client, office)
    assert (after["A-1"]["serial"], after["A-1"]["version"]) == ("S-NEW", one["version"] + 1)
    assert (after["A-2"]["serial"], after["A-2"]["version"]) == ("S-2", two["version"])
    assert history(client, office, one)[-1]["changes"] == {"serial": {"before": "S-1", "after": "S-NEW"}}
    assert [h["action"] for h in history(client, office, two)] == ["create"]
    refused = refused_rows(client, url)
    assert list(refused) == [3]
    assert refused[3] == (["A-2", "two", "S-NEW", "2"], "serial: repeats the value of row 2's serial")


def test_rows_naming_one_record_apply_in_the_order_of_the_file(client: TestClient) -> None:
    office = asset_office(client)
    one = add(client, office, "A-1", "one", "S-1", 1)

    _, done = upsert(client, office, [["A-1", "first", "", "2"], ["A-1", "second", "", ""], ["A-1", "", "S-9", "4"]])

    assert done["counts"] == {"inserted": 0, "updated": 3, "skipped": 0, "failed": 0}, done
    after = by_code(client, office)["A-1"]
    assert (after["title"], after["serial"], after["qty"], after["version"]) == ("second", "S-9", 4, one["version"] + 3)
    changes = [h["changes"] for h in history(client, office, one)[1:]]
    assert changes == [
        {"title": {"before": "one", "after": "first"}, "qty": {"before": 1, "after": 2}},
        {"title": {"before": "first", "after": "second"}},
        {"serial": {"before": "S-1", "after": "S-9"}, "qty": {"before": 2, "after": 4}},
    ]


def test_a_large_import_brings_the_planner_statistics_up_to_date(
    client: TestClient, db_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table an import fills keeps an empty table's statistics until analyzed (PostgreSQL), and the
    planner then scans every live row to find a few by id; the import analyzes as its rows double."""
    monkeypatch.setattr(import_commit, "ANALYZE_FROM", 4)  # 10,000 rows in production
    office = asset_office(client)
    rows = [[f"A-{n}", f"asset {n}", f"S-{n}", str(n)] for n in range(1, 8)]

    _, done = upsert(client, office, rows)

    assert done["counts"]["inserted"] == 7, done

    if db_kind == "postgresql":
        assert planner_rows(client, office) == 7  # a table never analyzed says -1
    else:
        assert sqlite_statistics(client) is None  # SQLite's planner is left as it is


def test_a_large_file_analyzes_what_the_table_already_holds_before_its_first_batch(
    client: TestClient, db_kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records stored some other way (here through the API, too few for autovacuum) leave the
    planner an empty table's statistics, and an upsert's key lookups then scanned every live row;
    a file of ANALYZE_AHEAD rows or more analyzes the form's tables before its first batch."""
    monkeypatch.setattr(import_commit, "ANALYZE_AHEAD", 3)  # 1,000 rows in production
    office = asset_office(client)
    for n in range(1, 4):
        add(client, office, f"A-{n}", f"asset {n}", f"S-{n}", n)

    _, small = upsert(client, office, [["A-1", "first", "", "2"], ["A-8", "eight", "S-8", "8"]])
    assert small["counts"] == {"inserted": 1, "updated": 1, "skipped": 0, "failed": 0}, small
    if db_kind == "postgresql":
        assert planner_rows(client, office) == -1  # two rows: not analyzed

    rows = [["A-2", "second", "", "3"], ["A-9", "nine", "S-9", "9"], ["A-10", "ten", "S-10", "10"]]
    _, large = upsert(client, office, rows)
    assert large["counts"] == {"inserted": 2, "updated": 1, "skipped": 0, "failed": 0}, large
    if db_kind == "postgresql":
        assert planner_rows(client, office) == 4  # the rows before this import, not after it (6)
    else:
        assert sqlite_statistics(client) is None


def planner_rows(client: TestClient, office: Office) -> float:
    """How many rows PostgreSQL's planner thinks the form's table holds (-1: never analyzed)."""

    async def read() -> float:
        async with client.app.state.db.session() as session:
            form = await client.app.state.forms.get(session, office.app, office.form_key)
            known = select(text("reltuples")).select_from(text("pg_class")).where(text("relname = :name"))
            return float((await session.execute(known, {"name": form.table.name})).scalar_one())

    return client.portal.call(read)


def sqlite_statistics(client: TestClient) -> Any:
    async def read() -> Any:
        async with client.app.state.db.session() as session:
            return (await session.execute(text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'"))).first()

    return client.portal.call(read)
