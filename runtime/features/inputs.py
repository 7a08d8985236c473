"""What features are computed from, shaped so that "known at a bar's close" is a single comparison.

Every stream carries the instant at which each value became known: bars their ``close_time_ms``
(BingX's last millisecond of the bar), funding and mark observations their ``time_ms``. A value at
base bar ``t`` may use exactly the bars with ``close_time_ms <= t.close_time_ms`` and the points with
``time_ms <= t.close_time_ms``; :meth:`Inputs.as_of` cuts every stream with that rule, which is what
the look-ahead checker replays. The funding *schedule* is a calendar published in advance, not an
observation, so it is the one input that may speak about the future.

Bad source data is never zero-filled or skipped silently: :func:`check_bars` and :func:`check_series`
name every offending row (stream, index, time, reason) and :class:`SourceQuarantine` carries them, so
the caller can quarantine those rows upstream and rebuild.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

BAR_FIELDS = ("open", "high", "low", "close", "volume")
_TIME_FIELDS = ("open_time_ms", "close_time_ms")


class Bar(NamedTuple):
    """One row of ``Bars`` as the live path receives it (a tuple: cheap to build once per bar).

    The float view of ``runtime.bars.Bar`` (the one OHLCV bar, in Decimal at the exchange
    boundary) with its open and close in epoch ms: features compute in float64 over column arrays,
    so this is a row of those columns, not another bar model."""

    open_time_ms: int
    close_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


NAN_BAR = Bar(-1, -1, math.nan, math.nan, math.nan, math.nan, math.nan)
"""Stands in for "the bar before the first one", so a formula that needs it yields NaN, not an error."""


class Point(NamedTuple):
    """One observation of a point-in-time series (a funding rate or a mark price)."""

    time_ms: int
    value: float


@dataclass(frozen=True)
class BadRow:
    """One source row that must not feed a feature."""

    stream: str
    index: int
    time_ms: int
    reason: str

    def __str__(self) -> str:
        return f"{self.stream}[{self.index}] at {self.time_ms} ms: {self.reason}"


class SourceQuarantine(ValueError):
    """Source rows that are not finite or not coherent; nothing was computed from them."""

    def __init__(self, rows: list[BadRow]) -> None:
        self.rows = rows
        shown = "; ".join(str(row) for row in rows[:5])
        more = f" (and {len(rows) - 5} more)" if len(rows) > 5 else ""
        super().__init__(f"{len(rows)} bad source row(s), quarantine them upstream: {shown}{more}")


@dataclass(frozen=True)
class Bars:
    """Closed bars of one interval, ascending by close time, as parallel numpy arrays."""

    open_time_ms: IntArray
    close_time_ms: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __post_init__(self) -> None:
        """Coerce to int64 times and float64 values (no copy when they already are), so every formula
        sees one dtype whatever the caller built the arrays from."""
        for name in _TIME_FIELDS:
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.int64))
        for name in BAR_FIELDS:
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float64))

    def __len__(self) -> int:
        return len(self.close_time_ms)

    @classmethod
    def from_bars(cls, bars: list[Bar]) -> Bars:
        columns = list(zip(*bars, strict=True)) if bars else [()] * 7
        ints = [np.asarray(c, dtype=np.int64) for c in columns[:2]]
        floats = [np.asarray(c, dtype=np.float64) for c in columns[2:]]
        return cls(ints[0], ints[1], *floats)

    def bar(self, index: int) -> Bar:
        return Bar(
            int(self.open_time_ms[index]),
            int(self.close_time_ms[index]),
            float(self.open[index]),
            float(self.high[index]),
            float(self.low[index]),
            float(self.close[index]),
            float(self.volume[index]),
        )

    def head(self, count: int) -> Bars:
        return Bars(*(getattr(self, name)[:count] for name in Bars.__dataclass_fields__))

    def previous(self) -> Bars:
        """The same arrays moved one bar later: row ``t`` holds bar ``t - 1`` (NaN for the first)."""
        ints = [_shift(times, -1) for times in (self.open_time_ms, self.close_time_ms)]
        floats = [_shift(getattr(self, name), math.nan) for name in BAR_FIELDS]
        return Bars(ints[0], ints[1], *floats)


def _shift(values: NDArray[Any], fill: float) -> NDArray[Any]:
    shifted = np.empty_like(values)
    if len(values):
        shifted[0] = fill
        shifted[1:] = values[:-1]
    return shifted


@dataclass(frozen=True)
class Series:
    """A point-in-time series (funding rates, mark prices), ascending by the time each value became known."""

    time_ms: IntArray
    value: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_ms", np.asarray(self.time_ms, dtype=np.int64))
        object.__setattr__(self, "value", np.asarray(self.value, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.time_ms)

    @classmethod
    def empty(cls) -> Series:
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))

    def as_of(self, times_ms: IntArray) -> FloatArray:
        """The last value known at each of ``times_ms`` (NaN before the first observation)."""
        index = np.searchsorted(self.time_ms, times_ms, side="right") - 1
        values = self.value[np.maximum(index, 0)] if len(self) else np.zeros(len(times_ms))
        return np.where(index >= 0, values, math.nan)

    def head(self, count: int) -> Series:
        return Series(self.time_ms[:count], self.value[:count])


@dataclass(frozen=True)
class FundingSchedule:
    """Settlements at ``offset_ms + k * period_ms`` (BingX: every 8 h from 00:00 UTC), known in advance."""

    period_ms: int = 8 * 3_600_000
    offset_ms: int = 0


@dataclass(frozen=True)
class Inputs:
    """Everything a feature plan reads, for one instrument."""

    bars: Bars
    context: Mapping[str, Bars] = field(default_factory=dict)
    funding: Series = field(default_factory=Series.empty)
    mark: Series = field(default_factory=Series.empty)
    funding_schedule: FundingSchedule | None = None

    def as_of(self, close_time_ms: int) -> Inputs:
        """Every stream cut to what was known at ``close_time_ms`` (the look-ahead rule, in one place)."""

        def bars_upto(bars: Bars) -> Bars:
            return bars.head(int(np.searchsorted(bars.close_time_ms, close_time_ms, side="right")))

        def series_upto(series: Series) -> Series:
            return series.head(int(np.searchsorted(series.time_ms, close_time_ms, side="right")))

        return Inputs(
            bars_upto(self.bars),
            {interval: bars_upto(bars) for interval, bars in self.context.items()},
            series_upto(self.funding),
            series_upto(self.mark),
            self.funding_schedule,
        )

    def check(self) -> None:
        """Raise :class:`SourceQuarantine` naming every bad row of every stream."""
        bad = check_bars("bars", self.bars)
        for interval, bars in self.context.items():
            bad += check_bars(f"context[{interval}]", bars)
        bad += check_series("funding", self.funding, positive=False)
        bad += check_series("mark", self.mark, positive=True)
        if bad:
            raise SourceQuarantine(bad)


def check_bars(stream: str, bars: Bars) -> list[BadRow]:
    """Non-finite or non-positive prices, negative volume, an incoherent range, or time not ascending."""
    prices = np.stack([bars.open, bars.high, bars.low, bars.close])
    reasons = [
        (~np.isfinite(prices).all(axis=0) | ~np.isfinite(bars.volume), "non-finite price or volume"),
        ((prices <= 0).any(axis=0), "non-positive price"),
        (bars.volume < 0, "negative volume"),
        (bars.high < prices.max(axis=0), "high below open, low or close"),
        (bars.low > prices.min(axis=0), "low above open, high or close"),
        (bars.close_time_ms < bars.open_time_ms, "close time before open time"),
        (_not_ascending(bars.close_time_ms), "close time not after the previous bar's"),
    ]
    return _rows(stream, bars.close_time_ms, reasons)


def check_series(stream: str, series: Series, *, positive: bool) -> list[BadRow]:
    """Non-finite values (non-positive too for prices) or time not ascending."""
    reasons = [
        (~np.isfinite(series.value), "non-finite value"),
        (_not_ascending(series.time_ms), "time not after the previous point's"),
    ]
    if positive:
        reasons.append((series.value <= 0, "non-positive price"))
    return _rows(stream, series.time_ms, reasons)


def _not_ascending(times: IntArray) -> NDArray[np.bool_]:
    late = np.zeros(len(times), dtype=bool)
    late[1:] = times[1:] <= times[:-1]
    return late


def _rows(stream: str, times: IntArray, reasons: list[tuple[NDArray[np.bool_], str]]) -> list[BadRow]:
    bad = [
        BadRow(stream, int(i), int(times[i]), reason)
        for mask, reason in reasons
        for i in np.flatnonzero(mask)
    ]
    return sorted(bad, key=lambda row: row.index)


def bar_problem(bar: Bar, previous_close_ms: int) -> str | None:
    """The live twin of :func:`check_bars` for one bar (same rules, same words; a test holds them equal).

    Pure Python because it runs on every live bar, where a dozen numpy calls would cost more than the
    features themselves.
    """
    prices = (bar.open, bar.high, bar.low, bar.close)
    checks = (
        (not all(math.isfinite(v) for v in (*prices, bar.volume)), "non-finite price or volume"),
        (min(prices) <= 0, "non-positive price"),
        (bar.volume < 0, "negative volume"),
        (bar.high < max(prices), "high below open, low or close"),
        (bar.low > min(prices), "low above open, high or close"),
        (bar.close_time_ms < bar.open_time_ms, "close time before open time"),
        (bar.close_time_ms <= previous_close_ms, "close time not after the previous bar's"),
    )
    return next((reason for failed, reason in checks if failed), None)


def point_problem(point: Point, previous_time_ms: int, *, positive: bool) -> str | None:
    """The live twin of :func:`check_series` for one observation."""
    if not math.isfinite(point.value):
        return "non-finite value"
    if point.time_ms <= previous_time_ms:
        return "time not after the previous point's"
    if positive and point.value <= 0:
        return "non-positive price"
    return None
