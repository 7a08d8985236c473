"""Mark candles, mark prices, funding, trades, depth, the raw journal and retention, on PostgreSQL.

Expected rows are built from the inputs and read back with raw SQL.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from harness.postgres import fetch
from integration.marketdata_store.builders import KEY, MINUTE, OTHER, START, depth_row, provenance
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.marketdata import store
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.marketdata.retention import RetentionJob, RetentionPolicy
from tradeplane.runtime.marketdata.rows import JournalEntry, MarkCandle, TradeRow, UpsertCounts

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)


def url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


def mark(minute: int, bump: str = "0") -> MarkCandle:
    price = Decimal("2650.1") + Decimal(minute) / 100 + Decimal(bump)
    return MarkCandle(START + minute * MINUTE, price, price + 1, price - 1, price)


def trade(second: int, key: str | None = None) -> TradeRow:
    return TradeRow(
        START + timedelta(seconds=second),
        key or f"t{second}",
        Decimal("2650.5") + second,
        Decimal("0.0100"),
        second % 2 == 0,
        second if key is None else None,
    )


async def test_mark_candles_update_when_changed_and_are_untouched_when_identical(engine: AsyncEngine) -> None:
    writer = PlainWriter(engine)
    async with writer.transaction() as connection:
        first = await store.upsert_mark_candles(connection, KEY, "1m", [mark(0), mark(1)], provenance(at=1))
        assert first == UpsertCounts(inserted=2)
    checksum = await store.table_checksum(engine, "market_mark_candles", KEY)
    async with writer.transaction() as connection:
        again = await store.upsert_mark_candles(connection, KEY, "1m", [mark(0), mark(1)], provenance(at=5))
        assert again == UpsertCounts(unchanged=2)
    assert await store.table_checksum(engine, "market_mark_candles", KEY) == checksum
    async with writer.transaction() as connection:
        changed = await store.upsert_mark_candles(
            connection, KEY, "1m", [mark(0, "0.2"), mark(1), mark(2)], provenance("ws", at=9)
        )
        assert changed == UpsertCounts(inserted=1, updated=1, unchanged=1)
    rows = fetch(
        url(engine), "SELECT open_time, close, source FROM tradeplane.market_mark_candles ORDER BY 1"
    )
    assert rows == [
        (mark(0).open_time, mark(0, "0.2").close, "ws"),
        (mark(1).open_time, mark(1).close, "rest"),
        (mark(2).open_time, mark(2).close, "ws"),
    ]


async def test_mark_prices_and_funding_rates(engine: AsyncEngine) -> None:
    eight = timedelta(hours=8)
    rates = [(START + i * eight, Decimal("0.0001") * (i + 1)) for i in range(3)]
    prices = [(START + i * MINUTE, Decimal("2650.25") + i) for i in range(3)]
    async with PlainWriter(engine).transaction() as connection:
        assert await store.upsert_funding_rates(connection, KEY, rates, provenance()) == UpsertCounts(3)
        assert await store.upsert_mark_prices(connection, KEY, prices, provenance("ws")) == 3
        assert await store.upsert_mark_prices(connection, OTHER, prices[:1], provenance("ws")) == 1
    async with PlainWriter(engine).transaction() as connection:
        corrected = [rates[0], (rates[1][0], Decimal("-0.0003")), rates[2]]
        counts = await store.upsert_funding_rates(connection, KEY, corrected, provenance(at=3))
        assert counts == UpsertCounts(updated=1, unchanged=2)
        assert await store.upsert_mark_prices(connection, KEY, [*prices, prices[0]], provenance("ws")) == 0
        assert await store.upsert_funding_rates(connection, KEY, [], provenance()) == UpsertCounts()
    assert await store.funding_rates_between(engine, KEY, START, START + 2 * eight) == corrected
    assert await store.funding_times(engine, KEY, START + HOUR, START + 2 * eight) == [
        rates[1][0],
        rates[2][0],
    ]
    assert await store.mark_prices_between(engine, KEY, START, START + MINUTE) == prices[:2]
    received = fetch(
        url(engine), "SELECT received_at FROM tradeplane.market_funding_rates ORDER BY funding_time"
    )
    assert [r for (r,) in received] == [
        provenance().received_at,
        provenance(at=3).received_at,
        provenance().received_at,
    ]


async def test_trades_are_inserted_once(engine: AsyncEngine) -> None:
    batch = [trade(0), trade(1), trade(1, key="syn:abc")]
    async with PlainWriter(engine).transaction() as connection:
        assert await store.insert_trades(connection, KEY, batch, provenance("ws")) == 3
    async with PlainWriter(engine).transaction() as connection:
        assert (
            await store.insert_trades(connection, KEY, [*batch, trade(2), trade(2)], provenance("rest")) == 1
        )
        assert await store.insert_trades(connection, KEY, [], provenance()) == 0
    expected = sorted([*batch, trade(2)], key=lambda t: (t.time, t.trade_key))
    assert await store.trades_between(engine, KEY, START, START + MINUTE) == expected
    sources = fetch(
        url(engine), "SELECT source, count(*) FROM tradeplane.market_trades GROUP BY 1 ORDER BY 1"
    )
    assert sources == [("rest", 1), ("ws", 3)]


async def test_depth_rows_keep_their_frame_byte_for_byte(engine: AsyncEngine) -> None:
    snapshot = depth_row(START, 100, "all", [["2650.10", "1.500"]], [["2650.2", "2"]])
    delta = depth_row(START + timedelta(milliseconds=500), 101, "update", [["2650.10", "0"]], [])
    async with PlainWriter(engine).transaction() as connection:
        assert await store.insert_depth_updates(connection, KEY, [snapshot, delta], provenance("ws")) == 2
        assert await store.insert_depth_updates(connection, KEY, [delta], provenance("ws")) == 0
        assert await store.insert_depth_updates(connection, KEY, [], provenance("ws")) == 0
    rows = fetch(
        url(engine),
        "SELECT update_id, action, frame, received_at, connection_id, payload_hash"
        " FROM tradeplane.market_depth_updates ORDER BY 1",
    )
    stamp = provenance("ws")
    assert rows == [
        (100, "all", snapshot.frame, *stamp[1:]),
        (101, "update", delta.frame, *stamp[1:]),
    ]
    bids, asks = store.depth_levels(rows[0][2])
    assert (bids, asks) == ([(Decimal("2650.10"), Decimal("1.500"))], [(Decimal("2650.2"), Decimal("2"))])
    assert str(bids[0][0]) == "2650.10", "the venue's scale is kept"
    assert store.depth_levels(rows[1][2]) == ([(Decimal("2650.10"), Decimal("0"))], [])


async def test_depth_duplicates_within_one_call_keep_the_last(engine: AsyncEngine) -> None:
    first = depth_row(START, 7, "update", [["1", "1"]], [])
    second = depth_row(START, 7, "update", [["1", "2"]], [])
    async with PlainWriter(engine).transaction() as connection:
        written = await store.insert_depth_updates(connection, KEY, [first, second], provenance("ws"))
        assert written == 1
    assert fetch(url(engine), "SELECT frame FROM tradeplane.market_depth_updates") == [(second.frame,)]


async def test_journal_keeps_frames_with_their_sha256(engine: AsyncEngine) -> None:
    frames = [b'{"dataType":"XAUT-USDT@kline_1m"}', b"\x1f\x8b\x08 gzip bytes"]
    entries = [
        JournalEntry("c1", START + i * MINUTE, "kline_1m", START, frame) for i, frame in enumerate(frames)
    ]
    async with PlainWriter(engine).transaction() as connection:
        assert await store.journal_frames(connection, KEY, [*entries, entries[0]._replace(note="dup")]) == 3
        assert await store.journal_frames(connection, KEY, []) == 0
    rows = fetch(
        url(engine),
        "SELECT connection_id, received_at, data_type, exchange_time, payload_sha256, payload, note"
        " FROM tradeplane.market_raw_journal ORDER BY id",
    )
    assert rows == [
        ("c1", START, "kline_1m", START, hashlib.sha256(frames[0]).hexdigest(), frames[0], ""),
        ("c1", START + MINUTE, "kline_1m", START, hashlib.sha256(frames[1]).hexdigest(), frames[1], ""),
        ("c1", START, "kline_1m", START, hashlib.sha256(frames[0]).hexdigest(), frames[0], "dup"),
    ]
    before = await store.table_checksum(engine, "market_raw_journal", KEY)
    fetch(
        url(engine),
        "UPDATE tradeplane.market_raw_journal SET payload = 'x'::bytea WHERE note = 'dup' RETURNING 1",
    )
    assert await store.table_checksum(engine, "market_raw_journal", KEY) != before, "payload bytes are hashed"


async def test_journal_takes_a_sha256_the_caller_already_has(engine: AsyncEngine) -> None:
    """The pipeline hashed every WS frame for its provenance; the journal stores that hash as given
    (a wrong one would be stored too: the store does not hash the frame a second time)."""
    given = JournalEntry("c1", START, "trade", None, b"frame", payload_sha256="ab" * 32)
    async with PlainWriter(engine).transaction() as connection:
        assert await store.journal_frames(connection, KEY, [given]) == 1
    assert fetch(url(engine), "SELECT payload_sha256 FROM tradeplane.market_raw_journal") == [("ab" * 32,)]


def retention(
    now: datetime,
    *,
    journal: timedelta | None = None,
    depth: timedelta | None = None,
    trades: timedelta | None = None,
) -> RetentionJob:
    """The ingestor's retention for KEY with both clocks fixed at ``now``."""
    policy = RetentionPolicy(journal, depth, trades)
    return RetentionJob(KEY, policy, IngestMetrics(), interval=timedelta(minutes=10), clock=lambda: now)


async def test_prune_deletes_only_what_is_older_than_each_bound(engine: AsyncEngine) -> None:
    now = START + timedelta(days=10)
    ages = [timedelta(days=d) for d in (1, 3, 5, 8)]  # how old each row is at ``now``
    async with PlainWriter(engine).transaction() as connection:
        for market in (KEY, OTHER):
            await store.journal_frames(
                connection, market, [JournalEntry("c", now - a, "t", None, b"x") for a in ages]
            )
            await store.insert_depth_updates(
                connection,
                market,
                [depth_row(now - a, i, "update", [], []) for i, a in enumerate(ages)],
                provenance(),
            )
            aged = [trade(0)._replace(time=now - a, trade_key=str(i)) for i, a in enumerate(ages)]
            await store.insert_trades(connection, market, aged, provenance())
    deleted = await retention(now, journal=timedelta(days=4), depth=timedelta(days=3)).prune(
        PlainWriter(engine)
    )
    assert deleted == {"market_raw_journal": 2, "market_depth_updates": 2}, "a row exactly 3 days old stays"
    counts = fetch(
        url(engine),
        "SELECT symbol, (SELECT count(*) FROM tradeplane.market_raw_journal j WHERE j.symbol = s.symbol), "
        "(SELECT count(*) FROM tradeplane.market_depth_updates d WHERE d.symbol = s.symbol), "
        "(SELECT count(*) FROM tradeplane.market_trades t WHERE t.symbol = s.symbol) "
        "FROM (VALUES ('XAUT-USDT'), ('PAXG-USDT')) AS s(symbol) ORDER BY 1",
    )
    assert counts == [("PAXG-USDT", 4, 4, 4), ("XAUT-USDT", 2, 2, 4)]
    remaining = fetch(
        url(engine),
        f"SELECT min(exchange_time) FROM tradeplane.market_depth_updates WHERE symbol = '{KEY.symbol}'",
    )
    assert remaining == [(now - timedelta(days=3),)]
    assert await retention(now).prune(PlainWriter(engine)) == {}


async def test_checksums_of_unknown_tables_and_empty_ones(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="unknown market-data table"):
        await store.table_checksum(engine, "audit_log", KEY)
    assert await store.table_checksum(engine, "market_leases", KEY) == hashlib.sha256().hexdigest()


def test_upsert_counts_add_up() -> None:
    total = UpsertCounts(1, 2, 3, 4) + UpsertCounts(10, 20, 30, 40)
    assert total == UpsertCounts(11, 22, 33, 44) and total.written == 66
    assert UpsertCounts.__add__(total, (1, 2, 3, 4)) is NotImplemented
