"""One pending batch committed in one transaction of the caller's (fenced) writer.

Trades, depth updates and mark prices are written as multi-row statements with each row's own
provenance (the frame it came from), because one statement per frame would cap the ingestor at
the database's round-trip rate; their natural keys make every statement idempotent. Candles go
through the store's candle upsert (finality and revision rules live there), journal entries
through the store's journal.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from tradeplane.runtime.marketdata.gaps import record_gap
from tradeplane.runtime.marketdata.grid import open_times
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingest_pipeline import Batch
from tradeplane.runtime.marketdata.rows import Candle, Provenance
from tradeplane.runtime.marketdata.store import journal_frames, upsert_candles
from tradeplane.runtime.marketdata.tables import MarketKey, depth_updates, mark_prices, trades


def _levels(levels: Any) -> list[list[str]]:
    return [[str(price), str(quantity)] for price, quantity in levels]


async def commit_batch(
    conn: AsyncConnection, key: MarketKey, batch: Batch, *, metrics: IngestMetrics, now: datetime
) -> None:
    """Write everything in ``batch`` inside the caller's transaction."""
    base = {"market": key.market, "symbol": key.symbol}
    if batch.journal:
        metrics.rows.labels("journal").inc(await journal_frames(conn, key, batch.journal))
    grouped: dict[tuple[str, Provenance], list[Candle]] = defaultdict(list)
    for interval, candle, provenance in batch.candles:
        grouped[interval, provenance].append(candle)
    for (interval, provenance), rows in grouped.items():
        counts = await upsert_candles(conn, key, interval, rows, provenance)
        metrics.rows.labels("candles").inc(counts.written)
    if batch.trades:
        values = [
            base | row._asdict() | _provenance(provenance, hashed=True)
            for row, provenance in dict(((r.time, r.trade_key), (r, p)) for r, p in batch.trades).values()
        ]
        await conn.execute(pg_insert(trades).on_conflict_do_nothing(), values)
        metrics.rows.labels("trades").inc(len(values))
    if batch.depth:
        values = [
            base
            | {
                "exchange_time": row.exchange_time,
                "update_id": row.update_id,
                "action": row.action,
                "bids": _levels(row.bids),
                "asks": _levels(row.asks),
            }
            | _provenance(provenance, hashed=True, source=False)
            for row, provenance in dict(
                ((r.exchange_time, r.update_id), (r, p)) for r, p in batch.depth
            ).values()
        ]
        await conn.execute(pg_insert(depth_updates).on_conflict_do_nothing(), values)
        metrics.rows.labels("depth").inc(len(values))
    if batch.marks:
        latest = {time: (price, provenance) for time, price, provenance in batch.marks}
        values = [
            base
            | {"time": time, "price": price, "source": "ws", "received_at": provenance.received_at}
            for time, (price, provenance) in latest.items()
        ]
        statement = pg_insert(mark_prices)
        statement = statement.on_conflict_do_update(
            index_elements=["market", "symbol", "time"],
            set_={"price": statement.excluded.price, "received_at": statement.excluded.received_at},
            where=mark_prices.c.price != statement.excluded.price,
        )
        await conn.execute(statement, values)
        metrics.rows.labels("mark_prices").inc(len(values))
    for interval, start, end in batch.gaps:
        await record_gap(
            conn,
            key,
            stream="klines",
            interval=interval,
            source="ws",
            start=start,
            end=end,
            missing=len(open_times(start, end, interval)),
            now=now,
        )


def _provenance(provenance: Provenance, *, hashed: bool, source: bool = True) -> dict[str, Any]:
    values: dict[str, Any] = {
        "received_at": provenance.received_at,
        "connection_id": provenance.connection_id,
    }
    if source:
        values["source"] = provenance.source
    if hashed:
        values["payload_hash"] = provenance.payload_hash
    return values
