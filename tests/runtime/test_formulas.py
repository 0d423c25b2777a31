"""The formula language on its own: parsing, type checking and evaluation, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from opsloom.designer.checks import formulas_are_sound
from opsloom.runtime.forms import formula_order
from opsloom.runtime.formulas import (
    BOOLEAN,
    DATE,
    DATETIME,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TREE_DEPTH,
    NUMBER,
    TEXT,
    FormulaContext,
    FormulaError,
    Literal,
    Outcome,
    check,
    evaluate,
    list_of,
    parse_formula,
    references,
)

NOW = datetime(2024, 5, 6, 20, 30, tzinfo=UTC)
CTX = FormulaContext(now=NOW, user_id=42, department_id=7)
ENV = {
    "qty": NUMBER,
    "price": NUMBER,
    "title": TEXT,
    "paid": BOOLEAN,
    "start": DATE,
    "end": DATE,
    "seen_at": DATETIME,
    "items.qty": list_of(NUMBER),
}
RECORD: dict[str, Any] = {
    "qty": 3,
    "price": Decimal("19.99"),
    "title": "Desk",
    "paid": True,
    "start": date(2024, 1, 31),
    "end": date(2024, 3, 15),
    "seen_at": datetime(2024, 2, 10, 8, 0, tzinfo=UTC),
    "items.qty": [Decimal("1"), None, Decimal("2.25")],
}


def outcome(text: str, ctx: FormulaContext = CTX, **changes: Any) -> Outcome:
    """Parse, check against ENV and evaluate against RECORD (with `changes`; `items_qty` for items.qty)."""
    values = {**RECORD, **{k.replace("items_qty", "items.qty"): v for k, v in changes.items()}}
    node = parse_formula(text)
    check(node, ENV)
    return evaluate(node, values, ctx)


def value(text: str, ctx: FormulaContext = CTX, **changes: Any) -> Any:
    """The value of a formula that must compute without warnings."""
    result = outcome(text, ctx, **changes)
    assert result.warnings == [], result.warnings
    return result.value


def empty_with_warning(text: str, **changes: Any) -> str:
    """Assert the formula gives an empty value and a warning; return the warning."""
    result = outcome(text, **changes)
    assert result.value is None
    assert len(result.warnings) == 1
    return result.warnings[0]


def refused(text: str, env: dict[str, str] = ENV) -> FormulaError:
    with pytest.raises(FormulaError) as caught:
        check(parse_formula(text), env)
    return caught.value


def assert_refused(text: str, message: str, column: int | None) -> None:
    error = refused(text)
    assert message in str(error), str(error)
    assert error.column == column, str(error)
    if column is not None:
        assert f"(at character {column})" in str(error)


# ------------------------------------------------------------ every function

FUNCTION_CASES = [
    # IF
    ('IF(qty > 2, "many", "few")', {}, "many"),
    ('IF(qty > 2, "many", "few")', {"qty": 1}, "few"),
    ("IF(TRUE, 1)", {}, Decimal(1)),
    ("IF(FALSE, 1)", {}, None),
    ("IF(paid, 1, 2)", {"paid": None}, Decimal(2)),  # empty counts as false
    ("IF(qty > 2, qty, price)", {"qty": None}, Decimal("19.99")),
    # AND, OR, NOT
    ("AND(TRUE, paid)", {}, True),
    ("AND(TRUE, FALSE, TRUE)", {}, False),
    ("AND(paid)", {"paid": None}, False),
    ("OR(FALSE, paid)", {}, True),
    ("OR(FALSE, FALSE)", {}, False),
    ("OR(paid)", {"paid": None}, False),
    ("NOT(paid)", {}, False),
    ("NOT(FALSE)", {}, True),
    ("NOT(paid)", {"paid": None}, True),
    # SUM, AVG, MIN, MAX
    ("SUM(1, 2.5, qty)", {}, Decimal("6.5")),
    ("SUM(items.qty)", {}, Decimal("3.25")),
    ("SUM(items.qty, 10)", {}, Decimal("13.25")),
    ("SUM(qty)", {"qty": None}, Decimal(0)),
    ("SUM(items.qty)", {"items_qty": []}, Decimal(0)),
    ("SUM(items.qty)", {"items_qty": None}, Decimal(0)),
    ("AVG(1, 2)", {}, Decimal("1.5")),
    ("AVG(items.qty, 2.75)", {}, Decimal(2)),
    ("AVG(items.qty)", {"items_qty": [1, 2, None, 3]}, Decimal(2)),
    ("AVG(qty)", {"qty": None}, None),
    ("AVG(items.qty)", {"items_qty": []}, None),
    ("MIN(3, 1, 2)", {}, Decimal(1)),
    ("MIN(items.qty, 5)", {}, Decimal(1)),
    ("MIN(qty)", {"qty": None}, None),
    ("MAX(3, 1, 2)", {}, Decimal(3)),
    ("MAX(items.qty)", {}, Decimal("2.25")),
    ("MAX(items.qty)", {"items_qty": [None]}, None),
    # COUNT
    ("COUNT(items.qty)", {}, Decimal(2)),
    ("COUNT(items.qty)", {"items_qty": []}, Decimal(0)),
    ("COUNT(items.qty)", {"items_qty": None}, Decimal(0)),
    # ROUND (half away from zero, like a spreadsheet), ABS
    ("ROUND(2.5)", {}, Decimal(3)),
    ("ROUND(-2.5)", {}, Decimal(-3)),
    ("ROUND(1.005, 2)", {}, Decimal("1.01")),
    ("ROUND(price * qty, 1)", {}, Decimal("60.0")),
    ("ROUND(1234.5, -2)", {}, Decimal(1200)),
    ("ROUND(qty, 2)", {"qty": None}, None),
    ("ROUND(2.5, qty)", {"qty": None}, Decimal(3)),  # no digits given: whole number
    ("ABS(-3.5)", {}, Decimal("3.5")),
    ("ABS(qty)", {"qty": None}, None),
    # CONCAT, LEN, UPPER, LOWER
    ('CONCAT("a", 1, TRUE, start, " ", 1.50, " ", 2.0)', {}, "a1TRUE2024-01-31 1.50 2"),
    ("CONCAT(seen_at)", {}, "2024-02-10T08:00:00+00:00"),
    ("CONCAT(title, qty)", {"title": None, "qty": None}, ""),
    ("CONCAT()", {}, ""),
    ("CONCAT(-0, ROUND(-0.4))", {}, "00"),  # never "-0"
    ('LEN("héllo")', {}, Decimal(5)),
    ("LEN(title)", {"title": None}, Decimal(0)),
    ('UPPER("straße")', {}, "STRASSE"),
    ("UPPER(title)", {"title": None}, None),
    ('LOWER("ABC")', {}, "abc"),
    ("LOWER(title)", {"title": None}, None),
    # TODAY, NOW, CURRENT_USER
    ("TODAY()", {}, date(2024, 5, 6)),
    ("NOW()", {}, NOW),
    ("CURRENT_USER()", {}, Decimal(42)),
    ("CURRENT_DEPARTMENT()", {}, Decimal(7)),
    # DATEDIF: whole days, months, years
    ('DATEDIF(start, end, "D")', {}, Decimal(44)),
    ("DATEDIF(start, end)", {}, Decimal(44)),
    ('DATEDIF(start, end, "M")', {}, Decimal(1)),  # Jan 31 -> Mar 15: one whole month
    ('DATEDIF(start, end, "m")', {}, Decimal(1)),
    ('DATEDIF(start, end, "Y")', {}, Decimal(0)),
    ('DATEDIF(start, end, "Y")', {"end": date(2026, 1, 30)}, Decimal(1)),
    ('DATEDIF(start, end, "Y")', {"end": date(2026, 1, 31)}, Decimal(2)),
    ('DATEDIF(end, start, "M")', {}, Decimal(-1)),  # backwards is the negative of forwards
    ('DATEDIF(end, start, "D")', {}, Decimal(-44)),
    ('DATEDIF(start, seen_at, "D")', {}, Decimal(10)),  # a datetime counts by its date
    ('DATEDIF(start, end, "D")', {"start": None}, None),
    # DATEADD: months clamp to the end of the month
    ("DATEADD(start, 1)", {}, date(2024, 2, 1)),
    ('DATEADD(start, 1, "M")', {}, date(2024, 2, 29)),
    ('DATEADD(start, 1, "M")', {"start": date(2023, 1, 31)}, date(2023, 2, 28)),
    ('DATEADD(start, -1, "M")', {"start": date(2024, 3, 31)}, date(2024, 2, 29)),
    ('DATEADD(start, 13, "M")', {}, date(2025, 2, 28)),
    ('DATEADD(start, 1, "Y")', {"start": date(2024, 2, 29)}, date(2025, 2, 28)),
    ('DATEADD(start, -30, "D")', {}, date(2024, 1, 1)),
    ('DATEADD(seen_at, 1, "D")', {}, date(2024, 2, 11)),
    ('DATEADD(start, qty, "M")', {"qty": None}, None),
    ('DATEADD(start, 1, "M")', {"start": None}, None),
    # YEAR, MONTH
    ("YEAR(start)", {}, Decimal(2024)),
    ("MONTH(start)", {}, Decimal(1)),
    ("MONTH(seen_at)", {}, Decimal(2)),
    ("YEAR(start)", {"start": None}, None),
    ("MONTH(seen_at)", {"seen_at": None}, None),
]


@pytest.mark.parametrize(("text", "changes", "expected"), FUNCTION_CASES)
def test_functions_compute_and_treat_empty_inputs_calmly(text, changes, expected):
    assert value(text, **changes) == expected


def test_every_function_has_a_case():
    covered = {name for name in FUNCTIONS if any(text.startswith(name + "(") for text, _, _ in FUNCTION_CASES)}
    assert covered == set(FUNCTIONS)


def test_function_names_ignore_case_but_field_names_do_not():
    assert value("sum(1, 2)") == 3
    assert "'QTY' is not a field" in str(refused("QTY + 1"))


REFUSED_CALLS = [
    # text, what the message says, where (the function name)
    ("IF(TRUE)", "IF takes a condition", 1),
    ("IF(TRUE, 1, 2, 3)", "IF takes a condition", 1),
    ("IF(qty, 1, 2)", "condition of IF must be true/false, not number", 1),
    ('IF(TRUE, 1, "a")', "both results of IF must have one type, not number and text", 1),
    ("AND()", "AND needs at least one condition", 1),
    ("OR(TRUE, qty)", "OR combines true/false values, not number", 1),
    ("NOT()", "NOT takes 1 argument(s), not 0", 1),
    ("NOT(TRUE, FALSE)", "NOT takes 1 argument(s), not 2", 1),
    ('NOT("yes")', "argument 1 of NOT must be boolean, not text", 1),
    ("SUM()", "SUM needs at least one argument", 1),
    ("SUM(1, title)", "SUM adds up numbers or a subform column of numbers, not text", 1),
    ("AVG(start)", "AVG adds up numbers", 1),
    ("MIN(paid)", "MIN adds up numbers", 1),
    ("MAX()", "MAX needs at least one argument", 1),
    ("COUNT(qty)", "COUNT takes one subform column", 1),
    ("COUNT()", "COUNT takes one subform column", 1),
    ("COUNT(items.qty, items.qty)", "COUNT takes one subform column", 1),
    ("ROUND()", "ROUND takes 1 argument(s), not 0", 1),
    ("ROUND(1, 2, 3)", "ROUND takes 2 argument(s), not 3", 1),
    ('ROUND("1")', "argument 1 of ROUND must be number, not text", 1),
    ("ROUND(1, paid)", "argument 2 of ROUND must be number, not boolean", 1),
    ("ABS(title)", "argument 1 of ABS must be number, not text", 1),
    ("ABS(1, 2)", "ABS takes 1 argument(s), not 2", 1),
    ("CONCAT(items.qty)", "CONCAT joins single values", 1),
    ("LEN(1)", "argument 1 of LEN must be text, not number", 1),
    ("LEN()", "LEN takes 1 argument(s), not 0", 1),
    ("UPPER(start)", "argument 1 of UPPER must be text, not date", 1),
    ('LOWER("a", "b")', "LOWER takes 1 argument(s), not 2", 1),
    ("TODAY(1)", "TODAY takes 0 argument(s), not 1", 1),
    ("NOW(start)", "NOW takes 0 argument(s), not 1", 1),
    ("CURRENT_USER(1)", "CURRENT_USER takes 0 argument(s), not 1", 1),
    ("CURRENT_DEPARTMENT(1)", "CURRENT_DEPARTMENT takes 0 argument(s), not 1", 1),
    ("DATEDIF(start)", "DATEDIF takes 2 argument(s), not 1", 1),
    ('DATEDIF(start, end, "D", 1)', "DATEDIF takes 3 argument(s), not 4", 1),
    ("DATEDIF(start, 5)", "argument 2 of DATEDIF must be date, not number", 1),
    ("DATEDIF(start, end, 1)", "argument 3 of DATEDIF must be text, not number", 1),
    ("DATEADD(1, 1)", "argument 1 of DATEADD must be date, not number", 1),
    ('DATEADD(start, "1")', "argument 2 of DATEADD must be number, not text", 1),
    ("DATEADD(start)", "DATEADD takes 2 argument(s), not 1", 1),
    ("YEAR(1)", "argument 1 of YEAR must be date, not number", 1),
    ("MONTH()", "MONTH takes 1 argument(s), not 0", 1),
    ("FOO(1)", "there is no function FOO; use one of ABS, AND,", 1),
    # the position is that of the offending call, wherever it is
    ("qty + LEN(qty)", "argument 1 of LEN must be text", 7),
    ("IF(paid, UPPER(1), title)", "argument 1 of UPPER must be text", 10),
]


@pytest.mark.parametrize(("text", "message", "column"), REFUSED_CALLS)
def test_wrong_arguments_are_refused_with_the_position_of_the_call(text, message, column):
    assert_refused(text, message, column)


def test_every_function_refuses_a_wrong_call():
    names = {text.split("(")[0] for text, _, _ in REFUSED_CALLS if "(" in text}
    assert set(FUNCTIONS) <= names


def test_datetime_fits_where_a_date_is_wanted():
    assert check(parse_formula("YEAR(seen_at) + MONTH(NOW())"), ENV) == NUMBER
    assert check(parse_formula("DATEADD(NOW(), 1)"), ENV) == DATE


def test_today_is_the_date_in_the_users_time_zone():
    shanghai = FormulaContext(now=NOW, zone=ZoneInfo("Asia/Shanghai"))
    assert value("TODAY()") == date(2024, 5, 6)
    assert value("TODAY()", ctx=shanghai) == date(2024, 5, 7)


def test_current_user_is_empty_without_a_user():
    assert value("CURRENT_USER()", ctx=FormulaContext(now=NOW)) is None
    assert value("CURRENT_DEPARTMENT()", ctx=FormulaContext(now=NOW, user_id=42)) is None  # in no department


def test_unknown_units_give_an_empty_value_with_a_warning():
    assert "DATEDIF unit must be D, M or Y" in empty_with_warning('DATEDIF(start, end, "W")')
    assert "DATEADD unit must be D, M or Y" in empty_with_warning("DATEADD(start, 1, title)")


def test_dates_past_the_calendar_give_an_empty_value():
    assert "9999" in empty_with_warning('DATEADD(start, 100000, "Y")')
    assert empty_with_warning('DATEADD(start, 10000000, "D")')
    assert empty_with_warning("start + 10000000")
    assert empty_with_warning("ROUND(1, 19)")


# ------------------------------------------------------------------ types


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("1", NUMBER),
        ('"a"', TEXT),
        ("TRUE", BOOLEAN),
        ("false", BOOLEAN),
        ("TODAY()", DATE),
        ("NOW()", DATETIME),
        ("items.qty", list_of(NUMBER)),
        ("1 & 2", TEXT),
        ("qty < 2", BOOLEAN),
        ("start + 1", DATE),
        ("seen_at - 1", DATETIME),
        ("end - start", NUMBER),
        ("seen_at - start", NUMBER),
        ("start < seen_at", BOOLEAN),
        ("IF(TRUE, start)", DATE),
        ("-qty", NUMBER),
        ("CURRENT_USER()", NUMBER),
    ],
)
def test_check_infers_the_type(text, kind):
    assert check(parse_formula(text), ENV) == kind


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ('"a" + 1', "cannot use + with text and number", 5),
        ("title + 1", "cannot use + with text and number", 7),
        ("qty * start", "cannot use * with number and date", 5),
        ("start + start", "cannot use + with date and date", 7),
        ("1 - start", "cannot use - with number and date", 3),
        ("start * 2", "cannot use * with date and number", 7),
        ("paid / 2", "cannot use / with boolean and number", 6),
        ("items.qty + 1", "cannot use + with list:number and number", 11),
        ("start = 1", "cannot compare date with number", 7),
        ('qty <> "3"', "cannot compare number with text", 5),
        ('-"a"', "only numbers can be negated, not text", 1),
        ("1 + -start", "only numbers can be negated, not date", 5),
        ('items.qty & "x"', "& joins single values", 11),
        ('"x" & 1 & items.qty', "& joins single values", 9),
        ("items.qty = items.qty", "cannot compare a subform column; compare its SUM or COUNT", 11),
        ("items.qty < 1", "cannot compare a subform column", 11),
        ("qty + nope", "'nope' is not a field this formula can use (fields: end, items.qty, paid,", 7),
        ("items.price", "'items.price' is not a field", 1),
    ],
)
def test_type_errors_are_refused_with_the_character_position(text, message, column):
    assert_refused(text, message, column)


def test_positions_count_characters_across_lines():
    assert_refused('qty +\n  "a"', "cannot use + with number and text", 5)
    assert_refused("1 +\n  FOO()", "there is no function FOO", 7)
    with pytest.raises(FormulaError, match=r"character 7\)"):
        parse_formula("1 +\n  @")


def test_a_field_list_is_named_when_there_are_no_fields():
    assert "(fields: none)" in str(refused("x", env={}))


# -------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", Decimal(7)),
        ("(1 + 2) * 3", Decimal(9)),
        ("10 - 4 - 3", Decimal(3)),
        ("8 / 2 / 2", Decimal(2)),
        ("2 * 3 / 4", Decimal("1.5")),
        ("-2 * 3", Decimal(-6)),
        ("-(2 + 3) * 2", Decimal(-10)),
        ("2 - -1", Decimal(3)),
        ("- - 1", Decimal(1)),
        ("+1", Decimal(1)),
        ("-qty + 1", Decimal(-2)),
        ("1 + 1 & 2 * 2", "24"),  # & joins after arithmetic
        ('"a" & "b" = "ab"', True),  # comparison comes after &
        ('qty & "" = "3"', True),
        ("1 + 2 = 3", True),
        ("1 + 2 == 3", True),
        ("1 <> 2", True),
        ("1 != 1", False),
        ("2 >= 2", True),
        ("2 <= 1", False),
        ("1 < 2", True),
        ("1 > 2", False),
        ('"apple" < "banana"', True),
        ("start < seen_at", True),
        ("seen_at > end", False),
        ("TRUE = NOT(FALSE)", True),
        ("true", True),
        ("False", False),
    ],
)
def test_operators_follow_the_usual_precedence(text, expected):
    assert value(text) == expected


def test_comparisons_do_not_chain():
    with pytest.raises(FormulaError, match=r"Unexpected '<' \(at character 7\)"):
        parse_formula("1 < 2 < 3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("qty = 0", False),
        ("qty <> 0", True),
        ("qty > 0", False),
        ("qty < 0", False),
        ("qty <= 0", False),
        ("qty = price", True),  # empty equals empty
        ("qty + 1", None),
        ("-qty", None),
        ("start + qty", None),
        ("end - start", Decimal(44)),
    ],
)
def test_empty_values_compare_equal_only_to_empty_and_make_arithmetic_empty(text, expected):
    assert value(text, qty=None, price=None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r'"say \"hi\""', 'say "hi"'),
        (r"'it\'s'", "it's"),
        (r'"back\\slash"', "back\\slash"),
        (r'"ends with \\"', "ends with \\"),
        ('"it\'s"', "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        ('"你好 ✓"', "你好 ✓"),
        ('""', ""),
        (r'"\n stays"', "\\n stays"),
    ],
)
def test_string_literals_and_escapes(text, expected):
    node = parse_formula(text)
    assert isinstance(node, Literal) and node.type == TEXT
    assert node.value == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"open', "Unexpected character '\"' (at character 1)"),
        ('"line\nbreak"', "Unexpected character"),
        ("1 +", "ends too early"),
        ("SUM(1,", "ends too early"),
        ("(1", "ends too early"),
        ("qty * * 2", "Unexpected '*' (at character 7)"),
        ("1 2", "Unexpected '2' (at character 3)"),
        ("SUM(1,)", "Unexpected ')' (at character 7)"),
        ("1 ? 2", "Unexpected character '?' (at character 3)"),
        ("a.b.c", "Unexpected '.' (at character 4)"),
        ("1.", "Unexpected '.' (at character 2)"),
        ("", "must be a non-empty text"),
        ("   ", "must be a non-empty text"),
    ],
)
def test_unreadable_text_is_refused_with_a_message(text, message):
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    assert message in str(caught.value)


@pytest.mark.parametrize("text", [None, 5, ["1"], b"1"])
def test_only_text_is_a_formula(text):
    with pytest.raises(FormulaError, match="non-empty text"):
        parse_formula(text)


# ------------------------------------------------------- decimal arithmetic


def test_decimal_arithmetic_is_exact():
    assert value("0.1 + 0.2") == Decimal("0.3")
    assert value("0.1 + 0.2 = 0.3") is True
    assert value("qty * price") == Decimal("59.97")
    assert value("1.10 * 3") == Decimal("3.30")
    assert value("SUM(0.1, 0.1, 0.1) - 0.3") == 0


@pytest.mark.parametrize(
    "text", ["1", "0.1 + 0.2", "qty", "qty * price", "SUM(items.qty)", "ROUND(price)", "ABS(-qty)", "LEN(title)"]
)
def test_numbers_are_always_decimals_never_floats(text):
    assert type(value(text)) is Decimal


def test_division_by_zero_gives_an_empty_value_with_a_warning():
    assert "division by zero" in empty_with_warning("1 / 0")
    assert "division by zero" in empty_with_warning("price / qty", qty=0)
    assert empty_with_warning("1 / (qty - 3)")
    assert empty_with_warning("CONCAT(1 / 0)")  # the whole formula is empty
    assert value("qty / price", price=None) is None  # empty, not a division by zero


def test_results_of_a_billion_billion_or_more_are_overflow():
    assert value("999999999999999999") == 10**18 - 1
    assert value("-999999999999999999") == -(10**18) + 1
    assert "too large" in empty_with_warning("1000000000000000000")
    assert "too large" in empty_with_warning("-1000000000000000000")
    assert "too large" in empty_with_warning("qty * 1000000000000000000")
    assert empty_with_warning("99999999999999999999999999999999999999 * 99999999999999999999999999999999999999")
    assert empty_with_warning("ROUND(99999999999999999999999999, 18)")
    # only the result counts: a large intermediate value is fine
    assert value("1000000000000000000 / 10") == 10**17


def test_huge_literals_never_raise():
    huge = "9" * 1000
    assert empty_with_warning(huge)
    assert value(f"{huge} > 1") is True
    assert value(f"LEN(CONCAT({huge}))") == 1000


# ------------------------------------------------------------ dates


def test_date_arithmetic():
    assert value("start + 30") == date(2024, 3, 1)
    assert value("start - 31") == date(2023, 12, 31)
    assert value("start + 1.9") == date(2024, 2, 1)  # whole days
    assert value("end - start") == 44
    assert value("start - end") == -44
    assert value("seen_at + 1") == datetime(2024, 2, 11, 8, 0, tzinfo=UTC)
    assert value("seen_at - start") == 10
    assert value("TODAY() - start") == (date(2024, 5, 6) - date(2024, 1, 31)).days
    assert value("NOW() - seen_at") == (NOW.date() - date(2024, 2, 10)).days


def test_date_month_arithmetic_clamps_to_the_end_of_the_month():
    assert value('DATEADD(DATE_FIELD, 1, "M")'.replace("DATE_FIELD", "start")) == date(2024, 2, 29)
    # Adding one month twice is not adding two months: the clamped day stays.
    assert value('DATEADD(DATEADD(start, 1, "M"), 1, "M")') == date(2024, 3, 29)
    assert value('DATEADD(start, 2, "M")') == date(2024, 3, 31)


def test_datedif_counts_only_whole_months_and_years_in_either_direction():
    for start, end in [
        (date(2024, 1, 31), date(2024, 2, 29)),
        (date(2023, 3, 15), date(2024, 3, 14)),
        (date(2020, 2, 29), date(2021, 2, 28)),
        (date(2024, 1, 1), date(2024, 1, 1)),
    ]:
        for unit in "DMY":
            forwards = value(f'DATEDIF(start, end, "{unit}")', start=start, end=end)
            backwards = value(f'DATEDIF(start, end, "{unit}")', start=end, end=start)
            assert backwards == -forwards
    assert value('DATEDIF(start, end, "M")', start=date(2024, 1, 31), end=date(2024, 2, 29)) == 0
    assert value('DATEDIF(start, end, "Y")', start=date(2023, 3, 15), end=date(2024, 3, 14)) == 0
    assert value('DATEDIF(start, end, "Y")', start=date(2023, 3, 15), end=date(2024, 3, 15)) == 1


# ------------------------------------------------------------ laziness


def test_if_evaluates_only_the_branch_it_takes():
    assert value("IF(TRUE, 1, 1 / 0)") == 1
    assert value("IF(FALSE, 1 / 0, 2)") == 2
    assert value("IF(FALSE, 1 / 0)") is None
    assert value("IF(qty > 0, price / qty, 0)", qty=0) == 0
    assert value('IF(qty = 0, "none", CONCAT(price / qty))', qty=0) == "none"
    # the branch taken still warns
    assert empty_with_warning("IF(TRUE, 1 / 0, 1)")


# ------------------------------------------------------------ references


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("1 + 2", set()),
        ("TODAY()", set()),
        ("qty", {"qty"}),
        ("qty * price + qty", {"qty", "price"}),
        ("IF(paid, -qty, SUM(items.qty))", {"paid", "qty", "items.qty"}),
        ('CONCAT(title, "-", YEAR(start))', {"title", "start"}),
        ('"qty" & TRUE', set()),  # text and TRUE are not fields
    ],
)
def test_references_name_every_field_read(text, names):
    assert references(parse_formula(text)) == names


def test_a_value_missing_from_the_record_is_empty():
    assert evaluate(parse_formula("qty + 1"), {}, CTX).value is None


# ------------------------------------------------------------ cycles


def formula_field(key: str, formula: str) -> dict[str, Any]:
    return {"id": f"fld_{key}", "key": key, "type": "formula", "label": key, "formula": formula}


def number_field(key: str) -> dict[str, Any]:
    return {"id": f"fld_{key}", "key": key, "type": "decimal", "label": key}


def test_formula_order_puts_each_formula_after_those_it_reads():
    fields = [
        formula_field("total", "net + tax"),
        formula_field("tax", "net * 0.2"),
        number_field("qty"),
        formula_field("net", "qty * 10"),
    ]
    assert [f["key"] for f, _ in formula_order(fields)] == ["net", "tax", "total"]


@pytest.mark.parametrize(
    ("fields", "circle"),
    [
        ([formula_field("a", "b + 1"), formula_field("b", "a + 1")], "a -> b -> a"),
        ([formula_field("a", "a + 1")], "a -> a"),
        (
            [formula_field("x", "a"), formula_field("a", "b * 2"), formula_field("b", "IF(a > 1, 1, 2)")],
            "a -> b -> a",
        ),
        ([formula_field("a", "b"), formula_field("b", "c"), formula_field("c", "a")], "a -> b -> c -> a"),
    ],
)
def test_cycles_are_refused_naming_the_circle(fields, circle):
    with pytest.raises(FormulaError) as caught:
        formula_order(fields)
    assert str(caught.value) == f"formulas refer to each other in a circle: {circle}"


def test_publishing_checks_refuse_a_circle_and_a_formula_reading_itself():
    circle = {"fields": [formula_field("a", "b + 1"), formula_field("b", "a + 1")]}
    messages = [(e.path, e.message) for e in formulas_are_sound(circle)]
    assert ("fields", "formulas refer to each other in a circle: a -> b -> a") in messages
    itself = {"fields": [formula_field("a", "a + 1")]}
    assert ("fields[0].formula", "a formula cannot use its own field") in [
        (e.path, e.message) for e in formulas_are_sound(itself)
    ]


# ------------------------------------------------------------ limits


def test_length_limit():
    longest = '"' + "a" * (MAX_LENGTH - 2) + '"'
    assert value('LEN("' + "a" * (MAX_LENGTH - 7) + '")') == MAX_LENGTH - 7
    assert parse_formula(longest).value == "a" * (MAX_LENGTH - 2)
    with pytest.raises(FormulaError, match=f"at most {MAX_LENGTH} characters"):
        parse_formula(longest + " ")


def test_nesting_limit():
    assert value("(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH) == 1
    assert value("ABS(" * MAX_DEPTH + "-1" + ")" * MAX_DEPTH) == 1
    assert value("-" * MAX_DEPTH + "1") == 1
    for text in [
        "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
        "ABS(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
        "-" * (MAX_DEPTH + 1) + "1",
        "- " * (MAX_DEPTH + 1) + "1",
        "-\n" * (MAX_DEPTH + 1) + "1",
        "(" * 1000,
    ]:
        with pytest.raises(FormulaError, match=f"nest at most {MAX_DEPTH} levels"):
            parse_formula(text)


def test_long_chains_of_operators_are_refused_not_a_crash():
    assert value("+".join(["1"] * MAX_TREE_DEPTH)) == MAX_TREE_DEPTH
    assert references(parse_formula("+".join(["qty"] * MAX_TREE_DEPTH))) == {"qty"}
    for joiner in ("+", "*", "&", "-", "/"):
        with pytest.raises(FormulaError, match=f"chain at most {MAX_TREE_DEPTH} operations"):
            parse_formula(joiner.join(["1"] * 900))


def test_evaluation_never_raises_on_odd_records():
    odd = {"qty": 10**30, "price": Decimal("1e-30"), "start": date(9999, 12, 31), "end": date(1, 1, 1)}
    for text in ["qty * price", "qty * qty", "start + 1", "end - 1", "start - end", 'DATEADD(end, -1, "M")']:
        outcome(text, **odd)  # a value or an empty value with a warning
    assert outcome("start + 1", **odd).value is None
    assert value("start - end", **odd) == (date(9999, 12, 31) - date(1, 1, 1)).days
    assert outcome("seen_at + 1", seen_at=datetime.max.replace(tzinfo=UTC) - timedelta(hours=1)).value is None
