"""The bar grid against independent facts: the simulator's own bucketing (BingX's alignment), the
calendar, and the law that missing runs partition exactly the absent open times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeplane.runtime.intervals import INTERVALS, align, duration, is_aligned, next_open, open_times
from tradeplane.runtime.marketdata import grid
from tradeplane.runtime.millis import from_ms, to_ms
from tradeplane.runtime.venue.sim.bars import bucket_close, bucket_open

pytestmark = pytest.mark.unit

MS = timedelta(milliseconds=1)
moments = st.integers(min_value=0, max_value=4_102_444_800_000).map(from_ms)  # 1970..2100
intervals = st.sampled_from(INTERVALS)


@given(moments, intervals)
def test_floor_and_next_open_agree_with_the_simulators_bucketing(t: datetime, interval: str) -> None:
    ms = to_ms(t)
    opened = bucket_open(interval, ms)
    assert to_ms(align(t, interval)) == opened
    assert to_ms(next_open(t, interval)) == bucket_close(interval, opened) + 1


@given(moments, st.integers(min_value=0, max_value=400 * 24 * 60), intervals)
def test_open_times_are_aligned_consecutive_and_cover_the_range(
    t: datetime, minutes: int, interval: str
) -> None:
    end = t + timedelta(minutes=minutes)
    times = open_times(t, end, interval)
    assert all(t <= x <= end and is_aligned(x, interval) for x in times)
    assert all(next_open(a, interval) == b for a, b in itertools.pairwise(times))
    first = align(t, interval)
    expected_first = first if first == t else next_open(first, interval)
    if expected_first <= end:
        assert times[0] == expected_first
        assert next_open(times[-1], interval) > end
    else:
        assert times == []


def test_weekly_and_monthly_bars_follow_the_calendar() -> None:
    start = datetime(2024, 1, 17, 15, tzinfo=UTC)
    weeks = open_times(start, datetime(2024, 3, 1, tzinfo=UTC), "1w")
    assert weeks[0] == datetime(2024, 1, 22, tzinfo=UTC)
    assert {w.weekday() for w in weeks} == {0}
    assert all(w.hour == w.minute == 0 for w in weeks)
    months = open_times(start, datetime(2025, 1, 1, tzinfo=UTC), "1M")
    assert months == [datetime(2024, m, 1, tzinfo=UTC) for m in range(2, 13)] + [
        datetime(2025, 1, 1, tzinfo=UTC)
    ]
    assert next_open(datetime(2024, 12, 31, 23, 59, tzinfo=UTC), "1M") == datetime(2025, 1, 1, tzinfo=UTC)
    assert duration("1d") == timedelta(days=1)


@given(
    st.lists(st.booleans(), min_size=0, max_size=200),
    st.sampled_from(["1m", "5m", "1h", "1w", "1M"]),
)
def test_missing_ranges_partition_exactly_the_absent_times(mask: list[bool], interval: str) -> None:
    start = datetime(2023, 11, 27, tzinfo=UTC)  # a Monday, 1st-of-month-free start for 1M too
    expected: list[datetime] = []
    current = align(start, interval)
    for _ in mask:
        expected.append(current)
        current = next_open(current, interval)
    present = [t for t, here in zip(expected, mask, strict=True) if here]
    ranges = grid.missing_ranges(expected, present, interval)
    covered: list[datetime] = []
    for run in ranges:
        members = [t for t in expected if run.start <= t <= run.end]
        assert len(members) == run.count
        assert not any(t in present for t in members)
        covered.extend(members)
    assert covered == [t for t, here in zip(expected, mask, strict=True) if not here]
    # maximal: the times just outside each run are present (or outside the expected grid)
    for run in ranges:
        index = expected.index(run.start)
        assert index == 0 or expected[index - 1] in present
        after = expected.index(run.end) + 1
        assert after == len(expected) or expected[after] in present


def test_missing_ranges_split_where_the_expected_grid_itself_has_a_hole() -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    minute = timedelta(minutes=1)
    expected = [base, base + minute, base + 3 * minute, base + 4 * minute]
    ranges = grid.missing_ranges(expected, [], "1m")
    assert ranges == [
        grid.MissingRange(base, base + minute, 2),
        grid.MissingRange(base + 3 * minute, base + 4 * minute, 2),
    ]


def test_boundaries_and_refusals() -> None:
    t = datetime(2024, 5, 5, 12, 0, 30, tzinfo=UTC)
    assert open_times(t, t, "1m") == []
    aligned = datetime(2024, 5, 5, 12, tzinfo=UTC)
    assert open_times(aligned, aligned, "1h") == [aligned]
    assert from_ms(to_ms(t)) == t
    assert to_ms(t + MS) == to_ms(t) + 1
    with pytest.raises(ValueError, match="naive"):
        align(datetime(2024, 1, 1), "1m")
    with pytest.raises(ValueError, match="interval"):
        align(t, "2m")
    with pytest.raises(ValueError, match="fixed duration"):
        duration("1M")
    with pytest.raises(ValueError, match="after"):
        open_times(t, t - MS, "1m")
