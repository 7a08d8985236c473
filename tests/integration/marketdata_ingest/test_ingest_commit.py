"""The ingest write path on PostgreSQL: ``commit_batch``'s bulk statements and the ``BatchCommitter``.

Expected rows are built from the batch's inputs and read back with raw SQL, every stored column
included, so the bulk statements are held to the rows the per-row statements wrote. The committer's
failure is real: its backend is terminated by ``pg_terminate_backend`` in the middle of a commit.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from harness.postgres import fetch
from integration.marketdata_store.builders import depth_row
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradeplane.runtime.marketdata import lease, store
from tradeplane.runtime.marketdata.ingest_commit import commit_batch
from tradeplane.runtime.marketdata.ingest_committer import BatchCommitter
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingest_pipeline import Batch
from tradeplane.runtime.marketdata.rows import Candle, JournalEntry, Provenance, TradeRow
from tradeplane.runtime.marketdata.tables import MarketKey

pytestmark = pytest.mark.integration

KEY = MarketKey("tests/commit", "XAUT-USDT")
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BOUND_S = 30
TTL = timedelta(minutes=5)


def url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


def ws(frame: bytes, *, at: int = 0, connection: str = "c1") -> Provenance:
    return Provenance.of("ws", frame, received_at=T0 + timedelta(seconds=at), connection_id=connection)


def batch_of(step: int, price: str = "2650.10") -> Batch:
    """One batch of every kind, with duplicates inside it; ``step`` makes later batches distinct."""
    frames = [f'{{"frame":{step},"n":{n}}}'.encode() for n in range(3)]
    p = [ws(frame, at=step * 10 + n, connection=f"c{n % 2}") for n, frame in enumerate(frames)]
    when = T0 + timedelta(minutes=step)
    trade = TradeRow(when, f"t{step}", Decimal("2650.5"), Decimal("0.0100"), True, 7 + step)
    synthetic = TradeRow(when, f"syn:{step}", Decimal("2651"), Decimal("2"), False, None)
    depth = depth_row(when, 100 + step, "all", [["2650.10", "1.500"]], [["2650.2", "2"]])
    no_asks = depth_row(when, 100 + step, "all", [["2650.10", "1.500"]], [])
    batch = Batch(frames=len(frames), exchange_time=when)
    batch.journal = [
        JournalEntry("c0", p[0].received_at, "XAUT-USDT@trade", when, frames[0]),
        JournalEntry("c1", p[1].received_at, "XAUT-USDT@incrDepth", when, frames[1], payload_sha256=p[1][3]),
        JournalEntry("c0", p[2].received_at, "<undecodable>", None, frames[2], "refused json: x"),
    ]
    batch.trades = [(trade._replace(price=Decimal(1)), p[0]), (synthetic, p[0]), (trade, p[1])]
    batch.depth = [(no_asks, p[0]), (depth, p[2])]
    batch.marks = [(when, Decimal("1"), p[0]), (when, Decimal(price), p[1])]
    bar = Candle(when, *(Decimal("2650.25"),) * 4, Decimal("3.5"), True, False)
    batch.candles = [("1m", bar, p[2])]
    return batch


async def hold(engine: AsyncEngine, holder: str = "committer") -> lease.Lease:
    held = await lease.acquire(engine, KEY, holder, ttl=TTL)
    assert held is not None
    return held


async def commit(engine: AsyncEngine, batch: Batch, metrics: IngestMetrics | None = None) -> None:
    writer = lease.FencedWriter(engine, await hold(engine))
    async with writer.transaction() as conn:
        await commit_batch(conn, KEY, batch, metrics=metrics or IngestMetrics(), now=T0)


async def test_bulk_statements_store_every_column_and_keep_the_last_duplicate(engine: AsyncEngine) -> None:
    batch = batch_of(1)
    batch.gaps = [("1m", T0, T0 + timedelta(minutes=2))]
    metrics = IngestMetrics()
    await commit(engine, batch, metrics)
    p = [provenance for _, provenance in batch.trades]
    (trade, _), (synthetic, _) = batch.trades[2], batch.trades[1]
    assert fetch(
        url(engine),
        "SELECT market, symbol, time, trade_key, trade_id, price, quantity, buyer_is_maker, source,"
        " received_at, connection_id, payload_hash FROM tradeplane.market_trades ORDER BY trade_key",
    ) == [
        (KEY.market, KEY.symbol, *synthetic[:2], None, *synthetic[2:5], *p[1]),
        (KEY.market, KEY.symbol, *trade[:2], trade.trade_id, *trade[2:5], *p[2]),
    ], "the last of two rows with one key wins, each row with its own frame's provenance"
    depth, depth_from = batch.depth[1]
    assert fetch(
        url(engine),
        "SELECT market, symbol, exchange_time, update_id, action, frame, received_at,"
        " connection_id, payload_hash FROM tradeplane.market_depth_updates",
    ) == [(KEY.market, KEY.symbol, depth.exchange_time, depth.update_id, "all", depth.frame, *depth_from[1:])]
    when, price, mark_from = batch.marks[1]
    assert fetch(
        url(engine),
        "SELECT market, symbol, time, price, source, received_at FROM tradeplane.market_mark_prices",
    ) == [(KEY.market, KEY.symbol, when, price, "ws", mark_from.received_at)]
    journal = fetch(
        url(engine),
        "SELECT market, symbol, connection_id, received_at, data_type, exchange_time, payload_sha256,"
        " payload, note FROM tradeplane.market_raw_journal ORDER BY id",
    )
    assert journal == [
        (KEY.market, KEY.symbol, *entry[:4], hashlib.sha256(entry.payload).hexdigest(), *entry[4:6])
        for entry in batch.journal
    ]
    assert fetch(url(engine), "SELECT count(*) FROM tradeplane.market_candles") == [(1,)]
    assert fetch(url(engine), "SELECT count(*) FROM tradeplane.market_gap_events") == [(1,)]
    for table, offered in (("journal", 3), ("trades", 2), ("depth", 1), ("mark_prices", 1), ("candles", 1)):
        assert metrics.value("tradeplane_ingest_rows_total", table=table) == offered, table


async def test_replaying_a_batch_leaves_every_table_identical(engine: AsyncEngine) -> None:
    await commit(engine, batch_of(1))
    tables = ("market_trades", "market_depth_updates", "market_mark_prices", "market_candles")
    before = {table: await store.table_checksum(engine, table, KEY) for table in tables}
    replay = batch_of(1)
    replay.journal = []
    again = ws(b"again", at=99)  # a redelivery: same rows, read from another frame
    replay.trades = [(row, again) for row, _ in replay.trades]
    replay.depth = [(row, again) for row, _ in replay.depth]
    replay.marks = [(when, price, again) for when, price, _ in replay.marks]
    await commit(engine, replay)
    assert {table: await store.table_checksum(engine, table, KEY) for table in tables} == before


async def test_an_unchanged_mark_price_is_not_rewritten(engine: AsyncEngine) -> None:
    await commit(engine, batch_of(1, price="2650.10"))
    sql = "SELECT xmin::text, price, received_at FROM tradeplane.market_mark_prices"
    [(version, price, received)] = fetch(url(engine), sql)
    same = batch_of(1, price="2650.1")  # equal as a number: not a change
    same.marks = [(when, value, ws(b"later", at=500)) for when, value, _ in same.marks]
    await commit(engine, same)
    assert fetch(url(engine), sql) == [(version, price, received)], "no UPDATE touched the row"
    changed = batch_of(1, price="2651")
    changed.marks = [(when, value, ws(b"later", at=600)) for when, value, _ in changed.marks]
    await commit(engine, changed)
    [(_, now_price, now_received)] = fetch(url(engine), sql)
    assert (now_price, now_received) == (Decimal("2651"), T0 + timedelta(seconds=600))


async def test_committer_keeps_the_order_of_concurrent_submitters(engine: AsyncEngine) -> None:
    """Two coroutines (reader and sweep) submit interleaved; commits follow the submission order
    (mark prices of one time are overwritten per batch, so the stored one is the last batch's)."""
    done: list[int] = []

    async def committed(batch: Batch) -> None:
        done.append(batch.frames)

    committer = BatchCommitter(
        lease.FencedWriter(engine, await hold(engine)), KEY, IngestMetrics(), committed=committed
    )
    batches = [batch_of(1, price=str(2000 + n)) for n in range(6)]
    for n, batch in enumerate(batches):
        batch.frames = n + 1
    async with asyncio.timeout(BOUND_S), asyncio.TaskGroup() as tasks:
        for batch in batches:
            tasks.create_task(committer.submit(batch))
    async with asyncio.timeout(BOUND_S):
        await committer.drain()
    assert done == [1, 2, 3, 4, 5, 6]
    assert fetch(url(engine), "SELECT price FROM tradeplane.market_mark_prices") == [(Decimal("2005"),)]


async def test_one_commit_in_flight_and_submit_waits_only_for_the_one_before(engine: AsyncEngine) -> None:
    """Batch 1's commit is held open (its ``committed`` callback waits on a gate): ``submit`` of
    batch 1 has returned, ``submit`` of batch 2 waits, and batch 2 writes nothing until 1 is done."""
    entered, gate = asyncio.Event(), asyncio.Event()
    done: list[int] = []

    async def committed(batch: Batch) -> None:
        entered.set()
        await gate.wait()
        done.append(batch.frames)

    writer = lease.FencedWriter(engine, await hold(engine))
    committer = BatchCommitter(writer, KEY, IngestMetrics(), committed=committed)
    first, second = batch_of(1), batch_of(2)
    second.frames = 5
    async with asyncio.timeout(BOUND_S):
        await committer.submit(first)
        submitting = asyncio.create_task(committer.submit(second))
        await entered.wait()
        assert not submitting.done() and done == []
        trade_keys = "SELECT trade_key FROM tradeplane.market_trades ORDER BY 1"
        assert fetch(url(engine), trade_keys) == [("syn:1",), ("t1",)], "batch 2 waits for batch 1"
        gate.set()
        await submitting
        await committer.drain()
    assert done == [3, 5]
    assert fetch(url(engine), trade_keys) == [("syn:1",), ("syn:2",), ("t1",), ("t2",)]


class TerminatedOnce:
    """A writer whose first transaction loses its server connection (terminated by an admin) after
    the fence check passed, so the first statement of ``commit_batch`` fails for real."""

    def __init__(self, writer: lease.FencedWriter, admin: AsyncEngine) -> None:
        self.writer = writer
        self.admin = admin
        self.terminated = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.writer.transaction() as conn:
            if not self.terminated:
                pid = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
                async with self.admin.connect() as admin:  # waits until the backend has exited
                    ended = await admin.execute(
                        text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}
                    )
                    assert ended.scalar_one()
                self.terminated += 1
            yield conn


async def test_committer_retries_a_commit_whose_connection_was_terminated(engine: AsyncEngine) -> None:
    writer = TerminatedOnce(lease.FencedWriter(engine, await hold(engine)), engine)
    done: list[int] = []

    async def committed(batch: Batch) -> None:
        done.append(batch.frames)

    committer = BatchCommitter(writer, KEY, IngestMetrics(), committed=committed, retry_s=0.01)
    first, second = batch_of(1), batch_of(2)
    second.frames = 5
    async with asyncio.timeout(BOUND_S):
        await committer.submit(first)
        await committer.submit(second)
        await committer.drain()
    assert writer.terminated == 1 and committer.attempts_failed == 1
    assert done == [3, 5]
    assert fetch(url(engine), "SELECT count(*) FROM tradeplane.market_raw_journal") == [(6,)], "each once"
    assert fetch(url(engine), "SELECT count(*) FROM tradeplane.market_trades") == [(4,)]


async def test_a_stale_lease_raises_lease_lost_through_the_committer(engine: AsyncEngine) -> None:
    stale = await hold(engine, "old")
    await lease.release(engine, stale)
    assert await lease.acquire(engine, KEY, "new", ttl=TTL) is not None
    committer = BatchCommitter(lease.FencedWriter(engine, stale), KEY, IngestMetrics())
    watching = asyncio.create_task(committer.watch())
    await committer.submit(batch_of(1))
    async with asyncio.timeout(BOUND_S):
        with pytest.raises(lease.LeaseLost, match="old token 1 refused"):
            await committer.drain()
        with pytest.raises(lease.LeaseLost):
            await watching
        with pytest.raises(lease.LeaseLost):
            await committer.submit(batch_of(2))  # nothing commits after a refused batch
        await committer.close()
    assert fetch(url(engine), "SELECT count(*) FROM tradeplane.market_raw_journal") == [(0,)]
