"""REST backfill and replay: candles, mark-price candles and funding settlements read from BingX's
history endpoints and written through a ``Writer`` (fenced when an ingestor holds the lease).

Deterministic and idempotent: the rows are a pure function of what the venue returned (received
time is supplied by the caller), every row goes to its natural key, and a bar's provenance hash is
the sha256 of its canonical JSON, so replaying a range the store already holds changes nothing.
Only bars the venue has finished are written (closed and confirmed: REST wins over WS); the bar
still forming is the live stream's, and writing it here would make a replay depend on when it ran.

REST errors: the client retries reads with backoff; a persistent RateLimited or VenueUnavailable
propagates, so the caller backs off and the range stays to be done.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.intervals import next_open
from tradeplane.runtime.marketdata.lease import Writer
from tradeplane.runtime.marketdata.rows import Candle, MarkCandle, Provenance, UpsertCounts
from tradeplane.runtime.marketdata.store import upsert_candles, upsert_funding_rates, upsert_mark_candles
from tradeplane.runtime.marketdata.tables import (
    MARK_INTERVAL,
    MarketKey,
    candles,
    funding_rates,
    mark_candles,
)
from tradeplane.runtime.millis import from_ms, to_ms
from tradeplane.runtime.venue.canonical import canonical_decimal, canonical_json
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.payloads import Kline


@dataclass(frozen=True)
class FetchedCandle:
    """A finished bar as the venue returned it, with the hash of its canonical JSON."""

    candle: Candle
    payload_hash: str


def bar_hash(bar: Kline) -> str:
    """sha256 of the bar's canonical JSON (BingX field names, canonical decimals): the same bar always
    hashes the same, however the venue spelled its numbers."""
    document = {
        "time": bar.open_time_ms,
        **{
            name: canonical_decimal(getattr(bar, name)) for name in ("open", "high", "low", "close", "volume")
        },
    }
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def _finished(open_ms: int, interval: str, now_ms: int) -> bool:
    return to_ms(next_open(from_ms(open_ms), interval)) <= now_ms


async def fetch_candles(
    client: BingXClient, key: MarketKey, interval: str, start: datetime, end: datetime, *, now_ms: int
) -> list[FetchedCandle]:
    """Every finished v3 kline opening in [start, end] (1440 per page), oldest first."""
    bars = await client.klines_between(key.symbol, interval, start_ms=to_ms(start), end_ms=to_ms(end))
    return [
        FetchedCandle(
            Candle.of(bar.to_bar(), closed=True, confirmed=True),
            bar_hash(bar),
        )
        for bar in bars
        if _finished(bar.open_time_ms, interval, now_ms)
    ]


async def write_candles(
    writer: Writer, key: MarketKey, interval: str, fetched: list[FetchedCandle], *, received_at: datetime
) -> UpsertCounts:
    """One transaction; each bar carries its own hash, so each is one upsert with its provenance."""
    counts = UpsertCounts()
    async with writer.transaction() as connection:
        for item in fetched:
            provenance = Provenance("rest", received_at, None, item.payload_hash)
            counts += await upsert_candles(connection, key, interval, [item.candle], provenance)
    return counts


async def backfill_candles(
    client: BingXClient,
    writer: Writer,
    key: MarketKey,
    interval: str,
    *,
    start: datetime,
    end: datetime,
    received_at: datetime,
    now_ms: int,
) -> UpsertCounts:
    """Fetch and store the finished bars of [start, end]; replaying it leaves every row unchanged."""
    fetched = await fetch_candles(client, key, interval, start, end, now_ms=now_ms)
    return await write_candles(writer, key, interval, fetched, received_at=received_at)


def _page_hash(document: object) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


async def backfill_mark_candles(
    client: BingXClient,
    writer: Writer,
    key: MarketKey,
    interval: str,
    *,
    start: datetime,
    end: datetime,
    received_at: datetime,
    now_ms: int,
) -> UpsertCounts:
    """The finished mark-price bars of [start, end] (the basis of funding accrual and liquidation replay)."""
    bars = await client.mark_price_klines_between(
        key.symbol, interval, start_ms=to_ms(start), end_ms=to_ms(end)
    )
    rows = [
        MarkCandle(from_ms(bar.open_time_ms), bar.open, bar.high, bar.low, bar.close)
        for bar in bars
        if _finished(bar.open_time_ms, interval, now_ms)
    ]
    digest = _page_hash([[to_ms(r.open_time), *map(canonical_decimal, r[1:])] for r in rows])
    async with writer.transaction() as connection:
        return await upsert_mark_candles(
            connection, key, interval, rows, Provenance("rest", received_at, None, digest)
        )


async def fetch_funding(
    client: BingXClient, symbol: str, start: datetime, end: datetime
) -> list[tuple[datetime, Decimal]]:
    """Settlements in [start, end], paged by ``startTime`` with limit 1000 (a wider range returns
    only the first 1000 after ``startTime``)."""
    rows = await client.funding_rates_between(symbol, start_ms=to_ms(start), end_ms=to_ms(end))
    return [(from_ms(row.funding_time_ms), row.funding_rate) for row in rows]


async def backfill_funding(
    client: BingXClient,
    writer: Writer,
    key: MarketKey,
    start: datetime,
    end: datetime,
    *,
    received_at: datetime,
) -> UpsertCounts:
    rows = await fetch_funding(client, key.symbol, start, end)
    digest = _page_hash([[to_ms(time), canonical_decimal(rate)] for time, rate in rows])
    async with writer.transaction() as connection:
        return await upsert_funding_rates(
            connection, key, rows, Provenance("rest", received_at, None, digest)
        )


@dataclass
class HistoryReport:
    """What ``backfill_history`` wrote, per stream (``candles/<interval>``, ``markPrice/1m``, ``funding``)."""

    counts: dict[str, UpsertCounts] = field(default_factory=dict)
    resumed_from: dict[str, datetime] = field(default_factory=dict)


async def _latest(engine: AsyncEngine, key: MarketKey, column: Any, *conditions: Any) -> datetime | None:
    """The newest ``column`` value stored for ``key`` (where ``conditions`` hold), or None."""
    table = column.table
    query = select(func.max(column)).where(
        table.c.market == key.market, table.c.symbol == key.symbol, *conditions
    )
    async with engine.connect() as connection:
        latest: datetime | None = (await connection.execute(query)).scalar_one()
    return latest


async def last_confirmed_open(engine: AsyncEngine, key: MarketKey, interval: str) -> datetime | None:
    confirmed = [candles.c.interval == interval, candles.c.confirmed.is_(True)]
    return await _latest(engine, key, candles.c.open_time, *confirmed)


async def backfill_history(
    client: BingXClient,
    writer: Writer,
    engine: AsyncEngine,
    key: MarketKey,
    *,
    intervals: list[str],
    start: datetime,
    now: datetime,
) -> HistoryReport:
    """An Instrument's history from its declared start (``spec.backfillFrom``) up to ``now``: candles
    per interval, 1m mark candles and funding. Candles resume at the last confirmed bar stored, so a
    restarted ingestor does not re-read years of history; holes behind it are the gap scanner's."""
    report = HistoryReport()
    now_ms = to_ms(now)
    for interval in intervals:
        latest = await last_confirmed_open(engine, key, interval)
        begin = max(start, latest) if latest is not None else start
        report.resumed_from[interval] = begin
        report.counts[f"klines/{interval}"] = await backfill_candles(
            client, writer, key, interval, start=begin, end=now, received_at=now, now_ms=now_ms
        )
    # mark candles and funding resume at the newest stored one too (re-read once: it may have moved)
    mark = await _latest(engine, key, mark_candles.c.open_time, mark_candles.c.interval == MARK_INTERVAL)
    begin = max(start, mark) if mark is not None else start
    report.resumed_from[f"markPrice/{MARK_INTERVAL}"] = begin
    report.counts[f"markPrice/{MARK_INTERVAL}"] = await backfill_mark_candles(
        client, writer, key, MARK_INTERVAL, start=begin, end=now, received_at=now, now_ms=now_ms
    )
    funding = await _latest(engine, key, funding_rates.c.funding_time)
    begin = max(start, funding) if funding is not None else start
    report.resumed_from["funding"] = begin
    report.counts["funding"] = await backfill_funding(client, writer, key, begin, now, received_at=now)
    return report
