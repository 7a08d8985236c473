"""Look-ahead detection by replay: a value must not change when the future is deleted.

Why this shape: reviewing formulas for look-ahead does not scale and missed the baseline system's
open-context-bar bug. The checker asks the only question that matters, empirically: for a sample of
rows ``t``, recompute every column from inputs cut by :meth:`Inputs.as_of` at bar ``t``'s close (bars
closed by then, context bars closed by then, funding and mark published by then) and compare the value
at ``t`` with the full-history batch. Any difference (beyond float noise of :data:`TOLERANCE`, or a
value where the cut history has NaN) means the column read something from after ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tradeplane.runtime.features.inputs import Inputs
from tradeplane.runtime.features.plan import FeaturePlan, FeatureSpec
from tradeplane.runtime.features.registry import Registry
from tradeplane.runtime.features.standard import STANDARD

TOLERANCE = 1e-12
"""Relative, and absolute near zero: the same bound batch and live must meet."""


@dataclass(frozen=True)
class Leak:
    """Column ``feature`` at ``row`` differs once the future is removed."""

    feature: str
    row: int
    full: float
    truncated: float

    def __str__(self) -> str:
        return f"{self.feature} at row {self.row}: {self.full!r} with the future, {self.truncated!r} without"


class LookAheadDetected(AssertionError):
    """Raised by :func:`assert_no_lookahead`; names every leaking feature."""

    def __init__(self, leaks: list[Leak]) -> None:
        self.leaks = leaks
        self.features = sorted({leak.feature for leak in leaks})
        super().__init__(f"look-ahead in {', '.join(self.features)}; first: {leaks[0]}")


def close_enough(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def check_no_lookahead(
    feature_defs: FeaturePlan | Sequence[FeatureSpec],
    inputs: Inputs,
    sample_rows: Iterable[int],
    *,
    base_interval: str = "1m",
    registry: Registry = STANDARD,
) -> list[Leak]:
    """Every (feature, row) among ``sample_rows`` whose value depends on data after that row's close."""
    plan = (
        feature_defs
        if isinstance(feature_defs, FeaturePlan)
        else FeaturePlan(feature_defs, base_interval=base_interval, registry=registry)
    )
    full = plan.batch(inputs)
    leaks: list[Leak] = []
    for row in sorted(set(sample_rows)):
        cut = plan.batch(inputs.as_of(int(inputs.bars.close_time_ms[row])))
        for column, name in enumerate(plan.columns):
            with_future = float(full[row, column])
            without = float(cut[row, column]) if row < len(cut) else math.nan
            if not close_enough(with_future, without):
                leaks.append(Leak(name, row, with_future, without))
    return leaks


def assert_no_lookahead(
    feature_defs: FeaturePlan | Sequence[FeatureSpec],
    inputs: Inputs,
    sample_rows: Iterable[int],
    **options: object,
) -> None:
    leaks = check_no_lookahead(feature_defs, inputs, sample_rows, **options)  # type: ignore[arg-type]
    if leaks:
        raise LookAheadDetected(leaks)


def spread_rows(rows: int, count: int, *, start: int = 0) -> list[int]:
    """``count`` rows spread evenly over ``[start, rows)``, last row included (where leaks show first)."""
    return sorted({int(i) for i in np.linspace(start, rows - 1, num=min(count, max(rows - start, 0)))})
