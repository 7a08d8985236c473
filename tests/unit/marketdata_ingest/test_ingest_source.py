"""The ingestor's raw WebSocket source against small local websockets servers: bytes as sent, Ping
answered inside, a Reconnected marker after a lost connection, a silent socket replaced, and a refused
connection retried with backoff until a server appears."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs
from websockets.asyncio.server import ServerConnection, serve

from tradeplane.runtime.marketdata.ingest_source import RawFrame, Reconnected, _is_ping, raw_frames

pytestmark = pytest.mark.unit

BOUND_S = 20


def test_heartbeat_recognition() -> None:
    assert _is_ping(gzip.compress(b"Ping"))
    assert _is_ping(" Ping\n")
    assert not _is_ping("Pong")
    assert not _is_ping(b"\x00not gzip")
    assert not _is_ping(gzip.compress(b"Ping" + b" " * 200, compresslevel=0))  # too large to be one


async def take(items: AsyncIterator[RawFrame | Reconnected], count: int) -> list[RawFrame | Reconnected]:
    got: list[RawFrame | Reconnected] = []
    async with asyncio.timeout(BOUND_S):
        while len(got) < count:
            got.append(await anext(items))
    return got


async def test_frames_as_sent_pong_and_reconnection_marker() -> None:
    connections: list[list[str]] = []
    pongs: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        subscribed = [str(await ws.recv()) for _ in range(2)]
        connections.append(subscribed)
        await ws.send(gzip.compress(b"Ping"))
        pongs.append(str(await ws.recv()))
        await ws.send(b"\x01binary")
        await ws.send("text")
        if len(connections) == 1:
            await ws.close()
        else:
            await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        items = raw_frames(f"ws://127.0.0.1:{port}", ["A-USDT@trade", "A-USDT@kline_1m"], seed=3)
        first, second, marker, third = await take(items, 4)
        await items.aclose()  # type: ignore[attr-defined]
    assert isinstance(first, RawFrame) and first.data == b"\x01binary"
    assert isinstance(second, RawFrame) and second.data == "text"
    assert first.connection_id == second.connection_id and first.received_at.tzinfo is not None
    assert isinstance(marker, Reconnected) and marker.connection_id != first.connection_id
    assert isinstance(third, RawFrame) and third.connection_id == marker.connection_id
    assert pongs == ["Pong", "Pong"]
    assert all('"reqType": "sub"' in message for message in connections[0])
    assert ['"A-USDT@trade"' in m for m in connections[0]] == [True, False]


async def test_a_silent_socket_is_replaced() -> None:
    served = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal served
        served += 1
        if served == 1:
            await ws.send("hello")
        await ws.send(f"connection {served}")
        await ws.wait_closed()  # then silence: the client must give up on it

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        items = raw_frames(f"ws://127.0.0.1:{port}", [], idle_timeout_s=0.3, max_backoff_s=0.05)
        got = await take(items, 4)
        await items.aclose()  # type: ignore[attr-defined]
    assert [type(item).__name__ for item in got] == ["RawFrame", "RawFrame", "Reconnected", "RawFrame"]
    data = [item.data for item in got if isinstance(item, RawFrame)]
    assert data == ["hello", "connection 1", "connection 2"]


async def test_refused_connections_are_retried_until_a_server_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def handler(ws: ServerConnection) -> None:
        await ws.send("up")
        await ws.wait_closed()

    refused = asyncio.Event()

    def watch(_logger: object, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        if event["event"] == "ingest.ws.failed":
            refused.set()
        return event

    items = raw_frames(f"ws://127.0.0.1:{port}", [], max_backoff_s=0.05)
    with capture_logs(processors=[watch]):
        first = asyncio.ensure_future(anext(items))
        async with asyncio.timeout(BOUND_S):
            await refused.wait()
        async with serve(handler, "127.0.0.1", port):
            async with asyncio.timeout(BOUND_S):
                item = await first
            await items.aclose()  # type: ignore[attr-defined]
    assert isinstance(item, RawFrame) and item.data == "up"
