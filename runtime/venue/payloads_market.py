"""BingX market-stream payloads: the ``data`` of ``{"code":0,"dataType":"BTC-USDT@kline_1m",...}``.

These are decoded straight from the frame's JSON bytes into frozen msgspec structs, because the
market streams are the one place where parsing speed is the product: an ingestor must keep up with
every push of every subscribed topic. Money is ``Decimal`` (exact from the JSON text, never via
float); times are BingX epoch milliseconds checked to fit a ``datetime``; order-book levels stay the
JSON text as sent, checked by ``depth_levels`` (hundreds of levels per push would otherwise cost
more than the whole decode). Anything that does not match raises PayloadError naming the field, so
a shape change fails loudly instead of trading on a default. Which struct parses ``data`` is decided
by the topic's suffix.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

import msgspec

from tradeplane.runtime.bars import Bar
from tradeplane.runtime.millis import check_ms, from_ms
from tradeplane.runtime.venue import depth_levels
from tradeplane.runtime.venue.errors import PayloadError


class MarketPayload(msgspec.Struct, frozen=True, gc=False):
    """Unknown fields are ignored: BingX adds fields without notice.

    ``gc=False``: the garbage collector does not track these. They are frozen and hold only
    numbers, strings, raw JSON and tuples of payloads built before them, so they can never be in
    a reference cycle, and an ingestor allocates several per frame: tracking them made the
    collector's passes a visible share of the per-frame cost."""


def _time(value: int | None, name: str) -> None:
    """A frame stamped outside ``millis``' range is a schema error like any other bad field."""
    if value is not None:
        check_ms(value, name)


def _money(name: str, value: Decimal, *, positive: bool = False) -> None:
    if not value.is_finite() or value < 0 or (positive and value == 0):
        wanted = "positive" if positive else "non-negative"
        raise ValueError(f"{name} {value} is not a finite {wanted} number")


# The structs below run on every push, so their checks start with a screen of cheap Decimal
# predicates (no comparisons, which convert the 0 to a Decimal each time): finite and unsigned
# values always pass ``_money``. Anything the screen does not clear (a sign, -0 included, or
# NaN/Infinity) goes through ``_money`` field by field, which gives the verdict and its message.


class KlineBar(MarketPayload, frozen=True):
    """One pushed bar; ``open_time_ms`` (``T``) is the bar start. No closed flag: a bar is final
    only when a frame with a later ``T`` arrives."""

    open: Decimal = msgspec.field(name="o")
    high: Decimal = msgspec.field(name="h")
    low: Decimal = msgspec.field(name="l")
    close: Decimal = msgspec.field(name="c")
    volume: Decimal = msgspec.field(name="v")
    open_time_ms: int = msgspec.field(name="T")

    def __post_init__(self) -> None:
        _time(self.open_time_ms, "T")
        o, h, l, c, v = self.open, self.high, self.low, self.close, self.volume  # noqa: E741
        screened = o.is_finite() and h.is_finite() and l.is_finite() and c.is_finite() and v.is_finite()
        if not screened or o.is_signed() or h.is_signed() or l.is_signed() or c.is_signed() or v.is_signed():
            for name, value in (("o", o), ("h", h), ("l", l), ("c", c), ("v", v)):
                _money(name, value)

    def to_bar(self) -> Bar:
        return Bar(from_ms(self.open_time_ms), self.open, self.high, self.low, self.close, self.volume)


class KlineUpdate(MarketPayload, frozen=True):
    symbol: str
    bars: tuple[KlineBar, ...]


class TradeTick(MarketPayload, frozen=True):
    """A swap ``@trade`` item: no trade id (dedupe on a synthetic key)."""

    qty: Decimal = msgspec.field(name="q")
    price: Decimal = msgspec.field(name="p")
    time_ms: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")
    symbol: str = msgspec.field(name="s")

    def __post_init__(self) -> None:
        _time(self.time_ms, "T")
        price, qty = self.price, self.qty
        screened = price and qty and price.is_finite() and qty.is_finite()
        if not screened or price.is_signed() or qty.is_signed():
            _money("p", price, positive=True)
            _money("q", qty, positive=True)


class TradeUpdate(MarketPayload, frozen=True):
    trades: tuple[TradeTick, ...]


EMPTY_LEVELS = msgspec.Raw(b"[]")


class _Levels(MarketPayload, frozen=True, kw_only=True):
    """Levels as checked JSON text (``depth_levels``); ``*_levels`` give exact values on demand."""

    bids: msgspec.Raw = EMPTY_LEVELS
    asks: msgspec.Raw = EMPTY_LEVELS

    def __post_init__(self) -> None:
        for name in ("bids", "asks"):
            text = bytes(getattr(self, name))
            try:
                canonical = depth_levels.checked(text)
            except depth_levels.LevelsInvalid as error:
                raise ValueError(f"{name}: {error}") from None
            if canonical is not text:
                msgspec.structs.force_setattr(self, name, msgspec.Raw(canonical))

    @property
    def bid_levels(self) -> tuple[tuple[Decimal, Decimal], ...]:
        return depth_levels.decimals(bytes(self.bids))

    @property
    def ask_levels(self) -> tuple[tuple[Decimal, Decimal], ...]:
        return depth_levels.decimals(bytes(self.asks))


class IncrementalDepth(_Levels, frozen=True):
    """``@incrDepth``: ``action:"all"`` is the book, ``"update"`` a diff; ``lastUpdateId`` is +1
    per push (quantity 0 deletes a level)."""

    action: Literal["all", "update"]
    last_update_id: int = msgspec.field(name="lastUpdateId")
    time_ms: int | None = msgspec.field(name="time", default=None)

    def __post_init__(self) -> None:
        if self.last_update_id < 0:
            raise ValueError("lastUpdateId must be non-negative")
        _time(self.time_ms, "time")
        super().__post_init__()


class DepthUpdate(_Levels, frozen=True):
    """``@depthN@{200,500}ms``: a full snapshot each frame, no id; ``time_ms`` is the push time."""

    time_ms: int | None = msgspec.field(name="T", default=None)

    def __post_init__(self) -> None:
        _time(self.time_ms, "T")
        super().__post_init__()


class MarkPriceUpdate(MarketPayload, frozen=True):
    event_time_ms: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    mark_price: Decimal = msgspec.field(name="p")

    def __post_init__(self) -> None:
        _time(self.event_time_ms, "E")
        price = self.mark_price
        if not price or price.is_signed() or not price.is_finite():
            _money("p", price, positive=True)


class BookTickerUpdate(MarketPayload, frozen=True):
    update_id: int = msgspec.field(name="u")
    symbol: str = msgspec.field(name="s")
    bid_price: Decimal = msgspec.field(name="b")
    bid_qty: Decimal = msgspec.field(name="B")
    ask_price: Decimal = msgspec.field(name="a")
    ask_qty: Decimal = msgspec.field(name="A")
    event_time_ms: int | None = msgspec.field(name="E", default=None)
    time_ms: int | None = msgspec.field(name="T", default=None)

    def __post_init__(self) -> None:
        _time(self.event_time_ms, "E")
        _time(self.time_ms, "T")
        for name, value in (("b", self.bid_price), ("B", self.bid_qty), ("a", self.ask_price)):
            _money(name, value)
        _money("A", self.ask_qty)


MarketEvent = KlineUpdate | TradeUpdate | IncrementalDepth | DepthUpdate | MarkPriceUpdate | BookTickerUpdate

_BARS = msgspec.json.Decoder(tuple[KlineBar, ...])
_TRADES = msgspec.json.Decoder(tuple[TradeTick, ...])
_INCREMENTAL = msgspec.json.Decoder(IncrementalDepth)
_DEPTH = msgspec.json.Decoder(DepthUpdate)
_MARK = msgspec.json.Decoder(MarkPriceUpdate)
_TICKER = msgspec.json.Decoder(BookTickerUpdate)
_ENCODER = msgspec.json.Encoder(decimal_format="string")
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _payload_error(error: msgspec.ValidationError | msgspec.DecodeError, topic: str) -> PayloadError:
    """msgspec says ``Expected `int`, got `str` - at `$[0].T```; PayloadError names ``data[0].T``."""
    message = str(error)
    found = _PATH.search(message)
    where = "data" + (found["path"] if found else "")
    return PayloadError(message[: found.start()] if found else message, field=where, endpoint=topic)


def decode_market(
    topic: str, data: bytes, *, symbol: str | None = None, ts: int | None = None
) -> MarketEvent:
    """The typed event of one frame's ``data`` (its JSON bytes), chosen by the topic's suffix.
    ``symbol`` and ``ts`` are the frame's top-level ``s`` and ``ts`` (kline symbol, depthN time)."""
    stream = topic.partition("@")[2]
    try:
        if stream.startswith("kline_"):
            return KlineUpdate(symbol or topic.partition("@")[0], _BARS.decode(data))
        if stream == "trade":
            return TradeUpdate(_TRADES.decode(data))
        if stream == "incrDepth":
            return _INCREMENTAL.decode(data)
        if stream.startswith("depth"):
            depth = _DEPTH.decode(data)
            _time(ts, "ts")
            return msgspec.structs.replace(depth, time_ms=ts) if ts is not None else depth
        if stream == "markPrice":
            return _MARK.decode(data)
        if stream == "bookTicker":
            return _TICKER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise _payload_error(error, topic) from None
    except ValueError as error:  # a frame-level check (``ts``) outside the structs
        raise PayloadError(str(error), field="ts", endpoint=topic) from None
    raise PayloadError(f"no parser for stream {stream!r}", field="dataType", endpoint=topic)


def parse_market(topic: str, frame: dict[str, Any]) -> MarketEvent:
    """The same, from an already decoded frame object (numbers may be Decimal)."""
    if "data" not in frame:
        raise PayloadError("the frame has no data", field="data", endpoint=topic)
    symbol = frame.get("s")
    ts = frame.get("ts")
    return decode_market(
        topic,
        _ENCODER.encode(frame["data"]),
        symbol=symbol if isinstance(symbol, str) and symbol else None,
        ts=int(ts) if isinstance(ts, int | Decimal) and not isinstance(ts, bool) else None,
    )
