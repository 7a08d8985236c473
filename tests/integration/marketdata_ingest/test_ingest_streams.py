"""Every stream of one instrument through the ingestor on the manual-clock simulator, started just
before a funding settlement: the settlement's rate is stored once due; a run of dropped frames makes
the kline stream skip a minute (a gap event, healed from REST) and breaks the incrDepth sequence (a
resync: a new connection, a new snapshot); the bars still equal the simulator's."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from harness.postgres import fetch
from integration.marketdata_ingest.ingestkit import SYMBOL, run, stored_bars, truth

from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.venue.sim.server import DEFAULT_START_TIME_MS, SimConfig, VenueSimulator

pytestmark = pytest.mark.integration

SETTLEMENT_MS = DEFAULT_START_TIME_MS  # an 8-hour funding boundary


async def test_funding_depth_resync_and_stream_gap(migrated: str) -> None:
    config = SimConfig(
        seed=5,
        api_key="k",
        api_secret="s",
        clock="manual",
        history_minutes=120,
        symbols=(SYMBOL,),
        start_time_ms=SETTLEMENT_MS - 150_000,
    )
    async with VenueSimulator(config) as sim:
        start_ms = sim.clock.now_ms()

        async def drop_a_while(second: int) -> None:
            if second == 70:
                sim.faults.frames.drop_next = 5 * 75  # every topic for ~75 s: a whole minute skipped

        ingestor, end_ms = await run(
            migrated,
            sim,
            seconds=240,
            every_second=drop_a_while,
            depth=True,
            ready=lambda i: i.next_funding is not None,
            # the settlement's poll runs in the sweep after the bar confirmations: wait for it too
            done=lambda i: i.next_funding is None or i.next_funding > from_ms(SETTLEMENT_MS),
        )
        expected = {t: v for t, v in truth(sim, end_ms).items() if t >= from_ms(start_ms - 1_800_000)}
        settlement = sim.market.funding_between(SYMBOL, SETTLEMENT_MS - 1, SETTLEMENT_MS)
    metrics = ingestor.metrics
    assert ingestor.next_funding is None or ingestor.next_funding > from_ms(SETTLEMENT_MS)
    assert metrics.value("tradeplane_ingest_depth_resyncs_total") >= 1
    assert ingestor.connections >= 2  # the resync subscribed again on a new connection
    # ... and counted it as a reconnection, which also schedules a heal of what it missed
    assert metrics.value("tradeplane_ingest_reconnects_total") >= ingestor.connections - 1
    assert {t: v for t, v in stored_bars(migrated).items() if t >= min(expected)} == expected
    gaps = fetch(migrated, "SELECT source, state FROM tradeplane.market_gap_events WHERE source = 'ws'")
    assert gaps and {state for _source, state in gaps} == {"healed"}
    # each gap event counted once, where it was recorded and where it was healed, on the served registry
    ws_gap = {"stream": "klines", "interval": "1m", "source": "ws"}
    assert metrics.value("tradeplane_gaps_detected_total", **ws_gap) == len(gaps)
    assert metrics.value("tradeplane_gaps_healed_total", **ws_gap) == len(gaps)
    funding = fetch(
        migrated,
        "SELECT funding_time, rate FROM tradeplane.market_funding_rates ORDER BY funding_time DESC LIMIT 1",
    )
    assert [(row[0], Decimal(row[1])) for row in funding] == [(from_ms(SETTLEMENT_MS), settlement[0].rate)]
    snapshots = fetch(migrated, "SELECT count(*) FROM tradeplane.market_depth_updates WHERE action = 'all'")
    assert snapshots[0][0] >= 2  # the first subscription's and the one after the resync
    assert ingestor.frontier["1m"] >= from_ms(end_ms - end_ms % 60_000) - timedelta(0)
