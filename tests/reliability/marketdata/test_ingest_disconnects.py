"""The ingestor against the venue simulator under a disconnect storm and frame faults: after healing,
the stored closed 1m bars equal the simulator's own bars exactly (nothing missing, duplicated or
different). Simulated time moves only when the test advances the manual clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from integration.marketdata_ingest.ingestkit import truth
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingestor import Ingestor
from tradeplane.runtime.marketdata.tables import MarketKey, candles
from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

SYMBOL = "XAUT-USDT"
KEY = MarketKey("tests/sim", SYMBOL)
BOUND_S = 60


async def stored(engine: AsyncEngine, since: object) -> dict[object, tuple[Decimal, ...]]:
    query = select(candles).where(candles.c.market == KEY.market, candles.c.interval == "1m")
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {
        row.open_time: (row.open, row.high, row.low, row.close, row.volume)
        for row in rows
        if row.open_time >= since and row.confirmed
    }


async def run_storm(
    engine: AsyncEngine, *, minutes: int, disconnect_every_s: int, frame_faults: bool
) -> None:
    config = SimConfig(
        seed=7, api_key="k", api_secret="s", clock="manual", history_minutes=120, symbols=(SYMBOL,)
    )
    async with VenueSimulator(config) as sim, BingXClient(sim.rest_url) as client:
        ingest = IngestorConfig(
            market=KEY.market,
            symbol=KEY.symbol,
            rest_url=sim.rest_url,
            ws_url=sim.ws_url,
            lookback=timedelta(minutes=30),
            confirm_delay=timedelta(seconds=2),
        )
        ingestor = Ingestor(ingest, engine, client)
        stopping = asyncio.Event()
        task = asyncio.create_task(ingestor.run(stopping))
        async with asyncio.timeout(BOUND_S):
            await ingestor.wait_until(lambda i: bool(i.frontier) and i.connections >= 1)
        if frame_faults:
            sim.faults.frames.drop_probability = 0.05
            sim.faults.frames.duplicate_probability = 0.05
            sim.faults.frames.reorder_probability = 0.05
        start_ms = sim.clock.now_ms()
        disconnects = 0
        for second in range(1, minutes * 60 + 1):
            await sim.clock.advance(1000)
            if second % disconnect_every_s == 0:
                seen = ingestor.connections
                await sim.sockets.disconnect_all()
                disconnects += 1
                async with asyncio.timeout(BOUND_S):
                    await ingestor.wait_until(lambda i, seen=seen: i.connections > seen)
        sim.faults.clear()
        await sim.clock.advance(5000)
        end_ms = sim.clock.now_ms()
        target = from_ms(end_ms - end_ms % 60_000)
        async with asyncio.timeout(BOUND_S):
            await ingestor.wait_until(lambda i: i.frontier.get("1m", target) >= target)
        stopping.set()
        await task
        expected = {t: v for t, v in truth(sim, end_ms).items() if t >= from_ms(start_ms - 1_800_000)}
        got = await stored(engine, min(expected))
        assert disconnects >= minutes * 60 // disconnect_every_s
        assert got == expected


async def test_disconnect_storm_heals_to_ground_truth(engine: AsyncEngine) -> None:
    # 50 forced disconnects over 2 simulated hours
    await run_storm(engine, minutes=120, disconnect_every_s=144, frame_faults=False)


async def test_dropped_duplicated_reordered_frames_heal_to_ground_truth(engine: AsyncEngine) -> None:
    await run_storm(engine, minutes=3, disconnect_every_s=10_000, frame_faults=True)
