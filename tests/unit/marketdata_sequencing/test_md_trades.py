"""TradeDeduper: synthetic keys, redelivery dropped, identical trades in one frame kept, bounded memory."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TypeVar

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.marketdata.frames import FrameError, utc_from_ms
from tradeplane.runtime.marketdata.sequencing import (
    DepthSequencer,
    KlineSequencer,
    StreamCounters,
    TradeDeduper,
)
from tradeplane.runtime.venue.payloads_market import TradeTick, TradeUpdate

pytestmark = pytest.mark.unit
T = TypeVar("T")


def msgspec_convert(kind: type[T], raw: dict[str, object]) -> T:
    return msgspec.convert(raw, kind)


T0 = 1_717_200_000_000


def tick(t: int, price: str = "67000.5", qty: str = "0.01", *, maker: bool = True) -> TradeTick:
    return msgspec_convert(TradeTick, {"q": qty, "p": price, "T": t, "m": maker, "s": "BTC-USDT"})


def frame(*ticks: TradeTick) -> TradeUpdate:
    return TradeUpdate(trades=ticks)


def test_keys_follow_the_documented_format_and_identical_trades_in_a_frame_are_both_kept() -> None:
    dedupe = TradeDeduper(timedelta(minutes=5))
    trades = dedupe.feed(frame(tick(T0), tick(T0), tick(T0, maker=False), tick(T0 + 1, "67000.50")))
    assert [trade.key for trade in trades] == [
        f"{T0}:67000.5:0.01:true:0",
        f"{T0}:67000.5:0.01:true:1",
        f"{T0}:67000.5:0.01:false:0",
        f"{T0 + 1}:67000.5:0.01:true:0",
    ]
    assert trades[0].time == utc_from_ms(T0)
    assert (trades[0].price, trades[0].qty, trades[2].buyer_is_maker) == (
        Decimal("67000.5"),
        Decimal("0.01"),
        False,
    )
    assert (dedupe.accepted, dedupe.duplicates) == (4, 0)


def test_a_redelivered_frame_yields_nothing_and_is_counted() -> None:
    dedupe = TradeDeduper(timedelta(minutes=5))
    first = frame(tick(T0), tick(T0))
    dedupe.feed(first)
    assert dedupe.feed(first) == []
    assert dedupe.feed(frame(tick(T0, "67000.50", "0.010"))) == []  # formatting does not make a new trade
    assert (dedupe.accepted, dedupe.duplicates) == (2, 3)


def test_memory_is_bounded_by_the_window_and_older_trades_are_late() -> None:
    dedupe = TradeDeduper(timedelta(seconds=10))
    for second in range(100):
        dedupe.feed(frame(tick(T0 + second * 1000)))
    assert len(dedupe) == 11  # the newest and the ten seconds behind it
    old = dedupe.feed(frame(tick(T0)))
    assert [trade.key for trade in old] == [f"{T0}:67000.5:0.01:true:0"]
    assert dedupe.late == 1
    assert len(dedupe) == 11


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TradeDeduper(timedelta(0))


def test_empty_frame_is_harmless() -> None:
    dedupe = TradeDeduper(timedelta(seconds=1))
    assert dedupe.feed(frame()) == []
    assert dedupe.newest is None


@settings(max_examples=200)
@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 20), st.sampled_from(["1.5", "1.50", "2"]), st.booleans()),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=8,
    ),
    st.data(),
)
def test_duplicating_any_frames_never_changes_the_trade_set(
    frames: list[list[tuple[int, str, bool]]], data: st.DataObject
) -> None:
    updates = [frame(*(tick(T0 + t, price, maker=m) for t, price, m in items)) for items in frames]
    delivered = list(updates)
    for _ in range(data.draw(st.integers(0, 6))):
        source = data.draw(st.integers(0, len(updates) - 1))
        delivered.insert(
            data.draw(st.integers(delivered.index(updates[source]) + 1, len(delivered))), updates[source]
        )
    dedupe = TradeDeduper(timedelta(hours=1))
    keys = [t.key for update in delivered for t in dedupe.feed(update)]
    assert sorted(keys) == sorted(set(keys))
    # independently: a frame's items keep their multiplicity unless an earlier frame already had them
    expected: set[str] = set()
    for items in frames:
        counts: dict[tuple[int, str, bool], int] = {}
        for t, price, m in items:
            ident = (T0 + t, str(Decimal(price).normalize()), m)
            expected.add(f"{ident[0]}:{ident[1]}:0.01:{'true' if m else 'false'}:{counts.get(ident, 0)}")
            counts[ident] = counts.get(ident, 0) + 1
    assert set(keys) == expected
    assert dedupe.accepted == len(expected)


def test_stream_counters_absorb_each_sequencer() -> None:
    counters = StreamCounters()
    counters.error(FrameError("json", "bad"))
    counters.error(FrameError("json", "bad"))
    counters.error(FrameError("gzip", "bad"))
    assert counters.parse_errors == {"json": 2, "gzip": 1}
    dedupe = TradeDeduper(timedelta(seconds=1))
    dedupe.feed(frame(tick(T0)))
    dedupe.feed(frame(tick(T0)))
    counters.absorb(dedupe)
    assert (counters.duplicates, counters.late, counters.out_of_order, counters.resyncs) == (1, 0, 0, 0)
    kline = KlineSequencer("1m")
    kline.off_grid, kline.out_of_order, kline.late = 2, 3, 4
    counters.absorb(kline)
    assert (counters.late, counters.out_of_order) == (4, 5)
    depth = DepthSequencer()
    depth.resyncs = 7
    counters.absorb(depth)
    assert (counters.resyncs, counters.late) == (7, 0)
