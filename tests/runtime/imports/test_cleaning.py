"""The cleaning steps, each on the cells people really write, through the field types that read them."""

from __future__ import annotations

from typing import Any

import pytest

from opsloom.runtime.fields import FieldSpec, unit_of
from opsloom.runtime.imports.cleaning import CLEANERS, clean_cell, cleaners_for


def spec(type_: str, **raw: Any) -> FieldSpec:
    return FieldSpec(id=f"fld_{type_}", key=type_, type=type_, column=type_, label=type_, raw={"type": type_, **raw})


def cleaned(field: FieldSpec, cell: Any, enabled: Any = tuple(CLEANERS)) -> Any:
    unit = unit_of(field)
    return clean_cell(cell, field, unit, cleaners_for(unit, field, enabled))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("¥1,234.50", "1234.50"),
        ("￥12,000", "12000"),
        ("$800", "800"),
        ("１２３４.５", "1234.5"),
        ("1 234 567", "1234567"),
        ("-¥30", "-30"),
        ("1200元", "1200"),
        ("12.5%", "0.125"),
        (1234.5, "1234.5"),
    ],
)
def test_amounts_as_people_write_them(cell: Any, expected: str) -> None:
    assert cleaned(spec("decimal", precision=14, scale=2), cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024/1/5", "2024-01-05"),
        ("2024年1月5日", "2024-01-05"),
        ("2024.1.5", "2024-01-05"),
        ("2024-1-5", "2024-01-05"),
        ("20240105", "2024-01-05"),
        (45296, "2024-01-05"),
        ("45296", "2024-01-05"),
        ("２０２４/１/５", "2024-01-05"),
        ("2024/2/30", "2024/2/30"),  # no such day: left for the field to refuse
    ],
)
def test_dates_as_people_write_them(cell: Any, expected: str) -> None:
    assert cleaned(spec("date"), cell) == expected


def test_a_date_and_time_keeps_its_time() -> None:
    assert cleaned(spec("datetime"), "2024/1/5 9:30") == "2024-01-05T09:30:00"
    assert cleaned(spec("datetime"), 45296.5) == "2024-01-05T12:00:00"


@pytest.mark.parametrize("cell", ["是", "对", "√", "Y", "yes", "TRUE", "1", "有"])
def test_yes_words(cell: str) -> None:
    assert cleaned(spec("boolean"), cell) is True


@pytest.mark.parametrize("cell", ["否", "错", "×", "N", "no", "False", "0", "无"])
def test_no_words(cell: str) -> None:
    assert cleaned(spec("boolean"), cell) is False


def test_options_by_label_in_either_language_or_value_ignoring_case_and_spaces() -> None:
    options = [{"value": "it", "label": {"zh-CN": "IT 设备", "en": "IT equipment"}}]
    field = spec("select", options=options)
    assert [cleaned(field, cell) for cell in ("IT设备", "it equipment", " IT ", "设备")] == ["it", "it", "it", "设备"]
    tags = spec("multiselect", options=[{"value": "a", "label": "甲"}, {"value": "b", "label": "乙"}])
    assert cleaned(tags, "甲、乙") == ["a", "b"]


def test_free_text_keeps_its_full_width_letters_but_loses_surrounding_spaces() -> None:
    assert cleaned(spec("text"), "\u3000Ｔａｘｉ　") == "Ｔａｘｉ"


def test_a_step_switched_off_does_nothing() -> None:
    assert cleaned(spec("decimal", precision=14, scale=2), "¥1,234.50", ["trim", "thousands"]) == "¥1234.50"
    assert cleaned(spec("date"), "2024年1月5日", ["trim"]) == "2024年1月5日"


def test_each_step_says_which_fields_it_cleans() -> None:
    applies = {
        name: [
            t
            for t in ("text", "decimal", "date", "boolean", "select")
            if cleaners_for(unit_of(spec(t)), spec(t), [name])
        ]
        for name in CLEANERS
    }
    assert applies["trim"] == ["text", "decimal", "date", "boolean", "select"]
    assert applies["currency"] == ["decimal"] and applies["dates"] == ["date"]
    assert applies["yes_no"] == ["boolean"] and applies["option_labels"] == ["select"]
