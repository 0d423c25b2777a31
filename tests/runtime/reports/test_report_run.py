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


def test_min_max_and_distinct_count_of_numbers_and_dates(shop):
    shop.report(
        "extremes",
        measures=[
            {"key": "low", "agg": "min", "field": "amount"},
            {"key": "high", "agg": "max", "field": "amount"},
            {"key": "first", "agg": "min", "field": "needed"},
            {"key": "last", "agg": "max", "field": "needed"},
            {"key": "kinds", "agg": "count_distinct", "field": "category"},
        ],
    )
    answer = shop.answer("extremes")
    assert answer["rows"][0]["values"] == {
        "low": "0.01",
        "high": "200.20",
        "first": "2026-01-05",
        "last": "2026-04-01",
        "kinds": 2,
    }
    assert answer["total"] == answer["rows"][0]


def test_two_dimensions_give_subtotals_per_first_dimension_and_a_grand_total(shop):
    shop.report(
        "category_month",
        dimensions=[{"field": "category"}, {"field": "needed", "bucket": "month"}],
        measures=[{"key": "total", "agg": "sum", "field": "amount"}],
    )
    answer = shop.answer("category_month")
    detail = {(r["values"]["category"], r["values"]["needed__month"]): r["values"]["total"] for r in answer["rows"]}
    assert detail == {("it", "2026-01"): "300.30", ("office", "2026-02"): "50.05", (None, "2026-04"): "0.01"}
    subtotals = {r["values"]["category"]: r["values"]["total"] for r in answer["subtotals"]}
    assert subtotals == {"it": "300.30", "office": "50.05", None: "0.01"}
    assert all(r["level"] == 1 and "needed__month" not in r["values"] for r in answer["subtotals"])
    assert answer["total"]["values"] == {"total": "350.36"}
    for row in answer["subtotals"]:
        assert sum(Decimal(r["amount"]) for r in shop.behind(row["filter"])) == Decimal(row["values"]["total"])


def test_without_totals_only_detail_rows_come_back(shop):
    shop.report(
        "no_totals",
        dimensions=[{"field": "category"}],
        measures=[{"key": "n", "agg": "count"}],
        totals=False,
    )
    answer = shop.answer("no_totals")
    assert len(answer["rows"]) == 3 and answer["subtotals"] == [] and answer["total"] is None


def test_sort_by_a_measure_descending(shop):
    shop.report(
        "sorted",
        dimensions=[{"field": "category"}],
        measures=[{"key": "total", "agg": "sum", "field": "amount"}],
        sort=[{"by": "total", "desc": True}],
    )
    assert [r["values"]["category"] for r in shop.answer("sorted")["rows"]] == ["it", "office", None]
    shop.report(
        "sorted_up",
        dimensions=[{"field": "category"}],
        measures=[{"key": "total", "agg": "sum", "field": "amount"}],
        sort=[{"by": "total"}],
    )
    assert [r["values"]["category"] for r in shop.answer("sorted_up")["rows"]] == [None, "office", "it"]


def test_top_n_keeps_the_largest_groups_and_folds_the_rest_into_others(shop):
    shop.report(
        "top_one",
        dimensions=[{"field": "category"}],
        measures=[{"key": "total", "agg": "sum", "field": "amount"}, {"key": "n", "agg": "count"}],
        sort=[{"by": "total", "desc": True}],
        limit=1,
        others=True,
    )
    answer = shop.answer("top_one")
    assert [(r["values"]["category"], r["other"], r["values"]["total"]) for r in answer["rows"]] == [
        ("it", False, "300.30"),
        (None, True, "50.06"),
    ]
    others = answer["rows"][1]
    assert others["labels"]["category"] == "其他"  # no language asked: zh-CN
    behind = shop.behind(others["filter"])
    assert sorted(r["amount"] for r in behind) == ["0.01", "50.05"]
    assert answer["total"]["values"]["total"] == "350.36"
    shop.report(
        "top_one_only",
        dimensions=[{"field": "category"}],
        measures=[{"key": "total", "agg": "sum", "field": "amount"}],
        sort=[{"by": "total", "desc": True}],
        limit=1,
    )
    answer = shop.answer("top_one_only")
    assert [r["values"]["category"] for r in answer["rows"]] == ["it"]
    assert answer["total"]["values"]["total"] == "300.30"


def test_labels_follow_the_callers_language(shop, api):
    shop.report(
        "labelled", dimensions=[{"field": "needed", "bucket": "quarter"}], measures=[{"key": "n", "agg": "count"}]
    )
    english = api.post(f"/api/apps/{shop.app}/reports/labelled/run", headers={"Accept-Language": "en"}).json()
    chinese = api.post(f"/api/apps/{shop.app}/reports/labelled/run", headers={"Accept-Language": "zh-CN"}).json()
    assert english["columns"][0]["label"] == "Needed (quarter)"
    assert chinese["columns"][0]["label"] == "Needed (季度)"


def test_a_filter_with_a_period_and_shared_filters_narrow_the_rows(shop):
    shop.report(
        "filtered",
        dimensions=[{"field": "category"}],
        measures=[{"key": "n", "agg": "count"}],
        filter={"field": "amount", "op": "gt", "value": "1"},
        date_field="needed",
    )
    assert shop.answer("filtered")["total"]["values"]["n"] == 3
    january = shop.answer("filtered", date_range={"from": "2026-01-01", "to": "2026-01-31"})
    assert january["total"]["values"]["n"] == 2
    for row in january["rows"]:
        assert len(shop.behind(row["filter"])) == row["values"]["n"]
    office = shop.answer("filtered", filter={"field": "category", "op": "eq", "value": "office"})
    assert office["total"]["values"]["n"] == 1
    assert shop.answer("filtered", date_range={"period": "this_month"})["total"]["values"]["n"] == 0


def test_bad_shared_filters_and_documents_are_422_with_their_path(shop):
    from tests.builders import problem

    shop.report("counted", measures=[{"key": "n", "agg": "count"}], date_field="needed")
    problem(shop.run("counted", date_range={"from": "yesterday"}), 422, "date_range.from")
    problem(shop.run("counted", department="sales"), 422, "department")
    problem(shop.run("counted", colour="red"), 422, "colour")
    problem(shop.preview(measures=[{"key": "s", "agg": "sum", "field": "category"}]), 422, "measures[0].field")
    problem(shop.preview(measures=[{"key": "s", "agg": "sum", "field": "nope"}]), 422, "measures[0].field")
    problem(
        shop.preview(dimensions=[{"field": "title", "bucket": "month"}], measures=[{"key": "n", "agg": "count"}]),
        422,
        "dimensions[0].bucket",
    )
    problem(shop.preview(measures=[{"key": "r", "formula": "nothing / 2"}]), 422, "measures[0].formula")
    problem(shop.preview(measures=[{"key": "n", "agg": "count"}], sort=[{"by": "zzz"}]), 422, "sort[0].by")
    problem(shop.preview(measures=[{"key": "n", "agg": "nth"}]), 422, "document.measures[0].agg")


def test_preview_runs_an_unsaved_document(shop):
    response = shop.preview(dimensions=[{"field": "urgent"}], measures=[{"key": "n", "agg": "count"}])
    assert response.status_code == 200, response.text
    assert response.json()["total"]["values"]["n"] == 4


def test_an_unpublished_report_is_404(shop):
    from tests.builders import problem

    problem(shop.run("never_made"), 404)


@pytest.fixture(scope="module")
def moments(api):
    shop = Shop(api)
    for at in ("2026-03-31T23:30:00Z", "2026-04-01T00:30:00Z", "2026-04-06T12:00:00Z", "2027-01-01T00:00:00Z"):
        shop.add(at=at, amount="1.00")
    return shop


@pytest.mark.parametrize(
    ("bucket", "keys"),
    [
        ("day", {"2026-03-31": 1, "2026-04-01": 1, "2026-04-06": 1, "2027-01-01": 1}),
        ("week", {"2026-03-30": 2, "2026-04-06": 1, "2026-12-28": 1}),
        ("month", {"2026-03": 1, "2026-04": 2, "2027-01": 1}),
        ("quarter", {"2026-Q1": 1, "2026-Q2": 2, "2027-Q1": 1}),
        ("year", {"2026": 3, "2027": 1}),
    ],
)
def test_datetime_buckets_and_their_drill_downs(moments, bucket, keys):
    key = f"at_{bucket}"
    moments.report(key, dimensions=[{"field": "at", "bucket": bucket}], measures=[{"key": "n", "agg": "count"}])
    answer = moments.answer(key)
    assert {r["values"][f"at__{bucket}"]: r["values"]["n"] for r in answer["rows"]} == keys
    for row in answer["rows"]:
        assert len(moments.behind(row["filter"])) == row["values"]["n"]
