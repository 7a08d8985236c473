"""Seeded synthetic histories for tests and benchmarks: a random walk shaped like BingX data.

Why it exists as code next to the features rather than a fixture file: the agreement tests, the
look-ahead tests and the benchmark all need the same realistic shape (1m bars with BingX close times
``open + interval - 1``, context bars aggregated from *whole* context periods including ones before
the base history starts, funding settlements every 8 h, mark prices stamped at irregular instants),
at sizes from a handful of bars to a million, reproducibly from a seed.
"""

from __future__ import annotations

import numpy as np

from tradeplane.runtime.features.inputs import Bars, FundingSchedule, Inputs, Series
from tradeplane.runtime.millis import MINUTE_MS

START_MS = 1_704_067_200_000
"""2024-01-01 00:00 UTC."""


def random_walk_bars(
    count: int, *, seed: int, start_ms: int = START_MS, interval_ms: int = MINUTE_MS, price: float = 4000.0
) -> Bars:
    """``count`` contiguous bars of a log-normal random walk with consistent OHLC and volume."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 5e-4, size=count)
    close = price * np.exp(np.cumsum(steps))
    open_ = np.empty(count)
    open_[0] = price
    open_[1:] = close[:-1]
    wick = np.abs(rng.normal(0.0, 3e-4, size=(2, count)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    volume = rng.lognormal(3.0, 0.8, size=count)
    open_time = start_ms + interval_ms * np.arange(count, dtype=np.int64)
    return Bars(open_time, open_time + interval_ms - 1, open_, high, low, close, volume)


def aggregate(bars: Bars, factor: int) -> Bars:
    """Whole groups of ``factor`` consecutive bars as one bar each (a trailing partial group is dropped)."""
    groups = len(bars) // factor
    cut = groups * factor

    def grouped(values: np.ndarray) -> np.ndarray:
        return values[:cut].reshape(groups, factor)

    return Bars(
        grouped(bars.open_time_ms)[:, 0],
        grouped(bars.close_time_ms)[:, -1],
        grouped(bars.open)[:, 0],
        grouped(bars.high).max(axis=1),
        grouped(bars.low).min(axis=1),
        grouped(bars.close)[:, -1],
        grouped(bars.volume).sum(axis=1),
    )


def synthetic_inputs(count: int, *, seed: int, skip_minutes: int = 17, with_context: bool = True) -> Inputs:
    """``count`` 1m base bars starting ``skip_minutes`` into an hour (so hourly context is misaligned),
    1h context bars of whole hours (including hours before the base starts), funding every 8 h and
    mark prices observed at irregular instants within each minute."""
    rng = np.random.default_rng(seed + 1)
    history = random_walk_bars(count + skip_minutes, seed=seed)
    base = Bars(*(getattr(history, name)[skip_minutes:] for name in Bars.__dataclass_fields__))
    context = {"1h": aggregate(history, 60)} if with_context else {}
    schedule = FundingSchedule()
    first, last = int(history.open_time_ms[0]), int(base.close_time_ms[-1])
    settlements = np.arange(
        first - first % schedule.period_ms, last + schedule.period_ms, schedule.period_ms, dtype=np.int64
    )
    funding = Series(settlements, rng.normal(1e-4, 2e-4, size=len(settlements)))
    offsets = rng.integers(0, MINUTE_MS, size=len(base), dtype=np.int64)
    mark_times = base.open_time_ms + offsets
    mark = Series(mark_times, base.close * (1.0 + rng.normal(0.0, 2e-4, size=len(base))))
    return Inputs(base, context, funding, mark, schedule)
