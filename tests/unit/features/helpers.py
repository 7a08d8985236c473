"""Shared assertions for the feature tests: batch and live agree to 1e-12 (absolute near zero)."""

from __future__ import annotations

import numpy as np

RTOL = ATOL = 1e-12


def assert_agree(batch: np.ndarray, live: np.ndarray, columns: tuple[str, ...]) -> None:
    assert batch.shape == live.shape
    for index, name in enumerate(columns):
        b, v = batch[:, index], live[:, index]
        nan_rows = np.flatnonzero(np.isnan(b) != np.isnan(v))
        assert nan_rows.size == 0, f"{name}: NaN in one path only at rows {nan_rows[:10]}"
        both = ~np.isnan(b)
        error = np.abs(b[both] - v[both])
        bound = ATOL + RTOL * np.maximum(np.abs(b[both]), np.abs(v[both]))
        worst = np.flatnonzero(error > bound)
        assert worst.size == 0, f"{name}: batch {b[both][worst[0]]!r} != live {v[both][worst[0]]!r}"
