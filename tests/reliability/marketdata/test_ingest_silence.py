"""A stream that goes dark while its socket stays open (every data frame dropped, Pings still answered)
is noticed on the venue's clock: the ingestor replaces the connection, records the minutes it did
not see as gap events and fills them from REST while the stream is still dark; once the stream is
back, the stored closed bars equal the simulator's own bars exactly."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from integration.marketdata_ingest.ingestkit import truth
from reliability.marketdata.test_ingest_disconnects import BOUND_S, KEY, SYMBOL, stored
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.intervals import align, open_times
from tradeplane.runtime.marketdata.gaps import GapState, list_gaps
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingestor import Ingestor
from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

DARK_S = 150


async def advance(sim: VenueSimulator, seconds: int) -> None:
    for _ in range(seconds):
        await sim.clock.advance(1000)


async def test_a_dark_stream_is_replaced_and_its_bars_filled_from_rest_while_dark(
    engine: AsyncEngine,
) -> None:
    config = SimConfig(
        seed=5, api_key="k", api_secret="s", clock="manual", history_minutes=120, symbols=(SYMBOL,)
    )
    async with VenueSimulator(config) as sim, BingXClient(sim.rest_url) as client:
        ingest = IngestorConfig(
            market=KEY.market,
            symbol=KEY.symbol,
            rest_url=sim.rest_url,
            ws_url=sim.ws_url,
            lookback=timedelta(minutes=30),
            silence_check=timedelta(milliseconds=20),
        )
        metrics = IngestMetrics()
        ingestor = Ingestor(ingest, engine, client, metrics=metrics)
        stopping = asyncio.Event()
        task = asyncio.create_task(ingestor.run(stopping))
        async with asyncio.timeout(BOUND_S):
            await ingestor.wait_until(lambda i: bool(i.frontier) and i.connections >= 1)
        start_ms = sim.clock.now_ms()
        await advance(sim, 30)

        sim.faults.frames.drop_probability = 1.0  # every push dropped; the socket itself stays up
        dark_from = from_ms(sim.clock.now_ms())
        await advance(sim, DARK_S)
        dark_now = from_ms(sim.clock.now_ms())
        filled_to = align(dark_now - ingest.confirm_delay, "1m")
        async with asyncio.timeout(BOUND_S):  # still dark: only REST can have written these bars
            await ingestor.wait_until(lambda i: i.frontier.get("1m", dark_from) >= filled_to)
        assert metrics.value("tradeplane_ingest_stream_silences_total", stream="kline_1m") >= 1
        dark_minutes = open_times(align(dark_from, "1m") + timedelta(minutes=1), filled_to, "1m")
        healed = [g for g in await list_gaps(engine, state=GapState.HEALED) if g.source == "scan"]
        covered = {t for g in healed for t in open_times(g.start, g.end, "1m")}
        assert set(dark_minutes[:-1]) <= covered, "the minutes the dark stream never showed became gap events"

        sim.faults.clear()
        await advance(sim, 65)
        end_ms = sim.clock.now_ms()
        target = from_ms(end_ms - end_ms % 60_000)
        async with asyncio.timeout(BOUND_S):
            await ingestor.wait_until(lambda i: i.frontier.get("1m", target) >= target)
        stopping.set()
        await task
    expected = {t: v for t, v in truth(sim, end_ms).items() if t >= from_ms(start_ms - 1_800_000)}
    assert await stored(engine, min(expected)) == expected
