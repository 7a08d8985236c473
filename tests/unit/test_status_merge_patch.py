"""Status is written as a JSON merge patch: what a plan drops must be deleted, not kept."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.operator.engine import merge_patch

pytestmark = pytest.mark.unit


def apply(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 as the API server applies it, written from the RFC's pseudo-code."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            base = result.get(key)
            result[key] = apply(base if isinstance(base, dict) else {}, value)
        else:
            result[key] = value
    return result


leaf = st.one_of(st.integers(0, 3), st.sampled_from(["x", "y"]), st.booleans(), st.just([1, 2]))
documents = st.recursive(
    st.dictionaries(st.sampled_from("abc"), leaf, max_size=3),
    lambda inner: st.dictionaries(st.sampled_from("abc"), st.one_of(leaf, inner), max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(documents, documents)
def test_applying_the_patch_to_the_old_status_gives_the_new_one(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    assert apply(old, merge_patch(old, new)) == new


def test_a_dropped_nested_field_is_sent_as_null() -> None:
    old = {"metadata": {"state": "Fresh", "tickSize": "0.01"}, "observedGeneration": 1}
    new = {
        "metadata": {"state": "Invalid", "problem": "pricePrecision: not an integer"},
        "observedGeneration": 1,
    }
    assert merge_patch(old, new) == {
        "metadata": {"state": "Invalid", "problem": "pricePrecision: not an integer", "tickSize": None}
    }
