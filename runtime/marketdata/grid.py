"""The bar grid: which open times an interval has between two instants, in UTC as BingX aligns them.

A gap is "an open time the grid expects and the store lacks", so the grid must agree with the
venue to the millisecond: fixed intervals (1m..3d) are aligned to the Unix epoch, weekly bars open
on Monday 00:00 UTC, monthly bars on the 1st of each month. Everything here is pure and works on
timezone-aware UTC datetimes; naive datetimes are refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WEEK_ORIGIN = datetime(1970, 1, 5, tzinfo=UTC)
"""The first Monday after the epoch: weekly bars are aligned to it."""

FIXED: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "3m": timedelta(minutes=3),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "4h": timedelta(hours=4),
    "6h": timedelta(hours=6),
    "8h": timedelta(hours=8),
    "12h": timedelta(hours=12),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "1w": timedelta(weeks=1),
}
MONTH = "1M"
INTERVALS = (*FIXED, MONTH)


@dataclass(frozen=True)
class MissingRange:
    """A maximal run of consecutive expected open times that are absent; ``end`` is the last one."""

    start: datetime
    end: datetime
    count: int


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware UTC datetime, got naive {t!r}")
    return t.astimezone(UTC)


def _check(interval: str) -> str:
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {list(INTERVALS)}, got {interval!r}")
    return interval


def interval_duration(interval: str) -> timedelta:
    """The length of one bar; a month has none (28 to 31 days), so ``1M`` raises."""
    if _check(interval) == MONTH:
        raise ValueError("1M bars have no fixed duration; use next_open")
    return FIXED[interval]


def floor_open(t: datetime, interval: str) -> datetime:
    """The open time of the bar containing ``t``."""
    t = _utc(t)
    if _check(interval) == MONTH:
        return datetime(t.year, t.month, 1, tzinfo=UTC)
    origin = WEEK_ORIGIN if interval == "1w" else EPOCH
    return t - (t - origin) % FIXED[interval]


def next_open(t: datetime, interval: str) -> datetime:
    """The first open time strictly after ``t`` (for an open time: when its bar closes)."""
    opened = floor_open(t, interval)
    if interval == MONTH:
        year, month = (opened.year + 1, 1) if opened.month == 12 else (opened.year, opened.month + 1)
        return datetime(year, month, 1, tzinfo=UTC)
    return opened + FIXED[interval]


def is_aligned(t: datetime, interval: str) -> bool:
    return floor_open(t, interval) == _utc(t)


def open_times(start: datetime, end: datetime, interval: str) -> list[datetime]:
    """Every open time in [start, end], oldest first (the range BingX's ``startTime``/``endTime`` select)."""
    start, end = _utc(start), _utc(end)
    if start > end:
        raise ValueError(f"start {start.isoformat()} is after end {end.isoformat()}")
    current = floor_open(start, interval)
    if current < start:
        current = next_open(current, interval)
    times: list[datetime] = []
    while current <= end:
        times.append(current)
        current = next_open(current, interval)
    return times


def missing_ranges(
    expected: Sequence[datetime], present: Iterable[datetime], interval: str
) -> list[MissingRange]:
    """The maximal runs of ``expected`` open times absent from ``present``.

    A run continues only while each absent time is exactly one bar after the previous one, so an
    ``expected`` list with its own holes never merges two separate runs into one."""
    have = {_utc(t) for t in present}
    ranges: list[MissingRange] = []
    run: list[datetime] = []
    for t in (_utc(t) for t in expected):
        if t in have:
            if run:
                ranges.append(MissingRange(run[0], run[-1], len(run)))
                run = []
            continue
        if run and next_open(run[-1], interval) != t:
            ranges.append(MissingRange(run[0], run[-1], len(run)))
            run = []
        run.append(t)
    if run:
        ranges.append(MissingRange(run[0], run[-1], len(run)))
    return ranges


def to_ms(t: datetime) -> int:
    """BingX epoch milliseconds of an aware datetime (exact: integer arithmetic on the timedelta)."""
    return (_utc(t) - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)
