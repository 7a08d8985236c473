"""The user-data stream: a listenKey kept alive, and the socket that pushes order, account and
config events for it.

A key lives 60 minutes from creation or its last extension; we extend it every ~30 minutes and
create a new one when the venue says it is gone (404 on extension, ``listenKeyExpired`` on the
socket, or the socket refused). ``listenKeyExpired`` may arrive without the socket closing, so the
stream closes it itself and reconnects with the new key. Events pushed between the old key's death
and the new socket are lost; the execution layer reconciles orders and fills over REST after every
``reconnects`` increment.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from types import TracebackType
from typing import Self

import structlog
from websockets.asyncio.client import ClientConnection, connect

from tradeplane.runtime.venue.client_trading import TradingEndpoints
from tradeplane.runtime.venue.errors import BusinessReject, PayloadError, VenueError
from tradeplane.runtime.venue.payloads_stream import ListenKeyExpired, UserEvent, parse_user
from tradeplane.runtime.venue.ratelimit import AsyncSleep
from tradeplane.runtime.venue.rest import RetryPolicy
from tradeplane.runtime.venue.websocket import PingPong

log = structlog.get_logger(__name__)

KEEPALIVE_S = 30 * 60.0


class UserStream:
    """``async with UserStream(client, ws_url) as stream: async for event in stream: ...``"""

    def __init__(
        self,
        client: TradingEndpoints,
        ws_url: str,
        *,
        keepalive_s: float = KEEPALIVE_S,
        idle_timeout_s: float = 30.0,
        backoff: RetryPolicy | None = None,
        seed: int = 0,
        sleep: AsyncSleep = asyncio.sleep,
    ) -> None:
        if keepalive_s <= 0 or idle_timeout_s <= 0:
            raise ValueError("keepalive_s and idle_timeout_s must be positive")
        self.client = client
        self.ws_url = ws_url
        self.keepalive_s = keepalive_s
        self.idle_timeout_s = idle_timeout_s
        self.backoff = backoff or RetryPolicy(attempts=1, base_delay_s=0.5, max_delay_s=30.0)
        self._rng = random.Random(seed)  # noqa: S311 - backoff jitter
        self._sleep = sleep
        self._queue: asyncio.Queue[UserEvent] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._socket: ClientConnection | None = None
        self.listen_key: str | None = None
        self.keys_created = 0
        self.reconnects = 0
        self.connected = asyncio.Condition()
        self.connections_opened = 0

    async def __aenter__(self) -> Self:
        self._tasks = [asyncio.create_task(self._run()), asyncio.create_task(self._keepalive())]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.listen_key is not None:
            with contextlib.suppress(VenueError):
                await self.client.delete_listen_key(self.listen_key)
            self.listen_key = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> UserEvent:
        return await self._queue.get()

    async def wait_connected(self, connections_at_least: int = 1) -> None:
        async with self.connected:
            await self.connected.wait_for(lambda: self.connections_opened >= connections_at_least)

    async def _key(self) -> str:
        if self.listen_key is None:
            self.listen_key = await self.client.create_listen_key()
            self.keys_created += 1
            log.info("venue.user_stream.key_created", keys_created=self.keys_created)
        return self.listen_key

    async def _forget_key(self) -> None:
        """The key is dead: drop it and close the socket, so the run loop starts over with a new one."""
        self.listen_key = None
        if self._socket is not None:
            await self._socket.close()

    async def _run(self) -> None:
        failures = 0
        while True:
            delay = 0.0
            try:
                key = await self._key()
                async with connect(
                    f"{self.ws_url}?listenKey={key}", ping_interval=None, close_timeout=2.0
                ) as socket:
                    self._socket = socket
                    async with self.connected:
                        self.connections_opened += 1
                        self.connected.notify_all()
                    failures = 0
                    await self._pump(socket)
            except Exception as error:  # any failure means reconnect; the stream never dies silently
                if isinstance(error, VenueError) and not isinstance(error, BusinessReject):
                    log.warning("venue.user_stream.key_error", error=str(error))
                delay = self.backoff.delay_s(min(failures, 16), self._rng)
                failures += 1
                log.warning(
                    "venue.user_stream.reconnect", error=type(error).__name__, delay_s=round(delay, 3)
                )
            finally:
                self._socket = None
            self.reconnects += 1
            await self._sleep(delay)

    async def _pump(self, socket: ClientConnection) -> None:
        while True:
            body = await PingPong.read(socket, self.idle_timeout_s)
            if body is None:
                continue
            try:
                event = parse_user(body)
            except PayloadError as error:
                log.error("venue.user_stream.bad_event", field=error.field, error=error.msg)
                continue
            if event is None:
                log.info("venue.user_stream.ignored_event", name=body.get("e"))
                continue
            await self._queue.put(event)
            if isinstance(event, ListenKeyExpired):
                log.warning("venue.user_stream.key_expired")
                self.listen_key = None
                return

    async def _keepalive(self) -> None:
        while True:
            await self._sleep(self.keepalive_s)
            await self.extend_now()

    async def extend_now(self) -> None:
        """Extend the current key; recreate it (via the run loop) when the venue no longer knows it."""
        key = self.listen_key
        if key is None:
            return
        try:
            await self.client.extend_listen_key(key)
        except BusinessReject as error:
            if error.http_status == 404:
                log.warning("venue.user_stream.key_unknown")
                await self._forget_key()
            else:
                log.error("venue.user_stream.extend_failed", error=str(error))
        except VenueError as error:
            log.error("venue.user_stream.extend_failed", error=str(error))
