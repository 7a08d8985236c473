"""The in-process ingestor against the manual-clock simulator under faults, each with exact
post-conditions from the simulator's own state: PostgreSQL restarted mid-stream (nothing lost once it
is back), a 429/5xx storm on the klines REST path during backfill (backs off, completes with exact
bars), and malformed frames injected by a WebSocket proxy in front of the simulator (counted by kind,
journaled, skipped; the ingestor keeps running and the bars stay exact)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator
from datetime import timedelta
from itertools import cycle

import pytest
from harness.postgres import PostgresServer, fetch
from integration.marketdata_ingest.ingestkit import SECOND_MS, SYMBOL, run, stored_bars, truth
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.venue.sim.faults import RestFault
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


@contextlib.asynccontextmanager
async def simulator() -> AsyncIterator[VenueSimulator]:
    config = SimConfig(
        seed=11, api_key="k", api_secret="s", clock="manual", history_minutes=600, symbols=(SYMBOL,)
    )
    async with VenueSimulator(config) as sim:
        yield sim


def expected_bars(sim: VenueSimulator, end_ms: int, since: object) -> dict[object, tuple[object, ...]]:
    return {t: v for t, v in truth(sim, end_ms).items() if t >= since}  # type: ignore[operator]


async def test_postgres_restart_mid_stream_loses_nothing(
    migrated: str, postgres_server: PostgresServer
) -> None:
    server = postgres_server.embedded
    if server is None:
        pytest.skip("DATABASE_URL names a server this test cannot restart")

    async def restart(second: int) -> None:
        if second == 40:
            await asyncio.to_thread(server.down)
        elif second == 100:
            await asyncio.to_thread(server.up)

    async with simulator() as sim:
        start_ms = sim.clock.now_ms()
        ingestor, end_ms = await run(
            migrated, sim, seconds=150, every_second=restart, lease_ttl=timedelta(seconds=120)
        )
        expected = expected_bars(sim, end_ms, from_ms(start_ms - 1_800_000))
    got = {t: v for t, v in stored_bars(migrated).items() if t >= min(expected)}
    assert got == expected
    # one markPrice push per simulated second, each one committed after the server came back
    seconds = fetch(
        migrated,
        "SELECT count(DISTINCT time) FROM tradeplane.market_mark_prices"
        f" WHERE time > to_timestamp({start_ms / 1000}) AND time <= to_timestamp({end_ms / 1000})",
    )
    assert seconds[0][0] == (end_ms - start_ms) // SECOND_MS
    assert ingestor.lease_lost == 0


async def test_rate_limit_and_5xx_storm_during_backfill_completes_exactly(migrated: str) -> None:
    async with simulator() as sim:
        now_ms = sim.clock.now_ms()
        backfill_from = from_ms(now_ms - 8 * 3_600_000)
        storm = [
            RestFault(kind="status", path="/openApi/swap/v3/quote/klines", count=6, status=429),
            RestFault(kind="status", path="/openApi/swap/v3/quote/klines", count=4, status=502),
        ]
        for fault in storm:
            sim.faults.add(fault)

        async def second_storm(second: int) -> None:
            if second == 30:  # while streaming: the confirmation sweep meets it
                sim.faults.add(
                    RestFault(kind="status", path="/openApi/swap/v3/quote/klines", count=8, status=503)
                )

        _ingestor, end_ms = await run(
            migrated, sim, seconds=90, backfill_from=backfill_from, every_second=second_storm
        )
        assert sim.faults.rest == []  # every injected failure was met
        expected = expected_bars(sim, end_ms, backfill_from)
    assert stored_bars(migrated) == expected
    assert min(expected) == backfill_from and len(expected) >= 8 * 60


MALFORMED: list[tuple[str, bytes | str]] = [
    ("gzip", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03broken"),
    ("json", gzip.compress(b'{"dataType": "XAUT-USDT@trade", "data": [', mtime=0)),
    ("schema", gzip.compress(b'{"code":0,"dataType":"XAUT-USDT@kline_1m","data":[{"T":1}]}', mtime=0)),
    (
        "schema",
        gzip.compress(b'{"code":0,"dataType":"XAUT-USDT@markPrice","data":{"E":"x","p":[]}}', mtime=0),
    ),
    ("topic", gzip.compress(b'{"code":0,"dataType":"XAUT-USDT","data":{}}', mtime=0)),
]


@contextlib.asynccontextmanager
async def corrupting_proxy(upstream: str, every: int) -> AsyncIterator[tuple[str, list[str]]]:
    """A WebSocket proxy in front of the venue that inserts one malformed frame after every
    ``every`` frames from the venue; yields its URL and the kinds injected so far."""
    injected: list[str] = []
    bad = cycle(MALFORMED)

    async def handler(client: ServerConnection) -> None:
        async with connect(upstream, ping_interval=None, max_size=2**24) as venue:

            async def up() -> None:
                async for message in client:
                    await venue.send(message)

            async def down() -> None:
                count = 0
                async for message in venue:
                    await client.send(message)
                    count += 1
                    if count % every == 0:
                        kind, frame = next(bad)
                        injected.append(kind)
                        await client.send(frame)

            tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()

    async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/swap-market", injected


async def test_malformed_frames_are_counted_journaled_and_skipped(migrated: str) -> None:
    async with simulator() as sim, corrupting_proxy(sim.ws_url, every=7) as (proxy_url, injected):
        start_ms = sim.clock.now_ms()
        ingestor, end_ms = await run(migrated, sim, seconds=150, ws_url=proxy_url, flush_frames=50)
        expected = expected_bars(sim, end_ms, from_ms(start_ms - 1_800_000))
    kinds = sorted(set(injected))
    assert kinds == ["gzip", "json", "schema", "topic"] and len(injected) >= 50
    for kind in kinds:
        count = ingestor.metrics.value("tradeplane_ingest_parse_errors_total", kind=kind)
        assert count == injected.count(kind), kind
    refused = fetch(
        migrated, "SELECT count(*) FROM tradeplane.market_raw_journal WHERE note LIKE 'refused %'"
    )
    assert refused[0][0] == len(injected)
    got = {t: v for t, v in stored_bars(migrated).items() if t >= min(expected)}
    assert got == expected
