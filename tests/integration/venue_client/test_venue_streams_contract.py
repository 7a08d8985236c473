"""Market and user WebSocket clients against the real venue simulator (gzip, Ping/Pong, acks,
sharding, reconnect with re-subscription, listenKey expiry)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from websockets.asyncio.server import ServerConnection, serve

from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.credentials import Credentials
from tradeplane.runtime.venue.errors import SubscriptionRejected
from tradeplane.runtime.venue.order_request import OrderRequest
from tradeplane.runtime.venue.payloads_market import KlineUpdate, TradeUpdate
from tradeplane.runtime.venue.payloads_stream import ListenKeyExpired, OrderUpdate
from tradeplane.runtime.venue.rest import RetryPolicy
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator
from tradeplane.runtime.venue.userstream import UserStream
from tradeplane.runtime.venue.websocket import MarketMessage, MarketStream, StreamSettings
from tradeplane.runtime.venue.wire import OrderSide, OrderType, PositionSide

pytestmark = pytest.mark.integration

KEY = Credentials("stream-api-key", "stream-secret-key")
FAST = StreamSettings(backoff=RetryPolicy(attempts=1, base_delay_s=0.01, max_delay_s=0.05), idle_timeout_s=20)
SYMBOLS = ("BTC-USDT", "XAUT-USDT", "PAXG-USDT")
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")


@pytest.fixture
async def sim() -> AsyncIterator[VenueSimulator]:
    config = SimConfig(
        seed=7, api_key=KEY.api_key, api_secret=KEY.secret_key, clock="manual", history_minutes=120
    )
    async with VenueSimulator(config) as simulator:
        yield simulator


class FakeTime:
    """Monotonic time that only moves when slept on: rate-limit waits cost no real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def next_matching(
    stream: MarketStream, sim: VenueSimulator, topic: str, *, sentinel: str
) -> MarketMessage:
    """Advance simulated time one second at a time until ``topic`` delivers a frame. A connection pushes a
    tick's frames in topic order and ``sentinel`` (sorting last, pushed every tick) ends each tick."""
    async with asyncio.timeout(10):
        while True:
            await sim.clock.advance(1000)
            while True:
                message = await anext(stream)
                if message.topic == topic:
                    return message
                if message.topic == sentinel:
                    break


async def test_subscribe_ack_and_gzip_frames_parse(sim: VenueSimulator) -> None:
    topics = ["BTC-USDT@kline_1m", "BTC-USDT@trade", "XAUT-USDT@kline_1m"]
    async with MarketStream(sim.ws_url, topics, settings=FAST, seed=1) as stream:
        await stream.wait_subscribed()
        kline = await next_matching(stream, sim, "BTC-USDT@kline_1m", sentinel="XAUT-USDT@kline_1m")
        assert isinstance(kline.event, KlineUpdate)
        assert kline.event.bars[0].open_time_ms % 60_000 == 0
        trades = await next_matching(stream, sim, "BTC-USDT@trade", sentinel="XAUT-USDT@kline_1m")
        assert isinstance(trades.event, TradeUpdate)


async def test_topics_are_sharded_and_reconnect_resubscribes(sim: VenueSimulator) -> None:
    topics = [f"{symbol}@kline_{interval}" for symbol in SYMBOLS for interval in INTERVALS]
    settings = StreamSettings(topics_per_connection=20, backoff=FAST.backoff, idle_timeout_s=20)
    time = FakeTime()
    stream = MarketStream(
        sim.ws_url, topics, settings=settings, seed=2, clock=time.monotonic, sleep=time.sleep
    )
    async with stream:
        assert [len(shard) for shard in stream.shards] == [20, 20, 5]
        await stream.wait_subscribed(connections_at_least=3)
        # 45 subscriptions at <= 10/s need at least 3.5 s after the first burst of 10.
        assert time.now >= 3.5
        await sim.sockets.disconnect_all()
        await stream.wait_subscribed(connections_at_least=6)
        message = await next_matching(stream, sim, "PAXG-USDT@kline_1M", sentinel="PAXG-USDT@kline_1M")
        assert message.shard == 2


def test_default_sharding_keeps_200_topics_per_connection() -> None:
    topics = [f"S{i}-USDT@trade" for i in range(401)]
    stream = MarketStream("ws://127.0.0.1:1/swap-market", topics)
    assert [len(shard) for shard in stream.shards] == [200, 200, 1]


async def test_rejected_subscription_raises(sim: VenueSimulator) -> None:
    async with MarketStream(sim.ws_url, ["BTC-USDT@nonsense"], settings=FAST) as stream:
        with pytest.raises(SubscriptionRejected) as caught:
            await anext(stream)
    assert caught.value.code not in (None, 0)


async def test_ping_is_answered_with_pong() -> None:
    pong = asyncio.get_running_loop().create_future()

    async def venue(socket: ServerConnection) -> None:
        request = await socket.recv()
        assert "sub" in str(request)
        await socket.send(
            gzip.compress(
                b'{"id":"' + str(request).split('"id": "')[1].split('"')[0].encode() + b'","code":0,"msg":""}'
            )
        )
        await socket.send(gzip.compress(b"Ping"))
        pong.set_result(await socket.recv())
        await socket.wait_closed()

    async with serve(venue, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with MarketStream(f"ws://127.0.0.1:{port}", ["BTC-USDT@trade"], settings=FAST) as stream:
            await stream.wait_subscribed()
            assert await asyncio.wait_for(pong, 5) == "Pong"


async def test_user_stream_events_and_listen_key_recreated_on_expiry(sim: VenueSimulator) -> None:
    async with BingXClient(sim.rest_url, credentials=KEY) as client:
        stream = UserStream(client, sim.ws_url, backoff=FAST.backoff, seed=3)
        async with stream:
            await stream.wait_connected()
            first_key = stream.listen_key
            await client.place_order(
                OrderRequest(
                    symbol="BTC-USDT",
                    side=OrderSide.BUY,
                    position_side=PositionSide.BOTH,
                    type=OrderType.MARKET,
                    quantity=Decimal("0.001"),
                    client_order_id="user-1",
                )
            )
            async with asyncio.timeout(10):
                event = await anext(stream)
                while not isinstance(event, OrderUpdate):
                    event = await anext(stream)
            assert event.order.client_order_id == "user-1"
            sim.listen_keys.expire_now(first_key)
            await sim.clock.advance(1000)
            async with asyncio.timeout(10):
                event = await anext(stream)
                while not isinstance(event, ListenKeyExpired):
                    event = await anext(stream)
            await stream.wait_connected(2)
            assert stream.keys_created == 2
            assert stream.listen_key not in (None, first_key)


async def test_a_listen_key_the_venue_no_longer_knows_is_recreated_on_keepalive(sim: VenueSimulator) -> None:
    async with BingXClient(sim.rest_url, credentials=KEY) as client:
        stream = UserStream(client, sim.ws_url, backoff=FAST.backoff, seed=5)
        async with stream:
            await stream.wait_connected()
            first_key = stream.listen_key
            assert first_key is not None
            await client.delete_listen_key(first_key)  # the venue forgets it: the next PUT is a 404
            await stream.extend_now()
            await stream.wait_connected(2)
            assert stream.keys_created == 2
            assert stream.listen_key not in (None, first_key)
