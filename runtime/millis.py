"""Epoch milliseconds, BingX's unit of time: THE conversion to and from aware UTC datetimes.

Every layer that turns a venue timestamp into a ``datetime`` or back goes through here, so there is
one bound for what a time may be. The bound is 9999-01-01, a year below ``datetime``'s last day: any
accepted time converts, and bar arithmetic on it (a month at most) cannot overflow. Milliseconds
outside it (from the venue, a file or a flag) are refused by ``from_ms`` with ``TimeRangeError``
naming the value, never a silent wrap or an ``OverflowError`` deep in a caller. Standard library
only, so crds/ and reconcilers/ may import it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME_MS = 253_370_764_800_000
"""9999-01-01 in epoch milliseconds, the first time refused."""

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS

_ONE_MS = timedelta(milliseconds=1)


class TimeRangeError(ValueError):
    """A time outside [1970-01-01, 9999-01-01): a ValueError, so payload validation reports it as one."""


def check_ms(ms: int, name: str = "time") -> int:
    """``ms`` itself when it lies in the supported range; ``name`` says which field it came from."""
    if not 0 <= ms < MAX_TIME_MS:
        raise TimeRangeError(f"{name} {ms} ms is outside the supported range [0, {MAX_TIME_MS})")
    return ms


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds (exact: integer milliseconds, no float)."""
    return EPOCH + timedelta(0, 0, 0, check_ms(ms))  # positional: keyword construction costs twice as much


def utc(t: datetime) -> datetime:
    """``t`` in UTC; a naive datetime is refused rather than guessed to be local or UTC."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware UTC datetime, got naive {t!r}")
    return t.astimezone(UTC)


def to_ms(t: datetime) -> int:
    """Epoch milliseconds of an aware datetime (exact: integer arithmetic on the timedelta).

    Not range-checked: every datetime has its milliseconds, and the close of the last accepted bar
    (``next_open`` of a time just below the bound) must still convert; the bound guards ints
    arriving from outside, which is ``from_ms``'s direction."""
    return (utc(t) - EPOCH) // _ONE_MS
