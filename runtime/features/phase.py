"""Time-of-day and time-of-week features: sine and cosine of the close time's phase in a period.

Why a kernel of its own: the sine and cosine of one phase are two columns of one computation, so a
batch computes the pair once (:func:`portable_math.turn_sin_cos`) and both columns read it. The phase
is reduced in integer milliseconds, so it is exact, and the waves come from IEEE operations only, so
every CPU gives the same bits (``numpy.sin`` and libm's do not promise that).
"""

from __future__ import annotations

from tradeplane.runtime.features import portable_math
from tradeplane.runtime.features.inputs import Bar, Bars, FloatArray, Inputs
from tradeplane.runtime.features.kernels import Kernel, Known, Memo, Step


class Phase(Kernel):
    """``sin`` or ``cos`` of the close time's phase in a period (a day, a week) from ``origin_ms``."""

    def __init__(self, origin_ms: int, period_ms: int, *, cosine: bool) -> None:
        self.origin_ms, self.period_ms, self.cosine = origin_ms, period_ms, cosine
        self.first_valid = self.warmup = 0

    def batch(self, bars: Bars, inputs: Inputs, memo: Memo) -> FloatArray:
        key = ("phase", self.origin_ms, self.period_ms)
        if key not in memo:
            memo[key] = portable_math.turn_sin_cos(bars.close_time_ms - self.origin_ms, self.period_ms)
        waves: tuple[FloatArray, FloatArray] = memo[key]
        return waves[self.cosine].copy()

    def step(self) -> Step:
        origin, period, index = self.origin_ms, self.period_ms, int(self.cosine)

        def update(bar: Bar, previous: Bar, known: Known) -> float:
            wave: float = portable_math.turn_sin_cos(bar.close_time_ms - origin, period)[index]
            return wave

        return update
