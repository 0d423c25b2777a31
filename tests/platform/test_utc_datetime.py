"""UTCDateTime binds the last value it saw once: rows that share one `now` object convert it once,
and every row still stores its own value (the same object, an equal one, another zone, naive, NULL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from opsloom.platform.types import UTCDateTime
from tests.databases import Opened, opened_connection

metadata = MetaData()
stamps = Table("t_stamps", metadata, Column("n", Integer, primary_key=True), Column("at", UTCDateTime, nullable=True))

SHANGHAI = timezone(timedelta(hours=8))
NOW = datetime(2026, 12, 5, 9, 30, 15, 123456, tzinfo=UTC)
POOL: list[datetime | None] = [
    NOW,
    NOW.replace(),  # equal, another object
    NOW.astimezone(SHANGHAI),  # the same moment written in another zone
    NOW + timedelta(microseconds=1),
    NOW.replace(tzinfo=None),  # naive: read as UTC
    None,
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=SHANGHAI),
]


def expected(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def connection(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Opened]:
    with opened_connection(request.param, tmp_path_factory.mktemp("stamps"), metadata) as opened:
        yield opened


@pytest.fixture(scope="module")
def sqlite_connection(tmp_path_factory: Any) -> Iterator[Opened]:
    with opened_connection("sqlite", tmp_path_factory.mktemp("stamps"), metadata) as opened:
        yield opened


def read_back(connection: Opened, values: list[datetime | None]) -> list[datetime | None]:
    """Store one row for each value, read them back in order, and roll back."""
    runner, conn = connection

    async def round_trip() -> list[datetime | None]:
        async with conn.begin() as transaction:
            await conn.execute(insert(stamps), [{"n": n, "at": value} for n, value in enumerate(values)])
            stored = (await conn.execute(select(stamps.c.at).order_by(stamps.c.n))).scalars().all()
            await transaction.rollback()
        return list(stored)

    return runner.run(round_trip())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=30))
def test_each_row_stores_its_own_moment_whatever_came_before(connection: Opened, picks: list[int]) -> None:
    values = [POOL[k] for k in picks]
    assert read_back(connection, values) == [expected(v) for v in values]


converted: list[datetime | None] = []


class CountedUTC(UTCDateTime):
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        converted.append(value)
        return super().process_bind_param(value, dialect)


counted = Table("t_counted", metadata, Column("n", Integer, primary_key=True), Column("at", CountedUTC, nullable=True))


def test_a_repeated_object_is_converted_once(connection: Opened) -> None:
    runner, conn = connection
    now, other = datetime(2026, 12, 5, 9, 30, tzinfo=UTC), datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
    rows = [{"n": n, "at": other if n % 4 == 0 else now} for n in range(1, 9)]  # other at 4 and 8

    async def insert_rows() -> list[datetime | None]:
        async with conn.begin() as transaction:
            await conn.execute(insert(counted), rows)
            stored = (await conn.execute(select(counted.c.at).order_by(counted.c.n))).scalars().all()
            await transaction.rollback()
        return list(stored)

    converted.clear()
    stored = runner.run(insert_rows())
    assert [id(v) for v in converted] == [id(now), id(other), id(now), id(other)]  # rows 1-3, 4, 5-7, 8
    assert stored == [expected(row["at"]) for row in rows]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moments=st.lists(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)), min_size=1))
def test_any_moment_reads_back_as_the_same_utc_moment(connection: Opened, moments: list[datetime]) -> None:
    """Read back through the type's own result processor (on SQLite, its one-step parse of the text)."""
    values: list[datetime | None] = [m.replace(tzinfo=UTC) for m in moments]
    stored = read_back(connection, values)
    assert stored == values
    assert all(value is not None and value.tzinfo is UTC for value in stored)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-12-05 09:30:15.123456", datetime(2026, 12, 5, 9, 30, 15, 123456, tzinfo=UTC)),  # as stored here
        ("2026-12-05 09:30:15", datetime(2026, 12, 5, 9, 30, 15, tzinfo=UTC)),  # SQLite's CURRENT_TIMESTAMP
        ("2026-12-05T09:30:15Z", datetime(2026, 12, 5, 9, 30, 15, tzinfo=UTC)),
        ("2026-12-05 17:30:15+08:00", datetime(2026, 12, 5, 9, 30, 15, tzinfo=UTC)),
    ],
)
def test_sqlite_text_of_other_shapes_reads_as_the_moment_it_names(
    sqlite_connection: Opened, text: str, moment: datetime
) -> None:
    """SQLite stores text (PostgreSQL a timestamptz): text written by others reads as it should too."""
    runner, conn = sqlite_connection

    async def read_text() -> datetime | None:
        async with conn.begin() as transaction:
            await conn.exec_driver_sql("INSERT INTO t_stamps (n, at) VALUES (1, ?)", (text,))
            stored = (await conn.execute(select(stamps.c.at))).scalar_one()
            await transaction.rollback()
        return stored

    assert runner.run(read_text()) == moment
