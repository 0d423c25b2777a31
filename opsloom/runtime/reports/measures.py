"""Report measures: one small unit per aggregate, registered in one table.

A unit says which fields it takes (asking the field's unit, never its type
name), the SQL aggregate it compiles to, and the type of its result. An
average is compiled as a sum and a count, divided exactly after the query, so
that it is the same decimal on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import BigInteger, func, type_coerce

from opsloom.runtime.conditions import exact_sum
from opsloom.runtime.fields import FieldSpec, value_unit


@dataclass(frozen=True)
class Aggregate:
    name: ClassVar[str]
    needs_field: ClassVar[bool] = True
    # What the measure's fields must be, for the error message.
    takes: ClassVar[str] = ""

    def accepts(self, spec: FieldSpec) -> bool:
        raise NotImplementedError

    def columns(self, column: Any) -> list[Any]:
        """The SQL aggregates the measure reads (one, or sum and count for an average)."""
        raise NotImplementedError

    def result_type(self, spec: FieldSpec | None) -> str:
        """'integer', 'decimal', 'date' or 'datetime': how the value is written in the answer."""
        return "integer"


class Count(Aggregate):
    name = "count"
    needs_field = False

    def accepts(self, spec: FieldSpec) -> bool:
        return True

    def columns(self, column: Any) -> list[Any]:
        return [func.count(type_=BigInteger()) if column is None else func.count(column)]


class CountDistinct(Aggregate):
    name = "count_distinct"
    takes = "a field a report may group by or sum"

    def accepts(self, spec: FieldSpec) -> bool:
        unit = value_unit(spec)
        return unit.dimension or unit.measure

    def columns(self, column: Any) -> list[Any]:
        return [func.count(column.distinct())]


def _numeric(spec: FieldSpec | None) -> str:
    unit = value_unit(spec) if spec else None
    return "integer" if unit is not None and unit.integral else "decimal"


class Sum(Aggregate):
    name = "sum"
    takes = "a number field"

    def accepts(self, spec: FieldSpec) -> bool:
        return value_unit(spec).measure

    def columns(self, column: Any) -> list[Any]:
        # exact however large on SQLite too, read back like the column (exact decimals)
        return [type_coerce(exact_sum(column), column.type)]

    def result_type(self, spec: FieldSpec | None) -> str:
        return _numeric(spec)


class Average(Sum):
    name = "avg"

    def columns(self, column: Any) -> list[Any]:
        return [*super().columns(column), func.count(column)]

    def result_type(self, spec: FieldSpec | None) -> str:
        return "decimal"


class Extreme(Aggregate):
    takes = "a number, date or datetime field"

    def accepts(self, spec: FieldSpec) -> bool:
        unit = value_unit(spec)
        return unit.measure or unit.temporal is not None

    def columns(self, column: Any) -> list[Any]:
        return [type_coerce(getattr(func, self.name)(column), column.type)]

    def result_type(self, spec: FieldSpec | None) -> str:
        unit = value_unit(spec) if spec else None
        if unit is not None and unit.temporal:
            return "date" if unit.temporal == "date" else "datetime"
        return _numeric(spec)


class Minimum(Extreme):
    name = "min"


class Maximum(Extreme):
    name = "max"


MEASURES: dict[str, Aggregate] = {m.name: m for m in (Count(), CountDistinct(), Sum(), Average(), Minimum(), Maximum())}
