"""Fuzzing the formula language: whatever a designer types, the parser answers with a
FormulaError or a tree; whatever passes `check` computes without raising, to a value
of the checked type (or empty, with a warning)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloom.runtime.formulas import (
    BOOLEAN,
    DATE,
    DATETIME,
    FUNCTIONS,
    LIMIT,
    NUMBER,
    TEXT,
    FormulaContext,
    FormulaError,
    Literal,
    check,
    evaluate,
    list_of,
    parse_formula,
    references,
)

CONTEXT = FormulaContext(now=datetime(2024, 5, 6, 12, tzinfo=UTC), user_id=1)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENV = {
    "n1": NUMBER,
    "n2": NUMBER,
    "t1": TEXT,
    "b1": BOOLEAN,
    "d1": DATE,
    "d2": DATE,
    "dt1": DATETIME,
    "items.qty": list_of(NUMBER),
    "items.price": list_of(NUMBER),
}

# ------------------------------------------------------------ random text

SYMBOLS = list("()()[]{}\"\"''\\+-*/&=<>!,.;:?@#$%^~|` \t\n\r_")
TOKENS = ["<=", ">=", "<>", "!=", "==", *FUNCTIONS, *ENV, "TRUE", "FALSE", "sum", "x", "0.5", "9" * 30, '"a"', "'b'"]
any_char = st.one_of(st.sampled_from(SYMBOLS), st.characters(codec="ascii"), st.characters())
random_text = st.one_of(
    st.text(any_char, max_size=300),
    st.text(any_char, min_size=1500, max_size=3000),
    st.lists(st.one_of(st.sampled_from(TOKENS), any_char), max_size=1000).map("".join),
)


@FUZZ
@given(random_text)
def test_any_text_parses_or_is_refused_with_a_formula_error(text):
    try:
        node = parse_formula(text)
    except FormulaError as error:
        assert error.column is None or 1 <= error.column <= len(text) + 1, str(error)
        return
    references(node)
    try:
        check(node, ENV)
    except FormulaError as error:
        assert error.column is not None and 1 <= error.column <= len(text), str(error)
        return
    evaluate(node, {}, CONTEXT)  # every field empty


# ------------------------------------------------------ well-formed formulas


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


plain_text = st.text(st.characters(exclude_characters="\n"), max_size=20)


@FUZZ
@given(plain_text)
def test_any_text_survives_quoting_as_a_string_literal(text):
    node = parse_formula(quoted(text))
    assert isinstance(node, Literal) and node.value == text


numbers = st.one_of(
    st.sampled_from(["0", "1", "0.1", "2", "10", "100", "999999999999999999", "1000000000000000000"]),
    st.integers(min_value=0, max_value=10**25).map(str),
    st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False).map(
        lambda d: format(d, "f")
    ),
)
OPERATORS = ["+", "-", "*", "/", "&", "=", "<>", "<", ">", "<=", ">=", "==", "!="]
COMPARISONS = ["=", "<>", "<", ">", "<=", ">=", "==", "!="]
NAMES = [*FUNCTIONS, "FOO"]
LIST = list_of(NUMBER)
KINDS = [NUMBER, TEXT, BOOLEAN, DATE, DATETIME, LIST]
SCALARS = KINDS[:-1]


def call(name: str, *args: str | None) -> str:
    return f"{name}({', '.join(a for a in args if a is not None)})"


def untyped(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Any function with any arguments: mostly refused by `check`."""
    return st.tuples(st.sampled_from(NAMES), st.lists(children, max_size=4)).map(lambda t: call(t[0], *t[1]))


TYPED_LEAVES = {
    NUMBER: numbers | st.sampled_from(["n1", "n2", "CURRENT_USER()"]),
    TEXT: plain_text.map(quoted) | st.sampled_from(["t1", '"D"', '"M"', '"Y"', '"m"', '"W"', "''"]),
    BOOLEAN: st.sampled_from(["TRUE", "FALSE", "b1", "true"]),
    DATE: st.sampled_from(["d1", "d2", "TODAY()"]),
    DATETIME: st.sampled_from(["dt1", "NOW()"]),
    LIST: st.sampled_from(["items.qty", "items.price"]),
}


def production(kind: str, sub: Any) -> st.SearchStrategy[str]:
    """Ways to build a formula of `kind` from smaller ones (`sub(kind)`)."""

    def either(*kinds: str) -> st.SearchStrategy[str]:
        return st.sampled_from(kinds).flatmap(sub)

    def binary(left: st.SearchStrategy[str], ops: list[str], right: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.tuples(left, st.sampled_from(ops), right).map(lambda t: f"({t[0]} {t[1]} {t[2]})")

    maybe = st.none
    choice = {
        NUMBER: [
            binary(sub(NUMBER), ["+", "-", "*", "/"], sub(NUMBER)),
            binary(either(DATE, DATETIME), ["-"], either(DATE, DATETIME)),
            sub(NUMBER).map(lambda a: f"-{a}"),
            st.tuples(
                st.sampled_from(["SUM", "AVG", "MIN", "MAX"]), st.lists(either(NUMBER, LIST), min_size=1, max_size=3)
            ).map(lambda t: call(t[0], *t[1])),
            sub(LIST).map(lambda a: call("COUNT", a)),
            st.tuples(sub(NUMBER), maybe() | sub(NUMBER)).map(lambda t: call("ROUND", *t)),
            sub(NUMBER).map(lambda a: call("ABS", a)),
            sub(TEXT).map(lambda a: call("LEN", a)),
            st.tuples(st.sampled_from(["YEAR", "MONTH"]), either(DATE, DATETIME)).map(lambda t: call(*t)),
            st.tuples(either(DATE, DATETIME), either(DATE, DATETIME), maybe() | sub(TEXT)).map(
                lambda t: call("DATEDIF", *t)
            ),
        ],
        TEXT: [
            binary(either(*SCALARS), ["&"], either(*SCALARS)),
            st.lists(either(*SCALARS), max_size=4).map(lambda a: call("CONCAT", *a)),
            st.tuples(st.sampled_from(["UPPER", "LOWER"]), sub(TEXT)).map(lambda t: call(*t)),
        ],
        BOOLEAN: [
            st.sampled_from([[NUMBER], [TEXT], [BOOLEAN], [DATE, DATETIME], [LIST]]).flatmap(
                lambda kinds: binary(either(*kinds), COMPARISONS, either(*kinds))
            ),
            st.tuples(st.sampled_from(["AND", "OR"]), st.lists(sub(BOOLEAN), min_size=1, max_size=3)).map(
                lambda t: call(t[0], *t[1])
            ),
            sub(BOOLEAN).map(lambda a: call("NOT", a)),
        ],
        DATE: [
            binary(sub(DATE), ["+", "-"], sub(NUMBER)),
            st.tuples(either(DATE, DATETIME), sub(NUMBER), maybe() | sub(TEXT)).map(lambda t: call("DATEADD", *t)),
        ],
        DATETIME: [binary(sub(DATETIME), ["+", "-"], sub(NUMBER))],
        LIST: [],
    }[kind]
    branch = st.tuples(sub(BOOLEAN), sub(kind), maybe() | sub(kind)).map(lambda t: call("IF", *t))
    right = st.one_of(*choice, branch)
    # one call in twenty is any function with any arguments, to exercise the refusals
    return st.integers(0, 19).flatmap(lambda r: untyped(either(*KINDS)) if r == 0 else right)


@cache
def typed(kind: str, depth: int, *, compound_only: bool = False) -> st.SearchStrategy[str]:
    """Formulas of `kind`, nested up to `depth`; now and then an argument of the wrong type or count."""
    leaf = TYPED_LEAVES[kind]
    if depth == 0:
        return leaf

    def sub(wanted: str) -> st.SearchStrategy[str]:
        # one argument in fifty is of a random type
        return st.integers(0, 49).flatmap(
            lambda r: (
                st.sampled_from(KINDS).flatmap(lambda k: typed(k, depth - 1)) if r == 0 else typed(wanted, depth - 1)
            )
        )

    compound = production(kind, sub)
    if compound_only:
        return compound
    return st.integers(0, 9).flatmap(lambda r: leaf if r < 6 else compound)


def any_shape(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(OPERATORS), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"-{c}"),
        untyped(children),
    )


leaves = st.one_of(*TYPED_LEAVES.values())
any_shapes = st.recursive(leaves, any_shape, max_leaves=30)
well_typed = st.sampled_from(KINDS).flatmap(lambda kind: typed(kind, 8, compound_only=True))
formulas = st.integers(0, 3).flatmap(lambda r: any_shapes if r == 0 else well_typed)

aware_datetimes = st.datetimes(
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
)
record_numbers = st.one_of(
    st.none(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(min_value=-(10**20), max_value=10**20, allow_nan=False, allow_infinity=False, places=4),
    st.sampled_from([Decimal(0), Decimal("-0.00"), Decimal("0.1")]),
)
VALUES = {
    NUMBER: record_numbers,
    TEXT: st.none() | st.text(max_size=20) | st.sampled_from(["D", "M", "Y", "y"]),
    BOOLEAN: st.none() | st.booleans(),
    DATE: st.none() | st.dates(),
    DATETIME: st.none() | aware_datetimes,
    LIST: st.none() | st.lists(st.none() | st.sampled_from([Decimal(1), Decimal("-2.5")]) | record_numbers, max_size=4),
}
records = st.fixed_dictionaries({key: VALUES[kind] for key, kind in ENV.items()})
contexts = st.builds(
    FormulaContext,
    now=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)),
    zone=st.sampled_from([UTC, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")]),
    user_id=st.none() | st.integers(min_value=1, max_value=2**63 - 1),
)


def fits(value: Any, kind: str) -> bool:
    if value is None or kind == "any":
        return True
    if kind == NUMBER:
        return type(value) is Decimal and abs(value) < LIMIT
    if kind == TEXT:
        return isinstance(value, str)
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind == DATE:
        return type(value) is date
    if kind == DATETIME:
        return isinstance(value, datetime)
    if kind == list_of(NUMBER):
        return isinstance(value, list)
    return False


@FUZZ
@given(formulas, records, contexts)
def test_checked_formulas_evaluate_without_raising_to_the_checked_type(formula, record, ctx):
    try:
        node = parse_formula(formula)
    except FormulaError as error:
        # well-formed text is refused only for its size
        assert "at most" in str(error), (formula, str(error))
        return
    assert references(node) <= set(ENV)
    try:
        kind = check(node, ENV)
    except FormulaError as error:
        assert error.column is not None and 1 <= error.column <= len(formula), str(error)
        return
    outcome = evaluate(node, record, ctx)
    assert fits(outcome.value, kind), (formula, kind, outcome)
    assert all(isinstance(w, str) and w for w in outcome.warnings)
    if outcome.warnings:
        assert outcome.value is None
