"""Logarithm, sine and cosine from IEEE operations: accurate, one result for a number and a column."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeplane.runtime.features import portable_math

pytestmark = pytest.mark.unit

RNG = np.random.default_rng(17)
NEAR_ONE = 1.0 + RNG.normal(0.0, 1e-3, 20_000)  # price ratios, what the features take logs of
WIDE = np.exp(RNG.uniform(-700.0, 700.0, 20_000))
DAY_MS = 86_400_000


def ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_log_is_within_one_ulp_of_the_c_library_and_exact_where_it_must_be() -> None:
    values = np.concatenate([NEAR_ONE, WIDE, [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]])
    got = portable_math.log(values)
    want = np.array([math.log(value) for value in values.tolist()])
    assert ulps(got, want).max() <= 1.0
    assert portable_math.log(1.0) == 0.0 and portable_math.log(2.0) == math.log(2.0)
    assert portable_math.log(np.array([1.0, 0.5, 8.0])).tolist() == [0.0, -math.log(2.0), 3 * math.log(2.0)]


def test_log_special_values_match_the_c_library() -> None:
    specials = [0.0, -0.0, -1.0, math.inf, -math.inf, math.nan]
    column = portable_math.log(np.array(specials))
    for index, value in enumerate(specials):
        want = math.log(value) if value > 0 else -math.inf if value == 0 else math.nan
        got_number, got_column = portable_math.log(value), float(column[index])
        assert got_number == want or (math.isnan(want) and math.isnan(got_number)), value
        assert got_column == want or (math.isnan(want) and math.isnan(got_column)), value


def test_turn_sine_and_cosine_are_accurate_and_exact_at_quarter_turns() -> None:
    numerators = RNG.integers(-(10**13), 10**13, 20_000)
    turns = ((numerators % DAY_MS) / DAY_MS).tolist()
    sines, cosines = portable_math.turn_sin_cos(numerators, DAY_MS)
    for got, reference in ((sines, math.sin), (cosines, math.cos)):
        want = np.array([reference(2.0 * math.pi * turn) for turn in turns])
        assert np.abs(got - want).max() <= 2e-16 * 8  # the reference's own angle carries ~pi * 2**-52
    quarters = np.arange(9, dtype=np.int64) * (DAY_MS // 4) - DAY_MS // 4
    sines, cosines = portable_math.turn_sin_cos(quarters, DAY_MS)
    assert sines.tolist() == [-1.0, 0.0, 1.0, 0.0, -1.0, 0.0, 1.0, 0.0, -1.0]
    assert cosines.tolist() == [0.0, 1.0, 0.0, -1.0, 0.0, 1.0, 0.0, -1.0, 0.0]
    eighth = portable_math.turn_sin_cos(np.array([DAY_MS // 8, 3 * DAY_MS // 8]), DAY_MS)
    assert np.abs(eighth[0] - math.sqrt(0.5)).max() <= 2.3e-16  # the reduced angle reaches pi/4
    with pytest.raises(ValueError, match="multiple of 4"):
        portable_math.turn_sin_cos(1, 86_399_999)


@given(st.floats(min_value=1e-300, max_value=1e300, allow_nan=False), st.integers(-(2**50), 2**50))
def test_a_number_and_the_same_number_in_a_column_give_the_same_bits(value: float, numerator: int) -> None:
    """The live path passes one number, the batch a column: the results must be bit-identical."""
    column = np.array([value, 1.0])
    assert np.float64(portable_math.log(value)).tobytes() == portable_math.log(column)[:1].tobytes()
    number = portable_math.turn_sin_cos(numerator, DAY_MS)
    column = portable_math.turn_sin_cos(np.array([numerator, 0], dtype=np.int64), DAY_MS)
    for wave in (0, 1):
        assert np.float64(number[wave]).tobytes() == column[wave][:1].tobytes()


def test_long_columns_are_computed_in_chunks_with_the_same_bits() -> None:
    values = np.concatenate([NEAR_ONE] * 3)
    assert len(values) > portable_math.CHUNK
    one_by_one = np.array([portable_math.log(value) for value in values.tolist()])
    assert portable_math.log(values).tobytes() == one_by_one.tobytes()
    assert portable_math.log(values.reshape(3, -1)).reshape(-1).tobytes() == one_by_one.tobytes()
    # near 1 every value is its own reduced mantissa; a far value in the column changes nothing
    within = values[(values >= portable_math.SQRT_HALF) & (values < 2.0 * portable_math.SQRT_HALF)]
    mixed = portable_math.log(np.append(within, [10.0, 0.25]))
    assert mixed[:-2].tobytes() == portable_math.log(within).tobytes()
