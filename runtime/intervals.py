"""Kline intervals: THE table of BingX bar intervals and the grid their bars open on.

A gap is "an open time the grid expects and the store lacks", so the grid must agree with the venue
to the millisecond: fixed intervals (1m..3d) are aligned to the Unix epoch, weekly bars open on
Monday 00:00 UTC, monthly bars on the 1st of each month (a month is calendar-aware: 28 to 31 days).
Every layer (CRD validation, reconcilers, client, ingest, features, the simulator's interval names)
reads the table and the arithmetic from here, always as ``align(time, interval)`` and
``next_open(time, interval)``: time first, interval second. Standard library only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from tradeplane.runtime.millis import DAY_MS, EPOCH, HOUR_MS, MINUTE_MS, WEEK_MS, utc

KlineInterval = Literal[
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"
]
"""The kline intervals BingX serves (also the CRD enum)."""

INTERVALS: tuple[str, ...] = get_args(KlineInterval)
WEEK = "1w"
MONTH = "1M"

WEEK_ORIGIN = datetime(1970, 1, 5, tzinfo=UTC)
"""The first Monday after the epoch (a Thursday): weekly bars are aligned to it."""
WEEK_ORIGIN_MS = 4 * DAY_MS

STEP_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    WEEK: WEEK_MS,
}
"""Length in milliseconds of every interval with a fixed length (all but ``1M``)."""
LONGEST_MONTH_MS = 31 * DAY_MS
"""The longest ``1M`` bar: the bound for lag, warm-up and paging estimates that need one number."""

_STEP: dict[str, timedelta] = {name: timedelta(milliseconds=ms) for name, ms in STEP_MS.items()}


def check(interval: str) -> str:
    """``interval`` itself when BingX serves it; a ValueError naming it otherwise."""
    if interval not in INTERVALS:
        raise ValueError(f"unknown kline interval {interval!r}; expected one of {', '.join(INTERVALS)}")
    return interval


def duration(interval: str) -> timedelta:
    """The length of one bar; a month has none (28 to 31 days), so ``1M`` raises."""
    if check(interval) == MONTH:
        raise ValueError("1M bars have no fixed duration; use next_open")
    return _STEP[interval]


def longest_ms(interval: str) -> int:
    """The longest a bar of ``interval`` can last, in milliseconds (31 days for ``1M``)."""
    return LONGEST_MONTH_MS if check(interval) == MONTH else STEP_MS[interval]


def longest(interval: str) -> timedelta:
    """``longest_ms`` as a timedelta: an upper bound where a month's exact length does not matter."""
    return timedelta(milliseconds=longest_ms(interval))


def grid_ms(interval: str) -> tuple[int, int] | None:
    """(origin, step) in epoch milliseconds of a fixed-length grid, None for months: an open time
    ``t`` is on the grid exactly when ``(t - origin) % step == 0``, one integer test per bar."""
    if check(interval) == MONTH:
        return None
    return (WEEK_ORIGIN_MS if interval == WEEK else 0), STEP_MS[interval]


def align(time: datetime, interval: str) -> datetime:
    """The open time of the ``interval`` bar containing ``time``."""
    time = utc(time)
    if check(interval) == MONTH:
        return datetime(time.year, time.month, 1, tzinfo=UTC)
    origin = WEEK_ORIGIN if interval == WEEK else EPOCH
    return time - (time - origin) % _STEP[interval]


def next_open(time: datetime, interval: str) -> datetime:
    """The first open time strictly after ``time`` (for an open time: when its bar closes)."""
    opened = align(time, interval)
    if interval == MONTH:
        year, month = (opened.year + 1, 1) if opened.month == 12 else (opened.year, opened.month + 1)
        return datetime(year, month, 1, tzinfo=UTC)
    return opened + _STEP[interval]


def is_aligned(time: datetime, interval: str) -> bool:
    return align(time, interval) == utc(time)


def open_times(start: datetime, end: datetime, interval: str) -> list[datetime]:
    """Every open time in [start, end], oldest first (the range BingX's ``startTime``/``endTime`` select)."""
    start, end = utc(start), utc(end)
    if start > end:
        raise ValueError(f"start {start.isoformat()} is after end {end.isoformat()}")
    current = align(start, interval)
    if current < start:
        current = next_open(current, interval)
    times: list[datetime] = []
    while current <= end:
        times.append(current)
        current = next_open(current, interval)
    return times
