"""The code's table definitions against the migrated database, and what the application role may do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from integration.marketdata_store.builders import KEY, START, bar, depth_row, provenance
from sqlalchemy import MetaData, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from tradeplane.runtime.marketdata import lease, store
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.retention import RetentionJob, RetentionPolicy
from tradeplane.runtime.marketdata.rows import JournalEntry, MarkCandle, TradeRow
from tradeplane.runtime.marketdata.tables import METADATA

pytestmark = pytest.mark.integration


def _shape(table: object) -> dict[str, tuple[str, bool, bool]]:
    """Column name -> (type family, nullable, in primary key), comparable across reflection."""
    columns = table.columns  # type: ignore[attr-defined]
    return {
        c.name: (type(c.type).__name__.replace("TIMESTAMP", "DateTime").replace("BYTEA", "LargeBinary"),
                 bool(c.nullable), bool(c.primary_key))
        for c in columns
    }  # fmt: skip


def _family(name: str) -> str:
    return {
        "TEXT": "Text", "NUMERIC": "Numeric", "BOOLEAN": "Boolean", "BIGINT": "BigInteger",
        "INTEGER": "Integer", "JSONB": "JSONB", "DateTime": "DateTime", "LargeBinary": "LargeBinary",
    }.get(name, name)  # fmt: skip


async def test_tables_match_the_migrated_database(engine: AsyncEngine) -> None:
    reflected = MetaData(schema="tradeplane")
    async with engine.connect() as connection:
        await connection.run_sync(
            lambda sync: reflected.reflect(sync, only=[t.name for t in METADATA.tables.values()])
        )
    assert sorted(reflected.tables) == sorted(METADATA.tables)
    for name, table in METADATA.tables.items():
        database = {c: (_family(t), n, p) for c, (t, n, p) in _shape(reflected.tables[name]).items()}
        code = {c: (_family(t), n, p) for c, (t, n, p) in _shape(table).items()}
        assert sorted(code) == sorted(database), f"{name}: column names differ"  # order is irrelevant to SQL
        assert code == database, f"{name}: types, nullability or keys differ"
        timestamps = [c for c in reflected.tables[name].columns if type(c.type).__name__ == "TIMESTAMP"]
        assert all(c.type.timezone for c in timestamps), f"{name}: every time is timestamptz"  # type: ignore[attr-defined]


@pytest.fixture
async def app_engine(app_login: str) -> AsyncIterator[AsyncEngine]:
    created = create_async_engine(app_login, poolclass=NullPool)
    try:
        yield created
    finally:
        await created.dispose()


async def test_the_application_role_can_ingest(app_engine: AsyncEngine) -> None:
    held = await lease.acquire(app_engine, KEY, "app", ttl=timedelta(minutes=1))
    assert held is not None
    async with lease.FencedWriter(app_engine, held).transaction() as connection:
        await store.upsert_candles(connection, KEY, "1m", [bar(0)], provenance())
        await store.upsert_candles(connection, KEY, "1m", [bar(0, bump="1")], provenance(at=1))  # a revision
        await store.upsert_mark_candles(
            connection, KEY, "1m", [MarkCandle(START, *bar(0).ohlcv()[:4])], provenance()
        )
        await store.upsert_mark_prices(connection, KEY, [(START, bar(0).close)], provenance())
        await store.upsert_funding_rates(connection, KEY, [(START, bar(0).close / 10**7)], provenance())
        await store.insert_trades(
            connection, KEY, [TradeRow(START, "1", bar(0).close, bar(0).volume, True, 1)], provenance()
        )
        await store.insert_depth_updates(connection, KEY, [depth_row(START, 1, "all", [], [])], provenance())
        await store.journal_frames(connection, KEY, [JournalEntry("c", START, "kline_1m", None, b"{}")])
    assert len(await store.revisions(app_engine, KEY, "1m")) == 1
    await lease.renew(app_engine, held, ttl=timedelta(minutes=1))
    await lease.release(app_engine, held)
    now = START + timedelta(days=1)
    policy = RetentionPolicy(journal=timedelta(0), depth=timedelta(0), trades=timedelta(0))
    job = RetentionJob(KEY, policy, IngestMetrics(), interval=timedelta(minutes=10), clock=lambda: now)
    deleted = await job.prune(lease.PlainWriter(app_engine))
    assert deleted == {"market_raw_journal": 1, "market_depth_updates": 1, "market_trades": 1}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tradeplane.market_candle_revisions SET reason = 'edited'",
        "DELETE FROM tradeplane.market_candle_revisions",
    ],
)
async def test_the_application_role_cannot_rewrite_revisions(app_engine: AsyncEngine, statement: str) -> None:
    async with app_engine.begin() as connection:
        await store.upsert_candles(connection, KEY, "1m", [bar(0)], provenance())
        await store.upsert_candles(connection, KEY, "1m", [bar(0, bump="1")], provenance(at=1))
    with pytest.raises(DBAPIError, match="permission denied"):
        async with app_engine.begin() as connection:
            await connection.execute(text(statement))
    assert len(await store.revisions(app_engine, KEY, "1m")) == 1
