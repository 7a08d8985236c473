"""MarketStream raw mode against the in-process venue simulator: frames as received (hash of the wire
bytes), heartbeats and acks handled inside, a Reconnected marker after a dropped connection, and the
raw frames through decode_frame + DepthSequencer rebuild the simulator's own book."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from websockets.asyncio.server import ServerConnection, serve

from tradeplane.runtime.marketdata.depth_book import replay_book
from tradeplane.runtime.marketdata.frames import decode_frame, parse_data
from tradeplane.runtime.marketdata.sequencing import DepthSequencer
from tradeplane.runtime.venue import depth_levels
from tradeplane.runtime.venue.payloads_market import IncrementalDepth
from tradeplane.runtime.venue.rest import RetryPolicy
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator
from tradeplane.runtime.venue.websocket import MarketStream, RawFrame, Reconnected, StreamSettings

pytestmark = pytest.mark.integration

FAST = StreamSettings(backoff=RetryPolicy(attempts=1, base_delay_s=0.01, max_delay_s=0.05), idle_timeout_s=20)
STAMP = datetime(2024, 6, 1, tzinfo=UTC)
TOPICS = ["BTC-USDT@incrDepth", "BTC-USDT@kline_1m"]


@pytest.fixture
async def sim() -> AsyncIterator[VenueSimulator]:
    config = SimConfig(seed=7, api_key="k", api_secret="s", clock="manual", history_minutes=120)
    async with VenueSimulator(config) as simulator:
        yield simulator


async def _until_kline(
    items: AsyncIterator[RawFrame | Reconnected], seen: list[RawFrame | Reconnected]
) -> None:
    """Collect up to and including the next kline frame (pushed after incrDepth in each tick)."""
    async for item in items:
        seen.append(item)
        if isinstance(item, RawFrame) and item.topic == "BTC-USDT@kline_1m":
            return


def _truth(sim: VenueSimulator) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    book = sim.market.book("BTC-USDT", 100)
    as_decimal = [[(Decimal(str(p)), Decimal(str(q))) for p, q in side] for side in (book.bids, book.asks)]
    return as_decimal[0], as_decimal[1]


async def test_raw_frames_reconnect_marker_and_book_equal_to_the_simulator(sim: VenueSimulator) -> None:
    stream = MarketStream(sim.ws_url, TOPICS, settings=FAST, seed=3, raw=True, now=lambda: STAMP)
    async with stream:
        items = stream.raw_items()
        seen: list[RawFrame | Reconnected] = []
        async with asyncio.timeout(20):
            await stream.wait_subscribed()
            for _ in range(3):
                await sim.clock.advance(1000)
                await _until_kline(items, seen)
            first_connection = stream.connection_ids[0]
            await sim.sockets.disconnect_all()
            await stream.wait_subscribed(connections_at_least=2)
            await sim.clock.advance(1000)
            await _until_kline(items, seen)

        markers = [item for item in seen if isinstance(item, Reconnected)]
        assert len(markers) == 1
        assert markers[0].shard == 0
        assert markers[0].connection_id == stream.connection_ids[0] != first_connection
        frames = [item for item in seen if isinstance(item, RawFrame)]
        assert {frame.topic for frame in frames} == set(TOPICS)
        assert all(frame.received_at == STAMP for frame in frames)
        after = seen.index(markers[0])
        assert all(
            item.connection_id == first_connection for item in seen[:after] if isinstance(item, RawFrame)
        )

        depth = DepthSequencer()
        stored: list[IncrementalDepth] = []
        for frame in frames:
            decoded = decode_frame(frame.payload)
            assert decoded.payload_hash == hashlib.sha256(frame.payload).hexdigest()
            assert decoded.kind == "data"
            event = parse_data(decoded)
            if isinstance(event, IncrementalDepth):
                step = depth.feed(event)
                assert step.status in {"applied", "duplicate"}
                stored.extend(step.applied)
        book = replay_book(
            (u.action, u.last_update_id, depth_levels.pairs(bytes(u.bids)), depth_levels.pairs(bytes(u.asks)))
            for u in stored
        )
        assert book.top(100) == _truth(sim)
        assert depth.resyncs == 0


async def test_raw_items_needs_raw_mode_and_typed_iteration_refuses_raw(sim: VenueSimulator) -> None:
    typed = MarketStream(sim.ws_url, TOPICS)
    with pytest.raises(TypeError, match="raw=True"):
        await anext(typed.raw_items())
    async with MarketStream(sim.ws_url, TOPICS, settings=FAST, raw=True) as stream:
        await stream.wait_subscribed()
        await sim.clock.advance(1000)
        with pytest.raises(TypeError, match="raw_items"):
            await anext(stream)


async def test_unreadable_frames_are_delivered_raw_and_ping_is_answered() -> None:
    pongs: asyncio.Queue[str | bytes] = asyncio.Queue()
    junk = [b"not gzip", gzip.compress(b"{broken"), gzip.compress(b"[1]")]

    async def venue(socket: ServerConnection) -> None:
        request = json.loads(await socket.recv())
        await socket.send(gzip.compress(json.dumps({"id": request["id"], "code": 0, "msg": ""}).encode()))
        await socket.send(gzip.compress(b"Ping"))
        await pongs.put(await socket.recv())
        await socket.send("Pong")
        for frame in junk:
            await socket.send(frame)
        await socket.wait_closed()

    async with serve(venue, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with MarketStream(
            f"ws://127.0.0.1:{port}", ["BTC-USDT@trade"], settings=FAST, raw=True
        ) as stream:
            async with asyncio.timeout(10):
                assert await pongs.get() == "Pong"
                items = stream.raw_items()
                received = [await anext(items) for _ in junk]
    assert [(item.topic, item.payload) for item in received if isinstance(item, RawFrame)] == [
        (None, frame) for frame in junk
    ]
