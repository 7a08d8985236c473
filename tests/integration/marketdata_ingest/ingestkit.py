"""Shared by the ingest tests: the simulator's ground truth of closed 1m bars, what the database
holds, and ``tradeplane ingest`` as a real child process whose output is followed line by line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.postgres import fetch

from tradeplane.runtime.marketdata.ingest_cli import READY
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingestor import Ingestor
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.store.engine import create_engine
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.sim.server import VenueSimulator

SYMBOL = "XAUT-USDT"
BOUND_S = 60
SECOND_MS = 1000
KEY = MarketKey("tests/sim", SYMBOL)
TRADEPLANE = str(Path(sys.executable).parent / "tradeplane")
Bars = dict[datetime, tuple[Decimal, ...]]


def truth(sim: VenueSimulator, before_ms: int, symbol: str = SYMBOL) -> Bars:
    """The simulator's own closed 1m bars (its market state, not an answer of our code)."""
    market = sim.market[symbol]
    price, qty = market.price_decimal, market.quantity_decimal
    return {
        from_ms(bar.open_time): (
            price(bar.open),
            price(bar.high),
            price(bar.low),
            price(bar.close),
            qty(bar.volume),
        )
        for bar in market.bars
        if bar.open_time + 60_000 <= before_ms
    }


def stored_bars(url: str, key: MarketKey = KEY, *, confirmed: bool = True) -> Bars:
    rows = fetch(
        url,
        "SELECT open_time, open, high, low, close, volume FROM tradeplane.market_candles"
        f" WHERE market = '{key.market}' AND symbol = '{key.symbol}' AND interval = '1m'"
        + (" AND confirmed" if confirmed else ""),
    )
    return {row[0]: tuple(row[1:]) for row in rows}


@dataclass
class IngestProcess:
    """``tradeplane ingest`` as a child; ``lines`` fills as it prints, ``seen(text)`` waits for one."""

    process: subprocess.Popen[str]
    log: Path
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def follow(self) -> None:
        assert self.process.stdout is not None
        with self.log.open("a") as out:
            for line in self.process.stdout:
                out.write(line)
                out.flush()
                with self.changed:
                    self.lines.append(line)
                    self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(
                lambda: predicate(self.lines) or self.process.poll() is not None, timeout
            )

    def seen(self, text: str) -> bool:
        with self.changed:
            return any(text in line for line in self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def start_ingest(
    log: Path,
    *,
    database_url: str,
    rest_url: str,
    ws_url: str,
    key: MarketKey = KEY,
    extra: list[str] | None = None,
) -> IngestProcess:
    """Start the ingestor as the operator does, its configuration one ``--config`` argument (``extra``
    flags override it), with its log lines on stdout, merged with stderr; wait for its ready line."""
    config = IngestorConfig(
        market=key.market, symbol=key.symbol, rest_url=rest_url, ws_url=ws_url, lookback=timedelta(minutes=30)
    )
    argv = [TRADEPLANE, "ingest", "--config", config.to_json(), *(extra or [])]
    env: dict[str, Any] = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    child = IngestProcess(process, log)
    threading.Thread(target=child.follow, daemon=True).start()
    if not child.wait_for(lambda lines: any(line.startswith(READY) for line in lines), 60) or not child.seen(
        READY
    ):
        child.stop()
        raise RuntimeError(f"ingest did not start: {log.read_text()[-3000:]}")
    return child


async def run(
    url: str,
    sim: VenueSimulator,
    *,
    seconds: int,
    ws_url: str | None = None,
    every_second: Callable[[int], Awaitable[None]] | None = None,
    ready: Callable[[Ingestor], bool] = lambda i: True,
    done: Callable[[Ingestor], bool] = lambda i: True,
    **overrides: Any,
) -> tuple[Ingestor, int]:
    """Run the ingestor while the clock advances ``seconds``, then until every finished bar is
    confirmed and ``done`` holds; returns it (stopped) and the simulated end time."""
    engine = create_engine(url)
    values: dict[str, Any] = {"lookback": timedelta(minutes=30)} | overrides
    config = IngestorConfig(
        market=KEY.market, symbol=KEY.symbol, rest_url=sim.rest_url, ws_url=ws_url or sim.ws_url, **values
    )
    try:
        async with BingXClient(sim.rest_url) as client:
            ingestor = Ingestor(config, engine, client, metrics=IngestMetrics())
            stopping = asyncio.Event()
            task = asyncio.create_task(ingestor.run(stopping))
            async with asyncio.timeout(BOUND_S):
                await ingestor.wait_until(lambda i: bool(i.frontier) and i.connections >= 1 and ready(i))
            for second in range(1, seconds + 1):
                await sim.clock.advance(SECOND_MS)
                if every_second is not None:
                    await every_second(second)
            await sim.clock.advance(5 * SECOND_MS)
            end_ms = sim.clock.now_ms()
            target = from_ms(end_ms - end_ms % 60_000)
            async with asyncio.timeout(BOUND_S):
                await ingestor.wait_until(lambda i: i.frontier.get("1m", target) >= target and done(i))
            stopping.set()
            await task
    finally:
        await engine.dispose()
    return ingestor, end_ms
