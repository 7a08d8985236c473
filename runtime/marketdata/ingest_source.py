"""The market WebSocket as raw frames for the ingestor: bytes exactly as received, plus a marker on every
reconnection, so the ingestor journals and hashes what the venue sent and knows when to heal.

One connection carries every topic of one instrument (at most 18, far below BingX's 200 per socket).
Subscriptions are sent without waiting for acks: the acks arrive as ordinary frames and are classified
by the frame decoder; a rejected topic is logged there. ``Ping`` is answered here because only the
socket can answer it.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from websockets.asyncio.client import connect

log = structlog.get_logger(__name__)

IDLE_TIMEOUT_S = 30.0
"""BingX pings about every 5 s; six missed pings means the connection is gone."""
PING_MAX_BYTES = 64
"""A gzip ``Ping`` is about 24 bytes; only frames this small are inspected for a heartbeat."""


@dataclass(frozen=True)
class RawFrame:
    data: bytes | str
    connection_id: str
    received_at: datetime


@dataclass(frozen=True)
class Reconnected:
    """A new connection replaced a lost one: frames pushed in between were lost."""

    connection_id: str


def _is_ping(data: bytes | str) -> bool:
    if isinstance(data, str):
        return data.strip() == "Ping"
    if len(data) > PING_MAX_BYTES:
        return False
    try:
        return zlib.decompress(data, wbits=31).strip() == b"Ping"
    except zlib.error:
        return False


async def raw_frames(
    ws_url: str,
    topics: list[str],
    *,
    seed: int = 0,
    max_backoff_s: float = 5.0,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
) -> AsyncIterator[RawFrame | Reconnected]:
    """Frames forever, reconnecting with jittered exponential backoff; cancel the consumer to stop.

    A socket silent for ``idle_timeout_s`` (not even a Ping) is half-open: it is dropped and replaced,
    because a stalled stream would otherwise freeze the venue clock and with it every confirmation."""
    rng = random.Random(seed)  # noqa: S311 - backoff jitter
    failures = 0
    connections = 0
    while True:
        connection_id = str(uuid.uuid4())  # unique across processes: rows name the socket they came from
        try:
            async with connect(ws_url, ping_interval=None, max_size=2**24, close_timeout=1) as socket:
                connections += 1
                for topic in topics:
                    await socket.send(json.dumps({"id": connection_id, "reqType": "sub", "dataType": topic}))
                if connections > 1:
                    yield Reconnected(connection_id)
                while True:
                    async with asyncio.timeout(idle_timeout_s):  # not wait_for: see waiting.py
                        message = await socket.recv()
                    failures = 0  # only a socket that delivers resets the backoff (accept, close: back off)
                    if _is_ping(message):
                        await socket.send("Pong")
                        continue
                    yield RawFrame(message, connection_id, datetime.now(UTC))
        except (OSError, TimeoutError, ConnectionError) as error:
            log.warning("ingest.ws.failed", error=type(error).__name__)
        except Exception as error:  # websockets' ConnectionClosed and protocol errors: reconnect
            log.warning("ingest.ws.closed", error=type(error).__name__)
        delay = min(max_backoff_s, 0.05 * 2**failures) * (0.5 + rng.random() / 2) if failures else 0.0
        failures += 1
        await asyncio.sleep(delay)
