"""One pending batch committed in one transaction of the caller's (fenced) writer.

Trades, depth updates, mark prices and journal entries are one bulk statement per table per batch
(``store_bulk``: column arrays through ``unnest``), each row with its own provenance (the frame it
came from): statement compilation, a dict per row and SQLAlchemy's type processing per value were
what capped the ingestor, and one statement per frame would cap it at the database's round-trip
rate. Natural keys make every statement idempotent. Candles go through the store's candle upsert
(finality and revision rules live there), gap events through ``gaps.record_gap``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from tradeplane.runtime.intervals import open_times
from tradeplane.runtime.marketdata.gaps import record_gap
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingest_pipeline import Batch
from tradeplane.runtime.marketdata.rows import Candle, Provenance
from tradeplane.runtime.marketdata.store import (
    insert_depth_from,
    insert_trades_from,
    journal_frames,
    upsert_candles_from,
    upsert_mark_prices_from,
)
from tradeplane.runtime.marketdata.tables import MarketKey


async def commit_batch(
    conn: AsyncConnection, key: MarketKey, batch: Batch, *, metrics: IngestMetrics, now: datetime
) -> None:
    """Write everything in ``batch`` inside the caller's transaction."""
    if batch.journal:
        metrics.rows.labels("journal").inc(await journal_frames(conn, key, batch.journal))
    grouped: dict[str, list[tuple[Candle, Provenance]]] = defaultdict(list)
    for interval, candle, provenance in batch.candles:
        grouped[interval].append((candle, provenance))
    for interval, rows in grouped.items():
        counts = await upsert_candles_from(conn, key, interval, rows)
        metrics.rows.labels("candles").inc(counts.written)
    if batch.trades:
        metrics.rows.labels("trades").inc(await insert_trades_from(conn, key, batch.trades))
    if batch.depth:
        metrics.rows.labels("depth").inc(await insert_depth_from(conn, key, batch.depth))
    if batch.marks:
        metrics.rows.labels("mark_prices").inc(await upsert_mark_prices_from(conn, key, "ws", batch.marks))
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
            metrics=metrics.gaps,
        )
