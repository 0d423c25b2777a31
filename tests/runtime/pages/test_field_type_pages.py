"""rating, percent, rich_text and address on the pages: the record's page, its form, the list and its filter bar.
Rich text is markup on the record's page (cleaned again as it is shown) and escaped text everywhere else."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from tests.builders import create, field, form, publish_app, records_url

URL = "/apps/shop/forms/item"
RECORDS = records_url("shop", "item")
ITEM = form(
    "item",
    field("title"),
    field("stars", "rating"),
    field("discount", "percent"),
    field("notes", "rich_text"),
    field("site_at", "address"),
    title_field="title",
)
PLACE = {"province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科苑路 15 号"}


def setup(client: TestClient) -> tuple[int, int]:
    publish_app(client, "shop", ITEM)
    client.cookies.set("opsloom_locale", "en")
    rich = create(
        client,
        RECORDS,
        title="Rich",
        stars=4,
        discount="12.5%",
        notes="<p>Hello <strong>world</strong> &lt;b&gt;not bold&lt;/b&gt;</p>",
        site_at=PLACE,
    )
    plain = create(client, RECORDS, title="Plain", discount="5%")
    return rich["id"], plain["id"]


def test_the_record_page_shows_rich_text_as_markup_and_the_rest_as_text(client: TestClient) -> None:
    rich, _ = setup(client)
    page = client.get(f"{URL}/records/{rich}", params={"locale": "en"})
    assert page.status_code == 200
    html = page.text
    assert '<div class="rich-text-shown"><p>Hello <strong>world</strong> &lt;b&gt;not bold&lt;/b&gt;</p></div>' in html
    assert "<b>not bold" not in html  # text that looks like markup stays text
    assert re.search(r'data-field="stars">\s*<dt>Stars</dt>\s*<dd>\s*4/5', html)
    assert "12.5%" in html
    assert "科苑路 15 号, 南山区, 深圳市, 广东省" in html


def test_the_list_shows_plain_text_escaped(client: TestClient) -> None:
    setup(client)
    html = client.get(URL, params={"locale": "en"}).text
    assert "<strong>" not in html
    assert "<td>4/5</td><td>12.5%</td><td>Hello world &lt;b&gt;not bold&lt;/b&gt;</td>" in html
    assert "<td>科苑路 15 号, 南山区, 深圳市, 广东省</td>" in html and "<td>5.0%</td>" in html


def test_the_filter_bar_reads_a_percentage_as_people_type_it(client: TestClient) -> None:
    setup(client)
    params = [("f_field", "discount"), ("f_op", "gt"), ("f_value", "10")]
    response = client.get(URL, params=params, follow_redirects=False)
    assert response.status_code == 303
    html = client.get(response.headers["location"]).text
    assert ">Rich<" in html and ">Plain<" not in html


def test_the_form_starts_with_the_stored_values(client: TestClient) -> None:
    rich, _ = setup(client)
    html = client.get(f"{URL}/records/{rich}/edit", params={"locale": "en"}).text
    assert re.search(r'<input type="radio" class="star-input" id="f-stars-4" name="f-stars" value="4" checked>', html)
    assert 'data-suffix="%" value="12.5"' in html
    assert "<p>Hello <strong>world</strong> &lt;b&gt;not bold&lt;/b&gt;</p></div>" in html
    assert 'data-part="city" value="深圳市"' in html
    assert 'data-reads="checked_value"' in html and 'data-reads="html"' in html and 'data-reads="parts"' in html


def test_stars_and_percentages_in_rows_are_a_radio_group_per_row(client: TestClient) -> None:
    lines = field("lines", "subform", fields=[field("item"), field("score", "rating", max=3), field("cut", "percent")])
    publish_app(client, "shop", form("order", field("title"), lines, title_field="title"))
    order = create(
        client, records_url("shop", "order"), title="O", lines=[{"item": "a", "score": 2, "cut": "10%"}, {"item": "b"}]
    )
    html = client.get(f"/apps/shop/forms/order/records/{order['id']}/edit", params={"locale": "en"}).text
    names = set(re.findall(r'<input type="radio" class="star-input" id="[^"]+" name="([^"]+)"', html))
    assert len(names) == 3  # two rows and the blank row's template, each its own group
    assert any("__row__" in name for name in names)
    assert re.search(r'name="[^"]+" value="2" checked>', html) and 'data-suffix="%" value="10.0"' in html


def test_the_form_page_tells_the_browser_the_places_a_percentage_has(client: TestClient) -> None:
    """The browser reads and compares percentages with the places the server keeps (form_meta)."""
    publish_app(client, "shop", form("rates", field("fine", "percent", places=2), field("cut", "percent")))
    html = client.get("/apps/shop/forms/rates/new", params={"locale": "en"}).text
    found = re.search(r'<script type="application/json" id="form-meta">(.*?)</script>', html, re.S)
    assert found is not None
    fields = json.loads(found.group(1))["fields"]
    assert (fields["fine"]["kind"], fields["fine"]["places"]) == ("percent", 2)
    assert fields["cut"]["places"] == 1
