"""``GET /swap-market``: BingX's market WebSocket, and with ``?listenKey=`` its user-data stream.

Every frame is GZIP-compressed binary, text "Ping" included; clients answer "Pong". Market topics
are pushed on each simulated second (the clock's tick), so a manual clock yields exactly one frame
per topic per advanced second. Each socket has one writer task fed by a queue, so pushes never wait
on a slow client and the fault layer can drop, duplicate or reorder frames in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import WSMsgType, web

from tradeplane.runtime.intervals import INTERVALS
from tradeplane.runtime.venue.sim.bars import bucket_open, select
from tradeplane.runtime.venue.sim.book import IncrementalDepth
from tradeplane.runtime.venue.sim.protocol import dumps

if TYPE_CHECKING:
    from tradeplane.runtime.venue.sim.server import VenueSimulator

log = structlog.get_logger(__name__)

MAX_TOPICS = 200
TOO_MANY_TOPICS = 80403
UNSUPPORTED_TOPIC = 80015
DEPTH_LEVELS = ("5", "10", "20", "50", "100")
TOPIC = re.compile(
    r"^(?P<symbol>[A-Z0-9]+-[A-Z]+)@(?:kline_(?P<interval>\w+)|(?P<simple>trade|incrDepth|markPrice|bookTicker|"
    r"lastPrice)|depth(?P<levels>\d+)(?:@(?P<speed>200ms|500ms))?)$"
)


def compress(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


@dataclass(eq=False)
class Connection:
    socket: web.WebSocketResponse
    sim: VenueSimulator
    listen_key: str | None = None
    topics: set[str] = field(default_factory=set)
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    held: bytes | None = None

    def send_control(self, text: str) -> None:
        self.queue.put_nowait(compress(text))

    def send_data(self, payload: dict[str, Any] | str) -> None:
        faults = self.sim.faults
        if faults.frames.paused:
            return
        frame = compress(payload if isinstance(payload, str) else dumps(payload))
        action = faults.frame_action()
        if action == "drop":
            return
        if action == "hold" and self.held is None:
            self.held = frame
            return
        self.queue.put_nowait(frame)
        if action == "duplicate":
            self.queue.put_nowait(frame)
        if self.held is not None and action != "hold":
            self.queue.put_nowait(self.held)
            self.held = None

    async def write(self) -> None:
        while (frame := await self.queue.get()) is not None:
            if self.socket.closed:
                return
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.socket.send_bytes(frame)

    async def ping(self) -> None:
        interval = self.sim.config.ping_interval_s
        while not self.socket.closed:
            await self.sim.clock.sleep(interval)
            self.send_control("Ping")


class WebSockets:
    def __init__(self, sim: VenueSimulator) -> None:
        self.sim = sim
        self.connections: set[Connection] = set()
        self.incremental: dict[str, IncrementalDepth] = {}
        self._closing: set[asyncio.Task[Any]] = set()

    def register(self, app: web.Application, sim: VenueSimulator) -> None:
        del sim
        app.router.add_get("/swap-market", self.serve)

    def counts(self) -> dict[str, int]:
        users = sum(1 for connection in self.connections if connection.listen_key is not None)
        return {"market": len(self.connections) - users, "user": users}

    async def serve(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True, heartbeat=None)
        await socket.prepare(request)
        listen_key = request.query.get("listenKey")
        connection = Connection(socket, self.sim, listen_key=listen_key)
        if listen_key is not None and not self.sim.listen_keys.live(listen_key):
            await socket.close(code=4001, message=b"listenKey does not exist")
            return socket
        self.connections.add(connection)
        tasks = [asyncio.create_task(connection.write()), asyncio.create_task(connection.ping())]
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._receive(connection, message.data)
                elif message.type == WSMsgType.BINARY:
                    with contextlib.suppress(OSError, UnicodeDecodeError):
                        self._receive(connection, gzip.decompress(message.data).decode())
        finally:
            self.connections.discard(connection)
            connection.queue.put_nowait(None)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return socket

    def _receive(self, connection: Connection, text: str) -> None:  # noqa: PLR0911 - one exit per request form
        if text.strip() in ("Pong", "Ping"):
            return
        try:
            request = json.loads(text)
        except ValueError:
            return
        if not isinstance(request, dict) or connection.listen_key is not None:
            return
        ident, kind, topic = request.get("id", ""), request.get("reqType"), request.get("dataType", "")
        if kind == "unsub":
            connection.topics.discard(topic)
            connection.send_control(dumps({"id": ident, "code": 0, "msg": ""}))
            return
        if kind != "sub":
            connection.send_control(dumps({"id": ident, "code": UNSUPPORTED_TOPIC, "msg": "unknown reqType"}))
            return
        if not self._valid(topic):
            connection.send_control(
                dumps({"id": ident, "code": UNSUPPORTED_TOPIC, "msg": f"dataType not supported: {topic}"})
            )
            return
        if topic not in connection.topics and len(connection.topics) >= MAX_TOPICS:
            connection.send_control(dumps({"id": ident, "code": TOO_MANY_TOPICS, "msg": "too many topics"}))
            return
        connection.topics.add(topic)
        connection.send_control(dumps({"id": ident, "code": 0, "msg": ""}))
        if topic.endswith("@incrDepth"):
            symbol = topic.split("@", 1)[0]
            depth = self._incremental(symbol)
            connection.send_data(self._frame(topic, depth.snapshot(), symbol=symbol))

    def _valid(self, topic: object) -> bool:
        if not isinstance(topic, str) or (match := TOPIC.match(topic)) is None:
            return False
        if not self.sim.listed(match["symbol"]):
            return False
        if match["interval"] is not None:
            return match["interval"] in INTERVALS
        return match["levels"] is None or match["levels"] in DEPTH_LEVELS

    def _incremental(self, symbol: str) -> IncrementalDepth:
        depth = self.incremental.get(symbol)
        if depth is None:
            depth = self.incremental[symbol] = IncrementalDepth()
            depth.advance(self.sim.market.book(symbol, depth.levels))
        return depth

    def _frame(self, topic: str, data: Any, *, symbol: str, now: int | None = None) -> dict[str, Any]:
        return {"code": 0, "dataType": topic, "s": symbol, "ts": now or self.sim.clock.now_ms(), "data": data}

    def _payload(self, topic: str, now: int) -> dict[str, Any] | None:  # noqa: PLR0911 - one exit per topic
        match = TOPIC.match(topic)
        assert match is not None
        symbol = match["symbol"]
        market = self.sim.market[symbol]
        price = market.price_decimal
        if match["interval"] is not None:
            bar = market.bars[-1]
            interval = match["interval"]
            opened = bucket_open(interval, bar.open_time)
            current = select(market.bars, interval=interval, start_ms=opened, end_ms=now, limit=1)[0]
            data: Any = [
                {
                    "o": price(current.open),
                    "c": price(current.close),
                    "h": price(current.high),
                    "l": price(current.low),
                    "v": market.quantity_decimal(current.volume),
                    "T": current.open_time,
                }
            ]
            return self._frame(topic, data, symbol=symbol, now=now)
        if match["levels"] is not None:
            book = market.book(int(match["levels"]))
            data = {
                "bids": [list(level) for level in book.bids],
                "asks": [list(level) for level in book.asks],
            }
            return self._frame(topic, data, symbol=symbol, now=now)
        simple = match["simple"]
        if simple == "trade":
            trades = [trade for trade in market.trades if trade.time_ms == now]
            if not trades:
                return None
            rows = [
                {
                    "q": market.quantity_decimal(trade.quantity),
                    "p": price(trade.price),
                    "T": trade.time_ms,
                    "m": trade.buyer_maker,
                    "s": symbol,
                }
                for trade in trades
            ]
            return self._frame(topic, rows, symbol=symbol, now=now)
        if simple == "markPrice":
            data = {"e": "markPriceUpdate", "E": now, "s": symbol, "p": self.sim.market.mark_price(symbol)}
            return self._frame(topic, data, symbol=symbol, now=now)
        if simple == "lastPrice":
            data = {"e": "lastPriceUpdate", "E": now, "s": symbol, "c": self.sim.market.last_price(symbol)}
            return self._frame(topic, data, symbol=symbol, now=now)
        book = market.book(1)
        data = {
            "e": "bookTicker",
            "u": now // 200,
            "E": now,
            "T": now,
            "s": symbol,
            "b": book.bids[0][0],
            "B": book.bids[0][1],
            "a": book.asks[0][0],
            "A": book.asks[0][1],
        }
        return self._frame(topic, data, symbol=symbol, now=now)

    def on_tick(self, now_ms: int) -> None:
        """Push every subscribed topic's update for this simulated second."""
        diffs: dict[str, dict[str, Any] | None] = {}
        for symbol, depth in self.incremental.items():
            diffs[symbol] = depth.advance(self.sim.market.book(symbol, depth.levels))
        cache: dict[str, dict[str, Any] | None] = {}
        for connection in list(self.connections):
            for topic in sorted(connection.topics):
                if topic.endswith("@incrDepth"):
                    symbol = topic.split("@", 1)[0]
                    diff = diffs.get(symbol)
                    if diff is not None:
                        connection.send_data(self._frame(topic, diff, symbol=symbol, now=now_ms))
                    continue
                if topic not in cache:
                    cache[topic] = self._payload(topic, now_ms)
                payload = cache[topic]
                if payload is not None:
                    connection.send_data(payload)

    def publish_user_event(self, event: dict[str, Any]) -> None:
        text = dumps(event)
        for connection in list(self.connections):
            if connection.listen_key is not None and self.sim.listen_keys.live(connection.listen_key):
                connection.send_data(text)

    def listen_key_expired(self, key: str, now_ms: int) -> None:
        event = {"e": "listenKeyExpired", "E": now_ms, "listenKey": key}
        for connection in list(self.connections):
            if connection.listen_key == key:
                connection.send_control(dumps(event))

    def close_listen_key(self, key: str) -> None:
        for connection in list(self.connections):
            if connection.listen_key == key:
                task = asyncio.get_running_loop().create_task(connection.socket.close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)

    async def disconnect_all(self) -> None:
        """Drop every socket (the force-disconnect fault and shutdown)."""
        connections = list(self.connections)
        await asyncio.gather(
            *(connection.socket.close() for connection in connections), return_exceptions=True
        )

    async def close_all(self) -> None:
        await self.disconnect_all()
