"""Rolling-window formulas: written once over the window's last axis, fed whole histories or one window.

Why this shape: a rolling feature is a function of its trailing window, so the formula is a plain
numpy function over ``window[..., 0:n]``. Batch hands it every window at once as a zero-copy
``sliding_window_view`` (in row chunks, so temporaries stay in cache); the live path hands it the one
trailing window out of a :class:`Trailing` buffer. The same formula on the same numbers gives the same
bits both ways because formulas sum a window only with
:func:`~tradeplane.runtime.features.ordered.ordered_sum` (numpy's own reductions may sum a 2-D window
row in a different order than a 1-D one). The formulas also avoid cancellation: they centre windows on
the current value before summing rather than differencing running sums (cumulative sums over a long
history would lose ~1e-12 relative).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tradeplane.runtime.features.inputs import FloatArray

CHUNK_ROWS = 1 << 12
"""Windows per formula call in batch: temporaries of ``CHUNK_ROWS * n`` floats stay in L2."""

WindowFormula = Callable[..., FloatArray | float]


def rolling(formula: WindowFormula, series: tuple[FloatArray, ...], length: int) -> FloatArray:
    """``formula`` over every trailing window of ``length`` rows of ``series`` (NaN for the first rows)."""
    rows = len(series[0])
    out = np.full(rows, math.nan)
    if rows < length:
        return out
    views = [sliding_window_view(values, length) for values in series]
    windows = rows - length + 1
    for start in range(0, windows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, windows)
        out[length - 1 + start : length - 1 + stop] = formula(*(view[start:stop] for view in views))
    return out


class Trailing:
    """The last ``length`` values of one series as a contiguous view, O(1) per push.

    Each value is written twice, ``length`` apart, into a buffer of ``2 * length``, so the trailing
    window is always one slice; no copy, no roll. Starts full of NaN, so formulas report not-ready
    until the window has filled, exactly where batch has NaN.
    """

    __slots__ = ("_buffer", "_length", "_next")

    def __init__(self, length: int) -> None:
        self._length = length
        self._buffer = np.full(2 * length, math.nan)
        self._next = 0

    def push(self, value: float) -> FloatArray:
        """Append ``value`` and return the trailing window, oldest first."""
        position = self._next
        self._buffer[position] = value
        self._buffer[position + self._length] = value
        position += 1
        self._next = 0 if position == self._length else position
        return self._buffer[position : position + self._length]
