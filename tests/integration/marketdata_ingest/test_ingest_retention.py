"""The leading ingestor runs retention alongside ingestion: on the manual-clock simulator it prunes its
own instrument's journal (judged by our clock) and depth (judged by the venue's) while it streams, and
leaves another instrument's rows and what it just ingested alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from harness.postgres import fetch
from integration.marketdata_ingest.ingestkit import KEY, SYMBOL, run
from integration.marketdata_store.builders import provenance
from integration.marketdata_store.test_retention import depth

from tradeplane.runtime.marketdata import store
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.marketdata.rows import JournalEntry
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.store.engine import create_engine
from tradeplane.runtime.venue.sim.server import DEFAULT_START_TIME_MS, SimConfig, VenueSimulator

pytestmark = pytest.mark.integration

OTHER = MarketKey("tests/sim", "PAXG-USDT")
VENUE_START = from_ms(DEFAULT_START_TIME_MS)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
"""Received years before any clock this test runs on: older than the 24h journal retention."""


async def seed(url: str) -> None:
    engine = create_engine(url)
    try:
        async with PlainWriter(engine).transaction() as connection:
            for key in (KEY, OTHER):
                await store.journal_frames(connection, key, [JournalEntry("old", LONG_AGO, "t", None, b"x")])
                rows = [
                    depth(VENUE_START - timedelta(hours=200), 1),
                    depth(VENUE_START - timedelta(hours=1), 2),
                ]
                await store.insert_depth_updates(connection, key, rows, provenance())
    finally:
        await engine.dispose()


def count(url: str, table: str, where: str) -> dict[str, int]:
    rows = fetch(url, f"SELECT symbol, count(*) FROM tradeplane.{table} WHERE {where} GROUP BY symbol")
    return {symbol: n for symbol, n in rows}


async def test_the_leading_ingestor_prunes_its_instrument_on_its_interval(migrated: str) -> None:
    await seed(migrated)
    config = SimConfig(seed=3, api_key="k", api_secret="s", history_minutes=60, symbols=(SYMBOL,))
    async with VenueSimulator(config) as sim:
        ingestor, _end_ms = await run(
            migrated,
            sim,
            seconds=2,
            prune_interval=timedelta(milliseconds=50),
            journal=True,
            done=lambda i: i.retention.passes >= 2,
        )
    assert ingestor.retention.failures == 0
    assert count(migrated, "market_raw_journal", "connection_id = 'old'") == {OTHER.symbol: 1}
    assert count(migrated, "market_raw_journal", "connection_id <> 'old'")[SYMBOL] > 0, "fresh frames stay"
    assert count(migrated, "market_depth_updates", "true") == {SYMBOL: 1, OTHER.symbol: 2}
    metrics = ingestor.metrics
    assert metrics.value("tradeplane_ingest_pruned_rows_total", table="journal") == 1
    assert metrics.value("tradeplane_ingest_pruned_rows_total", table="depth") == 1
    assert metrics.value("tradeplane_ingest_pruned_rows_total", table="trades") == 0, "trades: kept forever"
