"""``tradeplane ingest`` as the operator runs it: a real process against the simulator process (real
time), stopped with SIGTERM once its first bars are committed. It backfills the lookback from REST,
streams, and on SIGTERM commits, releases its lease and exits 0; the bars equal the venue's."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from harness.postgres import fetch
from harness.venue import start_simulator
from integration.marketdata_ingest.ingestkit import KEY, SYMBOL, start_ingest, stored_bars

from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.venue.client import BingXClient

pytestmark = pytest.mark.integration

BOUND_S = 60.0


def poll(url: str, sql: str, done: object, bound_s: float = BOUND_S) -> list[tuple[object, ...]]:
    """A bounded poll of the database until ``done(rows)``; the last rows either way."""
    deadline = time.monotonic() + bound_s
    while True:
        rows = fetch(url, sql)
        if done(rows) or time.monotonic() > deadline:  # type: ignore[operator]
            return rows
        time.sleep(0.1)


async def venue_bars(rest_url: str, start_ms: int, end_ms: int) -> dict[object, tuple[object, ...]]:
    async with BingXClient(rest_url) as client:
        klines = await client.klines(SYMBOL, "1m", start_ms=start_ms, end_ms=end_ms, limit=1000)
    return {from_ms(k.open_time_ms): (k.open, k.high, k.low, k.close, k.volume) for k in klines}


def test_ingest_process_commits_bars_and_hands_over_on_sigterm(migrated: str, tmp_path: Path) -> None:
    simulator = start_simulator(tmp_path / "venue-sim.log")
    try:
        child = start_ingest(
            tmp_path / "ingest.log",
            database_url=migrated,
            rest_url=simulator.rest_url,
            ws_url=simulator.ws_url,
            extra=["--lease-ttl", "5s", "--metrics-port", "0", "--journal"],
        )
        try:
            marks = poll(
                migrated, "SELECT count(*) FROM tradeplane.market_mark_prices", lambda rows: rows[0][0] >= 1
            )
            bars = poll(
                migrated,
                "SELECT count(*) FROM tradeplane.market_candles WHERE confirmed",
                lambda rows: rows[0][0] >= 30,
            )
            child.process.send_signal(signal.SIGTERM)
            assert child.process.wait(timeout=30) == 0
        finally:
            child.stop()
        assert marks[0][0] >= 1 and bars[0][0] >= 30
        stored = stored_bars(migrated)
        first, last = min(stored), max(stored)
        expected = asyncio.run(
            venue_bars(simulator.rest_url, int(first.timestamp() * 1000), int(last.timestamp() * 1000))
        )
        assert stored == {t: v for t, v in expected.items() if first <= t <= last}
        assert len(stored) == (last - first).total_seconds() // 60 + 1  # no hole in the grid
        lease = fetch(
            migrated,
            "SELECT holder, token, expires_at <= clock_timestamp() FROM tradeplane.market_leases"
            f" WHERE market = '{KEY.market}'",
        )
        assert [(token, released) for _holder, token, released in lease] == [(1, True)]
        journal = fetch(migrated, "SELECT count(*) FROM tradeplane.market_raw_journal")
        assert journal[0][0] >= 1
    finally:
        simulator.stop()
