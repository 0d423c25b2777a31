"""Datetimes fall in the period of the configured zone's wall clock, and drill down to the same records."""

from __future__ import annotations

import pytest

from tests.builders import admin_client
from tests.conftest import DATABASES
from tests.runtime.reports.shop import Shop


@pytest.fixture(scope="module", params=DATABASES)
def shanghai(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("zone"), timezone="Asia/Shanghai") as client:
        yield Shop(client)


def test_a_moment_late_in_utc_is_the_next_day_in_shanghai(shanghai):
    for at in ("2026-03-31T15:59:00Z", "2026-03-31T16:01:00Z", "2026-12-31T20:00:00Z"):
        shanghai.add(at=at)
    shanghai.report("by_day", dimensions=[{"field": "at", "bucket": "day"}], measures=[{"key": "n", "agg": "count"}])
    shanghai.report(
        "by_month", dimensions=[{"field": "at", "bucket": "month"}], measures=[{"key": "n", "agg": "count"}]
    )
    days = shanghai.answer("by_day")
    assert {r["values"]["at__day"]: r["values"]["n"] for r in days["rows"]} == {
        "2026-03-31": 1,  # 23:59 in Shanghai
        "2026-04-01": 1,  # 00:01 in Shanghai
        "2027-01-01": 1,
    }
    months = shanghai.answer("by_month")
    assert {r["values"]["at__month"] for r in months["rows"]} == {"2026-03", "2026-04", "2027-01"}
    for answer in (days, months):
        for row in answer["rows"]:
            assert len(shanghai.behind(row["filter"])) == row["values"]["n"]
