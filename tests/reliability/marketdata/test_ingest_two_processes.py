"""Two real ``tradeplane ingest`` processes for one instrument against one simulator process: one
leads, the other waits. Stopping the leader (SIGSTOP) past its lease makes the other take over with
token + 1; the old leader, continued, has its writes refused (LeaseLost) and goes back to standby.
The stored bars stay exactly the venue's, with no hole."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from harness.postgres import fetch
from harness.venue import start_simulator
from integration.marketdata_ingest.ingestkit import KEY, SYMBOL, IngestProcess, start_ingest, stored_bars

from tradeplane.runtime.marketdata.ingest_cli import READY
from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.venue.client import BingXClient

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

BOUND_S = 60.0


def holder_of(child: IngestProcess) -> str:
    line = next(line for line in child.lines if line.startswith(READY))
    return line.split("holder=", 1)[1].strip()


def lease(url: str) -> tuple[str, int]:
    rows = fetch(
        url,
        "SELECT holder, token FROM tradeplane.market_leases"
        f" WHERE market = '{KEY.market}' AND symbol = '{KEY.symbol}' AND expires_at > clock_timestamp()",
    )
    return (rows[0][0], rows[0][1]) if rows else ("", 0)


def until(condition: object, bound_s: float = BOUND_S) -> bool:
    """A bounded poll (of the database) until ``condition()`` holds."""
    deadline = time.monotonic() + bound_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def confirmed(url: str) -> int:
    return int(fetch(url, "SELECT count(*) FROM tradeplane.market_candles WHERE confirmed")[0][0])


def marks(url: str) -> int:
    return int(fetch(url, "SELECT count(*) FROM tradeplane.market_mark_prices")[0][0])


async def venue_bars(rest_url: str, start_ms: int, end_ms: int) -> dict[object, tuple[object, ...]]:
    async with BingXClient(rest_url) as client:
        klines = await client.klines(SYMBOL, "1m", start_ms=start_ms, end_ms=end_ms, limit=1000)
    return {from_ms(k.open_time_ms): (k.open, k.high, k.low, k.close, k.volume) for k in klines}


def test_paused_leader_loses_the_lease_and_its_writes_are_refused(migrated: str, tmp_path: Path) -> None:
    simulator = start_simulator(tmp_path / "venue-sim.log")
    children: list[IngestProcess] = []
    try:
        common = {"database_url": migrated, "rest_url": simulator.rest_url, "ws_url": simulator.ws_url}
        extra = ["--lease-ttl", "2s"]
        first = start_ingest(tmp_path / "first.log", extra=extra, **common)
        children.append(first)
        assert until(lambda: lease(migrated) == (holder_of(first), 1))
        second = start_ingest(tmp_path / "second.log", extra=extra, **common)
        children.append(second)
        assert until(lambda: confirmed(migrated) >= 30)
        assert lease(migrated) == (holder_of(first), 1)  # the second waits while the first renews

        first.process.send_signal(signal.SIGSTOP)
        assert until(lambda: lease(migrated) == (holder_of(second), 2))
        assert second.wait_for(lambda lines: any("ingest.lease.acquired" in line for line in lines), BOUND_S)
        first.process.send_signal(signal.SIGCONT)
        assert first.wait_for(lambda lines: any("ingest.lease.lost" in line for line in lines), BOUND_S)
        assert first.process.poll() is None  # back to standby, not crashed
        assert lease(migrated) == (holder_of(second), 2)

        before = marks(migrated)
        assert until(lambda: marks(migrated) > before)  # the new leader keeps committing
        for child in children:
            child.process.send_signal(signal.SIGTERM)
        assert [child.process.wait(timeout=30) for child in children] == [0, 0]
        stored = stored_bars(migrated)
        first_open, last_open = min(stored), max(stored)
        expected = asyncio.run(
            venue_bars(
                simulator.rest_url, int(first_open.timestamp() * 1000), int(last_open.timestamp() * 1000)
            )
        )
    finally:
        for child in children:
            child.process.send_signal(signal.SIGCONT)
            child.stop()
        simulator.stop()
    assert stored == {t: v for t, v in expected.items() if first_open <= t <= last_open}
    assert len(stored) == (last_open - first_open).total_seconds() // 60 + 1
    tokens = fetch(migrated, f"SELECT token FROM tradeplane.market_leases WHERE market = '{KEY.market}'")
    assert tokens == [(2,)]
