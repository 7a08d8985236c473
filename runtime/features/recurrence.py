"""First-order linear recurrences ``y[t] = decay * y[t-1] + gain * x[t]``: EMA, Wilder smoothing, MACD.

Why this shape: every recursive feature in the standard set is this one recurrence with different
coefficients and seeds, so it is written once (:class:`Recurrence`) with two evaluators of the *same*
arithmetic. The live path steps it on Python floats (O(1) per bar). The batch path cannot loop a
million bars in Python, so :func:`scan` hands the loop to ``scipy.signal.lfilter`` as the first-order
filter ``b = [1]``, ``a = [1, -decay]`` over the inputs already multiplied by ``gain``. Its inner loop
is sequential, one element after the other, and per element computes ``z + u`` and
``u * 0 - y * (-decay)``: with ``u = gain * x`` rounded once (a numpy multiply) and ``z`` the previous
``decay * y`` rounded once, every step rounds exactly like the live ``decay * y + gain * x``. Any
fused multiply-add a compiler may form in that loop multiplies by exactly 1 or adds exactly 0, so it
cannot change a bit. Batch and live are therefore bit-identical, and neither depends on the CPU
family, a BLAS kernel or a thread count (an earlier blocked matrix product did: its last bits changed
with the BLAS kernel, and with them every dataset snapshot hash). Inputs are finite or NaN (a NaN
poisons both evaluators alike from where it enters); an infinite term would make the filter's
``u * 0`` NaN, which the live path does not produce, and validated bars never yield one.

That magnitude matters: an EMA of a 4000-dollar price carries absolute rounding of ~1e-12, which is
the whole size of a small MACD. Features therefore run recurrences on *small* quantities (see
:func:`gap_decay`: ``close - ema`` is a recurrence on price changes), never on raw price levels.

Seeding: ``seed == 0`` starts from ``y = gain * x`` at the first input; ``seed == s > 0`` sets the
first output to the mean of the first ``s`` inputs (Wilder's RSI and ATR), summed left to right by
:func:`~tradeplane.runtime.features.ordered.ordered_sum` so the seed has one rounding order
everywhere. Leading NaN inputs (a term that needs a previous bar) are skipped by both evaluators alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tradeplane.runtime.features import portable_math
from tradeplane.runtime.features.inputs import FloatArray
from tradeplane.runtime.features.ordered import ordered_sum

SEED_MEMORY = 1e-6
"""A recursive feature's warm-up lasts until its seed weighs less than this, so a live path started
from ``warmup`` bars of history matches a training set computed from years of history."""


@dataclass(frozen=True)
class Recurrence:
    """``y[t] = decay * y[t-1] + gain * x[t]`` with a seed rule; see the module docstring."""

    decay: float
    gain: float
    seed: int = 0

    @classmethod
    def ema(cls, span: int) -> Recurrence:
        """Exponential moving average with ``alpha = 2 / (span + 1)``, seeded by the first input."""
        alpha = 2.0 / (span + 1)
        return cls(1.0 - alpha, alpha, seed=1)

    @classmethod
    def wilder(cls, period: int) -> Recurrence:
        """Wilder's smoothing ``(prev * (n - 1) + x) / n``, seeded by the mean of the first ``n``."""
        return cls((period - 1) / period, 1.0 / period, seed=period)

    @classmethod
    def gap_decay(cls, span: int) -> Recurrence:
        """``x - ema(x)`` as a recurrence on the *changes* of ``x``: ``g = (1 - alpha) * (g + dx)``.

        Starting from ``g = 0`` is the EMA seeded by the first value. The state is a price change,
        not a price level, so its rounding is tiny where the difference of two EMAs is tiny.
        """
        alpha = 2.0 / (span + 1)
        return cls(1.0 - alpha, 1.0 - alpha, seed=0)

    @property
    def first_output(self) -> int:
        """Index of the first defined output, counted from the first defined input."""
        return max(self.seed, 1) - 1

    @property
    def memory(self) -> int:
        """Steps until the seed's weight falls below :data:`SEED_MEMORY`."""
        if self.decay <= 0.0:
            return 0
        # portable logarithms: the warm-up is part of the contract, so it must not depend on the CPU
        steps: float = portable_math.log(SEED_MEMORY) / portable_math.log(self.decay)
        return math.ceil(steps)

    def run(self, x: FloatArray) -> FloatArray:
        """Batch: the whole output for inputs ``x`` (NaN before the seed completes)."""
        y = np.full(len(x), math.nan)
        defined = np.flatnonzero(~np.isnan(x))
        if len(defined) == 0:
            return y
        start = int(defined[0])
        if self.seed == 0:
            y[start] = self.gain * x[start]
            y[start + 1 :] = scan(x[start + 1 :], self.decay, self.gain, float(y[start]))
            return y
        seeded = start + self.seed - 1
        if seeded >= len(x):
            return y
        y[seeded] = seed_value(x[start : seeded + 1])
        y[seeded + 1 :] = scan(x[seeded + 1 :], self.decay, self.gain, float(y[seeded]))
        return y

    def stepper(self) -> RecurrenceStep:
        return RecurrenceStep(self)


def seed_value(first: FloatArray) -> float:
    """The seed both evaluators use: one function on the same values, so the same bits."""
    return float(ordered_sum(first)) / len(first)


@dataclass
class RecurrenceStep:
    """Live: one input at a time, same equation and seed as :meth:`Recurrence.run`."""

    recurrence: Recurrence
    y: float = math.nan
    started: bool = False
    pending: list[float] = field(default_factory=list)

    def __call__(self, x: float) -> float:
        if self.started:
            self.y = self.recurrence.decay * self.y + self.recurrence.gain * x
            return self.y
        if math.isnan(x):
            return math.nan
        if self.recurrence.seed == 0:
            self.started = True
            self.y = self.recurrence.gain * x
            return self.y
        self.pending.append(x)
        if len(self.pending) < self.recurrence.seed:
            return math.nan
        self.started = True
        self.y = seed_value(np.asarray(self.pending))
        self.pending = []
        return self.y


def scan(x: FloatArray, decay: float, gain: float, y_before: float) -> FloatArray:
    """``y[t] = decay * y[t-1] + gain * x[t]`` for all ``t``, with ``y[-1] = y_before``, sequentially.

    Rounds each step exactly as :class:`RecurrenceStep` does; see the module docstring for why.
    """
    if len(x) == 0:
        return np.empty(0)
    # half a second to import: loaded by a batch build, not by every process that reads a contract
    from scipy.signal import lfilter  # noqa: PLC0415

    filtered, _ = lfilter([1.0], [1.0, -decay], gain * x, zi=[decay * y_before])
    out: FloatArray = np.asarray(filtered, dtype=np.float64)
    return out
