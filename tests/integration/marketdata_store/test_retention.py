"""Retention on PostgreSQL: the ingestor's prune job deletes exactly the rows older than each bound, of
its own instrument only, in fenced chunks; never a candle, mark or funding rate; a stale lease holder
deletes nothing; the loop runs on its interval and survives a failed pass.

Times are fixed: the job's clocks are injected, and the rows are written at offsets from them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from harness.postgres import fetch
from integration.marketdata_store.builders import KEY, OTHER, START, bar, depth_row, provenance
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradeplane.runtime.marketdata import lease, store
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.lease import FencedWriter, LeaseLost, PlainWriter, Writer
from tradeplane.runtime.marketdata.retention import RetentionJob, RetentionPolicy
from tradeplane.runtime.marketdata.rows import DepthRow, JournalEntry, MarkCandle, TradeRow
from tradeplane.runtime.marketdata.store_reads import prune_older

pytestmark = pytest.mark.integration

NOW = START + timedelta(days=30)
"""This process's clock in the tests (journal rows are judged by it)."""
VENUE_NOW = START + timedelta(days=20)
"""The venue's clock, deliberately not ours: depth and trades are judged by it."""
AGES = [timedelta(hours=h) for h in (1, 23, 24, 25, 200)]
"""How old each journal, depth and trade row is, against its own clock."""
POLICY = RetentionPolicy(journal=timedelta(hours=24), depth=timedelta(hours=24), trades=timedelta(hours=100))
BOUND_S = 30
TTL = timedelta(minutes=5)
KEPT_TABLES = ("market_candles", "market_candle_revisions", "market_mark_candles", "market_mark_prices",
               "market_funding_rates")  # fmt: skip


def url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


def depth(when: datetime, update_id: int) -> DepthRow:
    return depth_row(when, update_id, "update", [["2650.1", "1"]], [])


async def seed(engine: AsyncEngine) -> None:
    """For both instruments: aged journal, depth and trade rows, plus rows of every kept table that
    are far older than any bound."""
    async with PlainWriter(engine).transaction() as connection:
        for key in (KEY, OTHER):
            await store.journal_frames(
                connection, key, [JournalEntry("c", NOW - age, "t", None, b"x") for age in AGES]
            )
            await store.insert_depth_updates(
                connection, key, [depth(VENUE_NOW - age, i) for i, age in enumerate(AGES)], provenance()
            )
            aged = [
                TradeRow(VENUE_NOW - age, f"t{i}", bar(0).close, bar(0).volume, True, i)
                for i, age in enumerate(AGES)
            ]
            await store.insert_trades(connection, key, aged, provenance())
            await store.upsert_candles(connection, key, "1m", [bar(0)], provenance())
            await store.upsert_candles(connection, key, "1m", [bar(0, bump="1")], provenance(at=1))
            await store.upsert_mark_candles(
                connection, key, "1m", [MarkCandle(START, *bar(0).ohlcv()[:4])], provenance()
            )
            await store.upsert_mark_prices(connection, key, [(START, bar(0).close)], provenance())
            await store.upsert_funding_rates(connection, key, [(START, bar(0).close / 10**7)], provenance())


def ages_left(engine: AsyncEngine, table: str, column: str, clock: datetime, symbol: str) -> list[timedelta]:
    rows = fetch(
        url(engine),
        f"SELECT {column} FROM tradeplane.{table} WHERE symbol = '{symbol}' ORDER BY {column} DESC",
    )
    return [clock - row[0] for row in rows]


async def kept_checksums(engine: AsyncEngine) -> dict[str, str]:
    return {
        f"{table}/{key.symbol}": await store.table_checksum(engine, table, key)
        for table in KEPT_TABLES
        for key in (KEY, OTHER)
    }


def job(metrics: IngestMetrics | None = None, **options: Any) -> RetentionJob:
    values: dict[str, Any] = {
        "interval": timedelta(hours=1),
        "clock": lambda: NOW,
        "venue_clock": lambda: VENUE_NOW,
    }
    return RetentionJob(KEY, POLICY, metrics or IngestMetrics(), **(values | options))


async def leader(engine: AsyncEngine, holder: str = "me") -> FencedWriter:
    held = await lease.acquire(engine, KEY, holder, ttl=TTL)
    assert held is not None
    return FencedWriter(engine, held)


async def test_a_pass_deletes_exactly_what_is_older_than_each_bound_of_its_instrument(
    engine: AsyncEngine,
) -> None:
    await seed(engine)
    kept = await kept_checksums(engine)
    metrics = IngestMetrics()
    deleted = await job(metrics, chunk_rows=1).prune(await leader(engine))
    assert deleted == {"market_raw_journal": 2, "market_depth_updates": 2, "market_trades": 1}
    # a row exactly as old as its bound stays; the journal by our clock, depth and trades by the venue's
    hours = [timedelta(hours=h) for h in (1, 23, 24)]
    assert ages_left(engine, "market_raw_journal", "received_at", NOW, KEY.symbol) == hours
    assert ages_left(engine, "market_depth_updates", "exchange_time", VENUE_NOW, KEY.symbol) == hours
    assert ages_left(engine, "market_trades", "time", VENUE_NOW, KEY.symbol) == AGES[:4]
    for table, column, clock in (
        ("market_raw_journal", "received_at", NOW),
        ("market_depth_updates", "exchange_time", VENUE_NOW),
        ("market_trades", "time", VENUE_NOW),
    ):
        assert ages_left(engine, table, column, clock, OTHER.symbol) == AGES, f"{table}: other instrument"
    assert await kept_checksums(engine) == kept, "candles, revisions, marks and funding are never pruned"
    # one row per chunk: every chunk committed and counted once
    counted = {t: metrics.value("tradeplane_ingest_pruned_rows_total", table=t) for t in ("journal", "depth")}
    assert counted == {"journal": 2, "depth": 2}
    assert metrics.value("tradeplane_ingest_pruned_rows_total", table="trades") == 1
    assert await job(metrics).prune(await leader(engine)) == dict.fromkeys(deleted, 0), "idempotent"


async def test_unset_retentions_keep_rows_and_an_unknown_venue_clock_prunes_only_the_journal(
    engine: AsyncEngine,
) -> None:
    await seed(engine)
    forever = RetentionPolicy(journal=timedelta(hours=24), depth=None, trades=None)
    writer = await leader(engine)
    assert await job(venue_clock=lambda: None).prune(writer) == {"market_raw_journal": 2}
    unbounded = RetentionJob(KEY, forever, IngestMetrics(), interval=timedelta(hours=1), clock=lambda: NOW)
    assert await unbounded.prune(writer) == {"market_raw_journal": 0}
    assert len(ages_left(engine, "market_depth_updates", "exchange_time", VENUE_NOW, KEY.symbol)) == len(AGES)
    assert len(ages_left(engine, "market_trades", "time", VENUE_NOW, KEY.symbol)) == len(AGES)


async def test_the_kept_tables_are_refused_not_pruned(engine: AsyncEngine) -> None:
    await seed(engine)
    kept = await kept_checksums(engine)
    for table in KEPT_TABLES:
        async with PlainWriter(engine).transaction() as connection:
            with pytest.raises(ValueError, match="is never pruned"):
                await prune_older(connection, KEY, table, NOW)
    assert await kept_checksums(engine) == kept


async def test_a_stale_holder_is_refused_and_deletes_nothing(engine: AsyncEngine) -> None:
    await seed(engine)
    stale = await lease.acquire(engine, KEY, "paused", ttl=timedelta(0))  # expired by the database's clock
    assert stale is not None
    successor = await lease.acquire(engine, KEY, "successor", ttl=TTL)
    assert successor is not None and successor.token == stale.token + 1
    before = {t: await store.table_checksum(engine, t, KEY) for t in ("market_raw_journal", "market_trades")}
    metrics = IngestMetrics()
    with pytest.raises(LeaseLost, match="paused token 1 refused; now successor token 2"):
        await job(metrics).prune(FencedWriter(engine, stale))
    # the loop ends with it too, so the ingestor's leading phase ends as for a refused write
    looping = job(metrics, first_delay=timedelta(0))
    with pytest.raises(LeaseLost):
        async with asyncio.timeout(BOUND_S):
            await looping.run(FencedWriter(engine, stale))
    assert looping.failures == 0
    after = {t: await store.table_checksum(engine, t, KEY) for t in ("market_raw_journal", "market_trades")}
    assert after == before
    assert len(ages_left(engine, "market_depth_updates", "exchange_time", VENUE_NOW, KEY.symbol)) == len(AGES)
    assert metrics.value("tradeplane_ingest_pruned_rows_total", table="journal") == 0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_the_loop_prunes_every_interval_as_the_clocks_move(engine: AsyncEngine) -> None:
    await seed(engine)
    ours, venue = Clock(NOW), Clock(VENUE_NOW)
    metrics = IngestMetrics()
    looping = job(
        metrics, interval=timedelta(milliseconds=20), first_delay=timedelta(0), clock=ours, venue_clock=venue
    )
    task = asyncio.create_task(looping.run(await leader(engine)))
    try:
        async with asyncio.timeout(BOUND_S):
            await looping.wait_until(lambda j: j.passes >= 1)
        assert metrics.value("tradeplane_ingest_pruned_rows_total", table="journal") == 2
        # two hours later the 23- and 24-hour-old rows have crossed their bound; only a pass that
        # started after the move can see it, so wait for two more
        ours.now, venue.now = NOW + timedelta(hours=2), VENUE_NOW + timedelta(hours=2)
        seen = looping.passes
        async with asyncio.timeout(BOUND_S):
            await looping.wait_until(lambda j: j.passes >= seen + 2)
        assert not task.done()
    finally:
        task.cancel()
    assert ages_left(engine, "market_raw_journal", "received_at", NOW, KEY.symbol) == AGES[:1]
    assert ages_left(engine, "market_depth_updates", "exchange_time", VENUE_NOW, KEY.symbol) == AGES[:1]
    assert metrics.value("tradeplane_ingest_pruned_rows_total", table="journal") == 4
    assert looping.failures == 0


class FailingFirst:
    """A writer whose first ``failures`` transactions fail as a database restart would."""

    def __init__(self, writer: Writer, failures: int) -> None:
        self.writer = writer
        self.left = failures

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        if self.left:
            self.left -= 1
            raise ConnectionResetError("the database went away")
        async with self.writer.transaction() as connection:
            yield connection


async def test_a_failed_pass_is_retried_at_the_next_interval(engine: AsyncEngine) -> None:
    await seed(engine)
    looping = job(interval=timedelta(milliseconds=20), first_delay=timedelta(0))
    task = asyncio.create_task(looping.run(FailingFirst(await leader(engine), failures=2)))
    try:
        async with asyncio.timeout(BOUND_S):
            await looping.wait_until(lambda j: j.passes >= 1)
        assert not task.done()
    finally:
        task.cancel()
    assert looping.failures == 2
    assert len(ages_left(engine, "market_raw_journal", "received_at", NOW, KEY.symbol)) == 3


async def test_trigger_runs_a_pass_before_the_interval_ends(engine: AsyncEngine) -> None:
    await seed(engine)
    looping = job(interval=timedelta(hours=1), first_delay=timedelta(hours=1))
    task = asyncio.create_task(looping.run(await leader(engine)))
    try:
        looping.trigger()
        async with asyncio.timeout(BOUND_S):
            await looping.wait_until(lambda j: j.passes >= 1)
    finally:
        task.cancel()
    assert len(ages_left(engine, "market_raw_journal", "received_at", NOW, KEY.symbol)) == 3
