"""Sums with a fixed order: left to right over windows, correctly rounded over training ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from tradeplane.runtime.features.ordered import exact_sum, ordered_sum

pytestmark = pytest.mark.unit


def test_ordered_sum_adds_left_to_right() -> None:
    """1e16 + 1 rounds back to 1e16, so left to right gives 0 where pairwise or exact sums give 1."""
    window = np.array([1e16, 1.0, -1e16, 0.5])
    assert ordered_sum(window) == ((1e16 + 1.0) - 1e16) + 0.5 == 0.5
    assert exact_sum(window) == 1.5
    assert ordered_sum(np.array([])) == 0.0 and ordered_sum(np.array([-0.0])) == 0.0
    assert math.copysign(1.0, ordered_sum(np.array([-0.0]))) == -1.0  # the first value, not 0 + value


def test_a_batch_of_windows_sums_each_row_exactly_like_the_row_alone() -> None:
    values = np.random.default_rng(3).normal(size=5_000) * np.exp2(np.arange(5_000) % 60 - 30)
    windows = sliding_window_view(values, 20)
    batch = ordered_sum(windows)
    rows = np.array([ordered_sum(np.array(row)) for row in windows])
    assert batch.tobytes() == rows.tobytes()
    assert ordered_sum(np.zeros((3, 0))).tolist() == [0.0, 0.0, 0.0]


def test_exact_sum_does_not_depend_on_the_order() -> None:
    values = np.random.default_rng(4).normal(size=100_000) * np.exp2(np.arange(100_000) % 80 - 40)
    shuffled = np.random.default_rng(5).permutation(values)
    assert exact_sum(values) == exact_sum(shuffled) == exact_sum(values.reshape(100, -1))
    assert math.isnan(exact_sum(np.array([1.0, math.nan])))
