"""One BingX market WebSocket frame, from the bytes received to a typed event, failing only with FrameError.

The ingestor journals every frame before it interprets it, so decoding is split in two: ``decode_frame``
classifies the raw bytes (heartbeat, subscription ack, data) and hashes them exactly as received;
``parse_data`` turns a data frame into the venue's typed event and checks what the sequencers rely on
(times a datetime can hold, non-negative finite numbers). Whatever arrives on the wire, a caller sees a
valid result or FrameError with a kind it can count as a metric: a malformed frame is data to record,
never a crash of the ingest loop.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from tradeplane.runtime.venue.errors import PayloadError
from tradeplane.runtime.venue.payloads_stream import (
    BookTickerUpdate,
    DepthUpdate,
    IncrementalDepth,
    KlineUpdate,
    MarketEvent,
    MarkPriceUpdate,
    TradeUpdate,
    parse_market,
)
from tradeplane.runtime.venue.rest import loads

FrameErrorKind = Literal["gzip", "utf8", "json", "shape", "schema", "topic"]
FrameKind = Literal["ping", "pong", "ack", "data"]

MAX_DECODED_BYTES = 2**24
"""A decompressed frame larger than this is refused (the socket's own frame limit is 16 MiB too)."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)
GZIP_WBITS = 16 + zlib.MAX_WBITS


class FrameError(Exception):
    """A frame that cannot be used; ``kind`` is the stage that refused it (a metric label)."""

    def __init__(self, kind: FrameErrorKind, detail: str) -> None:
        self.kind: FrameErrorKind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}")


@dataclass(frozen=True)
class Frame:
    """A classified frame. ``body`` is the JSON object (numbers as Decimal) for acks and data."""

    kind: FrameKind
    topic: str | None
    body: dict[str, Any] | None
    payload_hash: str


def utc_from_ms(ms: int) -> datetime:
    """BingX epoch milliseconds as an aware UTC datetime; FrameError("schema") outside year 1970..9999."""
    if not 0 <= ms < (LATEST - EPOCH) // timedelta(milliseconds=1):
        raise FrameError("schema", f"time {ms} ms is outside the supported range")
    return EPOCH + timedelta(milliseconds=ms)


def _gunzip(raw: bytes) -> bytes:
    """One gzip member, bounded in size (a small frame must not inflate into gigabytes)."""
    inflater = zlib.decompressobj(wbits=GZIP_WBITS)
    try:
        text = inflater.decompress(raw, MAX_DECODED_BYTES + 1)
    except zlib.error as error:
        raise FrameError("gzip", str(error)) from None
    if len(text) > MAX_DECODED_BYTES:
        raise FrameError("gzip", f"decompressed frame exceeds {MAX_DECODED_BYTES} bytes")
    if not inflater.eof:
        raise FrameError("gzip", "truncated gzip stream")
    if inflater.unused_data:
        raise FrameError("gzip", "bytes after the gzip stream")
    return text


def _json(text: str) -> dict[str, Any]:
    try:
        body = loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError; so are huge ints
        raise FrameError("json", str(error)[:200]) from None
    if not isinstance(body, dict):
        raise FrameError("shape", f"expected a JSON object, got {type(body).__name__}")
    return body


def decode_frame(raw: bytes | str) -> Frame:
    """Binary frames are gzip (BingX compresses every message); a text frame is taken as it is."""
    received = raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else raw
    payload_hash = hashlib.sha256(received).hexdigest()
    if isinstance(raw, str):
        text = raw
    else:
        try:
            text = _gunzip(raw).decode("utf-8")
        except UnicodeDecodeError as error:
            raise FrameError("utf8", str(error)) from None
    stripped = text.strip()
    if stripped in {"Ping", "Pong"}:
        kind: FrameKind = "ping" if stripped == "Ping" else "pong"
        return Frame(kind=kind, topic=None, body=None, payload_hash=payload_hash)
    body = _json(stripped)
    if "dataType" not in body:
        if "code" in body:
            return Frame(kind="ack", topic=None, body=body, payload_hash=payload_hash)
        raise FrameError("shape", "an object with neither dataType nor code")
    topic = body["dataType"]
    if not isinstance(topic, str) or "@" not in topic:
        raise FrameError("topic", f"dataType {topic!r} is not like BTC-USDT@kline_1m")
    if "data" not in body:
        if "code" in body:  # a per-topic error or notice: an ack-like frame, the caller reads its code
            return Frame(kind="ack", topic=topic, body=body, payload_hash=payload_hash)
        raise FrameError("shape", f"{topic}: a frame with neither data nor code")
    return Frame(kind="data", topic=topic, body=body, payload_hash=payload_hash)


def _numbers(where: str, *values: Decimal, positive: bool = False) -> None:
    for value in values:
        if not value.is_finite() or value < 0 or (positive and value == 0):
            wanted = "positive" if positive else "non-negative"
            raise FrameError("schema", f"{where}: {value} is not a finite {wanted} number")


def _levels(where: str, levels: tuple[tuple[Decimal, Decimal], ...]) -> None:
    for price, qty in levels:
        _numbers(where, price, positive=True)
        _numbers(where, qty)


def _check(event: MarketEvent, topic: str) -> None:
    """What the sequencers and stores rely on, beyond the payload models' types."""
    if isinstance(event, KlineUpdate):
        for bar in event.bars:
            utc_from_ms(bar.open_time_ms)
            _numbers(topic, bar.open, bar.high, bar.low, bar.close, bar.volume)
    elif isinstance(event, TradeUpdate):
        for trade in event.trades:
            utc_from_ms(trade.time_ms)
            _numbers(topic, trade.price, trade.qty, positive=True)
    elif isinstance(event, IncrementalDepth | DepthUpdate):
        if event.time_ms is not None:
            utc_from_ms(event.time_ms)
        _levels(topic, event.bids)
        _levels(topic, event.asks)
    elif isinstance(event, MarkPriceUpdate):
        utc_from_ms(event.event_time_ms)
        _numbers(topic, event.mark_price, positive=True)
    elif isinstance(event, BookTickerUpdate):  # pragma: no branch - MarketEvent has no other member
        _numbers(topic, event.bid_price, event.ask_price, event.bid_qty, event.ask_qty)


def parse_data(frame: Frame) -> MarketEvent:
    """The typed event of a data frame; FrameError("schema") when ``data`` does not match the topic."""
    if frame.kind != "data" or frame.topic is None or frame.body is None:
        raise FrameError("shape", f"a {frame.kind} frame carries no market data")
    try:
        event = parse_market(frame.topic, frame.body)
    except PayloadError as error:
        kind: FrameErrorKind = "topic" if error.field == "dataType" else "schema"
        raise FrameError(kind, str(error)) from None
    _check(event, frame.topic)
    return event
