"""For any data and any report shape: the records behind each row's drill-down add up to the row,
and the rows add up to the grand total (both databases)."""

from __future__ import annotations

import itertools
import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import admin_client, field, form, options, publish_fresh
from tests.conftest import DATABASES

ITEM = form(
    "item",
    field("batch", "integer"),
    field("amount", "decimal", precision=12, scale=2),
    field("kind", "select", options=options("a", "b", "c", "d")),
    field("due", "date"),
    field("done", "boolean"),
)
_batches = itertools.count(1)

records = st.lists(
    st.fixed_dictionaries(
        {
            "amount": st.one_of(st.none(), st.decimals("-1000", "1000", places=2).map(str)),
            "kind": st.sampled_from([None, "a", "b", "c", "d"]),
            "due": st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2027, 12, 31)).map(str)),
            "done": st.sampled_from([None, True, False]),
        }
    ),
    min_size=0,
    max_size=8,
)
DIMENSIONS = [
    {"field": "kind"},
    {"field": "done"},
    *({"field": "due", "bucket": b} for b in ("day", "week", "month", "quarter", "year")),
]
shapes = st.fixed_dictionaries(
    {
        "dimensions": st.lists(st.sampled_from(DIMENSIONS), min_size=1, max_size=2, unique_by=lambda d: d["field"]),
        "top": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.booleans())),
    }
)


@pytest.fixture(scope="module", params=DATABASES)
def world(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("totals")) as client:
        url = publish_fresh(client, "totals", ITEM)
        yield client, url


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=records, shape=shapes)
def test_drill_downs_add_up_to_every_row_and_rows_to_the_total(world, rows, shape):
    client, url = world
    batch = next(_batches)
    if rows:
        created = client.post(f"{url}/bulk", json={"records": [{**r, "batch": batch} for r in rows]})
        assert created.status_code == 201, created.text
    document = {
        "form": url.split("/")[-2],
        "dimensions": shape["dimensions"],
        "measures": [{"key": "n", "agg": "count"}, {"key": "total", "agg": "sum", "field": "amount"}],
        "sort": [{"by": "total", "desc": True}],
    }
    if shape["top"]:
        document["limit"], document["others"] = shape["top"]
    mine = {"filter": {"field": "batch", "op": "eq", "value": batch}}
    response = client.post("/api/design/apps/totals/reports/preview", json={"document": document, "filters": mine})
    assert response.status_code == 200, response.text
    answer = response.json()
    total = answer["total"]["values"]
    assert sum(r["values"]["n"] for r in answer["rows"]) == total["n"]
    if not shape["top"] or shape["top"][1]:  # every record is in a row (the others row included)
        assert total["n"] == len(rows)
    assert sum(Decimal(r["values"]["total"]) for r in answer["rows"]) == Decimal(total["total"])
    for row in answer["rows"] + answer["subtotals"] + [answer["total"]]:
        behind = client.get(url, params={"filter": json.dumps(row["filter"]), "limit": 500}).json()["items"]
        assert len(behind) == row["values"]["n"], (row, behind)
        assert sum(Decimal(r["amount"] or 0) for r in behind) == Decimal(row["values"]["total"]), row
