"""KlineSequencer: bars close on open-time rollover only; late, duplicate and stale pushes change nothing;
the interval grid agrees with the venue simulator's independent bucketing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.bars import Bar
from tradeplane.runtime.intervals import INTERVALS, align, next_open
from tradeplane.runtime.marketdata.frames import utc_from_ms
from tradeplane.runtime.marketdata.sequencing import KlineSequencer
from tradeplane.runtime.venue.payloads_market import KlineBar, KlineUpdate
from tradeplane.runtime.venue.sim.bars import bucket_close, bucket_open

pytestmark = pytest.mark.unit
T = TypeVar("T")


def msgspec_convert(kind: type[T], raw: dict[str, object]) -> T:
    return msgspec.convert(raw, kind)


MINUTE_MS = 60_000
T0 = 1_717_200_000_000  # 2024-06-01T00:00:00Z, a Saturday


def push(
    open_ms: int, close: str, volume: str, *, high: str | None = None, low: str | None = None
) -> KlineUpdate:
    bar = {"o": "100", "h": high or max(close, "100"), "l": low or min(close, "100"), "c": close, "v": volume}
    return KlineUpdate(symbol="BTC-USDT", bars=(msgspec_convert(KlineBar, {**bar, "T": open_ms}),))


def test_a_bar_closes_only_when_a_later_open_time_arrives_with_its_last_values() -> None:
    seq = KlineSequencer("1m")
    assert seq.feed(push(T0, "101", "1")) == []
    assert seq.feed(push(T0, "102", "2")) == []
    assert seq.current is not None
    assert seq.current.close == Decimal("102")
    closed = seq.feed(push(T0 + MINUTE_MS, "103", "0.5"))
    expected = Bar(datetime(2024, 6, 1, tzinfo=UTC), *(Decimal(v) for v in ("100", "102", "100", "102", "2")))
    assert closed == [expected]
    assert seq.last_closed == expected.open_time
    assert seq.current.open_time == datetime(2024, 6, 1, 0, 1, tzinfo=UTC)


def test_late_duplicate_stale_and_off_grid_frames_are_counted_and_ignored() -> None:
    seq = KlineSequencer("1m")
    seq.feed(push(T0, "101", "1"))
    seq.feed(push(T0 + MINUTE_MS, "103", "2"))
    assert seq.feed(push(T0, "99", "9")) == []  # the closed bar's open time: late
    seq.feed(push(T0 + MINUTE_MS, "103", "2"))  # identical: duplicate
    seq.feed(push(T0 + MINUTE_MS, "104", "1.5"))  # lower volume: a stale push
    seq.feed(push(T0 + MINUTE_MS, "105", "2"))  # same volume, other values: first seen wins
    seq.feed(push(T0 + MINUTE_MS + 1, "105", "3"))  # not on the 1m grid
    assert (seq.late, seq.duplicates, seq.out_of_order, seq.off_grid) == (1, 1, 2, 1)
    assert seq.current is not None
    assert (seq.current.close, seq.current.volume) == (Decimal("103"), Decimal("2"))
    assert seq.feed(push(T0 + 2 * MINUTE_MS, "106", "1"))[0].close == Decimal("103")


def test_frames_for_closed_bars_are_late_even_without_an_open_bar() -> None:
    seq = KlineSequencer("1m")
    seq.feed(push(T0, "101", "1"))
    seq.feed(push(T0 + 2 * MINUTE_MS, "101", "1"))
    seq.current = None  # as after the ingestor dropped the open bar (a reconnect)
    seq.feed(push(T0, "101", "1"))
    assert (seq.late, seq.current) == (1, None)
    seq.feed(push(T0 + MINUTE_MS, "101", "1"))
    assert seq.current is not None
    assert seq.current.open_time == utc_from_ms(T0 + MINUTE_MS)


def test_a_frame_with_two_bars_closes_the_first() -> None:
    seq = KlineSequencer("5m")
    bars = tuple(
        msgspec_convert(
            KlineBar, {"o": "1", "h": "1", "l": "1", "c": "1", "v": v, "T": T0 + i * 5 * MINUTE_MS}
        )
        for i, v in enumerate(("3", "4"))
    )
    closed = seq.feed(KlineUpdate(symbol="BTC-USDT", bars=bars))
    assert [bar.volume for bar in closed] == [Decimal("3")]


def test_skipped_lists_missing_open_times_on_each_grid() -> None:
    june = datetime(2024, 6, 1, tzinfo=UTC)
    assert KlineSequencer("1m").skipped(june, june + timedelta(minutes=4)) == [
        june + timedelta(minutes=m) for m in (1, 2, 3)
    ]
    assert KlineSequencer("1h").skipped(june, june + timedelta(hours=1)) == []
    monday = datetime(2024, 6, 3, tzinfo=UTC)
    assert KlineSequencer("1w").skipped(monday, monday + timedelta(weeks=3)) == [
        datetime(2024, 6, 10, tzinfo=UTC),
        datetime(2024, 6, 17, tzinfo=UTC),
    ]
    assert KlineSequencer("1M").skipped(
        datetime(2023, 11, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC)
    ) == [
        datetime(2023, 12, 1, tzinfo=UTC),
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 2, 1, tzinfo=UTC),
    ]


def test_unknown_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kline interval"):
        KlineSequencer("7m")
    with pytest.raises(ValueError, match="unknown kline interval"):
        next_open(datetime(2024, 6, 1, tzinfo=UTC), "2w")


@settings(max_examples=300)
@given(st.sampled_from(INTERVALS), st.integers(min_value=10**12, max_value=4_000_000_000_000))
def test_grid_agrees_with_the_simulator(interval: str, moment_ms: int) -> None:
    opened = align(utc_from_ms(moment_ms), interval)
    assert opened == utc_from_ms(bucket_open(interval, moment_ms))
    assert next_open(opened, interval) == utc_from_ms(
        bucket_close(interval, bucket_open(interval, moment_ms)) + 1
    )


# --- laws -----------------------------------------------------------------------------------------

bar_streams = st.lists(
    st.tuples(st.integers(min_value=1, max_value=3), st.lists(st.integers(1, 50), min_size=1, max_size=4)),
    min_size=1,
    max_size=8,
)


def _stream(spec: list[tuple[int, list[int]]]) -> tuple[list[KlineUpdate], list[Bar]]:
    """Pushes of consecutive-ish bars (gaps of ``step`` minutes), volumes cumulative, and the bars that
    must close: every bar but the last, with its final push."""
    pushes: list[KlineUpdate] = []
    finals: list[Bar] = []
    opened = T0
    for step, increments in spec:
        opened += step * MINUTE_MS
        volume = 0
        for index, increment in enumerate(increments):
            volume += increment
            close = str(100 + index)
            pushes.append(push(opened, close, str(volume), high=str(100 + len(increments)), low="99"))
        finals.append(
            Bar(
                utc_from_ms(opened),
                Decimal(100),
                Decimal(100 + len(increments)),
                Decimal(99),
                Decimal(99 + len(increments)),
                Decimal(volume),
            )
        )
    return pushes, finals[:-1]


@settings(max_examples=200)
@given(bar_streams, st.data())
def test_duplicating_frames_never_changes_the_closed_bars(
    spec: list[tuple[int, list[int]]], data: st.DataObject
) -> None:
    pushes, expected = _stream(spec)
    delivered = list(pushes)
    for _ in range(data.draw(st.integers(0, 6))):
        source = data.draw(st.integers(0, len(pushes) - 1))
        original = delivered.index(pushes[source])
        at = data.draw(st.integers(original + 1, len(delivered)))  # a redelivery comes after the original
        delivered.insert(at, pushes[source])
    seq = KlineSequencer("1m")
    closed = [bar for update in delivered for bar in seq.feed(update)]
    assert closed == expected
    gaps = [t for a, b in itertools.pairwise(closed) for t in seq.skipped(a.open_time, b.open_time)]
    assert len(gaps) == sum(step - 1 for step, _ in spec[1:-1])
