"""Values as people read them, in each language (pure: no database)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from opsloom.runtime.fields import FieldSpec
from opsloom.runtime.pages.display import value_text
from opsloom.runtime.pages.i18n import Translator

EN, ZH = Translator("en"), Translator("zh-CN")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def spec(type_: str, **raw: object) -> FieldSpec:
    return FieldSpec("f", "f", type_, "f", "F", raw=raw)


def test_numbers_keep_their_scale_and_group_digits() -> None:
    assert value_text(EN, SHANGHAI, spec("decimal", scale=2), "1234567.5") == "1,234,567.50"
    assert value_text(EN, SHANGHAI, spec("integer"), 12000) == "12,000"
    for formula in (spec("formula", scale=2), spec("formula", result="number", scale=2)):
        assert value_text(ZH, SHANGHAI, formula, "105600.00") == "105,600.00"
    assert value_text(EN, SHANGHAI, spec("formula", result="boolean"), True) == "Yes"
    assert value_text(EN, SHANGHAI, spec("formula", result="text"), "A-1") == "A-1"


def test_dates_and_times_follow_the_language_and_the_zone() -> None:
    assert value_text(EN, SHANGHAI, spec("date"), "2026-03-01") == "Mar 1, 2026"
    assert value_text(ZH, SHANGHAI, spec("date"), "2026-03-01") == "2026年3月1日"
    assert value_text(ZH, SHANGHAI, spec("datetime"), "2026-03-01T16:30:00Z").startswith("2026年3月2日 00:30")
    assert value_text(ZH, SHANGHAI, spec("formula", result="date"), "2026-03-01") == "2026年3月1日"


def test_options_links_and_empty_values() -> None:
    options = [{"value": "it", "label": {"zh-CN": "IT 设备", "en": "IT equipment"}}]
    assert value_text(ZH, SHANGHAI, spec("select", options=options), "it") == "IT 设备"
    assert value_text(EN, SHANGHAI, spec("multiselect", options=options), ["it", "gone"]) == "IT equipment, gone"
    assert value_text(EN, SHANGHAI, spec("relation"), {"id": 3, "title": "Acme"}) == "Acme"
    assert value_text(EN, SHANGHAI, spec("users"), [{"id": 1, "name": "Amy"}, {"id": 2, "name": None}]) == "Amy, #2"
    assert value_text(EN, SHANGHAI, spec("text"), None) == "" and value_text(EN, SHANGHAI, spec("users"), []) == ""
