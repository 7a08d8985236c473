"""The rows the market-data store takes and returns, independent of SQL.

Prices, quantities and rates are ``Decimal`` (except order-book levels, kept in the venue's own frame:
see ``DepthRow``); times are timezone-aware UTC ``datetime`` (BingX's millisecond epochs are converted
where frames are parsed, never here).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple, TypeVar

from tradeplane.runtime.bars import Bar

T = TypeVar("T")


class Provenance(NamedTuple):
    """Where a batch of rows came from, stored on every row that has room for it."""

    source: Literal["ws", "rest"]
    received_at: datetime
    connection_id: str | None
    payload_hash: str

    @classmethod
    def of(
        cls,
        source: Literal["ws", "rest"],
        payload: bytes,
        *,
        received_at: datetime,
        connection_id: str | None = None,
    ) -> Provenance:
        """Provenance of a raw frame or REST body (hashed with sha256)."""
        return cls(source, received_at, connection_id, hashlib.sha256(payload).hexdigest())


class Candle(NamedTuple):
    """One stored trade-price bar: a ``runtime.bars.Bar``'s fields in the same order (so
    ``Candle.of(bar, ...)`` stores a bar), then the store's state. ``closed``: the
    interval is over; ``confirmed``: REST returned it."""

    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool
    confirmed: bool
    exchange_time: datetime | None = None

    @classmethod
    def of(cls, bar: Bar, *, closed: bool, confirmed: bool, exchange_time: datetime | None = None) -> Candle:
        return cls(*bar, closed, confirmed, exchange_time)

    def ohlcv(self) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
        return (self.open, self.high, self.low, self.close, self.volume)


class MarkCandle(NamedTuple):
    """One mark-price bar (BingX's markPriceKlines carry no volume)."""

    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


class TradeRow(NamedTuple):
    """One public trade; ``trade_key`` is the venue id or the synthetic key when there is none."""

    time: datetime
    trade_key: str
    price: Decimal
    quantity: Decimal
    buyer_is_maker: bool
    trade_id: int | None


class DepthRow(NamedTuple):
    """One incrDepth push: the full book (``all``) or a delta (``update``).

    ``frame`` is the WebSocket frame the push came in, byte for byte as received (BingX's gzip; a
    text frame as its UTF-8), so ``sha256(frame)`` is the row's ``payload_hash``. The levels are read
    back from it by ``store.depth_levels`` with the ingestor's own frame parser. Keeping the venue's
    compressed bytes instead of parsed levels is a storage decision: a 100-level BTC push is ~5 kB of
    level text but ~1.2 kB of gzip, and PostgreSQL then writes the bytes as they are instead of
    parsing (``jsonb``) or compressing (TOAST) every push, which was most of the ingestor's write cost.
    """

    exchange_time: datetime
    update_id: int
    action: Literal["all", "update"]
    frame: bytes


class JournalEntry(NamedTuple):
    """One raw frame as received, kept for forensic replay."""

    connection_id: str
    received_at: datetime
    data_type: str
    exchange_time: datetime | None
    payload: bytes
    note: str = ""
    payload_sha256: str | None = None
    """sha256 hex of ``payload`` when the caller already has it (a WS frame's provenance hash), so
    the journal does not hash every frame a second time; computed by the store when None."""


class UpsertCounts(NamedTuple):
    """What an upsert did per row: new, changed, changed with a revision recorded, left alone."""

    inserted: int = 0
    updated: int = 0
    revised: int = 0
    unchanged: int = 0

    def __add__(self, other: Any) -> UpsertCounts:
        if not isinstance(other, UpsertCounts):
            return NotImplemented
        return UpsertCounts(*(a + b for a, b in zip(self, other, strict=True)))

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.revised


class Revision(NamedTuple):
    """One recorded change of a confirmed candle (``market_candle_revisions``)."""

    open_time: datetime
    revision: int
    previous: dict[str, Any]
    current: dict[str, Any]
    reason: str
    recorded_at: datetime


def last_wins(rows: Sequence[T], key: Callable[[T], Hashable]) -> list[T]:
    """Rows with duplicate keys reduced to the last one (later frames are newer), in first-seen
    order; one statement may not touch the same row twice."""
    kept: dict[Hashable, T] = {}
    for row in rows:
        kept[key(row)] = row
    return list(kept.values())
