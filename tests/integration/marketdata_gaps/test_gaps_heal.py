"""Gap detection and healing on a real PostgreSQL against the venue simulator: holes made by
deleting stored bars are found with their exact range, healed from REST to the simulator's own
bars, re-healing changes nothing, 429/5xx storms are ridden out, and a range the venue has no data
for ends unhealable with evidence after the allowed attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from integration.marketdata_gaps.gapkit import HISTORY_MINUTES, KEY, metric, sim_now, truth
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.marketdata import gaps
from tradeplane.runtime.marketdata.backfill import backfill_candles
from tradeplane.runtime.marketdata.gaps import GapMetrics, GapState
from tradeplane.runtime.marketdata.lease import PlainWriter
from tradeplane.runtime.marketdata.store import candles_between, table_checksum
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.client_market import KLINES_PATH
from tradeplane.runtime.venue.errors import RateLimited, VenueUnavailable
from tradeplane.runtime.venue.rest import RetryPolicy
from tradeplane.runtime.venue.sim.faults import RestFault
from tradeplane.runtime.venue.sim.server import VenueSimulator

pytestmark = pytest.mark.integration

MINUTE = timedelta(minutes=1)


async def _delete(engine: AsyncEngine, start: object, end: object) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "DELETE FROM tradeplane.market_candles WHERE market = :m AND symbol = :s AND interval = '1m' "
                "AND open_time BETWEEN :a AND :b"
            ),
            {"m": KEY.market, "s": KEY.symbol, "a": start, "b": end},
        )


async def test_deleted_bars_are_found_healed_to_the_venue_and_rehealing_changes_nothing(
    sim: VenueSimulator, client: BingXClient, engine: AsyncEngine, writer: PlainWriter, metrics: GapMetrics
) -> None:
    now = sim_now(sim)
    start = now - 120 * MINUTE
    filled = await backfill_candles(
        client, writer, KEY, "1m", start=start, end=now, received_at=now, now_ms=sim.clock.now_ms()
    )
    assert filled.inserted == 120  # the bar opening at ``now`` is not finished and not written
    hole = (now - 60 * MINUTE, now - 51 * MINUTE)
    await _delete(engine, *hole)
    later = now + 5 * MINUTE
    [gap] = await gaps.scan_candles(
        engine, writer, KEY, "1m", start=start, end=now - MINUTE, now=later, metrics=metrics
    )
    assert (gap.start, gap.end, gap.missing, gap.state, gap.attempts) == (*hole, 10, GapState.OPEN, 0)
    assert (gap.stream, gap.interval, gap.source, gap.detected_at) == ("klines", "1m", "scan", later)
    again = await gaps.scan_candles(
        engine, writer, KEY, "1m", start=start, end=now - MINUTE, now=later, metrics=metrics
    )
    assert [g.id for g in again] == [gap.id]  # idempotent on the range
    assert (
        metric(metrics, "tradeplane_gaps_detected_total", stream="klines", interval="1m", source="scan") == 1
    )

    healed_at = later + 30 * timedelta(seconds=1)
    healed = await gaps.heal(writer, engine, client, gap, now=healed_at, metrics=metrics)
    assert (healed.state, healed.attempts, healed.updated_at) == (GapState.HEALED, 1, healed_at)
    assert healed.evidence["expected"] == healed.evidence["venue_returned"] == 10
    assert healed.evidence["counts"]["inserted"] == 10
    stored = await candles_between(engine, KEY, "1m", start, now)
    assert [(c.open_time, c.open, c.high, c.low, c.close, c.volume) for c in stored] == truth(
        sim, start, now - MINUTE
    )
    assert all(c.closed and c.confirmed for c in stored)
    assert metric(metrics, "tradeplane_gaps_healed_total", stream="klines", interval="1m", source="scan") == 1
    assert metric(metrics, "tradeplane_gap_heal_latency_seconds_sum", stream="klines", interval="1m") == 30

    checksum = await table_checksum(engine, "market_candles", KEY)
    assert await gaps.heal(writer, engine, client, healed, now=healed_at + MINUTE) == healed
    replay = await backfill_candles(
        client,
        writer,
        KEY,
        "1m",
        start=start,
        end=now,
        received_at=healed_at + MINUTE,
        now_ms=sim.clock.now_ms(),
    )
    assert replay.unchanged == 120 and replay.written == 0
    assert await table_checksum(engine, "market_candles", KEY) == checksum
    assert await gaps.scan_candles(engine, writer, KEY, "1m", start=start, end=now - MINUTE, now=later) == []

    await _delete(engine, *hole)  # the same hole again: the healed event is reopened, attempts kept
    [reopened] = await gaps.scan_candles(
        engine, writer, KEY, "1m", start=start, end=now - MINUTE, now=healed_at + MINUTE
    )
    assert (reopened.id, reopened.state, reopened.attempts) == (gap.id, GapState.OPEN, 1)
    [result] = await gaps.heal_open(writer, engine, client, KEY, now=healed_at + 2 * MINUTE, limit=10)
    assert (result.state, result.attempts) == (GapState.HEALED, 2)


async def test_a_429_and_5xx_storm_is_ridden_out_and_a_persistent_one_counts_an_attempt(
    sim: VenueSimulator, client: BingXClient, engine: AsyncEngine, writer: PlainWriter
) -> None:
    now = sim_now(sim)
    start = now - 30 * MINUTE
    [gap] = await gaps.scan_candles(engine, writer, KEY, "1m", start=start, end=now, now=now)
    assert gap.missing == 30
    sim.faults.add(RestFault(kind="status", status=429, path=KLINES_PATH, count=1))
    sim.faults.add(RestFault(kind="status", status=503, path=KLINES_PATH, count=1))
    sim.faults.add(RestFault(kind="status", status=429, path=KLINES_PATH))  # never ends
    with pytest.raises((RateLimited, VenueUnavailable)):
        await gaps.heal(writer, engine, client, gap, now=now)
    [after] = await gaps.list_gaps(engine, market=KEY.market)
    assert (after.state, after.attempts) == (GapState.OPEN, 1)
    assert after.evidence["error"] in {"RateLimited", "VenueUnavailable"}
    sim.faults.clear()

    sim.faults.add(RestFault(kind="status", status=429, path=KLINES_PATH, count=1))
    sim.faults.add(RestFault(kind="status", status=502, path=KLINES_PATH, count=1))
    patient = BingXClient(sim.rest_url, retry=RetryPolicy(attempts=4, base_delay_s=0.001, max_delay_s=0.002))
    async with engine.begin() as conn:  # as if a predecessor died mid-attempt
        await conn.execute(text("UPDATE tradeplane.market_gap_events SET state = 'healing'"))
    async with patient:
        [healed] = await gaps.heal_open(writer, engine, patient, KEY, now=now + MINUTE)
    assert (healed.state, healed.attempts) == (GapState.HEALED, 2)
    assert sim.faults.rest == []  # both injected failures were met and retried
    stored = await candles_between(engine, KEY, "1m", start, now)
    assert [(c.open_time, c.open, c.high, c.low, c.close, c.volume) for c in stored] == truth(
        sim, start, now - MINUTE
    )


async def test_a_range_the_venue_never_had_is_unhealable_after_the_allowed_attempts(
    sim: VenueSimulator, client: BingXClient, engine: AsyncEngine, writer: PlainWriter, metrics: GapMetrics
) -> None:
    now = sim_now(sim)
    first = now - HISTORY_MINUTES * MINUTE  # the venue's oldest bar
    start, end = first - 10 * MINUTE, first + 9 * MINUTE
    [gap] = await gaps.scan_candles(engine, writer, KEY, "1m", start=start, end=end, now=now, metrics=metrics)
    assert (gap.start, gap.end, gap.missing) == (start, end, 20)
    once = await gaps.heal(writer, engine, client, gap, now=now, max_attempts=2, metrics=metrics)
    assert (once.state, once.attempts) == (GapState.OPEN, 1)
    assert once.evidence["venue_returned"] == 10 and once.evidence["still_missing"] == 10
    twice = await gaps.heal(writer, engine, client, once, now=now + MINUTE, max_attempts=2, metrics=metrics)
    assert (twice.state, twice.attempts) == (GapState.UNHEALABLE, 2)
    never = [(start + i * MINUTE).isoformat() for i in range(10)]
    assert twice.evidence["missing_open_times"] == never
    assert twice.evidence["venue_returned_open_times"] == [
        (first + i * MINUTE).isoformat() for i in range(10)
    ]
    assert twice.evidence["venue_lacks"] == 10
    assert (
        metric(metrics, "tradeplane_gaps_unhealable_total", stream="klines", interval="1m", source="scan")
        == 1
    )
    # given up: neither healed again nor reopened by a rescan
    assert await gaps.heal(writer, engine, client, twice, now=now + 2 * MINUTE) == twice
    rescanned = await gaps.scan_candles(engine, writer, KEY, "1m", start=start, end=first - MINUTE, now=now)
    assert [(g.id, g.state) for g in rescanned] == [(gap.id + 1, GapState.OPEN)]  # a new, narrower range
    assert await gaps.heal_open(writer, engine, client, KEY, now=now, limit=0) == []

    summary = await gaps.gap_summary(engine, KEY)
    assert summary == {("klines", "1m"): gaps.Summary(open=1, unhealable=1, oldest_open=start)}
    assert [g.state for g in await gaps.list_gaps(engine, state=GapState.UNHEALABLE)] == [GapState.UNHEALABLE]
    assert await gaps.list_gaps(engine, symbol="PAXG-USDT") == []
    assert len(await gaps.list_gaps(engine, since=now + MINUTE)) == 1


async def test_event_times_and_heal_latency_are_read_on_the_ingestors_clock(
    sim: VenueSimulator, client: BingXClient, engine: AsyncEngine, writer: PlainWriter, metrics: GapMetrics
) -> None:
    """The venue's clock decides which bars are finished; the ingestor's stamps the event, as it does
    the gaps the stream reports. A venue horizon behind the ingestor's clock (the confirmation delay)
    made ``updated_at`` precede ``detected_at`` and clamped the heal latency to zero."""
    now = sim_now(sim)
    start = now - 30 * MINUTE
    await backfill_candles(
        client, writer, KEY, "1m", start=start, end=now, received_at=now, now_ms=sim.clock.now_ms()
    )
    await _delete(engine, now - 20 * MINUTE, now - 18 * MINUTE)
    detected = now + timedelta(seconds=40)
    [gap] = await gaps.scan_candles(
        engine,
        writer,
        KEY,
        "1m",
        start=start,
        end=now - MINUTE,
        now=now,
        recorded_at=detected,
        metrics=metrics,
    )
    assert (gap.detected_at, gap.updated_at) == (detected, detected)
    wall = detected + timedelta(seconds=15)
    healed = await gaps.heal(writer, engine, client, gap, now=now, recorded_at=wall, metrics=metrics)
    assert (healed.state, healed.detected_at, healed.updated_at) == (GapState.HEALED, detected, wall)
    assert metric(metrics, "tradeplane_gap_heal_latency_seconds_sum", stream="klines", interval="1m") == 15
    refilled = await candles_between(engine, KEY, "1m", now - 20 * MINUTE, now - 18 * MINUTE)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT DISTINCT received_at FROM tradeplane.market_candles"
                " WHERE market = :m AND symbol = :s AND interval = '1m' AND open_time BETWEEN :a AND :b"
            ),
            {"m": KEY.market, "s": KEY.symbol, "a": now - 20 * MINUTE, "b": now - 18 * MINUTE},
        )
        assert [row[0] for row in rows] == [wall], "healed bars were received at the ingestor's time"
    assert len(refilled) == 3
