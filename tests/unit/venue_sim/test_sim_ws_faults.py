"""The simulator's WebSocket (gzip, Ping/Pong, subscriptions, incrDepth), listenKeys, faults and CLI,
driven by raw aiohttp clients as BingX's documentation describes them."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tradeplane.runtime.venue.sim.faults import RestFault
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator

pytestmark = pytest.mark.unit

KEY = "ws-key"


@pytest.fixture
async def sim() -> AsyncIterator[VenueSimulator]:
    async with VenueSimulator(SimConfig(api_key=KEY, history_minutes=60, ping_interval_s=5.0)) as simulator:
        yield simulator


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def receive(socket: aiohttp.ClientWebSocketResponse) -> Any:
    message = await asyncio.wait_for(socket.receive(), 5)
    assert message.type == aiohttp.WSMsgType.BINARY  # every frame is gzip-compressed binary
    text = gzip.decompress(message.data).decode()
    return text if text == "Ping" else json.loads(text)


async def data_frame(socket: aiohttp.ClientWebSocketResponse) -> Any:
    """The next frame that is not a Ping."""
    while (frame := await receive(socket)) == "Ping":
        pass
    return frame


async def subscribe(socket: aiohttp.ClientWebSocketResponse, topic: str, ident: str = "1") -> Any:
    await socket.send_str(json.dumps({"id": ident, "reqType": "sub", "dataType": topic}))
    return await receive(socket)


async def test_ping_pong_ack_and_kline_pushes(sim: VenueSimulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_url) as socket:
        assert await subscribe(socket, "XAUT-USDT@kline_1m", "a") == {"id": "a", "code": 0, "msg": ""}
        await sim.clock.advance(1000)
        frame = await receive(socket)
        assert frame["dataType"] == "XAUT-USDT@kline_1m" and frame["s"] == "XAUT-USDT"
        (bar,) = frame["data"]
        assert bar["T"] == sim.clock.now_ms() - sim.clock.now_ms() % 60_000  # T = bar open
        assert "closed" not in bar and bar["c"] == format(sim.market.last_price("XAUT-USDT"), "f")
        await sim.clock.advance(4000)
        frames = [await receive(socket) for _ in range(5)]
        assert frames[-1] == "Ping" and all(isinstance(f, dict) for f in frames[:-1])
        await socket.send_str("Pong")
        bad = await subscribe(socket, "XAUT-USDT@kline_7m", "b")
        assert bad["id"] == "b" and bad["code"] != 0


async def test_more_than_200_topics_is_80403(sim: VenueSimulator, session: aiohttp.ClientSession) -> None:
    topics = [
        f"{s}@{kind}"
        for s in ("XAUT-USDT", "PAXG-USDT", "BTC-USDT")
        for kind in ("trade", "markPrice", "lastPrice", "bookTicker", "incrDepth")
    ]
    topics += [
        f"{s}@depth{n}@{speed}"
        for s in ("XAUT-USDT", "PAXG-USDT", "BTC-USDT")
        for n in (5, 10, 20, 50, 100)
        for speed in ("200ms", "500ms")
    ]
    topics += [
        f"{s}@kline_{i}"
        for s in ("XAUT-USDT", "PAXG-USDT", "BTC-USDT")
        for i in ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
    ]
    topics = [t for t in topics if not t.endswith("@incrDepth")]
    async with session.ws_connect(sim.ws_url) as socket:
        acks = [await subscribe(socket, topic, str(i)) for i, topic in enumerate(topics)]
        assert all(ack["code"] == 0 for ack in acks)
        extra = [
            f"{s}@depth{n}" for s in ("XAUT-USDT", "PAXG-USDT", "BTC-USDT") for n in (5, 10, 20, 50, 100)
        ]
        acks = [await subscribe(socket, topic, f"x{i}") for i, topic in enumerate(extra)]
        assert all(ack["code"] == 0 for ack in acks)
        # BingX lists fewer than 200 distinct topics for three symbols; the cap is per socket,
        # so the remaining slots are filled directly.
        connection = next(iter(sim.sockets.connections))
        assert len(connection.topics) == len(topics) + len(extra)
        connection.topics.update(f"pad{i}" for i in range(200 - len(connection.topics)))
        over = await subscribe(socket, "BTC-USDT@incrDepth", "over")
        assert over == {"id": "over", "code": 80403, "msg": "too many topics"}


async def test_incremental_depth_is_contiguous_and_rebuilds_the_book(
    sim: VenueSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(sim.ws_url) as socket:
        assert (await subscribe(socket, "BTC-USDT@incrDepth"))["code"] == 0
        snapshot = (await receive(socket))["data"]
        assert snapshot["action"] == "all"
        bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
        asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
        last = snapshot["lastUpdateId"]
        await sim.clock.advance(5000)
        for _ in range(5):
            update = (await data_frame(socket))["data"]
            assert update["action"] == "update" and update["lastUpdateId"] == last + 1
            last = update["lastUpdateId"]
            for side, levels in ((bids, update["bids"]), (asks, update["asks"])):
                for price, quantity in levels:
                    if Decimal(quantity) == 0:
                        side.pop(Decimal(price))
                    else:
                        side[Decimal(price)] = Decimal(quantity)
        truth = sim.market.book("BTC-USDT", 100)
        assert sorted(bids.items(), reverse=True) == list(truth.bids)
        assert sorted(asks.items()) == list(truth.asks)


async def test_frame_faults_drop_duplicate_reorder_pause(
    sim: VenueSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(sim.ws_url) as socket:
        await subscribe(socket, "XAUT-USDT@lastPrice")

        async def pushes(seconds: int, count: int) -> list[int]:
            await sim.clock.advance(seconds * 1000)
            return [(await data_frame(socket))["data"]["E"] for _ in range(count)]

        start = sim.clock.now_ms()
        sim.faults.frames.drop_next = 1
        assert await pushes(2, 1) == [start + 2000]
        sim.faults.frames.duplicate_next = 1
        assert await pushes(1, 2) == [start + 3000] * 2
        sim.faults.frames.reorder_next = 1
        assert await pushes(2, 2) == [start + 5000, start + 4000]
        sim.faults.frames.paused = True
        await sim.clock.advance(3000)
        sim.faults.frames.paused = False
        assert await pushes(1, 1) == [start + 9000]


async def test_force_disconnect(sim: VenueSimulator, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(sim.ws_url) as socket:
        await subscribe(socket, "XAUT-USDT@markPrice")
        async with session.post(f"{sim.rest_url}/sim/faults", json={"disconnect": True}) as response:
            assert response.status == 200
        message = await asyncio.wait_for(socket.receive(), 5)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def test_listen_key_lifecycle_events_and_expiry(
    sim: VenueSimulator, session: aiohttp.ClientSession
) -> None:
    url = f"{sim.rest_url}/openApi/user/auth/userDataStream"
    headers = {"X-BX-APIKEY": KEY}
    async with session.post(url, headers=headers) as response:
        body = await response.json()
    assert set(body) == {"listenKey"}
    key = body["listenKey"]
    async with session.post(url, headers={"X-BX-APIKEY": "nope"}) as response:
        assert (await response.json())["code"] == 100413
    async with session.put(url, headers=headers, params={"listenKey": "unknown"}) as response:
        assert response.status == 404
    async with session.ws_connect(f"{sim.ws_url}?listenKey={key}") as socket:
        event = {"e": "ACCOUNT_UPDATE", "E": 1, "a": {"m": "DEPOSIT", "B": [], "P": []}}
        sim.publish_user_event(event)
        assert await receive(socket) == event
        await sim.clock.advance(59 * 60_000)
        async with session.put(url, headers=headers, params={"listenKey": key}) as response:
            assert response.status == 200
        await sim.clock.advance(59 * 60_000)  # 118 min after creation, 59 after the extension: still live
        assert sim.listen_keys.live(key)
        await sim.clock.advance(60_000)
        assert await data_frame(socket) == {
            "e": "listenKeyExpired",
            "E": sim.clock.now_ms(),
            "listenKey": key,
        }


async def test_expire_listen_key_fault(sim: VenueSimulator, session: aiohttp.ClientSession) -> None:
    key = sim.listen_keys.create()
    async with session.ws_connect(f"{sim.ws_url}?listenKey={key}") as socket:
        async with session.post(f"{sim.rest_url}/sim/faults", json={"expire_listen_key": key}) as response:
            assert response.status == 200
        await sim.clock.advance(1000)
        assert (await data_frame(socket))["e"] == "listenKeyExpired"
    async with session.delete(
        f"{sim.rest_url}/openApi/user/auth/userDataStream",
        headers={"X-BX-APIKEY": KEY},
        params={"listenKey": key},
    ) as response:
        assert response.status == 404


async def test_rest_faults(sim: VenueSimulator, session: aiohttp.ClientSession) -> None:
    time_url = f"{sim.rest_url}/openApi/swap/v2/server/time"
    sim.faults.add(RestFault(kind="status", path="/openApi/swap/v2/server/*", status=429, count=1))
    async with session.get(time_url) as response:
        assert response.status == 429
        assert response.headers["X-RateLimit-Requests-Remain"] == "0"
    async with session.get(time_url) as response:
        assert response.status == 200
    rules = {
        "rest": [
            {"kind": "status", "path": "*/quote/depth", "status": 503, "count": 2},
            {"kind": "reject", "path": "*/quote/ticker", "code": 80012, "count": 1},
        ]
    }
    async with session.post(f"{sim.rest_url}/sim/faults", json=rules) as response:
        assert response.status == 200
    depth = f"{sim.rest_url}/openApi/swap/v2/quote/depth?symbol=BTC-USDT"
    statuses = []
    for _ in range(3):
        async with session.get(depth) as response:
            statuses.append(response.status)
    assert statuses == [503, 503, 200]
    async with session.get(f"{sim.rest_url}/openApi/swap/v2/quote/ticker?symbol=BTC-USDT") as response:
        assert (await response.json())["code"] == 80012

    executed: list[int] = []
    sim.faults.add(RestFault(kind="after_execution", path="/openApi/user/auth/userDataStream", count=1))
    async with session.post(
        f"{sim.rest_url}/openApi/user/auth/userDataStream", headers={"X-BX-APIKEY": KEY}
    ) as response:
        assert response.status == 504
    executed.append(len(sim.listen_keys.expires))
    assert executed == [1]  # the key was created although the caller saw 504

    sim.faults.add(RestFault(kind="latency", path="/openApi/swap/v2/server/time", latency_ms=2000, count=1))
    pending = asyncio.ensure_future(session.get(time_url))
    tick = asyncio.ensure_future(sim.clock.next_tick())
    done, _ = await asyncio.wait({pending}, timeout=0.2)
    assert not done  # held on the simulated clock
    await sim.clock.advance(2000)
    response = await pending
    assert response.status == 200 and (await response.json())["data"]["serverTime"] == sim.clock.now_ms()
    response.release()
    await tick


async def test_contract_overrides_and_unlisting(sim: VenueSimulator, session: aiohttp.ClientSession) -> None:
    async with session.post(
        f"{sim.rest_url}/sim/contracts/XAUT-USDT", json={"pricePrecision": "two", "tradeMinUSDT": None}
    ) as response:
        assert response.status == 200
    async with session.get(f"{sim.rest_url}/openApi/swap/v2/quote/contracts?symbol=XAUT-USDT") as response:
        (record,) = (await response.json())["data"]
    assert record["pricePrecision"] == "two" and "tradeMinUSDT" not in record
    async with session.delete(f"{sim.rest_url}/sim/contracts/BTC-USDT") as response:
        assert response.status == 200
    async with session.get(f"{sim.rest_url}/openApi/swap/v2/quote/contracts") as response:
        assert "BTC-USDT" not in {r["symbol"] for r in (await response.json())["data"]}
    async with session.post(f"{sim.rest_url}/sim/clock", json={"advance_ms": 1500}) as response:
        assert (await response.json())["serverTime"] == sim.config.start_time_ms + 1500
    async with session.get(f"{sim.rest_url}/sim/state") as response:
        assert (await response.json())["symbols"] == ["PAXG-USDT", "XAUT-USDT"]


async def test_cli_serves_until_terminated() -> None:
    env = {**os.environ, "TRADEPLANE_VENUE_SECRET_KEY": "cli-secret", "TRADEPLANE_VENUE_API_KEY": "cli-key"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tradeplane.cli",
        "venue-sim",
        "--port",
        "0",
        "--seed",
        "7",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    assert process.stdout is not None
    try:
        ready = ""
        while "venue-sim ready" not in ready:
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert line, "the simulator exited before it was ready"
            ready = line.decode()
        assert "cli-secret" not in ready
        rest = ready.split("rest=")[1].split()[0]
        async with (
            aiohttp.ClientSession() as client,
            client.get(f"{rest}/openApi/swap/v2/server/time") as response,
        ):
            assert (await response.json())["code"] == 0
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 30) == 0
