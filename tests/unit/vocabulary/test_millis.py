"""Epoch milliseconds: exact both ways, one bound, refusals naming the value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeplane.runtime.millis import MAX_TIME_MS, TimeRangeError, check_ms, from_ms, to_ms

pytestmark = pytest.mark.unit


@given(st.integers(min_value=0, max_value=MAX_TIME_MS - 1))
def test_milliseconds_round_trip(ms: int) -> None:
    moment = from_ms(ms)
    assert moment.tzinfo is UTC
    assert to_ms(moment) == ms
    assert moment == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


@given(st.integers(min_value=0, max_value=MAX_TIME_MS - 1))
def test_a_datetime_round_trips_to_the_millisecond(ms: int) -> None:
    moment = from_ms(ms) + timedelta(microseconds=999)
    assert from_ms(to_ms(moment)) == from_ms(ms)


def test_the_bound_is_9999_01_01() -> None:
    assert from_ms(MAX_TIME_MS - 1) == datetime(9998, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert to_ms(datetime(9999, 1, 1, tzinfo=UTC)) == MAX_TIME_MS


@pytest.mark.parametrize("ms", [-1, MAX_TIME_MS, MAX_TIME_MS + 1, 2**63])
def test_out_of_range_is_refused_naming_the_value(ms: int) -> None:
    with pytest.raises(TimeRangeError, match=str(ms)):
        from_ms(ms)
    with pytest.raises(ValueError, match=f"openTime {ms} ms"):
        check_ms(ms, "openTime")


def test_naive_datetimes_are_refused_and_offsets_are_honoured() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_ms(datetime(2024, 1, 1))
    plus_two = datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert to_ms(plus_two) == to_ms(datetime(2024, 1, 1, tzinfo=UTC))
