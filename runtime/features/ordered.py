"""Sums whose rounding order is fixed here, not by numpy's reduction machinery, SIMD width or BLAS.

Why: a dataset snapshot is named by the hash of its bytes, so a feature value must come out with the
same last bit on every machine. Floating-point addition is not associative, so a sum is only
reproducible if its order is. ``numpy.sum`` picks pairwise blocks or a running total depending on
the array's layout (a 2-D window row and the same window as a 1-D array may differ), ``einsum`` and
``dot`` accumulate in as many lanes as the build's SIMD baseline has, may fuse multiply-adds, and
``dot``/``@`` hand the work to a BLAS whose kernel and thread count decide the order. None of those
orders is part of numpy's contract.

- :func:`ordered_sum` adds strictly left to right over the last axis, ``((v0 + v1) + v2) + ...``,
  for a whole batch of windows at once (one elementwise add per window position, vectorised over
  rows) or for one live window (Python floats). Every step is one IEEE-754 addition, correctly
  rounded wherever it runs, so batch and live and every CPU agree bit for bit. Products to be summed
  are formed first with an elementwise multiply (``ordered_sum(a * b)``), which rounds once. A batch
  is walked one window position (column) at a time, so temporaries built column-major
  (``np.multiply(a, b, order="F")``) sum about twice as fast, with the same bits.
- :func:`exact_sum` is the correctly rounded sum of many values (``math.fsum``): the result does not
  depend on any order at all. It is for reductions over whole training ranges (normalisation fits),
  where a left-to-right Python loop would be slow and long running sums lose precision.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tradeplane.runtime.features.inputs import FloatArray


def ordered_sum(values: Any) -> Any:
    """Sum over the last axis, left to right; a float for a 1-D window, an array for a batch of them.

    An empty last axis sums to ``0.0``. A NaN anywhere in a window makes that window's sum NaN.
    """
    array = np.asarray(values, dtype=np.float64)
    length = array.shape[-1]
    if length == 0:
        return 0.0 if array.ndim == 1 else np.zeros(array.shape[:-1])
    if array.ndim == 1:
        items = array.tolist()
        total: float = items[0]
        for item in items[1:]:
            total += item
        return total
    running: FloatArray = array[..., 0].copy()
    for position in range(1, length):
        running += array[..., position]
    return running


def exact_sum(values: FloatArray) -> float:
    """The correctly rounded sum of ``values`` (any order gives the same bits); NaN if any is NaN."""
    return math.fsum(np.asarray(values, dtype=np.float64).reshape(-1).tolist())
