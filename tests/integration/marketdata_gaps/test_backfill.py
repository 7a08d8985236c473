"""REST backfill against the simulator's ground truth: funding paged past 1000 settlements and
idempotent, 1m mark-price bars, an Instrument's history resumed where it stopped, and the
``tradeplane gaps`` table read from DATABASE_URL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from integration.marketdata_gaps.gapkit import KEY, SYMBOL, sim_now
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from tradeplane.cli import app
from tradeplane.runtime.marketdata.backfill import backfill_funding, backfill_history, backfill_mark_candles
from tradeplane.runtime.marketdata.gaps import GapState, record_gap
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.marketdata.store import funding_rates_between, table_checksum
from tradeplane.runtime.marketdata.tables import MarketKey, mark_candles
from tradeplane.runtime.millis import from_ms, to_ms
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.sim.server import VenueSimulator

pytestmark = pytest.mark.integration

MINUTE = timedelta(minutes=1)


async def test_funding_is_paged_past_the_limit_and_a_replay_changes_nothing(
    sim: VenueSimulator, client: BingXClient, engine: AsyncEngine, writer: PlainWriter
) -> None:
    now = sim_now(sim)
    start = now - timedelta(days=400)
    market = sim.market[SYMBOL]
    interval = market.funding_interval_ms
    first = -(-to_ms(start) // interval) * interval
    expected = [(from_ms(t), market.funding_rate(t)) for t in range(first, to_ms(now) + 1, interval)]
    assert len(expected) > 1000  # more than one page of the venue's limit
    counts = await backfill_funding(client, writer, KEY, start=start, end=now, received_at=now)
    assert counts.inserted == len(expected)
    assert await funding_rates_between(engine, KEY, start, now) == expected
    checksum = await table_checksum(engine, "market_funding_rates", KEY)
    replay = await backfill_funding(client, writer, KEY, start=start, end=now, received_at=now + MINUTE)
    assert (replay.unchanged, replay.written) == (len(expected), 0)
    assert await table_checksum(engine, "market_funding_rates", KEY) == checksum


async def test_mark_candles_and_history_resume_where_the_store_stopped(
    sim: VenueSimulator, client: BingXClient, engine: AsyncEngine, writer: PlainWriter
) -> None:
    now = sim_now(sim)
    start = now - 90 * MINUTE
    counts = await backfill_mark_candles(
        client, writer, KEY, "1m", start=start, end=now, received_at=now, now_ms=sim.clock.now_ms()
    )
    assert counts.inserted == 90
    market = sim.market[SYMBOL]
    expected = [
        (
            from_ms(b.open_time),
            *map(market.price_decimal, (b.mark_open, b.mark_high, b.mark_low, b.mark_close)),
        )
        for b in market.bars
        if to_ms(start) <= b.open_time < to_ms(now)
    ]
    async with engine.connect() as conn:
        rows = await conn.execute(
            mark_candles.select().where(mark_candles.c.symbol == SYMBOL).order_by(mark_candles.c.open_time)
        )
        stored = [(r.open_time, r.open, r.high, r.low, r.close) for r in rows]
    assert stored == expected

    report = await backfill_history(
        client, writer, engine, KEY, intervals=["1m", "15m"], start=start, now=now
    )
    # candles start at the declared start (none stored yet); mark candles resume at the newest stored one
    last_mark = now - MINUTE
    assert {k: v for k, v in report.resumed_from.items() if k != "funding"} == {
        "1m": start, "15m": start, "markPrice/1m": last_mark,
    }  # fmt: skip
    assert report.counts["klines/1m"].inserted == 90
    assert report.counts["klines/15m"].inserted == 6
    assert report.counts["markPrice/1m"].unchanged == 1  # the newest mark candle, re-read once
    await sim.clock.advance(10 * 60_000)
    later = sim_now(sim)
    again = await backfill_history(client, writer, engine, KEY, intervals=["1m"], start=start, now=later)
    assert again.resumed_from["1m"] == now - MINUTE  # the last confirmed bar, re-read once
    assert again.resumed_from["markPrice/1m"] == last_mark
    assert again.counts["klines/1m"].inserted == 10 and again.counts["klines/1m"].unchanged == 1
    assert (again.counts["markPrice/1m"].inserted, again.counts["markPrice/1m"].unchanged) == (10, 1)
    # funding resumes at the newest stored settlement: the second pass re-reads only that one
    assert report.resumed_from["funding"] == start  # nothing stored before the first pass
    assert start < again.resumed_from["funding"] <= later
    assert again.counts["funding"].unchanged == 1


async def test_the_gaps_command_prints_the_table_from_database_url(
    engine: AsyncEngine, writer: PlainWriter, migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", migrated)
    monkeypatch.setenv("COLUMNS", "240")
    runner = CliRunner()
    empty = runner.invoke(app, ["gaps"])
    assert (empty.exit_code, empty.output.strip()) == (0, "no gap events")
    t0 = from_ms(1_767_571_200_000)
    async with writer.transaction() as conn:
        for offset, symbol in ((0, SYMBOL), (60, "XAUT-USDT")):
            await record_gap(
                conn, MarketKey(KEY.market, symbol), stream="klines", interval="1m", source="ws",
                start=t0 + offset * MINUTE, end=t0 + (offset + 4) * MINUTE, missing=5, now=t0 + 120 * MINUTE,
            )  # fmt: skip
    listed = runner.invoke(app, ["gaps", "--market", KEY.market])
    assert listed.exit_code == 0, listed.output
    for text in (
        KEY.market,
        SYMBOL,
        "XAUT-USDT",
        "klines",
        "1m",
        "ws",
        "2026-01-05 00:00:00Z",
        "2026-01-05 00:04:00Z",
    ):
        assert text in listed.output
    assert "open" in listed.output
    only = runner.invoke(app, ["gaps", "--symbol", "XAUT-USDT", "--state", "open"])
    assert "XAUT-USDT" in only.output and SYMBOL not in only.output
    healed = runner.invoke(app, ["gaps", "--state", GapState.HEALED.value])
    assert healed.output.strip() == "no gap events"
    everything = runner.invoke(app, ["gaps", "--all", "--market", "other/venue"])
    assert everything.output.strip() == "no gap events"
