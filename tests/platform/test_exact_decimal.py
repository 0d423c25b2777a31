"""ExactDecimal reads back the very value stored, with the column's scale, on both databases (on SQLite
an integer count of 10**-scale units, turned back into a decimal in one step)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from opsloom.platform.types import ExactDecimal
from tests.databases import Opened, opened_connection

metadata = MetaData()
SCALES = (0, 2, 6)
amounts = Table(
    "t_amounts",
    metadata,
    Column("n", Integer, primary_key=True),
    *(Column(f"s{scale}", ExactDecimal(18, scale), nullable=True) for scale in SCALES),
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def connection(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Opened]:
    with opened_connection(request.param, tmp_path_factory.mktemp("amounts"), metadata) as opened:
        yield opened


def units(scale: int) -> st.SearchStrategy[Decimal | None]:
    """Any value an 18-digit column of this scale holds (or NULL)."""
    whole = 10**18 - 1
    return st.none() | st.integers(-whole, whole).map(lambda n: Decimal(n).scaleb(-scale))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(*(units(scale) for scale in SCALES)), min_size=1, max_size=20))
def test_every_value_reads_back_equal_with_the_columns_scale(
    connection: Opened, rows: list[tuple[Decimal | None, ...]]
) -> None:
    runner, conn = connection

    async def round_trip() -> list[tuple[Any, ...]]:
        async with conn.begin() as transaction:
            stored = [{"n": n} | {f"s{s}": v for s, v in zip(SCALES, row, strict=True)} for n, row in enumerate(rows)]
            await conn.execute(insert(amounts), stored)
            read = (await conn.execute(select(*amounts.c[1:]).order_by(amounts.c.n))).all()
            await transaction.rollback()
        return [tuple(r) for r in read]

    read = runner.run(round_trip())
    assert read == rows
    for row in read:
        for scale, value in zip(SCALES, row, strict=True):
            assert value is None or value.as_tuple().exponent == -scale  # "5.00", never "5" or "5.0"
