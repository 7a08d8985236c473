"""The ingestor's per-frame shortcuts give exactly what the general code gives.

``read_frame`` decodes compact frames of the hot streams in one typed pass; the payload checks
screen Decimals before the field-by-field check; trade keys skip ``normalize`` for plain text;
kline sequencers test the grid with integers; the pipeline publishes its counters once per batch.
Each is compared here with the general computation it replaces, on frames shaped like the venue's
(compact JSON, which the fuzzers of test_md_frames.py, writing ``json.dumps`` spacing, never reach).
"""

from __future__ import annotations

import gzip
import heapq
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from harness.frame_fuzz import json_values, mutate_data
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.intervals import INTERVALS, align
from tradeplane.runtime.marketdata import frames
from tradeplane.runtime.marketdata.frames import FrameError, MarketFrame, decode_frame, parse_data, read_frame
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingest_pipeline import Pipeline
from tradeplane.runtime.marketdata.sequencing import (
    KeyedTrade,
    KlineSequencer,
    TradeDeduper,
    _canonical,
)
from tradeplane.runtime.millis import MAX_TIME_MS
from tradeplane.runtime.venue.payloads_market import (
    KlineBar,
    KlineUpdate,
    MarkPriceUpdate,
    TradeTick,
    TradeUpdate,
    _money,
    _time,
)

pytestmark = pytest.mark.unit

T0 = 1_767_571_260_000
BAR = {"o": "94989.0", "c": "94977.3", "h": "94989.0", "l": "94977.3", "v": "0.0000", "T": T0}
TICK = {"q": "0.4321", "p": "94977.2", "T": T0 + 2000, "m": True, "s": "BTC-USDT"}
MARK = {"e": "markPriceUpdate", "E": T0 + 1000, "s": "BTC-USDT", "p": "94990.5"}
INCR = {
    "action": "all",
    "lastUpdateId": 1,
    "time": T0,
    "bids": [["94988.9", "2.0551"], ["94988.8", "0"]],
    "asks": [["94989.0", "1.5"]],
}
DATA: dict[str, Any] = {"kline_1m": [BAR], "trade": [TICK], "markPrice": MARK, "incrDepth": INCR}


def body(stream: str, data: Any = None, **top: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"code": 0, "dataType": f"BTC-USDT@{stream}", "s": "BTC-USDT", "ts": T0}
    frame.update(top)
    frame["data"] = DATA[stream] if data is None else data
    return frame


def compact(value: Any) -> bytes:
    """As the venue sends it: gzip of JSON without spaces."""
    return gzip.compress(json.dumps(value, separators=(",", ":")).encode())


def general(raw: bytes | str) -> MarketFrame | frames.Frame | str:
    """The verdict of the general path: decode_frame, then parse_data for a data frame."""
    try:
        frame = decode_frame(raw)
        if frame.kind != "data":
            return frame
        assert frame.body is not None and frame.topic is not None
        push = frames._push_time(frame.body.get("ts"))
        return MarketFrame(frame.topic, parse_data(frame), frame.payload_hash, push)
    except FrameError as error:
        return error.kind


def fast(raw: bytes | str) -> MarketFrame | frames.Frame | str:
    try:
        return read_frame(raw)
    except FrameError as error:
        return error.kind


def test_compact_frames_of_the_hot_streams_take_one_decode() -> None:
    for stream in DATA:
        text = json.dumps(body(stream), separators=(",", ":")).encode()
        raw = gzip.compress(text)
        typed = frames._read_typed(text, raw)
        assert typed is not None, stream
        assert typed == fast(raw) == general(raw)


@pytest.mark.parametrize(
    "text",
    [
        # the dataType looked at is not the one decoded (a later duplicate key wins): general path
        '{"dataType":"BTC-USDT@trade","data":[],"dataType":"BTC-USDT@markPrice"}',
        '{"dataType":"BTC-USDT@kline_1m","data":[],"dataType":"BTC-USDT@kline_5m"}',
        # an escaped topic decodes to other text than the bytes looked at
        '{"dataType":"BTC-USDT\\u0040trade","data":[]}',
        '{"dataType":"BTC-USDT@tr\\"ade","data":[]}',
        '{"dataType":"BTC-USDT@trade"}',
        '{"dataType":"BTC-USDT@trade","code":5}',
        '{"dataType":"BTC-USDT@trade","data":[],"ts":"soon"}',
        '{"dataType":"BTC-USDT@trade","data":[],"ts":-1}',
        '{"dataType":"BTC-USDT@trade","data":[],"ts":253402300800000}',
        '{"dataType":"BTC-USDT@markPrice","data":{"E":1,"s":"X","p":"-0"}}',
        '{"dataType":"BTC-USDT@markPrice","data":{"E":1,"s":"X","p":"sNaN"}}',
        '{"dataType":"BTC-USDT@kline_1m","s":"","data":[]}',
        '{"dataType":"@kline_1m","data":[]}',
        '{"dataType":"BTC-USDT@","data":[]}',
        '{"dataType":"BTC-USDT@incrDepth","data":{"action":"all","lastUpdateId":1,"bids":[[".5","1"]]}}',
        '{"dataType":"BTC-USDT@trade","data":[]} trailing',
        '{"dataType":"BTC-USDT@trade","data":[',
        '{"dataType":"BTC-USDT@trade","data":[{"q":"1","p":"1","T":1,"m":true,"s":"\u00e9"}]}',
    ],
)
def test_edge_frames_get_the_general_verdict(text: str) -> None:
    raw = gzip.compress(text.encode())
    assert fast(raw) == general(raw)
    assert fast(text) == general(text)


FIELDS = [
    "o",
    "h",
    "l",
    "c",
    "v",
    "T",
    "q",
    "p",
    "m",
    "s",
    "E",
    "action",
    "lastUpdateId",
    "time",
    "bids",
    "asks",
]
TOP = ["dataType", "data", "ts", "s", "code"]


@settings(max_examples=600)
@given(st.sampled_from(sorted(DATA)), st.data())
def test_fuzz_mutated_compact_frames(stream: str, data: st.DataObject) -> None:
    frame = json.loads(json.dumps(body(stream)))
    for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
        if data.draw(st.integers(min_value=0, max_value=4)) == 0:  # the envelope
            key = data.draw(st.sampled_from(TOP))
            if data.draw(st.booleans()):
                frame.pop(key, None)
            else:
                frame[key] = data.draw(json_values | st.sampled_from([f"BTC-USDT@{s}" for s in DATA]))
            continue
        mutate_data(frame, data, FIELDS)
    raw = compact(frame)
    assert fast(raw) == general(raw)


@settings(max_examples=300)
@given(st.sampled_from(sorted(DATA)), st.integers(min_value=0), st.integers(min_value=0, max_value=127))
def test_fuzz_flipped_bytes_of_compact_frames(stream: str, position: int, value: int) -> None:
    text = bytearray(json.dumps(body(stream), separators=(",", ":")).encode())
    text[position % len(text)] = value
    raw = gzip.compress(bytes(text))
    assert fast(raw) == general(raw)


# --- payload checks: the Decimal screen reaches the verdicts of the field-by-field checks ---------

decimals = st.sampled_from(
    ["0", "-0", "0.000", "-1", "1", "1.50", "NaN", "-NaN", "sNaN", "Infinity", "-Infinity"]
)
decimals = decimals.map(Decimal) | st.decimals(allow_nan=True, allow_infinity=True)


def verdict(build: Any) -> str:
    try:
        build()
    except ValueError as error:
        return str(error)
    return "ok"


@given(st.lists(decimals, min_size=5, max_size=5), st.integers(min_value=-1, max_value=2**48))
def test_kline_bar_checks_match_each_field_in_turn(values: list[Decimal], open_ms: int) -> None:
    def reference() -> None:
        _time(open_ms, "T")
        for name, value in zip("ohlcv", values, strict=True):
            _money(name, value)

    o, h, l, c, v = values  # noqa: E741
    assert verdict(lambda: KlineBar(o, h, l, c, v, open_ms)) == verdict(reference)


@given(decimals, decimals)
def test_trade_and_mark_checks_match_each_field_in_turn(price: Decimal, qty: Decimal) -> None:
    def reference() -> None:
        _money("p", price, positive=True)
        _money("q", qty, positive=True)

    assert verdict(lambda: TradeTick(qty, price, T0, True, "X")) == verdict(reference)
    assert verdict(lambda: MarkPriceUpdate(T0, "X", price)) == verdict(
        lambda: _money("p", price, positive=True)
    )


# --- trade keys and the kline grid ----------------------------------------------------------------


@given(
    st.decimals(allow_nan=True, allow_infinity=True)
    | st.sampled_from(
        ["100", "100.0", "100.50", "0", "-0", "0.000001", "1E+2", "1E-7", "12345678901234567"]
    ).map(Decimal)
)
def test_trade_key_text_is_the_normalized_value(value: Decimal) -> None:
    def outcome(compute: Any) -> str:
        try:
            return str(compute())
        except ArithmeticError as error:  # sNaN refuses to normalize, either way
            return type(error).__name__

    assert outcome(lambda: _canonical(value)) == outcome(lambda: format(value.normalize(), "f"))


@given(st.sampled_from(INTERVALS), st.integers(min_value=0, max_value=4_102_444_800_000))
def test_grid_test_in_milliseconds_is_align(interval: str, open_ms: int) -> None:
    for moment_ms in (open_ms, open_ms - open_ms % 60_000, open_ms - open_ms % 86_400_000):
        sequencer = KlineSequencer(interval)
        moment = frames.utc_from_ms(moment_ms)
        bar = KlineBar(Decimal(1), Decimal(1), Decimal(1), Decimal(1), Decimal(1), moment_ms)
        sequencer.feed(KlineUpdate("X", (bar,)))
        assert sequencer.off_grid == (align(moment, interval) != moment)


def test_utc_from_ms_is_epoch_plus_milliseconds() -> None:
    for ms in (0, 1, 999, T0, MAX_TIME_MS - 1):
        assert frames.utc_from_ms(ms) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


# --- metrics counted per batch --------------------------------------------------------------------


def test_frame_and_duplicate_counters_are_exact_at_every_take() -> None:
    metrics = IngestMetrics()
    config = IngestorConfig(
        market="tests/sim",
        symbol="BTC-USDT",
        rest_url="http://127.0.0.1:1",
        ws_url="ws://127.0.0.1:1",
        depth=True,
    )
    pipeline = Pipeline(config, metrics)
    received = datetime(2026, 1, 1, tzinfo=UTC)
    trade, kline = compact(body("trade")), compact(body("kline_1m"))
    for frame in (trade, trade, kline, kline, kline):
        pipeline.accept(frame, connection_id="c", received_at=received)
    pipeline.take()
    counts = {
        stream: (
            metrics.value("tradeplane_ingest_frames_total", stream=stream),
            metrics.value("tradeplane_ingest_duplicates_total", stream=stream),
        )
        for stream in ("trade", "kline_1m")
    }
    assert counts == {"trade": (2, 1), "kline_1m": (3, 2)}
    pipeline.accept(trade, connection_id="c", received_at=received)
    assert pipeline.take().frames == 1
    assert metrics.value("tradeplane_ingest_frames_total", stream="trade") == 3
    assert metrics.value("tradeplane_ingest_duplicates_total", stream="trade") == 2
    pipeline.take()  # nothing new: nothing added twice
    assert metrics.value("tradeplane_ingest_frames_total", stream="trade") == 3


# --- the trade deduper against its plain statement ------------------------------------------------


class PlainDeduper:
    """The deduper as first written: normalize every value, recompute the horizon every frame."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self.seen: set[str] = set()
        self.expiry: list[tuple[datetime, str]] = []
        self.newest: datetime | None = None
        self.duplicates = self.accepted = self.late = 0

    def feed(self, update: TradeUpdate) -> list[KeyedTrade]:
        ordinals: Counter[tuple[int, str, str, bool]] = Counter()
        fresh: list[KeyedTrade] = []
        for trade in update.trades:
            price, qty = format(trade.price.normalize(), "f"), format(trade.qty.normalize(), "f")
            ident = (trade.time_ms, price, qty, trade.buyer_is_maker)
            ordinal = ordinals[ident]
            ordinals[ident] += 1
            key = f"{ident[0]}:{ident[1]}:{ident[2]}:{'true' if ident[3] else 'false'}:{ordinal}"
            if key in self.seen:
                self.duplicates += 1
                continue
            when = frames.utc_from_ms(trade.time_ms)
            if self.newest is not None and when < self.newest - self.window:
                self.late += 1
            else:
                self.seen.add(key)
                heapq.heappush(self.expiry, (when, key))
            fresh.append(KeyedTrade(when, key, trade.price, trade.qty, trade.buyer_is_maker))
        self.accepted += len(fresh)
        latest = max((trade.time for trade in fresh), default=None)
        if latest is not None and (self.newest is None or latest > self.newest):
            self.newest = latest
        if self.newest is not None:
            horizon = self.newest - self.window
            while self.expiry and self.expiry[0][0] < horizon:
                self.seen.discard(heapq.heappop(self.expiry)[1])
        return fresh


ticks = st.builds(
    lambda offset, price, qty, maker: TradeTick(Decimal(qty), Decimal(price), T0 + offset, maker, "X"),
    st.integers(min_value=-5_000, max_value=20_000),
    st.sampled_from(["100", "100.0", "100.50", "100.5", "0.00010", "1E+2"]),
    st.sampled_from(["1", "1.0", "0.5", "0.50"]),
    st.booleans(),
)


@settings(max_examples=300)
@given(st.lists(st.lists(ticks, max_size=4), max_size=30))
def test_trade_deduper_matches_its_plain_statement(updates: list[list[TradeTick]]) -> None:
    fast, plain = TradeDeduper(timedelta(seconds=3)), PlainDeduper(timedelta(seconds=3))
    for trades in (*updates, *updates):  # everything twice: redeliveries, late and expired keys
        update = TradeUpdate(tuple(trades))
        assert fast.feed(update) == plain.feed(update)
        assert (fast.duplicates, fast.accepted, fast.late, fast.newest, len(fast)) == (
            plain.duplicates,
            plain.accepted,
            plain.late,
            plain.newest,
            len(plain.seen),
        )
