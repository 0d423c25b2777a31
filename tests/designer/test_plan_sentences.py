"""Plans and diffs in plain words, without a database: every step kind and change kind has its sentence in
both languages, and the designer pages' catalogs agree on their messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsloom.designer import migration_apply
from opsloom.designer.migration_plan import BadValue, Facts, Resolution, diff_forms, plan_migration
from opsloom.designer.pages.plan_sentences import (
    CHANGE_SENTENCES,
    STEP_SENTENCES,
    Names,
    change_sentences,
    issues,
    step_sentences,
)
from opsloom.runtime.pages.i18n import Translator
from tests.builders import field, form

LOCALES = Path(__file__).resolve().parents[2] / "opsloom" / "designer" / "pages" / "locales"
MOVES = {"create_table", "rename_column", "archive_column", "restore_column", "archive_subform", "restore_subform"}
CHANGE_KINDS = {
    "added", "removed", "restored", "renamed", "retyped", "reshaped", "formula_changed", "options_removed",
    "options_added", "required_added", "required_removed", "unique_added", "unique_removed", "rules_changed",
    "label_changed",
}  # fmt: skip


def test_every_step_the_planner_applies_has_a_sentence() -> None:
    assert set(migration_apply._HANDLERS) | MOVES <= set(STEP_SENTENCES)


def test_every_kind_of_change_has_a_sentence() -> None:
    assert CHANGE_KINDS <= set(CHANGE_SENTENCES)


@pytest.mark.parametrize("part", ["publish", "permissions", "app_settings"])
def test_both_languages_have_the_same_messages(part: str) -> None:
    en = json.loads((LOCALES / "en" / f"{part}.json").read_text(encoding="utf-8"))
    zh = json.loads((LOCALES / "zh-CN" / f"{part}.json").read_text(encoding="utf-8"))
    assert set(en) == set(zh)


def storage_of(document: dict) -> dict:
    return {"table": "app_shop_order", "columns": {f["id"]: f["key"] for f in document["fields"]}, "archived": {}}


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_a_plan_with_every_simple_change_reads_in_plain_words(locale: str) -> None:
    old = form(
        "order",
        field("title"),
        field("amount"),
        field("note"),
        field("fax"),
        field("code", unique=True),
        title_field="title",
    )
    new = form(
        "order",
        field("title", required=True),
        field("amount", "decimal", label={"zh-CN": "金额", "en": "Amount"}),
        field("remark", id="fld_note"),
        field("code"),
        field("needed_by", "date"),
        title_field="title",
    )
    facts = Facts(
        invalid={"fld_amount": (BadValue(7, "about 30", "not a number"),)},
        invalid_count={"fld_amount": 1},
        empty={"fld_title": (3,)},
        empty_count={"fld_title": 1},
    )
    resolutions = {"amount": Resolution("set_value", "0"), "title": Resolution(fill_empty="n/a")}
    plan = plan_migration(old, new, storage_of(old), facts, resolutions)
    t = Translator(locale)
    names = Names.of(t, old, new)
    sentences = step_sentences(names, plan)
    assert len(sentences) == len(plan.steps)
    planner_words = {s.description for s in plan.steps}
    assert not planner_words & set(sentences)  # every step is said by the registry, in the page's language
    if locale == "en":
        assert "Rename the key of Remark (remark) from note to remark; the values stay" in sentences
        assert "Archive field Fax (fax): hidden, its values kept and restorable" in sentences
        assert "Field Amount (amount) changes from Text to Number: 1 record does not convert and gets 0" in sentences
        assert "Fill Title (title) with n/a where it is empty" in sentences
        assert "Code (code) no longer needs to be unique" in sentences
    found = issues(names, plan, facts, resolutions)
    assert {(i.key, i.kind, i.resolved) for i in found} == {("amount", "convert", True), ("title", "fill", True)}
    assert all(i.message for i in found)


def test_undecided_records_are_said_with_the_change_they_hold_back() -> None:
    old = form("order", field("title"), field("amount"), title_field="title")
    new = form("order", field("title"), field("amount", "integer"), title_field="title")
    facts = Facts(invalid={"fld_amount": ()}, invalid_count={"fld_amount": 3})
    plan = plan_migration(old, new, storage_of(old), facts, {})
    names = Names.of(Translator("en"), old, new)
    assert step_sentences(names, plan) == [
        "Field Amount (amount) changes from Text to Whole number: 3 records will not convert — decide below"
    ]
    [issue] = issues(names, plan, facts, {})
    assert issue.kind == "convert" and not issue.resolved and issue.choice == "refuse"


def test_a_change_no_choice_can_make_safe_says_what_to_do_instead() -> None:
    old = form("order", field("title"), field("amount"), title_field="title")
    new = form("order", field("title"), field("amount", "formula", formula="1 + 1"), title_field="title")
    plan = plan_migration(old, new, storage_of(old), Facts(), {})
    names = Names.of(Translator("en"), old, new)
    [issue] = issues(names, plan, Facts(), {})
    assert issue.kind == "fix" and "cannot change from Text to" in issue.message and "Add a new field" in issue.message


def test_a_diff_reads_in_both_languages() -> None:
    old = form("order", field("title"), field("amount"), title_field="title")
    new = form("order", field("title", required=True), field("amount", "decimal"), title_field="title")
    changes = diff_forms(old, new)
    assert change_sentences(Names.of(Translator("en"), old, new), changes) == [
        "Title (title) becomes required",
        "Amount (amount) changes from Text to Number",
    ]
    assert change_sentences(Names.of(Translator("zh-CN"), old, new), changes) == [
        "Title (title) 改为必填",
        "Amount (amount) 由「单行文本」改为「数字」",
    ]
