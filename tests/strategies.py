"""Hypothesis strategies more than one test module draws from."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def condition_trees(leaf: st.SearchStrategy[dict[str, Any]], max_leaves: int) -> st.SearchStrategy[dict[str, Any]]:
    """Condition documents: `leaf` comparisons under `and`, `or` and `not`, up to `max_leaves` of them."""

    def groups(kids: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        several = st.lists(kids, min_size=1, max_size=3)
        return st.one_of(
            several.map(lambda xs: {"and": xs}), several.map(lambda xs: {"or": xs}), kids.map(lambda x: {"not": x})
        )

    return st.recursive(leaf, groups, max_leaves=max_leaves)
