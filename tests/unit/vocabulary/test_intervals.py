"""The interval table and its grid: the laws every caller relies on, the calendar's months and
Monday weeks, the lengths BingX documents, and refusals that name what was refused."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeplane.runtime import intervals
from tradeplane.runtime.intervals import INTERVALS, align, duration, grid_ms, longest, longest_ms, next_open
from tradeplane.runtime.millis import MAX_TIME_MS, from_ms, to_ms

pytestmark = pytest.mark.unit

# Up to a month below the bound: the next open of any such time still fits a datetime.
moments = st.integers(min_value=0, max_value=MAX_TIME_MS - 32 * 86_400_000).map(from_ms)
names = st.sampled_from(INTERVALS)

DOCUMENTED_SECONDS = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
}


@given(moments, names)
def test_align_is_idempotent(t: datetime, interval: str) -> None:
    assert align(align(t, interval), interval) == align(t, interval)


@given(moments, names)
def test_a_time_lies_in_the_bar_it_aligns_to(t: datetime, interval: str) -> None:
    opened = align(t, interval)
    assert opened <= t < next_open(t, interval)
    assert next_open(t, interval) > t
    assert next_open(t, interval) == next_open(opened, interval)
    assert align(next_open(t, interval), interval) == next_open(t, interval)


@given(moments, names)
def test_a_bar_is_never_longer_than_its_bound(t: datetime, interval: str) -> None:
    opened = align(t, interval)
    assert next_open(opened, interval) - opened <= longest(interval)


@given(st.integers(min_value=0, max_value=MAX_TIME_MS - 1), names)
def test_the_millisecond_grid_is_align(time_ms: int, interval: str) -> None:
    grid = grid_ms(interval)
    if grid is None:
        assert interval == "1M"
        return
    origin, step = grid
    on_grid = (time_ms - origin) % step == 0
    assert on_grid == (align(from_ms(time_ms), interval) == from_ms(time_ms))


@pytest.mark.parametrize(("interval", "seconds"), sorted(DOCUMENTED_SECONDS.items()))
def test_fixed_lengths_are_the_documented_ones(interval: str, seconds: int) -> None:
    assert duration(interval) == timedelta(seconds=seconds)
    assert longest_ms(interval) == seconds * 1000


def test_the_table_is_what_bingx_serves() -> None:
    assert (*DOCUMENTED_SECONDS, "1M") == INTERVALS


def test_weeks_open_on_monday_and_months_on_the_first() -> None:
    sunday_night = datetime(2024, 6, 2, 23, 59, tzinfo=UTC)
    assert align(sunday_night, "1w") == datetime(2024, 5, 27, tzinfo=UTC)
    assert next_open(sunday_night, "1w") == datetime(2024, 6, 3, tzinfo=UTC)
    assert align(datetime(2024, 2, 29, 12, tzinfo=UTC), "1M") == datetime(2024, 2, 1, tzinfo=UTC)
    assert next_open(datetime(2024, 2, 1, tzinfo=UTC), "1M") == datetime(2024, 3, 1, tzinfo=UTC)
    assert next_open(datetime(2024, 12, 1, tzinfo=UTC), "1M") == datetime(2025, 1, 1, tzinfo=UTC)
    assert longest("1M") == timedelta(days=31)


def test_other_time_zones_align_in_utc() -> None:
    tokyo = datetime(2024, 6, 1, 8, 30, tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    assert align(tokyo, "1d") == datetime(2024, 6, 1, tzinfo=UTC)


def test_refusals_name_what_was_refused() -> None:
    with pytest.raises(ValueError, match="unknown kline interval '2w'"):
        next_open(datetime(2024, 6, 1, tzinfo=UTC), "2w")
    with pytest.raises(ValueError, match="'7m'"):
        intervals.check("7m")
    with pytest.raises(ValueError, match="'1y'"):
        longest_ms("1y")
    with pytest.raises(ValueError, match="naive"):
        align(datetime(2024, 6, 1), "1m")
    with pytest.raises(ValueError, match="no fixed duration"):
        duration("1M")
    assert to_ms(align(from_ms(0), "1w")) == -3 * 86_400_000  # the Monday before the epoch


def test_the_vocabulary_imports_nothing_heavy() -> None:
    """crds/ and reconcilers/ import these modules: they must not drag numpy or SQLAlchemy along."""
    code = (
        "import sys; import tradeplane.runtime.intervals, tradeplane.runtime.millis, "
        "tradeplane.runtime.bars, tradeplane.crds.annotations; "
        "print(sorted(m for m in ('numpy', 'sqlalchemy', 'msgspec', 'aiohttp') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert found.strip() == "[]"
