"""The ingestor's raw source against the in-process venue simulator: the frames it yields, decoded by
``read_frame`` and ordered by DepthSequencer, replay into the simulator's own book, before and after a
dropped connection (whose new subscription brings a fresh ``action:"all"`` snapshot)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tradeplane.runtime.marketdata.depth_book import replay_book
from tradeplane.runtime.marketdata.frames import MarketFrame, read_frame
from tradeplane.runtime.marketdata.ingest_source import RawFrame, Reconnected, raw_frames
from tradeplane.runtime.marketdata.sequencing import DepthSequencer
from tradeplane.runtime.venue import depth_levels
from tradeplane.runtime.venue.payloads_market import IncrementalDepth
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator

pytestmark = pytest.mark.integration

TOPICS = ["BTC-USDT@incrDepth", "BTC-USDT@kline_1m"]
Item = RawFrame | Reconnected
BOUND_S = 20


@pytest.fixture
async def sim() -> AsyncIterator[VenueSimulator]:
    config = SimConfig(seed=7, api_key="k", api_secret="s", clock="manual", history_minutes=120)
    async with VenueSimulator(config) as simulator:
        yield simulator


def _truth(sim: VenueSimulator) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    book = sim.market.book("BTC-USDT", 100)
    sides = [[(Decimal(str(p)), Decimal(str(q))) for p, q in side] for side in (book.bids, book.asks)]
    return sides[0], sides[1]


async def _acknowledged(
    items: AsyncIterator[RawFrame | Reconnected], seen: list[RawFrame | Reconnected]
) -> None:
    """Until both subscriptions are acknowledged (acks arrive as ordinary frames on this source)."""
    acks = 0
    while acks < len(TOPICS):
        item = await anext(items)
        seen.append(item)
        if isinstance(item, RawFrame) and not isinstance(read_frame(item.data), MarketFrame):
            acks += 1


async def _until_kline(
    items: AsyncIterator[RawFrame | Reconnected], seen: list[RawFrame | Reconnected]
) -> None:
    """Up to and including the next kline frame (pushed after incrDepth in each tick)."""
    while True:
        item = await anext(items)
        seen.append(item)
        if isinstance(item, RawFrame):
            frame = read_frame(item.data)
            if isinstance(frame, MarketFrame) and frame.topic == "BTC-USDT@kline_1m":
                return


async def test_raw_frames_replay_into_the_simulators_book_across_a_reconnection(sim: VenueSimulator) -> None:
    items = raw_frames(sim.ws_url, TOPICS, seed=3)
    seen: list[Item] = []
    try:
        async with asyncio.timeout(BOUND_S):
            await _acknowledged(items, seen)
            for _ in range(3):
                await sim.clock.advance(1000)
                await _until_kline(items, seen)
            await sim.sockets.disconnect_all()
            while not isinstance(item := await anext(items), Reconnected):
                seen.append(item)
            seen.append(item)
            await _acknowledged(items, seen)
            await sim.clock.advance(1000)
            await _until_kline(items, seen)
    finally:
        await items.aclose()  # type: ignore[attr-defined]

    [marker] = [item for item in seen if isinstance(item, Reconnected)]
    frames = [item for item in seen if isinstance(item, RawFrame)]
    after = seen.index(marker)
    before_ids = {item.connection_id for item in seen[:after] if isinstance(item, RawFrame)}
    after_ids = {item.connection_id for item in seen[after:] if isinstance(item, RawFrame)}
    assert len(before_ids) == len(after_ids) == 1 and before_ids != after_ids == {marker.connection_id}

    depth = DepthSequencer()
    stored: list[IncrementalDepth] = []
    for raw in frames:
        frame = read_frame(raw.data)
        if isinstance(frame, MarketFrame):
            assert frame.payload_hash == hashlib.sha256(raw.data).hexdigest()  # type: ignore[arg-type]
            if isinstance(frame.event, IncrementalDepth):
                step = depth.feed(frame.event)
                assert step.status in {"applied", "duplicate"}
                stored.extend(step.applied)
    assert sum(1 for update in stored if update.action == "all") == 2  # one per subscription
    book = replay_book(
        (u.action, u.last_update_id, depth_levels.pairs(bytes(u.bids)), depth_levels.pairs(bytes(u.asks)))
        for u in stored
    )
    assert book.top(100) == _truth(sim)
    assert depth.resyncs == 0
