"""Which fields the saved views earn an index for, decided by the planner without a database: the most used
first, up to the limit, never one that is indexed already or whose values no index can order; said in both
languages on the publish page."""

from __future__ import annotations

import pytest

from opsloom.designer.index_advice import MAX_AUTOMATIC, automatic_indexes
from opsloom.designer.migration_plan import Facts, plan_migration
from opsloom.designer.pages.plan_sentences import Names, step_sentences
from opsloom.runtime.pages.i18n import Translator
from tests.builders import field, form, options


def storage_of(document: dict, **more: object) -> dict:
    return {"table": "shop__order", "columns": {f["id"]: f["key"] for f in document["fields"]}, **more}


ORDER = form(
    "order",
    field("title"),
    field("amount", "decimal"),
    field("due", "date"),
    field("code", unique=True),
    field("region", index=True),
    field("owner_name"),
    field("tags", "multiselect", options=options("a", "b")),
    field("lines", "subform", fields=[field("qty", "integer")]),
    field("supplier", "relation", form="supplier"),
    title_field="title",
)


def test_fields_are_chosen_by_how_many_views_use_them_and_never_twice() -> None:
    used = {("fld_due",): 1, ("fld_amount",): 3, ("fld_title",): 1, ("fld_gone",): 5}
    kept, added = automatic_indexes(ORDER, storage_of(ORDER), used)
    # most used first, then by key; a field no longer in the form is not indexed
    assert added == [(("fld_amount",), 3), (("fld_due",), 1), (("fld_title",), 1)]
    assert kept == ["fld_amount", "fld_due", "fld_title"]
    kept, added = automatic_indexes(ORDER, storage_of(ORDER, indexes=kept), {**used, ("fld_owner_name",): 1})
    assert added == [(("fld_owner_name",), 1)] and kept[-1] == "fld_owner_name"


@pytest.mark.parametrize("key", ["code", "region", "tags", "lines", "supplier"])
def test_a_field_indexed_already_or_that_no_index_orders_gets_none(key: str) -> None:
    assert automatic_indexes(ORDER, storage_of(ORDER), {(f"fld_{key}",): 9}) == ([], [])


def test_at_most_the_limit_per_form_and_a_removed_field_leaves_the_list() -> None:
    many = form("order", *(field(f"f{i}") for i in range(MAX_AUTOMATIC + 3)))
    kept, added = automatic_indexes(many, storage_of(many), {(f"fld_f{i}",): 1 for i in range(MAX_AUTOMATIC + 3)})
    assert len(kept) == len(added) == MAX_AUTOMATIC
    fewer = form("order", *many["fields"][1:])
    before = kept
    kept, added = automatic_indexes(fewer, storage_of(fewer, indexes=before), {})
    assert added == [] and kept == [fid for fid in before if fid != "fld_f0"] and len(kept) == MAX_AUTOMATIC - 1


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        ("en", "Index Amount (amount): 3 saved views sort or filter by it"),
        ("zh-CN", "为 Amount (amount) 建立索引：3 个已保存的视图按它排序或筛选"),
    ],
)
def test_the_plan_names_each_index_and_the_views_that_asked(locale: str, sentence: str) -> None:
    new = form("order", *ORDER["fields"], field("note"), title_field="title")
    plan = plan_migration(ORDER, new, storage_of(ORDER), Facts(used_by_views={("fld_amount",): 3}))
    [step] = [s for s in plan.steps if s.action == "add_index"]
    assert step.details == {"field_id": "fld_amount", "automatic": True, "views": 3}
    assert plan.storage["indexes"] == ["fld_amount"]
    assert sentence in step_sentences(Names.of(Translator(locale), ORDER, new), plan)
    # a publish with no view asking keeps what was added, and adds nothing
    again = plan_migration(new, new, plan.storage, Facts())
    assert again.storage["indexes"] == ["fld_amount"] and not again.steps


def test_an_index_of_two_fields_is_kept_as_their_list_and_stands_for_its_first_fields_own() -> None:
    used = {("fld_region", "fld_amount"): 2, ("fld_due", "fld_amount"): 1, ("fld_due",): 2, ("fld_amount",): 3}
    kept, added = automatic_indexes(ORDER, storage_of(ORDER), used)
    # `due` alone is not indexed: the index of due and amount finds what it would
    assert added == [(("fld_amount",), 3), (("fld_region", "fld_amount"), 2), (("fld_due", "fld_amount"), 1)]
    assert kept == ["fld_amount", ["fld_region", "fld_amount"], ["fld_due", "fld_amount"]]
    # asked again, nothing is added twice; a field removed takes the indexes it is in off the list
    again = storage_of(ORDER, indexes=kept)
    assert automatic_indexes(ORDER, again, used) == (kept, [])
    without_due = form("order", *(f for f in ORDER["fields"] if f["key"] != "due"), title_field="title")
    assert automatic_indexes(without_due, again, {}) == (["fld_amount", ["fld_region", "fld_amount"]], [])


def test_no_index_of_several_starts_with_a_unique_field_or_holds_one_no_index_orders() -> None:
    used = {("fld_code", "fld_amount"): 4, ("fld_region", "fld_tags"): 4, ("fld_region", "fld_lines"): 4}
    assert automatic_indexes(ORDER, storage_of(ORDER), used) == ([], [])


@pytest.mark.parametrize(
    ("locale", "sentence"),
    [
        (
            "en",
            "Index Region (region), Amount (amount) together: "
            "2 saved views pick one Region (region) and sort or filter by Amount (amount)",
        ),
        (
            "zh-CN",
            "为 Region (region), Amount (amount) 建立联合索引："
            "2 个已保存的视图选定一个Region (region)，再按Amount (amount)排序或筛选",
        ),
    ],
)
def test_the_plan_names_an_index_of_several_fields_in_its_order(locale: str, sentence: str) -> None:
    plan = plan_migration(ORDER, ORDER, storage_of(ORDER), Facts(used_by_views={("fld_region", "fld_amount"): 2}))
    [step] = plan.steps
    assert step.details == {"field_ids": ["fld_region", "fld_amount"], "automatic": True, "views": 2}
    assert step.description == (
        "Index region, amount together: 2 saved views pick one region and sort or filter by amount"
    )
    assert plan.storage["indexes"] == [["fld_region", "fld_amount"]]
    assert sentence in step_sentences(Names.of(Translator(locale), ORDER, ORDER), plan)


def test_a_records_status_and_times_join_an_index_of_several_but_get_none_of_their_own() -> None:
    used = {
        ("@status", "fld_amount"): 3,
        ("fld_region", "@created_at"): 2,
        ("@created_at",): 9,
        ("@status",): 9,
        ("@id", "fld_amount"): 4,  # the id orders every list last: no index adds it
        ("@owner_id", "fld_amount"): 4,
    }
    kept, added = automatic_indexes(ORDER, storage_of(ORDER), used)
    assert added == [(("@status", "fld_amount"), 3), (("fld_region", "@created_at"), 2)]
    assert kept == [["@status", "fld_amount"], ["fld_region", "@created_at"]]
    plan = plan_migration(ORDER, ORDER, storage_of(ORDER), Facts(used_by_views=used))
    assert [s.description for s in plan.steps] == [
        "Index status, amount together: 3 saved views pick one status and sort or filter by amount",
        "Index region, created_at together: 2 saved views pick one region and sort or filter by created_at",
    ]
    assert (
        "为 状态 (status), Amount (amount) 建立联合索引："
        "3 个已保存的视图选定一个状态 (status)，再按Amount (amount)排序或筛选"
        in step_sentences(Names.of(Translator("zh-CN"), ORDER, ORDER), plan)
    )
