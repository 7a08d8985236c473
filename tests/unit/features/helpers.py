"""Shared assertions for the feature tests: batch and live are the same numbers, bit for bit."""

from __future__ import annotations

import numpy as np


def assert_agree(batch: np.ndarray, live: np.ndarray, columns: tuple[str, ...]) -> None:
    """Same NaN rows and the same bits in every other row (sign of zero included)."""
    assert batch.shape == live.shape
    for index, name in enumerate(columns):
        b, v = np.ascontiguousarray(batch[:, index]), np.ascontiguousarray(live[:, index])
        nan_rows = np.flatnonzero(np.isnan(b) != np.isnan(v))
        assert nan_rows.size == 0, f"{name}: NaN in one path only at rows {nan_rows[:10]}"
        differing = np.flatnonzero((b.view(np.uint64) != v.view(np.uint64)) & ~np.isnan(b))
        assert differing.size == 0, (
            f"{name}: batch {b[differing[0]]!r} != live {v[differing[0]]!r} at row {differing[0]}"
        )
