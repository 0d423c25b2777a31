"""The condition language: one JSON AST, evaluated in SQL and in Python alike.

    {"and": [{"field": "amount", "op": "gt", "value": 100000},
             {"field": "dept", "op": "in", "value": ["sales"]}]}

`parse_condition` checks a document against a compiled form and returns a
small immutable tree whose values are already parsed by the fields' types.
`to_sql` turns the tree into a SQLAlchemy expression (bound parameters only);
`evaluate` answers the same question for a record held in Python. Both use
the same definitions, operator by operator, so they agree.

One module per concept: `ast` (the tree and the evaluation context), `parse`
(document -> tree, checked against a form), `sql` (tree -> SQL, and the SQL
functions it compiles to), `python` (`evaluate`), and `values`, what the last
two share.
"""

from opsloom.runtime.conditions.ast import (
    NO_VALUE_OPS,
    VARIABLES,
    AllOf,
    AnyOf,
    Compare,
    Condition,
    EvalContext,
    FieldRef,
    LocalTime,
    Not,
    Var,
    fields_of,
)
from opsloom.runtime.conditions.parse import (
    AGGREGATE_OPS,
    AGGREGATES,
    MAX_DEPTH,
    MAX_LIST,
    MAX_NODES,
    REF_OPS,
    parse_condition,
)
from opsloom.runtime.conditions.python import evaluate
from opsloom.runtime.conditions.sql import (
    Template,
    ascii_lower,
    code_point_order,
    exact_sum,
    has_option,
    option_count,
    template,
    to_sql,
)
from opsloom.runtime.conditions.values import fold

__all__ = [
    "AGGREGATES",
    "AGGREGATE_OPS",
    "MAX_DEPTH",
    "MAX_LIST",
    "MAX_NODES",
    "NO_VALUE_OPS",
    "REF_OPS",
    "VARIABLES",
    "AllOf",
    "AnyOf",
    "Compare",
    "Condition",
    "EvalContext",
    "FieldRef",
    "LocalTime",
    "Not",
    "Template",
    "Var",
    "ascii_lower",
    "code_point_order",
    "evaluate",
    "exact_sum",
    "fields_of",
    "fold",
    "has_option",
    "option_count",
    "parse_condition",
    "template",
    "to_sql",
]
