"""Running reports over HTTP: dimensions, measures, totals and drill-down filters, on both databases."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.builders import admin_client
from tests.conftest import DATABASES
from tests.runtime.reports.shop import Shop, by


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("reports")) as client:
        yield client


@pytest.fixture(scope="module")
def shop(api):
    shop = Shop(api)
    rows = [
        dict(amount="100.10", qty=1, category="it", needed="2026-01-05"),
        dict(amount="200.20", qty=2, category="it", needed="2026-01-20"),
        dict(amount="50.05", qty=3, category="office", needed="2026-02-10"),
        dict(amount="0.01", qty=None, category=None, needed="2026-04-01"),
    ]
    for row in rows:
        shop.add(**row)
    return shop


def test_a_report_counts_sums_averages_and_divides_by_category_with_a_grand_total(shop):
    shop.report(
        "by_category",
        dimensions=[{"field": "category"}],
        measures=[
            {"key": "n", "agg": "count"},
            {"key": "total", "agg": "sum", "field": "amount"},
            {"key": "mean", "agg": "avg", "field": "amount"},
            {"key": "units", "agg": "sum", "field": "qty"},
            {"key": "per_unit", "formula": "total / units", "scale": 3},
        ],
    )
    answer = shop.answer("by_category")
    rows = by(answer, "category")
    assert set(rows) == {"it", "office", None}
    assert rows["it"]["values"] == {
        "category": "it",
        "n": 2,
        "total": "300.30",
        "mean": "150.15",
        "units": 3,
        "per_unit": "100.100",
    }
    assert rows["it"]["labels"]["category"] == "It"
    assert rows[None]["values"]["per_unit"] is None  # no units: an empty ratio, not an error
    assert answer["total"]["values"]["total"] == "350.36"
    assert answer["total"]["values"]["n"] == 4
    assert [c["key"] for c in answer["columns"]] == ["category", "n", "total", "mean", "units", "per_unit"]
    for row in answer["rows"]:
        behind = shop.behind(row["filter"])
        assert len(behind) == row["values"]["n"]
        assert sum(Decimal(r["amount"]) for r in behind) == Decimal(row["values"]["total"])


@pytest.mark.parametrize(
    ("bucket", "keys"),
    [
        ("day", {"2026-01-05", "2026-01-20", "2026-02-10", "2026-04-01"}),
        ("week", {"2026-01-05", "2026-01-19", "2026-02-09", "2026-03-30"}),
        ("month", {"2026-01", "2026-02", "2026-04"}),
        ("quarter", {"2026-Q1", "2026-Q2"}),
        ("year", {"2026"}),
    ],
)
def test_date_buckets_group_by_period_and_drill_down_to_their_records(shop, bucket, keys):
    key = f"by_{bucket}"
    shop.report(key, dimensions=[{"field": "needed", "bucket": bucket}], measures=[{"key": "n", "agg": "count"}])
    answer = shop.answer(key)
    rows = by(answer, f"needed__{bucket}")
    assert set(rows) == keys
    for row in rows.values():
        assert len(shop.behind(row["filter"])) == row["values"]["n"]
