"""The BingX market-data WebSocket: gzip frames, Ping/Pong, acknowledged subscriptions, sharding
across connections (at most 200 topics each), reconnect with jittered backoff and an idle watchdog.

A reconnect re-subscribes every topic of the shard; frames pushed while a socket was down are lost,
so consumers heal gaps from REST (klines, historical trades) or wait for a fresh ``incrDepth``
``action:"all"``. Subscription acks are awaited; a ``code != 0`` ack ends the stream with
SubscriptionRejected, because retrying a topic the venue refuses would loop forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import structlog
from websockets.asyncio.client import ClientConnection, connect

from tradeplane.runtime.venue.errors import PayloadError, SubscriptionRejected
from tradeplane.runtime.venue.payloads_market import MarketEvent, parse_market
from tradeplane.runtime.venue.ratelimit import AsyncSleep, Budget, MonotonicClock, SlidingWindow
from tradeplane.runtime.venue.rest import RetryPolicy, loads

log = structlog.get_logger(__name__)

PRODUCTION_WS_URL = "wss://open-api-swap.bingx.com/swap-market"
MAX_TOPICS_PER_CONNECTION = 200


@dataclass(frozen=True)
class StreamSettings:
    topics_per_connection: int = MAX_TOPICS_PER_CONNECTION
    subscriptions_per_second: int = 10
    idle_timeout_s: float = 30.0
    ack_timeout_s: float = 10.0
    backoff: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(attempts=1, base_delay_s=0.5, max_delay_s=30.0)
    )
    queue_size: int = 10_000
    close_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.topics_per_connection <= MAX_TOPICS_PER_CONNECTION:
            raise ValueError(f"topics_per_connection must be in 1..{MAX_TOPICS_PER_CONNECTION}")


@dataclass(frozen=True)
class MarketMessage:
    topic: str
    event: MarketEvent
    shard: int


def decode(message: str | bytes) -> str:
    """Every BingX frame is gzip; tolerate an uncompressed text frame."""
    if isinstance(message, bytes):
        return gzip.decompress(message).decode()
    return message


class PingPong:
    """Shared frame handling of the market and user sockets: answer ``Ping``, return JSON otherwise."""

    @staticmethod
    async def read(socket: ClientConnection, idle_timeout_s: float) -> dict[str, Any] | None:
        """The next JSON object, or None for a heartbeat; TimeoutError when the socket went quiet."""
        async with asyncio.timeout(idle_timeout_s):
            raw = await socket.recv()
        text = decode(raw).strip()
        if text == "Ping":
            await socket.send("Pong")
            return None
        if text == "Pong":
            return None
        body = loads(text)
        if not isinstance(body, dict):
            raise PayloadError("expected a JSON object", field="<frame>")
        return body


class MarketStream:
    """``async with MarketStream(url, topics) as stream: async for message in stream: ...``"""

    def __init__(
        self,
        ws_url: str,
        topics: Iterable[str],
        *,
        settings: StreamSettings | None = None,
        seed: int = 0,
        clock: MonotonicClock = time.monotonic,
        sleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        self.ws_url = ws_url
        self.topics = list(dict.fromkeys(topics))
        if not self.topics or any("@" not in topic for topic in self.topics):
            raise ValueError("topics must be non-empty, each like BTC-USDT@kline_1m")
        self.settings = settings or StreamSettings()
        per = self.settings.topics_per_connection
        self.shards = [self.topics[i : i + per] for i in range(0, len(self.topics), per)]
        self._rng = random.Random(seed)  # noqa: S311 - backoff jitter
        self._clock = clock
        self._sleep = sleep
        self._subscribe_window = SlidingWindow(Budget(self.settings.subscriptions_per_second, 1.0))
        self._queue: asyncio.Queue[MarketMessage | BaseException] = asyncio.Queue(self.settings.queue_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._sockets: dict[int, ClientConnection] = {}
        self.connections_opened = 0
        self.connection_ids: dict[int, str] = {}
        self.subscribed: dict[int, set[str]] = {}
        self.subscribed_changed = asyncio.Condition()

    async def __aenter__(self) -> Self:
        self._tasks = [asyncio.create_task(self._run_shard(index)) for index in range(len(self.shards))]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop every shard: close the sockets first so no shard waits out a close handshake."""
        await self.drop_connections()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def __aiter__(self) -> AsyncIterator[MarketMessage]:
        return self

    async def __anext__(self) -> MarketMessage:
        """The next parsed message; a failure that ended the stream (SubscriptionRejected) is raised."""
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    async def wait_subscribed(self, *, connections_at_least: int = 1) -> None:
        """Until every shard has every topic acknowledged on a connection counted at least this far."""
        async with self.subscribed_changed:
            await self.subscribed_changed.wait_for(
                lambda: (
                    self.connections_opened >= connections_at_least
                    and all(self.subscribed.get(i) == set(shard) for i, shard in enumerate(self.shards))
                )
            )

    async def drop_connections(self) -> None:
        """Close every socket (as a network failure would); shards reconnect on their own."""
        for socket in list(self._sockets.values()):
            await socket.close()

    async def _mark(self, shard: int, topics: set[str]) -> None:
        async with self.subscribed_changed:
            self.subscribed[shard] = topics
            self.subscribed_changed.notify_all()

    async def _run_shard(self, shard: int) -> None:
        failures = 0
        while True:
            delay = 0.0
            try:
                async with connect(
                    self.ws_url,
                    ping_interval=None,
                    max_size=2**24,
                    close_timeout=self.settings.close_timeout_s,
                ) as socket:
                    self._sockets[shard] = socket
                    self.connections_opened += 1
                    self._opened(shard)
                    await self._subscribe_all(shard, socket)
                    failures = 0
                    await self._pump(shard, socket)
            except SubscriptionRejected as error:
                await self._queue.put(error)
                return
            except Exception as error:  # any socket failure means reconnect, never a dead shard
                delay = self.settings.backoff.delay_s(min(failures, 16), self._rng)
                failures += 1
                log.warning(
                    "venue.ws.reconnect", shard=shard, error=type(error).__name__, delay_s=round(delay, 3)
                )
            finally:
                self._sockets.pop(shard, None)
                await self._mark(shard, set())
            await self._sleep(delay)

    def _opened(self, shard: int) -> None:
        self.connection_ids[shard] = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    async def _subscribe_all(self, shard: int, socket: ClientConnection) -> None:
        acknowledged: set[str] = set()
        for topic in self.shards[shard]:
            await self._subscription_slot()
            ident = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            await socket.send(json.dumps({"id": ident, "reqType": "sub", "dataType": topic}))
            async with asyncio.timeout(self.settings.ack_timeout_s):
                while True:
                    body = await PingPong.read(socket, self.settings.ack_timeout_s)
                    if body is None:
                        continue
                    if body.get("id") == ident and "dataType" not in body:
                        code = int(body.get("code") or 0)
                        if code != 0:
                            raise SubscriptionRejected(str(body.get("msg") or ""), code=code, endpoint=topic)
                        break
                    await self._dispatch(shard, body)
            acknowledged.add(topic)
        await self._mark(shard, acknowledged)

    async def _subscription_slot(self) -> None:
        while (wait := self._subscribe_window.wait_s(self._clock())) > 0:
            await self._sleep(wait)
        self._subscribe_window.admit(self._clock())

    async def _pump(self, shard: int, socket: ClientConnection) -> None:
        while True:
            body = await PingPong.read(socket, self.settings.idle_timeout_s)
            if body is not None:
                await self._dispatch(shard, body)

    async def _dispatch(self, shard: int, body: dict[str, Any]) -> None:
        topic = body.get("dataType")
        if not isinstance(topic, str) or "data" not in body:
            if int(body.get("code") or 0) != 0:
                log.warning("venue.ws.error_frame", shard=shard, code=body.get("code"), msg=body.get("msg"))
            return
        try:
            event = parse_market(topic, body)
        except PayloadError as error:
            log.error("venue.ws.bad_frame", topic=topic, field=error.field, error=error.msg)
            return
        await self._queue.put(MarketMessage(topic=topic, event=event, shard=shard))
