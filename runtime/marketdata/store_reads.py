"""Market-data reads, content checksums and retention.

``table_checksum`` hashes every column of one instrument's rows in primary-key order with a
canonical, type-tagged encoding computed here (not PostgreSQL's text output, which depends on
session settings such as TimeZone), so two replays can be proven byte-identical.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Table, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradeplane.runtime.marketdata.depth_book import Book, BookNotSynced, replay_book, stored_levels
from tradeplane.runtime.marketdata.rows import Candle, Revision, TradeRow
from tradeplane.runtime.marketdata.tables import (
    METADATA,
    MarketKey,
    candle_revisions,
    candles,
    depth_updates,
    funding_rates,
    mark_prices,
    raw_journal,
    trades,
)


def _candle(row: Any) -> Candle:
    return Candle(
        row.open_time,
        row.open,
        row.high,
        row.low,
        row.close,
        row.volume,
        row.closed,
        row.confirmed,
        row.exchange_time,
    )


def _of(table: Table, key: MarketKey) -> list[Any]:
    return [table.c.market == key.market, table.c.symbol == key.symbol]


async def _all(engine: AsyncEngine, query: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list(await connection.execute(query))


async def candle_open_times(
    engine: AsyncEngine,
    key: MarketKey,
    interval: str,
    start: datetime,
    end: datetime,
    *,
    confirmed_only: bool = False,
) -> list[datetime]:
    """Open times stored in ``[start, end]`` (inclusive), ascending; the grid's gaps are the rest."""
    query = select(candles.c.open_time).where(
        *_of(candles, key), candles.c.interval == interval, candles.c.open_time.between(start, end)
    )
    if confirmed_only:
        query = query.where(candles.c.confirmed)
    return [row.open_time for row in await _all(engine, query.order_by(candles.c.open_time))]


async def candles_between(
    engine: AsyncEngine, key: MarketKey, interval: str, start: datetime, end: datetime
) -> list[Candle]:
    """Stored candles with ``start <= open_time <= end``, ascending."""
    query = select(candles).where(
        *_of(candles, key), candles.c.interval == interval, candles.c.open_time.between(start, end)
    )
    return [_candle(row) for row in await _all(engine, query.order_by(candles.c.open_time))]


async def last_closed_candle(engine: AsyncEngine, key: MarketKey, interval: str) -> Candle | None:
    """The latest closed candle (confirmed or not), where an ingestor resumes."""
    query = (
        select(candles)
        .where(*_of(candles, key), candles.c.interval == interval, candles.c.closed)
        .order_by(candles.c.open_time.desc())
        .limit(1)
    )
    rows = await _all(engine, query)
    return _candle(rows[0]) if rows else None


async def funding_times(
    engine: AsyncEngine, key: MarketKey, start: datetime, end: datetime
) -> list[datetime]:
    """Funding settlement times stored in ``[start, end]``, ascending."""
    return [time for time, _ in await funding_rates_between(engine, key, start, end)]


async def funding_rates_between(
    engine: AsyncEngine, key: MarketKey, start: datetime, end: datetime
) -> list[tuple[datetime, Decimal]]:
    """(funding_time, rate) stored in ``[start, end]``, ascending."""
    query = (
        select(funding_rates.c.funding_time, funding_rates.c.rate)
        .where(*_of(funding_rates, key), funding_rates.c.funding_time.between(start, end))
        .order_by(funding_rates.c.funding_time)
    )
    return [(row.funding_time, row.rate) for row in await _all(engine, query)]


async def mark_prices_between(
    engine: AsyncEngine, key: MarketKey, start: datetime, end: datetime
) -> list[tuple[datetime, Decimal]]:
    """(time, mark price) stored in ``[start, end]``, ascending."""
    query = (
        select(mark_prices.c.time, mark_prices.c.price)
        .where(*_of(mark_prices, key), mark_prices.c.time.between(start, end))
        .order_by(mark_prices.c.time)
    )
    return [(row.time, row.price) for row in await _all(engine, query)]


async def trades_between(
    engine: AsyncEngine, key: MarketKey, start: datetime, end: datetime
) -> list[TradeRow]:
    """Trades stored in ``[start, end]``, ordered by time then trade key."""
    query = (
        select(trades)
        .where(*_of(trades, key), trades.c.time.between(start, end))
        .order_by(trades.c.time, trades.c.trade_key)
    )
    return [
        TradeRow(row.time, row.trade_key, row.price, row.quantity, row.buyer_is_maker, row.trade_id)
        for row in await _all(engine, query)
    ]


async def depth_book(engine: AsyncEngine, key: MarketKey, at: datetime) -> Book:
    """The order book as of ``at``, replayed from the newest stored snapshot at or before it and the
    updates after it; BookNotSynced when the stored run has a hole or there is no snapshot (the
    ingestor stores nothing while unsynced, so a hole means data is missing, not late)."""
    table = depth_updates
    snapshot = (
        select(table.c.exchange_time, table.c.update_id)
        .where(*_of(table, key), table.c.action == "all", table.c.exchange_time <= at)
        .order_by(table.c.exchange_time.desc(), table.c.update_id.desc())
        .limit(1)
    )
    async with engine.connect() as connection:
        start = (await connection.execute(snapshot)).one_or_none()
        if start is None:
            raise BookNotSynced(f"no incrDepth snapshot of {key} at or before {at.isoformat()}")
        rows = await connection.execute(
            select(table.c.action, table.c.update_id, table.c.frame)
            .where(*_of(table, key), table.c.update_id >= start.update_id, table.c.exchange_time <= at)
            .order_by(table.c.update_id)
        )
        return replay_book((row.action, row.update_id, *stored_levels(row.frame)) for row in rows)


async def revisions(engine: AsyncEngine, key: MarketKey, interval: str) -> list[Revision]:
    """Every recorded change of a confirmed candle, by open time then revision number."""
    query = (
        select(candle_revisions)
        .where(*_of(candle_revisions, key), candle_revisions.c.interval == interval)
        .order_by(candle_revisions.c.open_time, candle_revisions.c.revision)
    )
    return [
        Revision(row.open_time, row.revision, row.previous, row.current, row.reason, row.recorded_at)
        for row in await _all(engine, query)
    ]


def _canonical(value: object) -> object:
    """A type-tagged, session-independent encoding (``Decimal('1.50')`` stays ``1.50``)."""
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, Decimal):
        return ["d", str(value)]
    if isinstance(value, bytes):
        return ["b", value.hex()]
    return value  # str, int, bool, None and JSON documents (dict / list) as they are


def resolve_table(table: str) -> Table:
    """A market-data table by name (``market_candles`` or ``tradeplane.market_candles``)."""
    name = table if table.startswith(f"{METADATA.schema}.") else f"{METADATA.schema}.{table}"
    if name not in METADATA.tables:
        raise ValueError(f"unknown market-data table {table!r}")
    return METADATA.tables[name]


async def table_checksum(engine: AsyncEngine, table: str, key: MarketKey) -> str:
    """sha256 over every column of ``key``'s rows of ``table``, in primary-key order."""
    resolved = resolve_table(table)
    query = select(resolved).where(*_of(resolved, key)).order_by(*resolved.primary_key.columns)
    digest = hashlib.sha256()
    for row in await _all(engine, query):
        encoded = [_canonical(value) for value in row]
        digest.update(json.dumps(encoded, sort_keys=True, separators=(",", ":")).encode())
        digest.update(b"\n")
    return digest.hexdigest()


_RETAINED: dict[str, tuple[Table, Column[Any]]] = {
    raw_journal.name: (raw_journal, raw_journal.c.received_at),
    depth_updates.name: (depth_updates, depth_updates.c.exchange_time),
    trades.name: (trades, trades.c.time),
}
"""The only tables retention deletes from, with the time each is judged by."""


async def prune_older(
    connection: AsyncConnection, key: MarketKey, table: str, before: datetime, *, limit: int | None = None
) -> int:
    """Delete ``key``'s rows of ``table`` whose time is strictly before ``before``, oldest first and
    at most ``limit`` (a first prune of a large backlog is then many short transactions, not one that
    holds its locks and bloats the WAL for minutes); rows deleted. Any table but the raw journal,
    depth and trades is refused: candles, funding, marks and revisions are the datasets' source."""
    if table not in _RETAINED:
        raise ValueError(f"{table!r} is never pruned (only {', '.join(sorted(_RETAINED))})")
    resolved, column = _RETAINED[table]
    doomed = [*_of(resolved, key), column < before]
    if limit is None:
        statement = delete(resolved).where(*doomed)
    else:
        keys = tuple(resolved.primary_key.columns)
        oldest = select(*keys).where(*doomed).order_by(column).limit(limit)
        statement = delete(resolved).where(tuple_(*keys).in_(oldest))
    return (await connection.execute(statement)).rowcount
