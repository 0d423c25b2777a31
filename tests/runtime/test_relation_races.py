"""Deleting a record while another request links to it: one of the two wins, never both.

A relation with `on_delete: restrict` promises that no live record links to a
deleted one. The two requests are sent at the same moment, many times over, on
the app's real connection pool; whichever order the database puts them in, the
loser is refused (409 for the delete, 422 for the link).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import create, field, form, list_all, publish_app, records_url

APP = "race"
SUPPLIERS = records_url(APP, "supplier")
ORDERS = records_url(APP, "order")
ROUNDS = 30


def forms() -> tuple[dict[str, Any], dict[str, Any]]:
    supplier = form("supplier", field("name", required=True), title_field="name")
    link = {"type": "relation", "form": "supplier", "on_delete": "restrict"}
    order = form(
        "order",
        field("title", required=True),
        field("supplier", **link),
        field("lines", "subform", fields=[field("line_supplier", **link) | {"key": "supplier"}]),
        title_field="title",
    )
    return supplier, order


def link_by_create(client: TestClient, supplier: int, order: int) -> Any:
    return client.post(ORDERS, json={"title": "new", "supplier": supplier})


def link_by_update(client: TestClient, supplier: int, order: int) -> Any:
    return client.patch(f"{ORDERS}/{order}", json={"supplier": supplier})


def link_by_row(client: TestClient, supplier: int, order: int) -> Any:
    return client.post(ORDERS, json={"title": "new", "lines": [{"supplier": supplier}]})


LINKS: dict[str, Callable[[TestClient, int, int], Any]] = {
    "create": link_by_create,
    "update": link_by_update,
    "subform row": link_by_row,
}


def at_once(barrier: Barrier, call: Callable[[], Any]) -> Any:
    barrier.wait()
    return call()


@pytest.mark.parametrize("link", LINKS)
def test_deleting_a_record_and_linking_to_it_at_once_never_both_succeed(client, link):
    publish_app(client, APP, *forms())
    write = LINKS[link]
    outcomes: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i in range(ROUNDS):
            supplier = create(client, SUPPLIERS, name=f"s{i}")["id"]
            order = create(client, ORDERS, title=f"o{i}")["id"]
            barrier = Barrier(2)
            deleting = pool.submit(at_once, barrier, lambda s=supplier: client.delete(f"{SUPPLIERS}/{s}"))
            linking = pool.submit(at_once, barrier, lambda s=supplier, o=order: write(client, s, o))
            deleted, linked = deleting.result(timeout=60), linking.result(timeout=60)
            if deleted.status_code == 204:
                assert linked.status_code == 422, (linked.status_code, linked.text)
                assert "no supplier record" in linked.text
                outcomes["delete won"] += 1
            else:
                assert deleted.status_code == 409, (deleted.status_code, deleted.text)
                assert linked.status_code in (200, 201), (linked.status_code, linked.text)
                outcomes["link won"] += 1
    assert sum(outcomes.values()) == ROUNDS
    linked_ids = set()
    for record in list_all(client, ORDERS):
        linked_ids |= {record["supplier"], *(row["supplier"] for row in record["lines"])} - {None}
    assert len(linked_ids) == outcomes["link won"]
    for supplier in linked_ids:  # every supplier still linked is live
        assert client.get(f"{SUPPLIERS}/{supplier}").status_code == 200
