"""Formula fields: computed on save, stored, filterable and sortable; checked at publish."""

from __future__ import annotations

import json

from tests.builders import field, form, publish_app, records_url

APP = "calc"
URL = records_url(APP, "line")


def line_form(*extra):
    return form(
        "line",
        field("title"),
        field("qty", "integer"),
        field("price", "decimal", scale=2),
        {"id": "fld_total", "key": "total", "type": "formula", "label": "Total", "formula": "qty * price", "scale": 2},
        {
            "id": "fld_size",
            "key": "size",
            "type": "formula",
            "label": "Size",
            "result": "text",
            "formula": 'IF(total > 100, "big", "small")',
        },
        *extra,
        title_field="title",
    )


def test_formulas_are_computed_on_create_and_update_and_can_be_filtered(client):
    publish_app(client, APP, line_form())
    small = client.post(URL, json={"title": "a", "qty": 3, "price": "2.50"}).json()
    assert (small["total"], small["size"]) == ("7.50", "small")
    big = client.post(URL, json={"title": "b", "qty": 10, "price": "12.34"}).json()
    assert (big["total"], big["size"]) == ("123.40", "big")
    changed = client.patch(f"{URL}/{small['id']}", json={"qty": 100}).json()
    assert (changed["total"], changed["size"]) == ("250.00", "big")
    history = client.get(f"{URL}/{small['id']}/history").json()["items"][-1]["changes"]
    assert history["total"] == {"before": "7.50", "after": "250.00"}
    flt = json.dumps({"field": "total", "op": "gt", "value": "200"})
    listed = client.get(URL, params={"filter": flt, "sort": "-total"}).json()["items"]
    assert [r["id"] for r in listed] == [small["id"]]


def test_formula_fields_cannot_be_written(client):
    publish_app(client, APP, line_form())
    refused = client.post(URL, json={"title": "a", "total": "1.00"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "total"


def test_empty_inputs_and_division_by_zero_give_an_empty_value_not_an_error(client):
    ratio = {"id": "fld_ratio", "key": "ratio", "type": "formula", "label": "Ratio", "formula": "price / qty"}
    publish_app(client, APP, line_form(ratio))
    record = client.post(URL, json={"title": "a", "qty": 0, "price": "5"})
    assert record.status_code == 201, record.text
    assert record.json()["ratio"] is None
    assert client.post(URL, json={"title": "b"}).json()["total"] is None


def test_type_errors_and_cycles_are_refused_at_publish_with_the_position(client):
    bad = line_form()
    bad["fields"][3] = {**bad["fields"][3], "formula": "title + 1"}
    client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Calc"})
    problems = client.put(f"/api/design/apps/{APP}/forms/line", json=bad).json()["problems"]
    assert problems[0]["path"] == "fields[3].formula"
    assert "text and number" in problems[0]["message"] and "character 7" in problems[0]["message"]
    circle = line_form()
    circle["fields"][3] = {**circle["fields"][3], "formula": 'IF(size = "big", 1, 2)'}
    problems = client.put(f"/api/design/apps/{APP}/forms/line", json=circle).json()["problems"]
    assert any("circle" in p["message"] for p in problems)
    assert client.post(f"/api/design/apps/{APP}/forms/line/publish").status_code == 422


def test_formula_defaults_fill_empty_fields_on_create(client):
    publish_app(
        client,
        APP,
        line_form(
            field("day", "date", default={"formula": "TODAY()"}),
            field("author", "integer", default={"formula": "CURRENT_USER()"}),
        ),
    )
    me = client.get("/api/me").json()
    record = client.post(URL, json={"title": "a"}).json()
    assert record["day"] is not None and record["author"] == me["id"]
    given = client.post(URL, json={"title": "b", "day": "2020-01-02"}).json()
    assert given["day"] == "2020-01-02"


def test_changing_a_formula_recomputes_every_record(client):
    publish_app(client, APP, line_form())
    rid = client.post(URL, json={"title": "a", "qty": 2, "price": "3.00"}).json()["id"]
    changed = line_form()
    changed["fields"][3] = {**changed["fields"][3], "formula": "qty * price * 2"}
    client.put(f"/api/design/apps/{APP}/forms/line", json=changed)
    published = client.post(f"/api/design/apps/{APP}/forms/line/publish")
    assert published.status_code == 200, published.text
    assert "recompute_formulas" in [s["action"] for s in published.json()["plan"]["steps"]]
    assert client.get(f"{URL}/{rid}").json()["total"] == "12.00"


def test_turning_a_field_into_a_formula_is_refused(client):
    publish_app(client, APP, line_form())
    client.post(URL, json={"title": "a", "qty": 2})
    changed = line_form()
    changed["fields"][1] = {"id": "fld_qty", "key": "qty", "type": "formula", "label": "Qty", "formula": "1"}
    client.put(f"/api/design/apps/{APP}/forms/line", json=changed)
    refused = client.post(f"/api/design/apps/{APP}/forms/line/publish")
    assert refused.status_code == 409
    assert refused.json()["plan"]["blockers"][0]["field"] == "qty"
