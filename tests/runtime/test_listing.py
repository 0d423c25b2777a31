"""Listing records: every filter operator, sorting, keyset pagination, search and counts."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsloom.platform import context
from tests.builders import admin_client, create, field, form, list_all, options, problem, publish_fresh
from tests.conftest import DATABASES, sent_statements
from tests.strategies import condition_trees

ITEM = form(
    "item",
    field("title", max_length=100),
    field("qty", "integer"),
    field("amount", "decimal", precision=10, scale=2),
    field("kind", "select", options=options("a", "b", "c")),
    field("tags", "multiselect", options=options("x", "y", "z")),
    field("done", "boolean"),
    field("due", "date"),
    field("at", "datetime"),
    field("mail", "email"),
    field("note", "textarea"),
    title_field="title",
)
TODAY = datetime.now(UTC).date()
STARTED = monotonic()


class ClockFromNoon(datetime):
    """The server's clock for this module: noon of TODAY when the module starts, then running.

    The catalogue's days are written relative to TODAY; a run that crosses midnight must not
    see the server's today move on under it.
    """

    @classmethod
    def now(cls, tz=None):
        moment = datetime.combine(TODAY, time(12), UTC) + timedelta(seconds=monotonic() - STARTED)
        return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)


@pytest.fixture(scope="module", autouse=True)
def clock_from_noon():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(context, "datetime", ClockFromNoon)
        yield


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def noon(offset: int) -> str:
    return f"{day(offset)}T12:00:00Z"


# One row per line: a small catalogue with empty values, ties and awkward text.
CATALOGUE = [
    dict(title="Apple pie", qty=5, amount="10.00", kind="a", tags=["x"], done=True, due=day(0), at=noon(0)),
    dict(title="apple juice", qty=10, amount="20.50", kind="b", tags=["x", "y"], done=False, due=day(-3), at=noon(-3)),
    dict(title="Banana"),
    dict(title="Cherry 100%", qty=15, amount="5.25", kind="a", tags=["y"], due=day(-40), at=noon(-40)),
    dict(title="under_score", qty=0, amount="0.00", kind="c", tags=[], due=day(1), at=noon(1), mail="u@example.com"),
    dict(title="back\\slash", qty=-5, amount="-1.50", kind="b", tags=["z"], done=False, due=day(-6), at=noon(-6)),
    dict(title="", qty=7, note="long text"),
]


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("listing")) as client:
        yield client


@pytest.fixture
def url(api):
    return publish_fresh(api, "shop", ITEM)


@pytest.fixture(scope="module")
def catalogue(api):
    """The catalogue, published once per database: the tests using it only read."""
    url = publish_fresh(api, "shop", ITEM)
    for row in CATALOGUE:
        create(api, url, **row)
    return url


def titles(api, url, condition) -> set:
    response = api.get(url, params={"filter": json.dumps(condition), "limit": 500})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {r["title"] for r in body["items"]}


ALL = {r["title"] or None for r in CATALOGUE}


def c(key, op, value=None):
    condition = {"field": key, "op": op}
    if value is not None:
        condition["value"] = value
    return condition


# ---------------------------------------------------------------- operators

OPERATORS = [
    (c("qty", "eq", 5), {"Apple pie"}),
    (c("qty", "eq", "5"), {"Apple pie"}),
    (c("qty", "ne", 5), ALL - {"Apple pie"}),
    (c("qty", "gt", 5), {"apple juice", "Cherry 100%", None}),
    (c("qty", "gte", 5), {"Apple pie", "apple juice", "Cherry 100%", None}),
    (c("qty", "lt", 5), {"under_score", "back\\slash"}),
    (c("qty", "lte", 0), {"under_score", "back\\slash"}),
    (c("qty", "in", [0, 15, 99]), {"under_score", "Cherry 100%"}),
    (c("qty", "in", []), set()),
    (c("qty", "not_in", [0, 15]), ALL - {"under_score", "Cherry 100%"}),
    (c("qty", "not_in", []), ALL),
    (c("qty", "between", [0, 7]), {"Apple pie", "under_score", None}),
    (c("qty", "between", [7, 0]), set()),
    (c("qty", "is_empty"), {"Banana"}),
    (c("qty", "not_empty"), ALL - {"Banana"}),
    (c("amount", "gt", "5.25"), {"Apple pie", "apple juice"}),
    (c("amount", "eq", "20.5"), {"apple juice"}),
    (c("amount", "lt", 0), {"back\\slash"}),
    (c("amount", "between", ["0", "10"]), {"Apple pie", "Cherry 100%", "under_score"}),
    (c("kind", "eq", "a"), {"Apple pie", "Cherry 100%"}),
    (c("kind", "ne", "a"), ALL - {"Apple pie", "Cherry 100%"}),
    (c("kind", "in", ["b", "c"]), {"apple juice", "under_score", "back\\slash"}),
    (c("kind", "not_in", ["a", "b"]), {"Banana", "under_score", None}),
    (c("kind", "is_empty"), {"Banana", None}),
    (c("tags", "contains", "x"), {"Apple pie", "apple juice"}),
    (c("tags", "in", ["y", "z"]), {"apple juice", "Cherry 100%", "back\\slash"}),
    (c("tags", "eq", "y"), {"Cherry 100%"}),
    (c("tags", "is_empty"), {"Banana", "under_score", None}),
    (c("tags", "not_empty"), {"Apple pie", "apple juice", "Cherry 100%", "back\\slash"}),
    (c("done", "eq", True), {"Apple pie"}),
    (c("done", "eq", False), {"apple juice", "back\\slash"}),
    (c("done", "ne", True), ALL - {"Apple pie"}),
    (c("done", "is_empty"), {"Banana", "Cherry 100%", "under_score", None}),
    (c("title", "eq", "Banana"), {"Banana"}),
    (c("title", "eq", "banana"), set()),
    (c("title", "contains", "APPLE"), {"Apple pie", "apple juice"}),
    (c("title", "contains", "pIe"), {"Apple pie"}),
    (c("title", "contains", "%"), {"Cherry 100%"}),
    (c("title", "contains", "_"), {"under_score"}),
    (c("title", "contains", "\\"), {"back\\slash"}),
    (c("title", "contains", "/"), set()),
    (c("title", "starts_with", "apple"), {"Apple pie", "apple juice"}),
    (c("title", "starts_with", "pie"), set()),
    (c("title", "starts_with", "_"), set()),
    (c("title", "is_empty"), {None}),
    (c("title", "not_empty"), ALL - {None}),
    (c("title", "gt", "a"), {"apple juice", "under_score", "back\\slash"}),
    (c("title", "lt", "B"), {"Apple pie"}),
    (c("title", "between", ["B", "C"]), {"Banana"}),
    (c("mail", "eq", "U@EXAMPLE.com"), set()),
    (c("mail", "contains", "EXAMPLE"), {"under_score"}),
    (c("note", "contains", "LONG"), {None}),
    (c("due", "eq", day(-3)), {"apple juice"}),
    (c("due", "lt", day(0)), {"apple juice", "Cherry 100%", "back\\slash"}),
    (c("due", "gte", day(0)), {"Apple pie", "under_score"}),
    (c("due", "between", [day(-6), day(-3)]), {"apple juice", "back\\slash"}),
    (c("due", "today"), {"Apple pie"}),
    (c("due", "last_n_days", 1), {"Apple pie"}),
    (c("due", "last_n_days", 4), {"Apple pie", "apple juice"}),
    (c("due", "last_n_days", 7), {"Apple pie", "apple juice", "back\\slash"}),
    (c("due", "eq", {"var": "today"}), {"Apple pie"}),
    (c("due", "lt", {"var": "today"}), {"apple juice", "Cherry 100%", "back\\slash"}),
    (c("at", "today"), {"Apple pie"}),
    (c("at", "last_n_days", 4), {"Apple pie", "apple juice"}),
    (c("at", "gte", {"var": "today"}), {"Apple pie", "under_score"}),
    (c("at", "lt", noon(0)), {"apple juice", "Cherry 100%", "back\\slash"}),
    (c("at", "eq", f"{day(0)}T20:00:00+08:00"), {"Apple pie"}),
    (c("created_at", "today"), ALL),
    (c("id", "gt", 0), ALL),
]


@pytest.mark.parametrize(("condition", "expected"), OPERATORS, ids=[f"{x['field']}-{x['op']}" for x, _ in OPERATORS])
def test_each_operator_selects_the_matching_records(api, catalogue, condition, expected):
    assert titles(api, catalogue, condition) == expected


def in_range(first: date, last: date) -> set:
    return {r["title"] or None for r in CATALOGUE if r.get("due") and first <= date.fromisoformat(r["due"]) <= last}


def test_this_week_runs_from_monday_to_sunday(api, catalogue):
    monday = TODAY - timedelta(days=TODAY.weekday())
    expected = in_range(monday, monday + timedelta(days=6))
    assert titles(api, catalogue, c("due", "this_week")) == expected
    assert titles(api, catalogue, c("at", "this_week")) == expected
    assert "Apple pie" in expected


def test_this_month_runs_from_the_first_to_the_last_day(api, catalogue):
    first = TODAY.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    expected = in_range(first, last)
    assert titles(api, catalogue, c("due", "this_month")) == expected
    assert titles(api, catalogue, c("at", "this_month")) == expected


NESTED = [
    ({"and": [c("kind", "eq", "a"), c("qty", "gt", 5)]}, {"Cherry 100%"}),
    ({"or": [c("kind", "eq", "c"), c("qty", "lt", 0)]}, {"under_score", "back\\slash"}),
    ({"not": c("kind", "eq", "a")}, ALL - {"Apple pie", "Cherry 100%"}),
    ({"not": c("qty", "gt", 5)}, {"Apple pie", "Banana", "under_score", "back\\slash"}),
    (
        {"and": [{"or": [c("kind", "eq", "a"), c("kind", "eq", "b")]}, {"not": c("title", "contains", "apple")}]},
        {"Cherry 100%", "back\\slash"},
    ),
    ({"or": [{"and": [c("done", "eq", True)]}, {"not": {"not": c("qty", "eq", 0)}}]}, {"Apple pie", "under_score"}),
    ({"and": [c("id", "gt", 0), {"or": [c("title", "is_empty"), c("tags", "contains", "z")]}]}, {None, "back\\slash"}),
]


@pytest.mark.parametrize(("condition", "expected"), NESTED)
def test_and_or_not_nest(api, catalogue, condition, expected):
    assert titles(api, catalogue, condition) == expected


PLAIN_VALUES = {  # values compared as bound parameters only: lists of one shape share one statement
    "qty": [-5, 0, 5, 7, 10, 15],
    "amount": ["-1.50", "0.00", "5.25", "10.00", "20.50"],
    "due": [day(-40), day(-3), day(0), day(1)],
    "at": [noon(-3), noon(0), f"{day(0)}T20:00:00+08:00"],
    "title": ["Apple pie", "Banana", "apple juice", "back\\slash"],
    "mail": ["u@example.com", "a@example.com"],
    "kind": ["a", "b", "c"],
}
ORDERED_OPS = ["eq", "ne", "gt", "gte", "lt", "lte"]


def _plain(key: str) -> st.SearchStrategy[dict]:
    ops = ORDERED_OPS if key != "kind" else ["eq", "ne"]
    return st.builds(c, st.just(key), st.sampled_from(ops), st.sampled_from(PLAIN_VALUES[key]))


PLAIN = st.sampled_from(sorted(PLAIN_VALUES)).flatmap(_plain)
PLAIN_TREES = condition_trees(PLAIN, max_leaves=4)


def answer(api, url, condition, count: str) -> tuple[list, object]:
    response = api.get(url, params={"filter": json.dumps(condition), "limit": 500, "count": count})
    assert response.status_code == 200, response.text
    body = response.json()
    return [r["id"] for r in body["items"]], body.get("total")


@settings(max_examples=60, deadline=None)
@given(condition=PLAIN_TREES)
def test_a_list_asked_with_other_values_answers_as_a_filter_built_anew(api, catalogue, condition):
    """A list that differs from one before only in the values it compares is sent as that one's
    statement with its own values. It answers as the same filter built anew: or-ed with `qty in []`
    (never true), whose SQL depends on its value, so that it is never shared."""
    anew = {"or": [condition, c("qty", "in", [])]}
    for count in ("auto", "none"):
        assert answer(api, catalogue, condition, count) == answer(api, catalogue, anew, count)
    counted = api.get(catalogue, params={"filter": json.dumps(condition), "limit": 0, "count": "exact"}).json()
    assert counted["total"] == len(answer(api, catalogue, anew, "none")[0])


def test_lists_that_differ_only_in_values_keep_one_statement(api, url):
    for qty in range(6):
        create(api, url, title=f"row {qty}", qty=qty, kind="ab"[qty % 2])
    app, key = url.split("/")[3], url.split("/")[5]
    forms = api.app.state.forms
    answers = [titles(api, url, {"and": [c("qty", "gt", n), c("kind", "eq", k)]}) for n, k in ((0, "a"), (2, "b"))]
    assert answers == [{"row 2", "row 4"}, {"row 3", "row 5"}]
    kept = forms.peek(app, key).statements["list_shapes"]
    assert len(kept) == 1  # one shape: the page with its total
    assert titles(api, url, {"and": [c("kind", "eq", "a"), c("qty", "gt", 0)]}) == {"row 2", "row 4"}
    assert titles(api, url, {"and": [c("qty", "in", [4]), c("kind", "eq", "a")]}) == {"row 4"}  # built anew
    assert len(kept) == 2  # another order of the same comparisons is another shape; `in` is not kept


def test_var_today_follows_the_clock(api, url):
    today = create(api, url, title="today", due=day(0))
    create(api, url, title="yesterday", due=day(-1))
    assert titles(api, url, c("due", "eq", {"var": "today"})) == {today["title"]}
    assert titles(api, url, c("due", "gte", {"var": "today"})) == {"today"}


# -------------------------------------------------------------------- sort

SORTABLE = [
    dict(title="A", kind="a", qty=3),
    dict(title="B", kind="b", qty=1),
    dict(title="C", qty=2),
    dict(title="D", kind="a"),
    dict(title="E", kind="b", qty=1),
]


@pytest.fixture(scope="module")
def sortable(api):
    url = publish_fresh(api, "shop", ITEM)
    for row in SORTABLE:
        create(api, url, **row)
    return url


def order(api, url, sort=None) -> list:
    params = {"limit": 500} | ({"sort": sort} if sort is not None else {})
    response = api.get(url, params=params)
    assert response.status_code == 200, response.text
    return [r["title"] for r in response.json()["items"]]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, ["E", "D", "C", "B", "A"]),
        ("id", ["A", "B", "C", "D", "E"]),
        ("title", ["A", "B", "C", "D", "E"]),
        ("-title", ["E", "D", "C", "B", "A"]),
        ("qty", ["B", "E", "C", "A", "D"]),
        ("-qty", ["D", "A", "C", "E", "B"]),
        ("kind,-qty", ["D", "A", "E", "B", "C"]),
        ("-kind,qty", ["C", "B", "E", "A", "D"]),
        ("kind,title", ["A", "D", "B", "E", "C"]),
        ("-kind,-title", ["C", "E", "B", "D", "A"]),
        (" kind , -id ", ["D", "A", "E", "B", "C"]),
    ],
)
def test_sort_by_several_keys_with_empty_values_last_ascending_and_first_descending(api, sortable, sort, expected):
    assert order(api, sortable, sort) == expected


@pytest.mark.parametrize("sort", ["nope", "deleted_at", "tags", "note", "title;drop", "a,b,c,d,e,f"])
def test_sort_by_an_unknown_or_unsortable_field_is_a_400(api, url, sort):
    problem(api.get(url, params={"sort": sort}), 400, "sort")


def test_at_most_five_sort_keys(api, url):
    assert api.get(url, params={"sort": "title,qty,kind,done,due"}).status_code == 200
    problem(api.get(url, params={"sort": "title,qty,kind,done,due,at"}), 400, "sort")


# -------------------------------------------------------------- pagination


def add_many(api, url):
    """23 records with ties and empty values in every sortable field."""
    kinds = ["a", "b", None]
    rows = [
        {
            "title": f"r{i % 7}" if i % 5 else None,
            "qty": i % 4 if i % 3 else None,
            "amount": f"{i % 3}.50" if i % 4 else None,
            "kind": kinds[i % 3],
            "done": [True, False, None][i % 3],
            "due": day(-(i % 5)) if i % 6 else None,
            "at": noon(-(i % 2)) if i % 7 else None,
        }
        for i in range(23)
    ]
    response = api.post(f"{url}/bulk", json={"records": rows})
    assert response.status_code == 201, response.text
    return url


@pytest.fixture(scope="module")
def many(api):
    """A table of 23 records that the tests using it only read."""
    return add_many(api, publish_fresh(api, "shop", ITEM))


PAGE_SORTS = [None, "id", "title", "-title", "qty,-amount", "-kind,done,title", "due,-at", "-done,-qty,-due"]


@pytest.mark.parametrize("sort", PAGE_SORTS)
def test_keyset_pages_walk_every_row_exactly_once_in_order(api, many, sort):
    params = {"sort": sort} if sort else {}
    whole = api.get(many, params={**params, "limit": 500}).json()["items"]
    assert len(whole) == 23
    for limit in (1, 4, 22):
        walked = list_all(api, many, limit=limit, **params)
        assert [r["id"] for r in walked] == [r["id"] for r in whole], (sort, limit)


def test_filtered_pages_walk_only_the_matching_rows(api, many):
    condition = json.dumps(c("kind", "ne", "a"))
    walked = list_all(api, many, filter=condition, sort="title,-qty", limit=3)
    assert len(walked) == len({r["id"] for r in walked}) == 15
    assert all(r["kind"] != "a" for r in walked)


def test_the_pages_of_a_walk_share_a_statement_for_each_place_of_empty_values(api, url):
    """A cursor's values are sent to the statement of its shape: where its values are empty (`IS NULL`
    there), since the SQL of that depends on it. The walk itself answers as in the tests above."""
    many = add_many(api, url)
    whole = api.get(many, params={"sort": "qty,-amount", "limit": 500}).json()["items"]
    walked = list_all(api, many, sort="qty,-amount", limit=1)
    assert [r["id"] for r in walked] == [r["id"] for r in whole]
    app, key = url.split("/")[3], url.split("/")[5]
    kept = api.app.state.forms.peek(app, key).statements["list_shapes"]
    empty_places = {(r["qty"] is None, r["amount"] is None) for r in walked[:-1]}  # each cursor's row
    assert len(empty_places) == 4
    assert len(kept) == 2 + len(empty_places)  # the whole list, the first page, one for each shape


def test_last_page_has_no_next_cursor(api, many):
    page = api.get(many, params={"limit": 23}).json()
    assert len(page["items"]) == 23 and page["next_cursor"] is None
    page = api.get(many, params={"limit": 22}).json()
    assert page["next_cursor"] is not None


def test_records_deleted_between_pages_are_skipped_not_repeated(api, url):
    many = add_many(api, url)
    first = api.get(many, params={"limit": 5, "sort": "id"}).json()
    second_page_ids = [
        r["id"]
        for r in api.get(many, params={"limit": 5, "sort": "id", "cursor": first["next_cursor"]}).json()["items"]
    ]
    api.delete(f"{many}/{second_page_ids[0]}")
    rest = list_all(api, many, sort="id", limit=5, cursor=first["next_cursor"])
    assert [r["id"] for r in rest] == sorted(set(r["id"] for r in rest))
    assert second_page_ids[0] not in [r["id"] for r in rest] and len(rest) == 17


def cursor_of(api, url, **params) -> str:
    cursor = api.get(url, params={"limit": 2, **params}).json()["next_cursor"]
    assert cursor
    return cursor


def test_cursor_reused_with_another_sort_or_filter_is_a_400(api, many):
    cursor = cursor_of(api, many, sort="title")
    problem(api.get(many, params={"limit": 2, "sort": "-title", "cursor": cursor}), 400, "cursor")
    problem(api.get(many, params={"limit": 2, "cursor": cursor}), 400, "cursor")
    other = json.dumps(c("qty", "gt", 0))
    problem(api.get(many, params={"limit": 2, "sort": "title", "filter": other, "cursor": cursor}), 400, "cursor")


def tampered(cursor: str, change) -> str:
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    change(payload)
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(v=["not a number", 1]),
        lambda p: p.update(v=[1]),
        lambda p: p.update(v={"a": 1}),
        lambda p: p.update(v=[{"x": 1}, 1]),
        lambda p: p.update(v=[1e999, 1]),
        lambda p: p.update(v=["1e999999999", 1]),
        lambda p: p.update(v=[1, 2**70]),
        lambda p: p.update(s="0" * 12),
        lambda p: p.pop("s"),
        lambda p: p.clear(),
    ],
)
def test_tampered_cursor_is_a_400(api, many, change):
    cursor = tampered(cursor_of(api, many, sort="qty"), change)
    problem(api.get(many, params={"limit": 2, "sort": "qty", "cursor": cursor}), 400, "cursor")


@pytest.mark.parametrize("cursor", ["", "!!!", "e30", "bm90IGpzb24", "W10", "bnVsbA", "A" * 5000])
def test_garbage_cursor_is_a_400(api, many, cursor):
    response = api.get(many, params={"limit": 2, "cursor": cursor})
    if cursor == "":
        assert response.status_code == 200  # an empty cursor is the first page
    else:
        problem(response, 400, "cursor")


@pytest.mark.parametrize("limit", ["-1", "501", "abc", "1.5", "99999999999999999999", ""])
def test_limit_out_of_bounds_is_a_400(api, url, limit):
    problem(api.get(url, params={"limit": limit}), 400, "limit")


def test_limit_bounds_are_inclusive_and_default_is_fifty(api, url):
    api.post(f"{url}/bulk", json={"records": [{"title": str(i)} for i in range(60)]})
    assert len(api.get(url).json()["items"]) == 50
    assert len(api.get(url, params={"limit": 1}).json()["items"]) == 1
    assert len(api.get(url, params={"limit": 500}).json()["items"]) == 60


# ------------------------------------------------------------- search, count


def test_q_searches_the_title_case_insensitively(api, catalogue):
    def search(q):
        return {r["title"] for r in api.get(catalogue, params={"q": q}).json()["items"]}

    assert search("APPLE") == {"Apple pie", "apple juice"}
    assert search("100%") == {"Cherry 100%"}
    assert search("%") == {"Cherry 100%"}
    assert search("_") == {"under_score"}
    assert search("\\") == {"back\\slash"}
    assert search("zzz") == set()


def test_q_combines_with_filter_and_counts(api, catalogue):
    page = api.get(catalogue, params={"q": "apple", "filter": json.dumps(c("kind", "eq", "b"))}).json()
    assert [r["title"] for r in page["items"]] == ["apple juice"] and page["total"] == 1


def test_q_needs_a_title_field(api):
    url = publish_fresh(api, "shop", form("untitled", field("name")))
    problem(api.get(url, params={"q": "x"}), 400, "q")


def test_total_counts_all_matching_rows_not_just_the_page(api, many):
    page = api.get(many, params={"limit": 2}).json()
    assert page["total"] == 23 and page["total_exact"] is True
    exact = api.get(many, params={"limit": 2, "count": "exact"}).json()
    assert exact["total"] == 23 and exact["total_exact"] is True
    filtered = api.get(many, params={"limit": 2, "filter": json.dumps(c("kind", "eq", "a"))}).json()
    assert filtered["total"] == 8
    none = api.get(many, params={"limit": 2, "count": "none"}).json()
    assert "total" not in none and len(none["items"]) == 2


@pytest.fixture(scope="module", params=DATABASES)
def quiet(request, tmp_path_factory):
    """A server with no background work (jobs, outbox, settings refresh): every statement is a request's."""
    no_background = {"run_worker": False, "run_jobs": False, "settings_refresh_seconds": 3600}
    with admin_client(request.param, tmp_path_factory.mktemp("quiet"), **no_background) as client:
        yield client


def test_a_page_and_its_total_come_in_one_statement(quiet):
    """The total rides along with the page; only a page past the last row asks for it on its own."""
    api, many = quiet, add_many(quiet, publish_fresh(quiet, "shop", ITEM))
    table = api.get(many, params={"limit": 1}).json()  # the caller is remembered from here on
    assert table["total"] == 23
    filtered = {"limit": 2, "filter": json.dumps(c("kind", "eq", "a"))}
    for params in ({"limit": 2}, {"limit": 2, "count": "exact"}, filtered):
        with sent_statements(api) as sent:
            page = api.get(many, params=params).json()
        reads = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
        assert len(reads) == 1, reads
        assert page["total"] == (8 if params is filtered else 23) and len(page["items"]) == 2


def test_an_empty_page_asks_once_more_for_its_total_and_nothing_else(quiet):
    """An empty page brings no count and no published version: one more statement carries both."""
    api, url = quiet, publish_fresh(quiet, "shop", ITEM)
    ids = [create(api, url, title=f"row {i}")["id"] for i in range(3)]
    first = api.get(url, params={"limit": 2, "sort": "id"}).json()
    assert [r["id"] for r in first["items"]] == ids[:2] and first["total"] == 3
    assert api.delete(f"{url}/{ids[2]}").status_code == 204
    api.get(url)  # the form is current in this process again
    nothing = json.dumps(c("title", "eq", "none such"))
    for params, total in (({"limit": 2, "sort": "id", "cursor": first["next_cursor"]}, 2), ({"filter": nothing}, 0)):
        with sent_statements(api) as sent:
            page = api.get(url, params=params).json()
        assert page["items"] == [] and (page["total"], page["total_exact"]) == (total, True)
        reads = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
        assert len(reads) == 2 and "opsloom_definitions" in reads[1], reads  # the count and the version
    with sent_statements(api) as sent:
        bare = api.get(url, params={"filter": nothing, "count": "none"}).json()
    assert bare == {"items": [], "next_cursor": None}
    assert len([s for s in sent if s.lstrip().upper().startswith("SELECT")]) == 2


def test_limit_zero_asks_for_the_count_alone_in_one_statement(quiet):
    """No page is read, nor sorted: one statement counts and confirms the cached form."""
    api, many = quiet, add_many(quiet, publish_fresh(quiet, "shop", ITEM))
    api.get(many, params={"limit": 1})  # the caller is remembered from here on
    filtered = json.dumps(c("kind", "eq", "a"))
    with sent_statements(api) as sent:
        counted = api.get(many, params={"limit": 0, "filter": filtered, "count": "exact", "sort": "-title"}).json()
    assert counted == {"items": [], "next_cursor": None, "total": 8, "total_exact": True}
    reads = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "ORDER BY" not in reads[0] and "opsloom_definitions" in reads[0], reads
    assert api.get(many, params={"limit": 0}).json()["total"] == 23


def test_unknown_count_mode_is_a_400(api, url):
    problem(api.get(url, params={"count": "some"}), 400, "count")


@pytest.fixture(scope="module", params=DATABASES)
def capped(request, tmp_path_factory):
    """An app that counts exactly only up to 5 rows."""
    with admin_client(request.param, tmp_path_factory.mktemp("capped"), exact_count_limit=5) as client:
        url = publish_fresh(client, "shop", ITEM)
        client.post(f"{url}/bulk", json={"records": [{"title": str(i), "qty": i} for i in range(12)]})
        yield client, url


def test_counts_beyond_the_exact_limit_are_marked_inexact(capped):
    api, url = capped
    page = api.get(url, params={"limit": 2}).json()
    assert page["total_exact"] is False and page["total"] >= 5
    exact = api.get(url, params={"count": "exact"}).json()
    assert (exact["total"], exact["total_exact"], len(exact["items"])) == (12, True, 12)
    small = api.get(url, params={"filter": json.dumps(c("qty", "lt", 3))}).json()
    assert small["total"] == 3 and small["total_exact"] is True
