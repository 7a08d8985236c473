"""The market-data tables as the code reads and writes them; DDL, checks and privileges are
migration 0004. ``market`` is ``<namespace>/<venue>``: the Venue the data came from."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

METADATA = MetaData(schema="tradeplane")


@dataclass(frozen=True, order=True)
class MarketKey:
    """One instrument's data: the Venue (``namespace/name``) and the BingX symbol."""

    market: str
    symbol: str

    @classmethod
    def of(cls, namespace: str, venue: str, symbol: str) -> MarketKey:
        return cls(f"{namespace}/{venue}", symbol)

    def __str__(self) -> str:
        return f"{self.market}:{self.symbol}"


def _time(name: str, *, nullable: bool = False, primary_key: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable, primary_key=primary_key)


def _key(*extra: Column[object]) -> tuple[Column[object], ...]:
    return (Column("market", Text, primary_key=True), Column("symbol", Text, primary_key=True), *extra)


def _ohlc() -> tuple[Column[object], ...]:
    return tuple(Column(name, Numeric, nullable=False) for name in ("open", "high", "low", "close"))


def _provenance() -> tuple[Column[object], ...]:
    return (
        Column("source", Text, nullable=False),
        _time("received_at"),
        Column("connection_id", Text),
        Column("payload_hash", Text, nullable=False),
    )


candles = Table(
    "market_candles",
    METADATA,
    *_key(Column("interval", Text, primary_key=True), _time("open_time", primary_key=True)),
    *_ohlc(),
    Column("volume", Numeric, nullable=False),
    Column("closed", Boolean, nullable=False),
    Column("confirmed", Boolean, nullable=False),
    _time("exchange_time", nullable=True),
    *_provenance(),
)

candle_revisions = Table(
    "market_candle_revisions",
    METADATA,
    Column("id", BigInteger, primary_key=True),
    Column("market", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("interval", Text, nullable=False),
    _time("open_time"),
    Column("revision", Integer, nullable=False),
    Column("previous", JSONB, nullable=False),
    Column("current", JSONB, nullable=False),
    Column("reason", Text, nullable=False),
    _time("recorded_at"),
)

MARK_INTERVAL = "1m"
"""The one interval mark-price candles are stored at (the backfill writes it, datasets read it)."""

mark_candles = Table(
    "market_mark_candles",
    METADATA,
    *_key(Column("interval", Text, primary_key=True), _time("open_time", primary_key=True)),
    *_ohlc(),
    Column("source", Text, nullable=False),
    _time("received_at"),
)

trades = Table(
    "market_trades",
    METADATA,
    *_key(_time("time", primary_key=True), Column("trade_key", Text, primary_key=True)),
    Column("trade_id", BigInteger),
    Column("price", Numeric, nullable=False),
    Column("quantity", Numeric, nullable=False),
    Column("buyer_is_maker", Boolean, nullable=False),
    *_provenance(),
)

depth_updates = Table(
    "market_depth_updates",
    METADATA,
    *_key(_time("exchange_time", primary_key=True), Column("update_id", BigInteger, primary_key=True)),
    Column("action", Text, nullable=False),
    Column("frame", LargeBinary, nullable=False),
    _time("received_at"),
    Column("connection_id", Text),
    Column("payload_hash", Text, nullable=False),
)

mark_prices = Table(
    "market_mark_prices",
    METADATA,
    *_key(_time("time", primary_key=True)),
    Column("price", Numeric, nullable=False),
    Column("source", Text, nullable=False),
    _time("received_at"),
)

funding_rates = Table(
    "market_funding_rates",
    METADATA,
    *_key(_time("funding_time", primary_key=True)),
    Column("rate", Numeric, nullable=False),
    Column("source", Text, nullable=False),
    _time("received_at"),
)

gap_events = Table(
    "market_gap_events",
    METADATA,
    Column("id", BigInteger, primary_key=True),
    Column("market", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("stream", Text, nullable=False),
    Column("interval", Text, nullable=False),
    Column("source", Text, nullable=False),
    _time("start_time"),
    _time("end_time"),
    Column("missing", Integer, nullable=False),
    _time("detected_at"),
    _time("updated_at"),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("evidence", JSONB, nullable=False),
)

leases = Table(
    "market_leases",
    METADATA,
    *_key(),
    Column("holder", Text, nullable=False),
    Column("token", BigInteger, nullable=False),
    _time("acquired_at"),
    _time("renewed_at"),
    _time("expires_at"),
)

raw_journal = Table(
    "market_raw_journal",
    METADATA,
    Column("id", BigInteger, primary_key=True),
    Column("market", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("connection_id", Text, nullable=False),
    _time("received_at"),
    Column("data_type", Text, nullable=False),
    _time("exchange_time", nullable=True),
    Column("payload_sha256", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
)
