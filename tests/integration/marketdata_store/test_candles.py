"""Candle upserts against a real PostgreSQL: finality, revisions, untouched replays, races.

Expectations come from the bars the tests build and from raw SQL reads of the tables, never from
what the store returned about itself.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from integration.marketdata_store.builders import KEY, MINUTE, OTHER, START, bar, provenance
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.marketdata import store
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.marketdata.rows import Candle, UpsertCounts

pytestmark = pytest.mark.integration

ROW = "SELECT open, high, low, close, volume, closed, confirmed, source, received_at, payload_hash "


async def stored(engine: AsyncEngine, candle: Candle) -> tuple[object, ...] | None:
    async with engine.connect() as connection:
        result = await connection.execute(
            text(
                ROW + "FROM tradeplane.market_candles WHERE market = :m AND symbol = :s AND interval = '1m' "
                "AND open_time = :t"
            ),
            {"m": KEY.market, "s": KEY.symbol, "t": candle.open_time},
        )
        row = result.one_or_none()
    return None if row is None else tuple(row)


async def write(engine: AsyncEngine, candles: list[Candle], **kwargs: object) -> UpsertCounts:
    async with PlainWriter(engine).transaction() as connection:
        return await store.upsert_candles(connection, KEY, "1m", candles, provenance(**kwargs))  # type: ignore[arg-type]


async def test_insert_then_identical_replay_leaves_the_row_untouched(engine: AsyncEngine) -> None:
    first = [bar(minute) for minute in range(5)]
    assert await write(engine, first, at=1) == UpsertCounts(inserted=5)
    before = await stored(engine, first[2])
    assert before is not None
    assert before[:7] == (*first[2].ohlcv(), True, True)
    # The same values with more trailing zeros, later, from another body: numerically identical.
    padded = [c._replace(open=c.open.quantize(Decimal("0.0001"))) for c in first]
    assert await write(engine, padded, at=99, tag="other") == UpsertCounts(unchanged=5)
    assert await stored(engine, first[2]) == before, "received_at and hash are those of the first write"


async def test_unconfirmed_bars_follow_the_stream_until_closed(engine: AsyncEngine) -> None:
    live = bar(0, closed=False, confirmed=False)
    assert await write(engine, [live], source="ws") == UpsertCounts(inserted=1)
    moved = bar(0, closed=False, confirmed=False, bump="0.3")
    assert await write(engine, [moved], source="ws", at=2) == UpsertCounts(updated=1)
    assert await write(engine, [moved], source="ws", at=3) == UpsertCounts(unchanged=1)
    closed = moved._replace(closed=True)
    assert await write(engine, [closed], source="ws", at=4) == UpsertCounts(updated=1)
    stale = bar(0, closed=False, confirmed=False, bump="0.1")
    assert await write(engine, [stale], source="ws", at=5) == UpsertCounts(unchanged=1), "never reopened"
    row = await stored(engine, live)
    assert row is not None and row[:7] == (*moved.ohlcv(), True, False)
    confirmed = bar(0, bump="0.4")
    assert await write(engine, [confirmed], source="rest", at=6) == UpsertCounts(updated=1)
    row = await stored(engine, live)
    assert row is not None and row[:8] == (*confirmed.ohlcv(), True, True, "rest")
    assert await store.revisions(engine, KEY, "1m") == [], "an unconfirmed bar is replaced, not revised"


async def test_a_websocket_frame_never_overrides_a_confirmed_bar(engine: AsyncEngine) -> None:
    confirmed = bar(3)
    await write(engine, [confirmed], at=1)
    before = await stored(engine, confirmed)
    for late in (
        bar(3, closed=True, confirmed=False, bump="1"),
        bar(3, closed=False, confirmed=False, bump="2"),
    ):
        assert await write(engine, [late], source="ws", at=7) == UpsertCounts(unchanged=1)
    assert await stored(engine, confirmed) == before
    assert await store.revisions(engine, KEY, "1m") == []


async def test_a_changed_confirmed_bar_is_revised_never_silently_overwritten(engine: AsyncEngine) -> None:
    original = bar(7)
    await write(engine, [original, bar(8)], at=1, tag="page-1")
    corrected = bar(7, bump="0.05")
    counts = await write(engine, [corrected, bar(8)], at=60, tag="page-2")
    assert counts == UpsertCounts(revised=1, unchanged=1)
    again = corrected._replace(volume=corrected.volume + 1)
    assert await write(engine, [again], at=120, tag="page-3") == UpsertCounts(revised=1)

    history = await store.revisions(engine, KEY, "1m")
    assert [(r.open_time, r.revision) for r in history] == [(original.open_time, 1), (original.open_time, 2)]
    names = ("open", "high", "low", "close", "volume")
    assert history[0].previous == {
        **{n: str(v) for n, v in zip(names, original.ohlcv(), strict=True)},
        "closed": True,
        "confirmed": True,
        "source": "rest",
        "received_at": provenance(at=1).received_at.isoformat(),
        "payload_hash": provenance(tag="page-1").payload_hash,
    }
    assert history[0].current["close"] == str(corrected.close)
    assert history[0].current["payload_hash"] == provenance(tag="page-2").payload_hash
    assert history[1].previous["volume"] == str(corrected.volume)
    assert history[1].current["volume"] == str(again.volume)
    assert "volume" in history[1].reason and "open" not in history[1].reason
    assert history[1].recorded_at == provenance(at=120).received_at
    row = await stored(engine, original)
    assert row is not None and row[:5] == again.ohlcv()
    assert (await store.last_closed_candle(engine, KEY, "1m")) == bar(8)


async def test_replaying_a_day_is_byte_identical(engine: AsyncEngine) -> None:
    day = [bar(minute, price=2600 + minute // 60) for minute in range(1440)]
    assert await write(engine, day, at=1) == UpsertCounts(inserted=1440)
    checksum = await store.table_checksum(engine, "market_candles", KEY)
    for replay in range(3):
        counts = await write(engine, list(reversed(day)), at=100 + replay, tag=f"replay-{replay}")
        assert counts == UpsertCounts(unchanged=1440)
        assert await store.table_checksum(engine, "tradeplane.market_candles", KEY) == checksum
    assert await store.revisions(engine, KEY, "1m") == []
    assert await store.candles_between(engine, KEY, "1m", START, START + 1439 * MINUTE) == day
    # A different instrument's rows do not enter the checksum.
    async with PlainWriter(engine).transaction() as connection:
        await store.upsert_candles(connection, OTHER, "1m", day[:3], provenance())
    assert await store.table_checksum(engine, "market_candles", KEY) == checksum
    assert await store.table_checksum(engine, "market_candles", OTHER) != checksum


async def test_reads_of_open_times(engine: AsyncEngine) -> None:
    await write(engine, [bar(0), bar(1, confirmed=False), bar(2, closed=False, confirmed=False), bar(4)])
    times = await store.candle_open_times(engine, KEY, "1m", START, START + 4 * MINUTE)
    assert times == [START + m * MINUTE for m in (0, 1, 2, 4)]
    inner = await store.candle_open_times(engine, KEY, "1m", START + MINUTE, START + 2 * MINUTE)
    assert inner == [START + MINUTE, START + 2 * MINUTE], "bounds are inclusive"
    confirmed = await store.candle_open_times(
        engine, KEY, "1m", START, START + 4 * MINUTE, confirmed_only=True
    )
    assert confirmed == [START, START + 4 * MINUTE]
    assert await store.last_closed_candle(engine, KEY, "5m") is None
    assert await store.candle_open_times(engine, KEY, "5m", START, START + 4 * MINUTE) == []


async def test_duplicates_in_one_batch_last_wins(engine: AsyncEngine) -> None:
    first, last = bar(0, closed=False, confirmed=False), bar(0, bump="3")
    assert await write(engine, [first, bar(1), last]) == UpsertCounts(inserted=2)
    assert await store.candles_between(engine, KEY, "1m", START, START + MINUTE) == [last, bar(1)]


async def test_naive_times_are_refused(engine: AsyncEngine) -> None:
    naive = bar(0)._replace(open_time=START.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        await write(engine, [naive])


async def test_an_exchange_time_is_kept_when_a_later_frame_has_none(engine: AsyncEngine) -> None:
    stamped = bar(0, closed=False, confirmed=False)._replace(exchange_time=START + 30 * MINUTE / 60)
    await write(engine, [stamped], source="ws")
    await write(engine, [bar(0, closed=True, confirmed=False)], source="ws", at=1)
    [read] = await store.candles_between(engine, KEY, "1m", START, START)
    assert (read.closed, read.exchange_time) == (True, stamped.exchange_time)


async def _waiting_on_a_lock(engine: AsyncEngine) -> None:
    """Until some other session of this database waits on a lock (bounded poll of the server)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    for _ in range(2000):
        async with engine.connect() as connection:
            if (await connection.execute(query)).scalar_one():
                return
        await asyncio.sleep(0.005)
    raise AssertionError("the second writer never blocked")


async def test_an_insert_that_loses_a_race_is_judged_against_the_winner(engine: AsyncEngine) -> None:
    """Two writers insert the same new bar: the loser waits on the winner's uncommitted row, then
    classifies its bar against it (here: a changed confirmed bar, so a revision), never an error."""
    winner, loser = bar(5), bar(5, bump="0.5")
    async with PlainWriter(engine).transaction() as connection:
        assert await store.upsert_candles(connection, KEY, "1m", [winner], provenance()) == UpsertCounts(1)
        racing = asyncio.create_task(write(engine, [loser], at=9))
        await _waiting_on_a_lock(engine)
    assert await racing == UpsertCounts(revised=1)
    [revision] = await store.revisions(engine, KEY, "1m")
    assert (revision.previous["open"], revision.current["open"]) == (str(winner.open), str(loser.open))
