"""How a moment is written in every record's JSON: ISO 8601 in UTC ending in Z, the same text whatever
zone the value came in, with the fraction of a second only when there is one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from opsloom.runtime.fields.base import dump_datetime


def test_the_fraction_of_a_second_is_written_only_when_there_is_one() -> None:
    assert dump_datetime(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)) == "2026-03-04T05:06:07Z"
    assert dump_datetime(datetime(2026, 3, 4, 5, 6, 7, 120, tzinfo=UTC)) == "2026-03-04T05:06:07.000120Z"
    shanghai = timezone(timedelta(hours=8))
    assert dump_datetime(datetime(2026, 3, 4, 1, 0, tzinfo=shanghai)) == "2026-03-03T17:00:00Z"


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_any_moment_reads_as_python_writes_it_in_utc(moment: datetime, minutes: int) -> None:
    zoned = moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    expected = zoned.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert dump_datetime(zoned) == expected
    assert datetime.fromisoformat(dump_datetime(zoned)) == zoned
