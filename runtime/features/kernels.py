"""The shapes a feature's math comes in, each with one batch and one live evaluator of the same formula.

Why this shape: a feature author writes only formulas (:data:`Term`, window formulas, finishers);
the plumbing that turns a formula into a whole column or into the next live value is written once per
*shape* here, not once per feature, so the two paths cannot drift apart feature by feature.

- :class:`Rolling`: per-bar terms (which may read the previous bar), then a window formula.
- :class:`Smoothed`: per-bar terms, each through a :class:`Recurrence`, then a finisher.
- :class:`Instant`: a formula of the bar and what is known at its close (funding, mark, clock).
- :class:`Aligned`: any bar-only kernel run on a context interval, read as of the base bar's close
  from the last *closed* context bar.

Terms and finishers are written with operators and numpy ufuncs, so the same function takes whole
columns (:class:`Bars`) in batch and Python floats (:class:`Bar`) live.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from tradeplane.runtime.features.inputs import NAN_BAR, Bar, Bars, FloatArray, FundingSchedule, Inputs
from tradeplane.runtime.features.recurrence import Recurrence
from tradeplane.runtime.features.window import Trailing, WindowFormula, rolling

Term = Callable[[Any, Any], Any]
"""``term(bar, previous_bar)``: columns of :class:`Bars` in batch, floats of :class:`Bar` live."""


@dataclass
class Known:
    """What the live path knows at the current bar's close besides bars."""

    funding: float = math.nan
    mark: float = math.nan
    schedule: FundingSchedule | None = None


Memo = dict[Hashable, Any]
"""Per-``bars`` scratch space for one batch build: columns that share work (the previous bar, the
three MACD outputs) compute it once. Live steps share nothing; they are O(1) or O(window) anyway."""


def previous_bars(bars: Bars, memo: Memo) -> Bars:
    if "previous" not in memo:
        memo["previous"] = bars.previous()
    found: Bars = memo["previous"]
    return found


class Step(Protocol):
    """Live evaluator: the next value given the bar that just closed and the one before it."""

    def __call__(self, bar: Bar, previous: Bar, known: Known) -> float: ...


class Kernel(ABC):
    """One feature with validated parameters."""

    first_valid: int
    """Index of the first row the formula defines (rows before it are NaN on both paths)."""
    warmup: int
    """Rows before which the value is not trusted: ``first_valid`` plus any recursive memory."""

    @abstractmethod
    def batch(self, bars: Bars, inputs: Inputs, memo: Memo) -> FloatArray:
        """The whole column for ``bars`` (which are ``inputs.bars`` or a context interval's bars)."""

    @abstractmethod
    def step(self) -> Step:
        """A fresh live evaluator."""


class Rolling(Kernel):
    """``formula(*windows)`` over trailing windows of ``length`` values of each term."""

    def __init__(self, terms: tuple[Term, ...], length: int, formula: WindowFormula, term_lag: int) -> None:
        self.terms, self.length, self.formula = terms, length, formula
        self.first_valid = self.warmup = term_lag + length - 1

    def batch(self, bars: Bars, inputs: Inputs, memo: Memo) -> FloatArray:
        previous = previous_bars(bars, memo)
        series = tuple(np.asarray(term(bars, previous), dtype=np.float64) for term in self.terms)
        return rolling(self.formula, series, self.length)

    def step(self) -> Step:
        buffers = [Trailing(self.length) for _ in self.terms]
        terms, formula = self.terms, self.formula

        def update(bar: Bar, previous: Bar, known: Known) -> float:
            windows = [buffer.push(term(bar, previous)) for term, buffer in zip(terms, buffers, strict=True)]
            return float(formula(*windows))

        return update


class Smoothed(Kernel):
    """``finish(bar, *smoothed)`` where ``smoothed[i]`` is ``recurrences[i]`` run over ``terms[i]``."""

    def __init__(
        self,
        terms: tuple[Term, ...],
        recurrences: tuple[Recurrence, ...],
        finish: Callable[..., Any],
        term_lag: int,
    ) -> None:
        self.terms, self.recurrences, self.finish = terms, recurrences, finish
        self.first_valid = term_lag + max(r.first_output for r in recurrences)
        self.warmup = self.first_valid + max(r.memory for r in recurrences)

    def batch(self, bars: Bars, inputs: Inputs, memo: Memo) -> FloatArray:
        previous = previous_bars(bars, memo)
        smoothed = [
            recurrence.run(np.asarray(term(bars, previous), dtype=np.float64))
            for term, recurrence in zip(self.terms, self.recurrences, strict=True)
        ]
        return np.asarray(self.finish(bars, *smoothed), dtype=np.float64)

    def step(self) -> Step:
        steps = [recurrence.stepper() for recurrence in self.recurrences]
        terms, finish = self.terms, self.finish

        def update(bar: Bar, previous: Bar, known: Known) -> float:
            smoothed = [s(float(term(bar, previous))) for term, s in zip(terms, steps, strict=True)]
            return float(finish(bar, *smoothed))

        return update


class Instant(Kernel):
    """``formula(close_time_ms, close, funding, mark, schedule)`` with funding and mark as of the close.

    ``reads`` names which of funding, mark and schedule the formula uses; the others are passed as
    NaN / None, so batch does not pay for as-of lookups a column never reads.
    """

    def __init__(self, formula: Callable[..., Any], reads: frozenset[str] = frozenset()) -> None:
        self.formula, self.reads = formula, reads
        self.first_valid = self.warmup = 0

    def _schedule(self, schedule: FundingSchedule | None) -> FundingSchedule | None:
        if "schedule" not in self.reads:
            return None
        if schedule is None:
            raise ValueError("this feature needs inputs.funding_schedule (the venue's settlement calendar)")
        return schedule

    def batch(self, bars: Bars, inputs: Inputs, memo: Memo) -> FloatArray:
        times = bars.close_time_ms
        funding = inputs.funding.as_of(times) if "funding" in self.reads else math.nan
        mark = inputs.mark.as_of(times) if "mark" in self.reads else math.nan
        values = self.formula(times, bars.close, funding, mark, self._schedule(inputs.funding_schedule))
        return np.broadcast_to(np.asarray(values, dtype=np.float64), (len(bars),)).copy()

    def step(self) -> Step:
        formula, schedule_of = self.formula, self._schedule

        def update(bar: Bar, previous: Bar, known: Known) -> float:
            return float(
                formula(bar.close_time_ms, bar.close, known.funding, known.mark, schedule_of(known.schedule))
            )

        return update


class Aligned(Kernel):
    """A bar-only kernel on a context interval, read from the last context bar closed by the base close."""

    def __init__(self, inner: Kernel, interval: str, bars_per_context_bar: int) -> None:
        self.inner, self.interval = inner, interval
        # the first usable context bar may open up to one context bar after the base history starts
        self.first_valid = 0
        self.warmup = (inner.warmup + 2) * bars_per_context_bar - 1

    def batch(self, bars: Bars, inputs: Inputs, memo: Memo) -> FloatArray:
        context = inputs.context.get(self.interval)
        if context is None:
            raise ValueError(f"this feature needs inputs.context[{self.interval!r}]")
        values = self.inner.batch(context, inputs, memo.setdefault(("context", self.interval), {}))
        values[: self.inner.warmup] = math.nan
        index = np.searchsorted(context.close_time_ms, bars.close_time_ms, side="right") - 1
        picked = values[np.maximum(index, 0)] if len(values) else np.zeros(len(bars))
        return np.where(index >= 0, picked, math.nan)

    def step(self) -> Step:
        raise TypeError("a context feature steps on context bars: use context_step()")

    def context_step(self) -> ContextStep:
        return ContextStep(self.inner.step(), self.inner.warmup)


class ContextStep:
    """Live context feature: advanced by each closed context bar, read by each base bar."""

    __slots__ = ("_inner", "_previous", "_seen", "_warmup", "value")

    def __init__(self, inner: Step, warmup: int) -> None:
        self._inner, self._warmup = inner, warmup
        self._previous = NAN_BAR
        self._seen = 0
        self.value = math.nan

    def closed(self, bar: Bar) -> None:
        value = self._inner(bar, self._previous, Known())
        self.value = value if self._seen >= self._warmup else math.nan
        self._seen += 1
        self._previous = bar
