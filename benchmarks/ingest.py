"""Ingest throughput: WebSocket bytes to committed PostgreSQL rows, against decoding alone, same frames,
same run; and the time to heal a 24 h gap of 1m bars from the venue simulator's REST.

Frames are recorded once from the simulator (manual clock, fixed seed: klines, trades, incrDepth,
markPrice of one symbol, gzip bytes exactly as sent). The reference is ``decode_frame`` (gunzip +
sha256 + the generic msgspec JSON parse + classification) over every frame; end to end is
``Pipeline.accept`` over the same frames with the ingestor's ``BatchCommitter`` committing every
``flush_frames`` in fenced transactions, one commit in flight while the next batch is decoded, in the
ingestor's default configuration (no raw journal: refused frames only). The ratio (end-to-end frames/s
over decode-only frames/s) is what to compare across machines. End to end with every frame journaled
(``spec.journal.enabled``) is reported too, outside the targets. The
pipeline alone (``accept`` without any database) is reported too: when it is far faster than end to
end, PostgreSQL's write rate is the bound, not the ingestor's CPU. The heal is one
``backfill_candles`` of 1440 bars into an empty table, the work ``gaps.heal_open`` does per gap.

Storage is ``DATABASE_URL`` (a fresh database is created in it) or an embedded PostgreSQL in a temp dir.
Prints one final JSON line; targets: ratio >= 0.5, end to end >= 10 000 frames/s, 24 h heal <= 2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import connect

from tradeplane.embedded.postgres import EmbeddedPostgres
from tradeplane.runtime.intervals import align
from tradeplane.runtime.marketdata.backfill import backfill_candles
from tradeplane.runtime.marketdata.frames import decode_frame
from tradeplane.runtime.marketdata.ingest_cli import run_loop
from tradeplane.runtime.marketdata.ingest_committer import BatchCommitter
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingest_pipeline import Batch, Pipeline
from tradeplane.runtime.marketdata.lease import FencedWriter, acquire
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.store.engine import DATABASE_URL_ENV, create_engine, normalise_url
from tradeplane.runtime.store.migrate import upgrade
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator

SEED = 7
FRAMES = 20_000
SYMBOL = "BTC-USDT"
KEY = MarketKey("bench/sim", SYMBOL)
TOPICS = [f"{SYMBOL}@kline_1m", f"{SYMBOL}@trade", f"{SYMBOL}@incrDepth", f"{SYMBOL}@markPrice"]
FLUSH_FRAMES = 2000
NOWHERE = "http://127.0.0.1:1"
"""The pipeline needs endpoints in its configuration but never connects to them here."""
TARGET_RATIO = 0.5
TARGET_FRAMES_PER_S = 10_000
TARGET_HEAL_S = 2.0


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A fresh migrated database on ``DATABASE_URL``'s server or on an embedded server."""
    configured = os.environ.get(DATABASE_URL_ENV)
    root: Path | None = None
    server: EmbeddedPostgres | None = None
    if configured:
        admin = normalise_url(configured)
    else:
        root = Path(tempfile.mkdtemp(prefix="tradeplane-bench-pg-"))
        server = EmbeddedPostgres(root / "postgres", report=lambda _m: None)
        server.up()
        admin = server.url(database="postgres")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        if server is not None:
            server.down()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)


async def _admin(url: str, sql: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


async def record(sim: VenueSimulator, count: int) -> list[bytes]:
    """``count`` data frames as the simulator sends them (acks and Pings are not counted)."""
    frames: list[bytes] = []
    async with connect(sim.ws_url, ping_interval=None, max_size=2**24) as socket:
        for topic in TOPICS:
            await socket.send(json.dumps({"id": topic, "reqType": "sub", "dataType": topic}))
        while len(frames) < count:
            await sim.clock.advance(60_000)  # a minute of ticks, then drain what they pushed
            while True:
                try:
                    message = await asyncio.wait_for(socket.recv(), 0.05)
                except TimeoutError:
                    break
                if isinstance(message, bytes) and decode_frame(message).kind == "data":
                    frames.append(message)
    return frames[:count]


def pipeline_only(frames: list[bytes]) -> float:
    """``Pipeline.accept`` and ``take`` exactly as end to end, with nothing committed."""
    config = IngestorConfig(
        market=KEY.market,
        symbol=KEY.symbol,
        rest_url=NOWHERE,
        ws_url=NOWHERE.replace("http", "ws"),
        depth=True,
        flush_frames=FLUSH_FRAMES,
    )
    pipeline = Pipeline(config, IngestMetrics())
    received_at = datetime.now(UTC)
    started = time.perf_counter()
    for index, frame in enumerate(frames, 1):
        pipeline.accept(frame, connection_id="bench", received_at=received_at)
        if index % FLUSH_FRAMES == 0:
            pipeline.take()
    pipeline.take()
    return time.perf_counter() - started


def decode_only(frames: list[bytes]) -> float:
    started = time.perf_counter()
    for frame in frames:
        decode_frame(frame)
    return time.perf_counter() - started


async def end_to_end(url: str, frames: list[bytes], *, journal: bool = False) -> float:
    """Pipeline.accept over every frame, each full batch handed to the ingestor's ``BatchCommitter``
    (fenced ``commit_batch``, one commit in flight while the next batch fills, as the ingestor runs
    it); the clock stops once the last batch is committed."""
    engine = create_engine(url)
    try:
        # the journaled run writes under a market of its own, so the two runs never share rows
        key = MarketKey(f"{KEY.market}{'-journal' if journal else ''}", SYMBOL)
        websocket = NOWHERE.replace("http", "ws")
        config = IngestorConfig(
            market=key.market,
            symbol=key.symbol,
            rest_url=NOWHERE,
            ws_url=websocket,
            depth=True,
            flush_frames=FLUSH_FRAMES,
            journal=journal,
        )
        lease = await acquire(engine, key, config.holder, ttl=timedelta(minutes=5))
        assert lease is not None
        metrics = IngestMetrics()
        committed: list[int] = []

        async def count(batch: Batch) -> None:
            committed.append(batch.frames)

        committer = BatchCommitter(FencedWriter(engine, lease), key, metrics, committed=count)
        pipeline = Pipeline(config, metrics)
        received_at = datetime.now(UTC)
        started = time.perf_counter()
        for frame in frames:
            pipeline.accept(frame, connection_id="bench", received_at=received_at)
            if len(pipeline.batch) >= config.flush_frames:
                await committer.submit(pipeline.take())
            else:
                # the ingestor awaits its socket between frames, which is when the commit task runs
                # its next round trip; these frames are all in memory, so yield as that await would
                await asyncio.sleep(0)
        await committer.submit(pipeline.take())
        await committer.drain()
        elapsed = time.perf_counter() - started
        assert sum(committed) == len(frames), f"{sum(committed)} of {len(frames)} frames committed"
        return elapsed
    finally:
        await engine.dispose()


async def heal_day(url: str, sim: VenueSimulator) -> tuple[float, int]:
    """One 24 h run of missing 1m bars read from REST and stored (the table starts empty)."""
    engine = create_engine(url)
    try:
        async with BingXClient(sim.rest_url) as client:
            now = from_ms(sim.clock.now_ms())
            end = align(now, "1m") - timedelta(minutes=1)
            start = end - timedelta(minutes=1439)
            lease = await acquire(engine, MarketKey("bench/heal", SYMBOL), "bench", ttl=timedelta(minutes=5))
            assert lease is not None
            started = time.perf_counter()
            counts = await backfill_candles(
                client,
                FencedWriter(engine, lease),
                lease.key,
                "1m",
                start=start,
                end=end,
                received_at=datetime.now(UTC),
                now_ms=sim.clock.now_ms(),
            )
            return time.perf_counter() - started, counts.inserted
    finally:
        await engine.dispose()


async def measure(url: str, count: int) -> dict[str, Any]:
    config = SimConfig(
        seed=SEED, api_key="k", api_secret="s", clock="manual", history_minutes=1500, symbols=(SYMBOL,)
    )
    async with VenueSimulator(config) as sim:
        frames = await record(sim, count)
        gc.collect()
        decode_s = min(decode_only(frames) for _ in range(3))
        pipeline_s = min(pipeline_only(frames) for _ in range(3))
        e2e_s = await end_to_end(url, frames)
        journal_s = await end_to_end(url, frames, journal=True)
        heal_s, healed = await heal_day(url, sim)
    decode_fps = len(frames) / decode_s
    e2e_fps = len(frames) / e2e_s
    result: dict[str, Any] = {
        "frames": len(frames),
        "bytes": sum(len(frame) for frame in frames),
        "decode_frames_per_s": round(decode_fps),
        "e2e_frames_per_s": round(e2e_fps),
        "ratio": round(e2e_fps / decode_fps, 3),
        "pipeline_frames_per_s": round(len(frames) / pipeline_s),
        "pipeline_ratio": round(decode_s / pipeline_s, 3),
        "journal_e2e_frames_per_s": round(len(frames) / journal_s),
        "journal_ratio": round(decode_s / journal_s, 3),
        "heal_24h_s": round(heal_s, 3),
        "heal_24h_bars": healed,
    }
    result["target_met"] = (
        result["ratio"] >= TARGET_RATIO
        and e2e_fps >= TARGET_FRAMES_PER_S
        and heal_s <= TARGET_HEAL_S
        and healed == 1440
    )
    return result


def run(count: int = FRAMES) -> dict[str, Any]:
    with database() as url:
        result = run_loop(measure(url, count))  # the ingestor's own event loop (uvloop)
    print(f"ingest ({result['frames']} recorded frames of {SYMBOL}: klines, trades, incrDepth, markPrice)")
    print(f"  decode only  {result['decode_frames_per_s']:>9,} frames/s")
    print(f"  end to end   {result['e2e_frames_per_s']:>9,} frames/s  (ratio {result['ratio']})")
    pipeline = f"{result['pipeline_frames_per_s']:>9,} frames/s  (no database; {result['pipeline_ratio']})"
    print(f"  pipeline     {pipeline}")
    journaled = f"{result['journal_e2e_frames_per_s']:>9,} frames/s"
    print(f"  end to end   {journaled}  (every frame journaled; {result['journal_ratio']})")
    print(f"  heal 24 h of 1m bars: {result['heal_24h_s']} s ({result['heal_24h_bars']} bars)")
    print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    sys.exit(0 if run()["target_met"] else 1)
