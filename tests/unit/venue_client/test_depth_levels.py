"""depth_levels: the whole-buffer fast check accepts only what the exact Decimal check accepts, and
whatever the exact check accepts comes out with the same values."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.venue import depth_levels

pytestmark = pytest.mark.unit

number_text = st.one_of(
    st.from_regex(r"\A[0-9]{1,6}(\.[0-9]{1,6})?\Z"),
    st.sampled_from(
        ["0", "0.0", "00", "01", ".5", "5.", "1.2.3", "", " 1", "1e3", "-1", "NaN", "inf", "1_0"]
    ),
    st.text(alphabet='0123456789.,[]"e-+ ', max_size=6),
)
level = st.one_of(
    st.tuples(number_text, number_text).map(list),
    st.lists(number_text, max_size=3),
    st.sampled_from([1, None, "x"]),
)


def _exact_values(levels: object) -> list[tuple[Decimal, Decimal]] | None:
    """The reference: a list of [price, qty] strings, price > 0, qty >= 0, both finite."""
    if not isinstance(levels, list):
        return None
    values = []
    for item in levels:
        if not (isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item)):
            return None
        try:
            price, qty = Decimal(item[0]), Decimal(item[1])
        except InvalidOperation:
            return None
        if not (price.is_finite() and qty.is_finite()) or price <= 0 or qty < 0:
            return None
        values.append((price, qty))
    return values


@settings(max_examples=1000)
@given(st.lists(level, max_size=4), st.booleans())
def test_checked_agrees_with_the_exact_decimal_check(levels: list[object], spaced: bool) -> None:
    text = json.dumps(levels, separators=(", ", ": ") if spaced else (",", ":")).encode()
    expected = _exact_values(levels)
    if expected is None:
        with pytest.raises(depth_levels.LevelsInvalid):
            depth_levels.checked(text)
        return
    checked = depth_levels.checked(text)
    assert list(depth_levels.decimals(checked)) == expected
    assert depth_levels.checked(checked) is checked  # canonical text passes the fast check as is


def test_plain_levels_are_kept_byte_for_byte_and_zero_quantities_read_as_zero() -> None:
    text = b'[["67000.10","0.5000"],["66999.9","0"]]'
    assert depth_levels.checked(text) is text
    assert [depth_levels.is_zero(q) for _, q in depth_levels.pairs(text)] == [False, True]


@pytest.mark.parametrize("text", [b'[["0","1"]]', b'[["0.00","1"]]', b'[["1","-1"]]', b'[["1"]]', b"{}"])
def test_refused(text: bytes) -> None:
    with pytest.raises(depth_levels.LevelsInvalid):
        depth_levels.checked(text)
