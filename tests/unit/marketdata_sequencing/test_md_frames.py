"""Frame decoding: every documented BingX shape (trading.md 1.6) and a fuzz law: whatever bytes arrive,
decode_frame + parse_data return a valid result or raise FrameError, never anything else."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from harness.frame_fuzz import json_values, mutate_data
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.marketdata.frames import (
    MAX_DECODED_BYTES,
    Frame,
    FrameError,
    MarketFrame,
    decode_frame,
    parse_data,
    read_frame,
    utc_from_ms,
)
from tradeplane.runtime.venue.payloads_market import (
    BookTickerUpdate,
    DepthUpdate,
    IncrementalDepth,
    KlineUpdate,
    MarkPriceUpdate,
    TradeUpdate,
)

pytestmark = pytest.mark.unit

T0 = 1_717_200_000_000  # 2024-06-01T00:00:00Z

KLINE = {
    "code": 0,
    "dataType": "BTC-USDT@kline_1m",
    "s": "BTC-USDT",
    "data": [{"o": "67000.5", "c": "67010.1", "h": "67020.0", "l": "66990.2", "v": "12.345", "T": T0}],
}
TRADE = {
    "code": 0,
    "dataType": "BTC-USDT@trade",
    "data": [
        {"q": "0.010", "p": "67000.5", "T": T0 + 5, "m": True, "s": "BTC-USDT"},
        {"q": "0.020", "p": "67000.6", "T": T0 + 5, "m": False, "s": "BTC-USDT"},
    ],
}
INCR = {
    "code": 0,
    "dataType": "BTC-USDT@incrDepth",
    "data": {
        "action": "update",
        "lastUpdateId": 9_007_199_254_740_993,
        "time": T0,
        "bids": [["67000.1", "1.5"], ["66999.9", "0"]],
        "asks": [["67000.2", "0.7"]],
    },
}
DEPTH = {
    "code": 0,
    "dataType": "BTC-USDT@depth5@200ms",
    "ts": T0,
    "data": {"bids": [["67000.1", "1.5"]], "asks": [["67000.2", "0.7"]]},
}
MARK = {
    "code": 0,
    "dataType": "BTC-USDT@markPrice",
    "data": {"e": "markPriceUpdate", "E": T0, "s": "BTC-USDT", "p": "67001.25"},
}
TICKER = {
    "code": 0,
    "dataType": "BTC-USDT@bookTicker",
    "data": {
        "e": "bookTicker",
        "u": 5,
        "E": T0,
        "T": T0,
        "s": "BTC-USDT",
        "b": "1",
        "B": "2",
        "a": "3",
        "A": "4",
    },
}
VALID = [KLINE, TRADE, INCR, DEPTH, MARK, TICKER]


def wire(body: Any) -> bytes:
    return gzip.compress(json.dumps(body).encode())


def test_kline_frame_decodes_with_decimal_and_hash_of_raw_bytes() -> None:
    raw = wire(KLINE)
    frame = decode_frame(raw)
    assert frame.kind == "data"
    assert frame.topic == "BTC-USDT@kline_1m"
    assert frame.payload_hash == hashlib.sha256(raw).hexdigest()
    event = parse_data(frame)
    assert isinstance(event, KlineUpdate)
    assert event.symbol == "BTC-USDT"
    assert event.bars[0].close == Decimal("67010.1")
    assert event.bars[0].open_time_ms == T0


@pytest.mark.parametrize(
    ("body", "model"),
    [
        (TRADE, TradeUpdate),
        (INCR, IncrementalDepth),
        (DEPTH, DepthUpdate),
        (MARK, MarkPriceUpdate),
        (TICKER, BookTickerUpdate),
    ],
)
def test_every_documented_stream_parses(body: dict[str, Any], model: type) -> None:
    assert isinstance(parse_data(decode_frame(wire(body))), model)


def test_incremental_depth_keeps_ids_beyond_float_precision() -> None:
    event = parse_data(decode_frame(wire(INCR)))
    assert isinstance(event, IncrementalDepth)
    assert event.last_update_id == 9_007_199_254_740_993
    assert event.bid_levels[1] == (Decimal("66999.9"), Decimal("0"))


@pytest.mark.parametrize(("raw", "kind"), [(gzip.compress(b"Ping"), "ping"), ("Pong\n", "pong")])
def test_heartbeats(raw: bytes | str, kind: str) -> None:
    frame = decode_frame(raw)
    assert (frame.kind, frame.topic, frame.body) == (kind, None, None)


def test_acks_and_topic_errors() -> None:
    ack = decode_frame(wire({"id": "abc", "code": 0, "msg": ""}))
    assert (ack.kind, ack.topic, ack.body) == ("ack", None, {"id": "abc", "code": 0, "msg": ""})
    refused = decode_frame(wire({"code": 80015, "dataType": "BTC-USDT@kline_7m", "msg": "bad"}))
    assert (refused.kind, refused.topic) == ("ack", "BTC-USDT@kline_7m")
    with pytest.raises(FrameError) as error:
        parse_data(ack)
    assert error.value.kind == "shape"


def test_text_frame_hash_is_of_its_utf8_bytes() -> None:
    text = json.dumps(MARK)
    assert decode_frame(text).payload_hash == hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"not gzip at all", "gzip"),
        (wire(KLINE)[:-6], "gzip"),
        (wire(KLINE) + b"trailing", "gzip"),
        (gzip.compress(b"\xff\xfe\xfa"), "utf8"),
        (gzip.compress(b"{not json"), "json"),
        (gzip.compress(b"[" * 100_000), "json"),
        (gzip.compress(b"[1, 2]"), "shape"),
        (wire({"msg": "who am i"}), "shape"),
        (wire({"dataType": "BTC-USDT@trade"}), "shape"),
        (wire({"dataType": 7, "data": []}), "topic"),
        (wire({"dataType": "nonsense", "data": []}), "topic"),
        (gzip.compress(b"0" * (MAX_DECODED_BYTES + 1)), "gzip"),
    ],
)
def test_decode_failures_are_typed(raw: bytes, kind: str) -> None:
    with pytest.raises(FrameError) as error:
        decode_frame(raw)
    assert error.value.kind == kind
    assert str(error.value).startswith(f"{kind}: ")


def _data(topic: str, data: Any, **extra: Any) -> Frame:
    return decode_frame(wire({"code": 0, "dataType": topic, "data": data, **extra}))


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (_data("BTC-USDT@ticker", {}), "topic"),
        (_data("BTC-USDT@kline_1m", {"o": "1"}), "schema"),
        (_data("BTC-USDT@kline_1m", [{**KLINE["data"][0], "T": -1}]), "schema"),  # type: ignore[index]
        (_data("BTC-USDT@kline_1m", [{**KLINE["data"][0], "v": "-1"}]), "schema"),  # type: ignore[index]
        (_data("BTC-USDT@kline_1m", [{**KLINE["data"][0], "c": "NaN"}]), "schema"),  # type: ignore[index]
        (_data("BTC-USDT@trade", [{"q": "0", "p": "1", "T": T0, "m": True, "s": "X"}]), "schema"),
        (_data("BTC-USDT@trade", [{"q": "1", "p": "1", "T": 10**17, "m": True, "s": "X"}]), "schema"),
        (_data("BTC-USDT@incrDepth", {**INCR["data"], "bids": [["0", "1"]]}), "schema"),  # type: ignore[dict-item]
        (_data("BTC-USDT@incrDepth", {**INCR["data"], "time": 10**17}), "schema"),  # type: ignore[dict-item]
        (_data("BTC-USDT@incrDepth", {**INCR["data"], "asks": [["1", "-1"]]}), "schema"),  # type: ignore[dict-item]
        (_data("BTC-USDT@markPrice", {**MARK["data"], "p": "0"}), "schema"),  # type: ignore[dict-item]
        (_data("BTC-USDT@bookTicker", {**TICKER["data"], "b": "-1"}), "schema"),  # type: ignore[dict-item]
    ],
)
def test_schema_failures_are_typed(frame: Frame, kind: str) -> None:
    with pytest.raises(FrameError) as error:
        parse_data(frame)
    assert error.value.kind == kind


def test_depth_without_time_is_accepted() -> None:
    event = parse_data(_data("BTC-USDT@depth5@500ms", {"bids": [], "asks": [["2", "1"]]}))
    assert isinstance(event, DepthUpdate)
    assert event.time_ms is None


def test_utc_from_ms_is_aware_utc_at_the_boundary() -> None:
    assert utc_from_ms(T0) == datetime(2024, 6, 1, tzinfo=UTC)
    assert utc_from_ms(0) == datetime(1970, 1, 1, tzinfo=UTC)
    with pytest.raises(FrameError):
        utc_from_ms(253_402_214_400_000)  # 9999-12-31


# --- fuzz: only FrameError or a valid result -------------------------------------------------------

FIELDS = ["o", "h", "l", "c", "v", "T", "q", "p", "m", "s", "E", "u", "b", "B", "a", "A"]
FIELDS += ["action", "lastUpdateId", "time", "bids", "asks", "data", "dataType", "code", "ts"]


def _decode_and_parse(raw: bytes | str) -> None:
    """The generic decoder refuses with a typed error or parses; the ingestor's fast path
    (``read_frame``) reaches exactly the same verdict and the same event."""
    fast = _read(raw)
    try:
        frame = decode_frame(raw)
    except FrameError as error:
        assert error.kind in {"gzip", "utf8", "json", "shape", "schema", "topic"}
        assert fast == error.kind
        return
    assert len(frame.payload_hash) == 64
    if frame.kind != "data":
        assert fast == frame
        return
    try:
        event = parse_data(frame)
    except FrameError as error:
        assert error.kind in {"schema", "topic", "shape"}
        assert fast == error.kind
        return
    assert isinstance(fast, MarketFrame)
    assert (fast.topic, fast.event, fast.payload_hash) == (frame.topic, event, frame.payload_hash)


def _read(raw: bytes | str) -> MarketFrame | Frame | str:
    try:
        return read_frame(raw)
    except FrameError as error:
        return error.kind


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(raw: bytes) -> None:
    _decode_and_parse(raw)
    _decode_and_parse(gzip.compress(raw))


@settings(max_examples=200)
@given(st.sampled_from(VALID), st.integers(min_value=0, max_value=400))
def test_fuzz_truncated_gzip(body: dict[str, Any], cut: int) -> None:
    raw = wire(body)
    _decode_and_parse(raw[: min(cut, len(raw) - 1)])


@settings(max_examples=300)
@given(json_values, st.sampled_from([None, *[str(b["dataType"]) for b in VALID]]))
def test_fuzz_random_json(value: Any, topic: str | None) -> None:
    body = value if topic is None else {"code": 0, "dataType": topic, "data": value}
    _decode_and_parse(wire(body))


@settings(max_examples=500)
@given(st.sampled_from(VALID), st.data())
def test_fuzz_mutated_valid_frames(body: dict[str, Any], data: st.DataObject) -> None:
    mutated = json.loads(json.dumps(body))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        mutate_data(mutated, data, FIELDS)
    _decode_and_parse(wire(mutated))


@settings(max_examples=200)
@given(st.sampled_from(VALID), st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_fuzz_flipped_bytes(body: dict[str, Any], position: int, value: int) -> None:
    raw = bytearray(json.dumps(body).encode())
    raw[position % len(raw)] = value
    _decode_and_parse(gzip.compress(bytes(raw)))
