"""The report viewer and dashboard pages over HTTP, on both databases: the pivot rendered on the server with
subtotals and totals, drill-down links that list exactly the records behind a number, KPI comparison,
chart data for the browser, the side navigation, and who may see what."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.builders import admin_client
from tests.conftest import DATABASES
from tests.runtime.flow.office import Office, approval, users
from tests.runtime.reports.shop import Shop


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("report_pages")) as client:
        yield client


@pytest.fixture(scope="module")
def shop(api):
    shop = Shop(api)
    rows = [
        dict(amount="100.10", category="it", urgent=True, needed="2026-01-05"),
        dict(amount="200.20", category="it", urgent=False, needed="2026-01-20"),
        dict(amount="50.05", category="office", urgent=True, needed="2026-02-10"),
        dict(amount="9.99", category="office", urgent=True, needed="2026-02-11"),
        dict(amount="0.01", category="travel", urgent=False, needed="2026-04-01"),
    ]
    for row in rows:
        shop.add(**row)
    return shop


def drill_links(html: str) -> list[tuple[str, str]]:
    """(href, text) of every drill-down link in a page."""
    return [(unescape(h), t) for h, t in re.findall(r'<a href="([^"]+)" data-drill>([^<]*)</a>', html)]


def condition_of(href: str) -> object:
    return json.loads(parse_qs(urlsplit(href).query)["filter"][0])


def test_a_pivot_is_rendered_on_the_server_with_subtotals_and_totals_that_drill_down(api, shop):
    shop.report(
        "pivot_category_urgent",
        dimensions=[{"field": "category"}, {"field": "urgent"}],
        measures=[{"key": "total", "agg": "sum", "field": "amount"}],
        display={"type": "pivot"},
    )
    page = api.get("/apps/shop/reports/pivot_category_urgent", headers={"Accept-Language": "en"})
    assert page.status_code == 200, page.text
    html = page.text
    assert '<table class="report-table pivot">' in html
    assert "Grand total" in html and ">Total<" in html
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    assert [re.search(r"<th[^>]*>([^<]*)</th>", r).group(1) for r in rows] == ["It", "Office", "Travel"]
    it_cells = re.findall(r"<td[^>]*>(.*?)</td>", rows[0], re.S)
    assert re.findall(r'<th scope="colgroup"[^>]*>([^<]*)</th>', html) == ["No", "Yes", "Total"]
    assert [re.sub(r"<[^>]+>", "", c) for c in it_cells] == ["200.20", "100.10", "300.30"]  # No, Yes, row total
    foot = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    assert [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", foot, re.S)] == [
        "200.21",
        "160.14",
        "360.35",
    ]
    links = drill_links(html)
    assert links, "every number links to its records"
    for href, text in links:
        assert href.startswith(f"/apps/shop/forms/{shop.request}?filter=")
        behind = shop.behind(condition_of(href))
        assert sum(Decimal(r["amount"]) for r in behind) == Decimal(text.replace(",", ""))
    listed = api.get(links[0][0])
    assert listed.status_code == 200


def test_a_three_level_pivot_shows_group_subtotal_rows_in_chinese(api, shop):
    shop.report(
        "pivot_three",
        dimensions=[{"field": "category"}, {"field": "needed", "bucket": "month"}, {"field": "urgent"}],
        measures=[{"key": "n", "agg": "count"}],
        display={"type": "pivot"},
    )
    html = api.get("/apps/shop/reports/pivot_three", headers={"Accept-Language": "zh-CN"}).text
    assert "总计" in html and "小计" in html
    assert html.count('class="subtotal"') == 3  # one per category


def test_a_table_lists_rows_with_a_total_and_export_links_in_both_languages(api, shop):
    shop.report(
        "table_by_category",
        dimensions=[{"field": "category"}],
        measures=[{"key": "n", "agg": "count"}, {"key": "total", "agg": "sum", "field": "amount"}],
        display={"type": "table"},
    )
    en = api.get("/apps/shop/reports/table_by_category", headers={"Accept-Language": "en"})
    assert "Download Excel" in en.text and "/api/apps/shop/reports/table_by_category/run.xlsx" in en.text
    assert "Grand total" in en.text and "360.35" in en.text
    zh = api.get("/apps/shop/reports/table_by_category", headers={"Accept-Language": "zh-CN"})
    assert "下载 Excel" in zh.text and "总计" in zh.text
    assert "/vendor/echarts.esm.js" not in en.text and "report_view.js" not in en.text  # no chart, no ECharts
    exported = api.get("/api/apps/shop/reports/table_by_category/run.csv")
    assert exported.status_code == 200 and "360.35" in exported.text


def test_a_chart_page_carries_its_points_with_drill_down_and_cross_filter_conditions(api, shop):
    shop.report(
        "bar_by_category",
        dimensions=[{"field": "category"}],
        measures=[{"key": "total", "agg": "sum", "field": "amount"}],
        display={"type": "bar"},
    )
    html = api.get("/apps/shop/reports/bar_by_category", headers={"Accept-Language": "en"}).text
    assert 'src="/static/js/report_view.js"' in html and "data-chart" in html
    boot = json.loads(
        re.search(r'<script type="application/json" class="chart-boot">(.*?)</script>', html, re.S).group(1)
    )
    assert boot["type"] == "bar"
    points = {p["labels"][0]: p for p in boot["points"]}
    assert points["It"]["values"]["total"] == pytest.approx(300.30)
    assert points["It"]["cross"] == {"field": "category", "op": "eq", "value": "it"}
    assert len(shop.behind(condition_of(points["Office"]["href"]))) == 2


def test_a_month_bucket_cross_filter_is_the_months_date_range(api, shop):
    shop.report(
        "line_by_month",
        dimensions=[{"field": "needed", "bucket": "month"}],
        measures=[{"key": "n", "agg": "count"}],
        display={"type": "line"},
    )
    html = api.get("/apps/shop/reports/line_by_month").text
    boot = json.loads(re.search(r'class="chart-boot">(.*?)</script>', html, re.S).group(1))
    january = next(p for p in boot["points"] if p["labels"] == ["2026-01"])
    assert january["cross"] == {"field": "needed", "op": "between", "value": ["2026-01-01", "2026-01-31"]}
    assert len(shop.behind(january["cross"])) == january["values"]["n"] == 2


def test_a_kpi_shows_the_number_its_target_and_the_previous_period(api, shop):
    shop.report(
        "kpi_spend",
        measures=[{"key": "total", "agg": "sum", "field": "amount"}],
        date_field="needed",
        display={"type": "kpi", "target": 400},
    )
    shared = json.dumps({"date_range": {"from": "2026-02-01", "to": "2026-02-28"}})
    html = api.get("/apps/shop/reports/kpi_spend", params={"filters": shared}, headers={"Accept-Language": "en"}).text
    value = re.search(r'<p class="kpi-value">(.*?)</p>', html, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", value) == "60.04"
    # January (the 31 days before February 1st ... the shifted range) had 300.30
    assert "Target 400" in html
    assert re.search(r"against the previous period \(300\.30\)", html)


def test_the_side_navigation_lists_published_reports_for_readers_only(api, shop):
    shop.report("nav_report", measures=[{"key": "n", "agg": "count"}], display={"type": "kpi"})
    nav = api.get(f"/apps/shop/forms/{shop.request}", headers={"Accept-Language": "en"}).text
    assert 'href="/apps/shop/reports/nav_report"' in nav


def test_a_report_naming_a_hidden_field_says_why_it_cannot_be_shown(api, shop):
    shop.report("unknown_missing", measures=[{"key": "n", "agg": "count"}])
    assert api.get("/apps/shop/reports/no_such_report").status_code == 404
    assert api.get("/apps/no_such_app/reports/unknown_missing").status_code == 404


def test_a_dashboard_page_places_its_reports_and_offers_its_shared_filters(api, shop):
    for key, display, dimension in (
        ("dash_bar", "bar", {"field": "category"}),
        ("dash_line", "line", {"field": "needed", "bucket": "month"}),
    ):
        shop.report(key, dimensions=[dimension], measures=[{"key": "n", "agg": "count"}], display={"type": display})
    document = {
        "key": "overview",
        "label": {"en": "Overview", "zh-CN": "概览"},
        "columns": 12,
        "items": [
            {"report": "dash_bar", "x": 0, "y": 0, "w": 6, "h": 4},
            {"report": "dash_line", "x": 6, "y": 0, "w": 6, "h": 4, "title": "Months"},
        ],
        "filters": [{"kind": "date_range"}, {"kind": "department"}, {"kind": "field", "field": "category"}],
    }
    assert api.put("/api/design/apps/shop/dashboards/overview", json=document).status_code == 200
    assert api.post("/api/design/apps/shop/dashboards/overview/publish").status_code == 200
    html = api.get("/apps/shop/dashboards/overview", headers={"Accept-Language": "en"}).text
    assert 'data-report="dash_bar"' in html and 'data-w="6"' in html
    assert "Dash_Bar" in html and "Months" in html
    assert 'name="period"' in html and 'name="department"' in html and 'data-field="category"' in html
    assert 'href="/apps/shop/dashboards/overview"' in html
    shared = json.dumps({"filter": {"field": "category", "op": "eq", "value": "office"}})
    fragment = api.get("/apps/shop/reports/dash_bar/fragment", params={"filters": shared}).text
    boot = json.loads(re.search(r'class="chart-boot">(.*?)</script>', fragment, re.S).group(1))
    assert [p["labels"] for p in boot["points"]] == [["Office"]]
    zh = api.get("/apps/shop/dashboards/overview", headers={"Accept-Language": "zh-CN"}).text
    assert "概览" in zh and "刷新" in zh


def test_the_process_page_shows_a_flows_steps_backlog_and_rates_to_its_managers(api):
    office = Office(api, "purchasing")
    office.publish_form()
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    for _ in range(3):
        office.submitted(clerk)
    tasks = [t["id"] for t in boss.tasks()]
    assert boss.act("approve", task=tasks[0]).status_code == 200
    page = api.get(f"/apps/purchasing/forms/{office.form_key}/process", headers={"Accept-Language": "en"})
    assert page.status_code == 200, page.text
    assert "approval process" in page.text and "Where requests wait" in page.text
    assert re.search(r'<p class="kpi-label">Requests submitted</p><p class="kpi-value">3</p>', page.text)
    assert re.search(r'<p class="kpi-label">Waiting now</p><p class="kpi-value">2</p>', page.text)
    assert "100.0%" in page.text  # one decided, approved
    assert f'href="/apps/purchasing/forms/{office.form_key}/process"' in page.text  # in the side navigation
    zh = api.get(f"/apps/purchasing/forms/{office.form_key}/process", headers={"Accept-Language": "zh-CN"})
    assert "审批流程分析" in zh.text
    # a requester does not manage the form: no such page for them
    assert clerk.client.get(f"/apps/purchasing/forms/{office.form_key}/process").status_code == 404
