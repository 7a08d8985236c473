"""One BingX market WebSocket frame, from the bytes received to a typed event, failing only with FrameError.

``read_frame`` is the ingestor's path: gunzip (bounded), hash the bytes exactly as received, decode
the envelope with ``data`` left as raw JSON, then decode ``data`` straight into the topic's struct
(payloads_market), so each frame is parsed once. For the streams the ingestor lives on (klines,
trades, mark price, incrDepth) even that is one decode: a look at the raw ``dataType`` picks a struct
for the whole frame with ``data`` typed, and whatever that decode refuses is read again by the
general path, so the fast path only ever adds speed, never a verdict. Anything that is not a
well-formed data frame
(Ping, subscription acks, error notices, malformed bytes) falls back to ``decode_frame``, the generic
decoder, which classifies it and names the stage that refused it. Whatever arrives on the wire, a
caller sees a valid result or FrameError with a kind it can count as a metric: a malformed frame is
data to record, never a crash of the ingest loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import zlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

import msgspec

from tradeplane.runtime.millis import MAX_TIME_MS, TimeRangeError, from_ms
from tradeplane.runtime.venue.errors import PayloadError
from tradeplane.runtime.venue.payloads_market import (
    IncrementalDepth,
    KlineBar,
    KlineUpdate,
    MarketEvent,
    MarkPriceUpdate,
    TradeTick,
    TradeUpdate,
    decode_market,
    parse_market,
)

FrameErrorKind = Literal["gzip", "utf8", "json", "shape", "schema", "topic"]
FrameKind = Literal["ping", "pong", "ack", "data"]

MAX_DECODED_BYTES = 2**24
"""A decompressed frame larger than this is refused (the socket's own frame limit is 16 MiB too)."""

GZIP_WBITS = 16 + zlib.MAX_WBITS


class FrameError(Exception):
    """A frame that cannot be used; ``kind`` is the stage that refused it (a metric label)."""

    def __init__(self, kind: FrameErrorKind, detail: str, *, topic: str | None = None) -> None:
        self.kind: FrameErrorKind = kind
        self.detail = detail
        self.topic = topic
        """The frame's ``dataType`` when it got that far (journaled with the refusal)."""
        super().__init__(f"{kind}: {detail}")


@dataclass(frozen=True)
class Frame:
    """A classified frame. ``body`` is the JSON object (numbers as Decimal) for acks and data."""

    kind: FrameKind
    topic: str | None
    body: dict[str, Any] | None
    payload_hash: str


class MarketFrame(msgspec.Struct, frozen=True, gc=False):
    """A data frame decoded by the fast path. ``push_time_ms`` is the frame's ``ts`` (the venue's
    clock when it sent the frame), when the venue gave one. A struct rather than a dataclass: one
    is made per frame, and a frozen dataclass's ``__init__`` costs ten times as much."""

    topic: str
    event: MarketEvent
    payload_hash: str
    push_time_ms: int | None


class _Envelope(msgspec.Struct, frozen=True):
    dataType: str
    data: msgspec.Raw
    ts: int | None = None
    s: str | None = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_GENERIC = msgspec.json.Decoder(float_hook=Decimal)


class _KlineFrame(msgspec.Struct, frozen=True, gc=False):
    """A whole ``@kline_*`` frame in one decode (the fields of ``_Envelope``, ``data`` typed).
    Untracked by the collector, like the payloads (payloads_market.MarketPayload)."""

    dataType: str
    data: tuple[KlineBar, ...]
    ts: int | None = None
    s: str | None = None


class _TradeFrame(msgspec.Struct, frozen=True, gc=False):
    dataType: str
    data: tuple[TradeTick, ...]
    ts: int | None = None
    s: str | None = None


class _MarkFrame(msgspec.Struct, frozen=True, gc=False):
    dataType: str
    data: MarkPriceUpdate
    ts: int | None = None
    s: str | None = None


class _DepthFrame(msgspec.Struct, frozen=True, gc=False):
    dataType: str
    data: IncrementalDepth
    ts: int | None = None
    s: str | None = None


_TypedFrame = _KlineFrame | _TradeFrame | _MarkFrame | _DepthFrame


class _FastTopic(NamedTuple):
    """How one ``dataType`` is read in a single decode; ``symbol`` is the kline default (the
    topic's prefix), as ``decode_market`` would take it."""

    topic: str
    decoder: msgspec.json.Decoder[Any]
    symbol: str


_TOPIC_KEY = b'"dataType":"'
_FAST_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "trade": msgspec.json.Decoder(_TradeFrame),
    "markPrice": msgspec.json.Decoder(_MarkFrame),
    "incrDepth": msgspec.json.Decoder(_DepthFrame),
}
_KLINE_DECODER = msgspec.json.Decoder(_KlineFrame)
_FAST_TOPICS: dict[bytes, _FastTopic | None] = {}
_MAX_FAST_TOPICS = 256
"""Topics are few (one per subscription); the bound only stops junk ``dataType``s growing memory."""


def utc_from_ms(ms: int) -> datetime:
    """``millis.from_ms`` in the frame's vocabulary, a deliberate adapter: a stamp outside 1970..9998
    is a malformed frame, FrameError("schema"), which the ingest loop counts instead of dying on."""
    try:
        return from_ms(ms)
    except TimeRangeError as error:
        raise FrameError("schema", str(error)) from None


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
        body = _GENERIC.decode(text)
    except (msgspec.DecodeError, RecursionError) as error:
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


def _typed(topic: str, decode: Any) -> MarketEvent:
    try:
        event: MarketEvent = decode()
    except PayloadError as error:
        kind: FrameErrorKind = "topic" if error.field == "dataType" else "schema"
        raise FrameError(kind, str(error), topic=topic) from None
    return event


def parse_data(frame: Frame) -> MarketEvent:
    """The typed event of a generically decoded data frame; FrameError("schema") when ``data`` does
    not match the topic."""
    if frame.kind != "data" or frame.topic is None or frame.body is None:
        raise FrameError("shape", f"a {frame.kind} frame carries no market data")
    topic, body = frame.topic, frame.body
    return _typed(topic, lambda: parse_market(topic, body))


def _fast_topic(raw_topic: bytes) -> _FastTopic | None:
    """The one-decode reader of a raw ``dataType`` (the bytes between its quotes), if it has one."""
    try:
        return _FAST_TOPICS[raw_topic]
    except KeyError:
        pass
    topic = raw_topic.decode("ascii")  # the caller checked the frame is ASCII
    symbol, _, stream = topic.partition("@")
    decoder = _KLINE_DECODER if stream.startswith("kline_") else _FAST_DECODERS.get(stream)
    fast = None if decoder is None else _FastTopic(topic, decoder, symbol)
    if len(_FAST_TOPICS) < _MAX_FAST_TOPICS:
        _FAST_TOPICS[raw_topic] = fast
    return fast


def _read_typed(text: bytes, received: bytes) -> MarketFrame | None:
    """An ASCII frame decoded in one pass, or None: not one of the fast streams, or anything at all
    refused (the general path then finds the exact verdict). The decoded ``dataType`` must be the
    one looked at, so the struct always matches the topic. ``received``: the bytes to hash."""
    start = text.find(_TOPIC_KEY)
    if start < 0:
        return None
    start += len(_TOPIC_KEY)
    end = text.find(b'"', start)
    fast = _fast_topic(text[start:end]) if end > 0 else None
    if fast is None:
        return None
    try:
        frame: _TypedFrame = fast.decoder.decode(text)
    except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
        return None
    if frame.dataType != fast.topic:
        return None
    ts = frame.ts  # typed: an int or None, as _push_time wants it
    push = ts if ts is not None and 0 <= ts < MAX_TIME_MS else None
    return MarketFrame(fast.topic, _event(frame, fast.symbol), hashlib.sha256(received).hexdigest(), push)


def _event(frame: _TypedFrame, symbol: str) -> MarketEvent:
    """What ``decode_market`` makes of the frame's ``data``; ``symbol`` is the kline default."""
    if isinstance(frame, _KlineFrame):
        return KlineUpdate(frame.s or symbol, frame.data)
    if isinstance(frame, _TradeFrame):
        return TradeUpdate(frame.data)
    return frame.data


def read_frame(raw: bytes | str) -> MarketFrame | Frame:
    """A data frame as MarketFrame, any other well-formed frame (Ping, ack) as its generic Frame;
    FrameError for anything malformed. Same verdicts as ``decode_frame`` + ``parse_data``."""
    received = raw.encode("utf-8", errors="surrogatepass") if isinstance(raw, str) else raw
    text = received if isinstance(raw, str) else _gunzip(raw)
    envelope = None
    if text.isascii():  # BingX frames are ASCII; anything else gets the generic UTF-8 checks
        typed = _read_typed(text, received)
        if typed is not None:
            return typed
        with contextlib.suppress(msgspec.DecodeError, RecursionError):
            envelope = _ENVELOPE.decode(text)
    if envelope is None or "@" not in envelope.dataType:
        frame = decode_frame(raw)  # classifies it, or says exactly what is wrong with it
        if frame.kind != "data":
            return frame
        assert frame.topic is not None and frame.body is not None
        push = _push_time(frame.body.get("ts"))
        return MarketFrame(frame.topic, parse_data(frame), frame.payload_hash, push)
    topic, data = envelope.dataType, bytes(envelope.data)
    event = _typed(topic, lambda: decode_market(topic, data, symbol=envelope.s or None, ts=envelope.ts))
    return MarketFrame(topic, event, hashlib.sha256(received).hexdigest(), _push_time(envelope.ts))


def _push_time(stamp: object) -> int | None:
    """``ts`` when it is a usable time; a frame with a bad ``ts`` still carries good data."""
    if isinstance(stamp, int | Decimal) and not isinstance(stamp, bool) and 0 <= stamp < MAX_TIME_MS:
        return int(stamp)
    return None
