"""Market-data writes: idempotent, keyed by natural keys, with provenance on every row.

All writes take an ``AsyncConnection`` inside the caller's transaction (a ``Writer`` from
``lease``), so a fenced writer's lease check and its writes commit or roll back together. A row
that would not change is never touched (no UPDATE), so replaying an interval leaves the tables
byte-identical. Candles, with their finality and revision rules, are in ``store_candles``; reads,
checksums and retention in ``store_reads``; everything is importable from here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, literal_column, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert

from tradeplane.runtime.marketdata import store_bulk
from tradeplane.runtime.marketdata.depth_book import stored_levels
from tradeplane.runtime.marketdata.rows import (
    Candle,
    DepthRow,
    JournalEntry,
    MarkCandle,
    Provenance,
    Revision,
    TradeRow,
    UpsertCounts,
    last_wins,
)
from tradeplane.runtime.marketdata.store_bulk import micros
from tradeplane.runtime.marketdata.store_candles import require_utc, upsert_candles, upsert_candles_from
from tradeplane.runtime.marketdata.store_reads import (
    candle_open_times,
    candles_between,
    funding_rates_between,
    funding_times,
    last_closed_candle,
    mark_prices_between,
    revisions,
    table_checksum,
    trades_between,
)
from tradeplane.runtime.marketdata.tables import (
    MarketKey,
    funding_rates,
    mark_candles,
)

__all__ = [
    "Candle",
    "DepthRow",
    "JournalEntry",
    "MarkCandle",
    "Provenance",
    "Revision",
    "TradeRow",
    "UpsertCounts",
    "candle_open_times",
    "candles_between",
    "depth_levels",
    "funding_rates_between",
    "funding_times",
    "insert_depth_from",
    "insert_depth_updates",
    "insert_trades",
    "insert_trades_from",
    "journal_frames",
    "last_closed_candle",
    "mark_prices_between",
    "revisions",
    "table_checksum",
    "trades_between",
    "upsert_candles",
    "upsert_candles_from",
    "upsert_funding_rates",
    "upsert_mark_candles",
    "upsert_mark_prices",
    "upsert_mark_prices_from",
]


async def _upsert(
    conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], compared: Sequence[str]
) -> UpsertCounts:
    """``INSERT ... ON CONFLICT DO UPDATE ... WHERE <a compared column differs>``: identical rows
    are not touched; ``xmax = 0`` in RETURNING tells a fresh insert from an update."""
    if not rows:
        return UpsertCounts()
    inserting = pg_insert(table)
    changed = [table.c[name].is_distinct_from(inserting.excluded[name]) for name in compared]
    keys = [column.name for column in table.primary_key]
    statement: ReturningInsert[Any] = inserting.on_conflict_do_update(
        index_elements=keys,
        set_={name: inserting.excluded[name] for name in rows[0] if name not in keys},
        where=or_(*changed),
    ).returning(literal_column("xmax = 0"))
    outcomes = (await conn.execute(statement, rows)).scalars().all()
    inserted = sum(1 for fresh in outcomes if fresh)
    return UpsertCounts(inserted, len(outcomes) - inserted, 0, len(rows) - len(outcomes))


def _base(key: MarketKey, provenance: Provenance) -> dict[str, Any]:
    return {
        "market": key.market,
        "symbol": key.symbol,
        "source": provenance.source,
        "received_at": require_utc(provenance.received_at, "received_at"),
    }


async def upsert_mark_candles(
    conn: AsyncConnection,
    key: MarketKey,
    interval: str,
    rows: Sequence[MarkCandle],
    provenance: Provenance,
) -> UpsertCounts:
    """Mark-price bars: a changed bar is updated, an identical one untouched (no revisions: mark
    bars do not settle anything; the latest venue value is the truth)."""
    base = _base(key, provenance) | {"interval": interval}
    values = [
        base | row._asdict() | {"open_time": require_utc(row.open_time, "open_time")}
        for row in last_wins(rows, lambda row: row.open_time)
    ]
    return await _upsert(conn, mark_candles, values, ("open", "high", "low", "close"))


async def upsert_mark_prices(
    conn: AsyncConnection, key: MarketKey, rows: Sequence[tuple[datetime, Decimal]], provenance: Provenance
) -> int:
    """Mark prices by time; returns rows inserted or changed (identical ones are untouched)."""
    return await upsert_mark_prices_from(
        conn, key, provenance.source, [(time, price, provenance) for time, price in rows]
    )


async def upsert_mark_prices_from(
    conn: AsyncConnection, key: MarketKey, source: str, rows: Sequence[tuple[datetime, Decimal, Provenance]]
) -> int:
    """The same with each row's own provenance; a later row for the same time wins."""
    kept = last_wins(rows, lambda row: row[0])
    if not kept:
        return 0
    return await store_bulk.execute(
        conn,
        store_bulk.UPSERT_MARK_PRICES,
        key.market,
        key.symbol,
        source,
        [micros(time, "time") for time, _, _ in kept],
        [price for _, price, _ in kept],
        [micros(p.received_at, "received_at") for _, _, p in kept],
    )


async def upsert_funding_rates(
    conn: AsyncConnection, key: MarketKey, rows: Sequence[tuple[datetime, Decimal]], provenance: Provenance
) -> UpsertCounts:
    """Funding rates by settlement time: a changed rate is updated, an identical one untouched."""
    values = [
        _base(key, provenance) | {"funding_time": require_utc(time, "funding_time"), "rate": rate}
        for time, rate in last_wins(rows, lambda row: row[0])
    ]
    return await _upsert(conn, funding_rates, values, ("rate",))


def _provenance_columns(provenances: Sequence[Provenance]) -> tuple[list[int], list[str | None], list[str]]:
    """received_at, connection_id and payload_hash per row, in the bulk statements' column order:
    every row the ingestor writes names the frame it came from."""
    return (
        [micros(p.received_at, "received_at") for p in provenances],
        [p.connection_id for p in provenances],
        [p.payload_hash for p in provenances],
    )


async def insert_trades(
    conn: AsyncConnection, key: MarketKey, rows: Sequence[TradeRow], provenance: Provenance
) -> int:
    """Trades are immutable once seen: a known (time, trade_key) is skipped. Returns rows inserted."""
    return await insert_trades_from(conn, key, [(row, provenance) for row in rows])


async def insert_trades_from(
    conn: AsyncConnection, key: MarketKey, rows: Sequence[tuple[TradeRow, Provenance]]
) -> int:
    """The same with each row's own provenance (the ingestor's batch spans many frames); a later
    duplicate of (time, trade_key) in ``rows`` wins, as one statement may not touch a row twice."""
    kept = last_wins(rows, lambda pair: (pair[0].time, pair[0].trade_key))
    if not kept:
        return 0
    return await store_bulk.execute(
        conn,
        store_bulk.INSERT_TRADES,
        key.market,
        key.symbol,
        [micros(row.time, "time") for row, _ in kept],
        [row.trade_key for row, _ in kept],
        [row.trade_id for row, _ in kept],
        [row.price for row, _ in kept],
        [row.quantity for row, _ in kept],
        [row.buyer_is_maker for row, _ in kept],
        [p.source for _, p in kept],
        *_provenance_columns([p for _, p in kept]),
    )


async def insert_depth_updates(
    conn: AsyncConnection, key: MarketKey, rows: Sequence[DepthRow], provenance: Provenance
) -> int:
    """incrDepth pushes with the frames they came in (``DepthRow``); a known (exchange_time,
    update_id) is skipped. Returns rows inserted."""
    return await insert_depth_from(conn, key, [(row, provenance) for row in rows])


async def insert_depth_from(
    conn: AsyncConnection, key: MarketKey, rows: Sequence[tuple[DepthRow, Provenance]]
) -> int:
    """The same with each row's own provenance."""
    kept = last_wins(rows, lambda pair: (pair[0].exchange_time, pair[0].update_id))
    if not kept:
        return 0
    return await store_bulk.execute(
        conn,
        store_bulk.INSERT_DEPTH,
        key.market,
        key.symbol,
        [micros(row.exchange_time, "exchange_time") for row, _ in kept],
        [row.update_id for row, _ in kept],
        [row.action for row, _ in kept],
        [row.frame for row, _ in kept],
        *_provenance_columns([p for _, p in kept]),
    )


async def journal_frames(conn: AsyncConnection, key: MarketKey, entries: Sequence[JournalEntry]) -> int:
    """Append raw frames to the journal; returns rows appended. The sha256 is the entry's own
    ``payload_sha256`` when the caller already computed it (every WS frame is hashed once, for its
    provenance), else computed here."""
    if not entries:
        return 0
    return await store_bulk.execute(
        conn,
        store_bulk.INSERT_JOURNAL,
        key.market,
        key.symbol,
        [entry.connection_id for entry in entries],
        [micros(entry.received_at, "received_at") for entry in entries],
        [entry.data_type for entry in entries],
        [
            None if entry.exchange_time is None else micros(entry.exchange_time, "exchange_time")
            for entry in entries
        ],
        [
            entry.payload_sha256
            if entry.payload_sha256 is not None
            else hashlib.sha256(entry.payload).hexdigest()
            for entry in entries
        ],
        [entry.payload for entry in entries],
        [entry.note for entry in entries],
    )


def depth_levels(frame: bytes) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    """A stored depth frame's bids and asks as exact Decimal pairs (the venue's scale kept)."""
    bids, asks = stored_levels(frame)
    return [(Decimal(p), Decimal(q)) for p, q in bids], [(Decimal(p), Decimal(q)) for p, q in asks]
