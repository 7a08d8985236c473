"""Gap events: a range of bars the store should have and lacks, detected, healed from REST and verified.

A gap is a row of ``market_gap_events`` keyed by (market, symbol, stream, interval, start, end), so
detecting the same hole twice records it once. Healing is bounded and evidenced: each attempt is
counted, the range is re-read from the venue and the store is re-scanned; only an empty re-scan
makes the gap ``healed``. When the venue itself has nothing for the missing times, the gap becomes
``unhealable`` after ``max_attempts`` with the evidence (which open times, what the venue returned),
so an operator sees why data stays missing instead of the ingestor retrying forever. A venue error
also counts as an attempt and propagates, so the caller backs off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tradeplane.runtime.intervals import next_open, open_times
from tradeplane.runtime.marketdata import grid
from tradeplane.runtime.marketdata.backfill import fetch_candles, write_candles
from tradeplane.runtime.marketdata.lease import Writer
from tradeplane.runtime.marketdata.store import candle_open_times
from tradeplane.runtime.marketdata.tables import MarketKey, gap_events
from tradeplane.runtime.millis import to_ms
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.errors import VenueError

KLINES = "klines"
HEAL_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


class GapState(StrEnum):
    OPEN = "open"
    HEALING = "healing"
    HEALED = "healed"
    UNHEALABLE = "unhealable"


@dataclass(frozen=True)
class GapEvent:
    """One row of ``market_gap_events``; ``end`` is the last missing open time (inclusive)."""

    id: int
    key: MarketKey
    stream: str
    interval: str
    source: str
    start: datetime
    end: datetime
    missing: int
    detected_at: datetime
    updated_at: datetime
    state: GapState
    attempts: int
    evidence: dict[str, Any]

    @classmethod
    def of(cls, row: Row[Any]) -> GapEvent:
        return cls(
            id=row.id,
            key=MarketKey(row.market, row.symbol),
            stream=row.stream,
            interval=row.interval,
            source=row.source,
            start=row.start_time,
            end=row.end_time,
            missing=row.missing,
            detected_at=row.detected_at,
            updated_at=row.updated_at,
            state=GapState(row.state),
            attempts=row.attempts,
            evidence=dict(row.evidence),
        )


class GapMetrics:
    """Gap counters by stream, interval and source, and the time from detection to healed."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        labels = ["stream", "interval", "source"]
        self.registry = registry
        self.detected = Counter(
            "tradeplane_gaps_detected_total", "Gap events recorded", labels, registry=registry
        )
        self.healed = Counter("tradeplane_gaps_healed_total", "Gap events healed", labels, registry=registry)
        self.unhealable = Counter(
            "tradeplane_gaps_unhealable_total", "Gap events given up as unhealable", labels, registry=registry
        )
        self.heal_latency = Histogram(
            "tradeplane_gap_heal_latency_seconds",
            "Seconds from a gap's detection to its verified healing",
            ["stream", "interval"],
            buckets=HEAL_BUCKETS,
            registry=registry,
        )

    def labels(self, gap: GapEvent) -> dict[str, str]:
        return {"stream": gap.stream, "interval": gap.interval, "source": gap.source}


METRICS = GapMetrics()


async def record_gap(
    conn: AsyncConnection,
    key: MarketKey,
    *,
    stream: str,
    interval: str,
    source: str,
    start: datetime,
    end: datetime,
    missing: int,
    now: datetime,
    metrics: GapMetrics = METRICS,
) -> GapEvent:
    """Insert the gap, or return the one already recorded for this exact range. A healed gap that
    reappears (its bars were lost again) is reopened with its attempts kept; an open, healing or
    unhealable one is left as it is."""
    statement = pg_insert(gap_events).values(
        market=key.market,
        symbol=key.symbol,
        stream=stream,
        interval=interval,
        source=source,
        start_time=start,
        end_time=end,
        missing=missing,
        detected_at=now,
        updated_at=now,
        state=GapState.OPEN.value,
        attempts=0,
        evidence={},
    )
    unique = ["market", "symbol", "stream", "interval", "start_time", "end_time"]
    upsert = statement.on_conflict_do_update(
        index_elements=unique,
        set_={"state": GapState.OPEN.value, "updated_at": now, "missing": missing, "source": source},
        where=gap_events.c.state == GapState.HEALED.value,
    ).returning(*gap_events.c)
    row = (await conn.execute(upsert)).one_or_none()
    if row is None:  # already recorded and not healed: idempotent, nothing changes
        existing = select(gap_events).where(
            *(
                gap_events.c[name] == value
                for name, value in _unique(key, stream, interval, start, end).items()
            )
        )
        return GapEvent.of((await conn.execute(existing)).one())
    gap = GapEvent.of(row)
    metrics.detected.labels(**metrics.labels(gap)).inc()
    return gap


def _unique(key: MarketKey, stream: str, interval: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "market": key.market,
        "symbol": key.symbol,
        "stream": stream,
        "interval": interval,
        "start_time": start,
        "end_time": end,
    }


async def _set(conn: AsyncConnection, gap_id: int, **values: Any) -> GapEvent:
    statement = update(gap_events).where(gap_events.c.id == gap_id).values(**values).returning(*gap_events.c)
    return GapEvent.of((await conn.execute(statement)).one())


def finished_open_times(start: datetime, end: datetime, interval: str, now: datetime) -> list[datetime]:
    """The grid of [start, end] without bars the venue has not finished by ``now`` (not gaps yet)."""
    return [t for t in open_times(start, end, interval) if next_open(t, interval) <= now]


async def scan_candles(
    engine: AsyncEngine,
    writer: Writer,
    key: MarketKey,
    interval: str,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    recorded_at: datetime | None = None,
    source: str = "scan",
    metrics: GapMetrics = METRICS,
) -> list[GapEvent]:
    """Compare the expected grid with the stored open times and record one gap per missing run.

    ``now`` is the venue's time (which bars are finished); ``recorded_at`` (default ``now``) is the
    ingestor's clock, which stamps the event like the gaps the stream reports, so detection and heal
    times, and the heal latency between them, are read on one clock."""
    expected = finished_open_times(start, end, interval, now)
    if not expected:
        return []
    present = await candle_open_times(engine, key, interval, expected[0], expected[-1])
    ranges = grid.missing_ranges(expected, present, interval)
    if not ranges:
        return []
    async with writer.transaction() as conn:
        return [
            await record_gap(
                conn,
                key,
                stream=KLINES,
                interval=interval,
                source=source,
                start=run.start,
                end=run.end,
                missing=run.count,
                now=now if recorded_at is None else recorded_at,
                metrics=metrics,
            )
            for run in ranges
        ]


def _iso(times: Sequence[datetime], limit: int = 200) -> list[str]:
    """At most ``limit`` times as ISO strings (evidence must stay readable, not a dump)."""
    return [t.isoformat() for t in times[:limit]]


async def heal(
    writer: Writer,
    engine: AsyncEngine,
    client: BingXClient,
    gap: GapEvent,
    *,
    now: datetime,
    recorded_at: datetime | None = None,
    max_attempts: int = 3,
    metrics: GapMetrics = METRICS,
) -> GapEvent:
    """One bounded attempt: mark healing, re-read the range from REST, store it, re-scan, decide.

    ``now`` is the venue's time (bars it has finished); ``recorded_at`` (default ``now``) the
    ingestor's clock, for the event's times, the stored bars' received time and the heal latency.

    Healed only when the re-scan finds nothing missing. Still missing: back to open, or unhealable
    once ``attempts`` reaches ``max_attempts``, with the evidence. A venue error puts the gap back to
    open with the error as evidence (the attempt counted) and propagates."""
    if gap.stream != KLINES:
        raise ValueError(f"only {KLINES} gaps are healed from REST here, not {gap.stream!r}")
    if gap.state in (GapState.HEALED, GapState.UNHEALABLE):
        return gap
    at = now if recorded_at is None else recorded_at
    async with writer.transaction() as conn:
        gap = await _set(
            conn, gap.id, state=GapState.HEALING.value, attempts=gap_events.c.attempts + 1, updated_at=at
        )
    try:
        fetched = await fetch_candles(client, gap.key, gap.interval, gap.start, gap.end, now_ms=to_ms(now))
        counts = await write_candles(writer, gap.key, gap.interval, fetched, received_at=at)
    except VenueError as error:
        evidence = {"attempt": gap.attempts, "error": type(error).__name__, "message": str(error)}
        async with writer.transaction() as conn:
            await _set(conn, gap.id, state=GapState.OPEN.value, updated_at=at, evidence=evidence)
        raise
    expected = open_times(gap.start, gap.end, gap.interval)
    present = set(await candle_open_times(engine, gap.key, gap.interval, gap.start, gap.end))
    still = [t for t in expected if t not in present]
    returned = [item.candle.open_time for item in fetched]
    evidence = {
        "attempt": gap.attempts,
        "expected": len(expected),
        "venue_returned": len(returned),
        "counts": counts._asdict(),
    }
    if not still:
        state = GapState.HEALED
    else:
        state = GapState.UNHEALABLE if gap.attempts >= max_attempts else GapState.OPEN
        lacking = sorted(set(still) - set(returned))
        evidence |= {
            "still_missing": len(still),
            "missing_open_times": _iso(still),
            "venue_returned_open_times": _iso(returned),
            "venue_lacks": len(lacking),
        }
    async with writer.transaction() as conn:
        gap = await _set(conn, gap.id, state=state.value, updated_at=at, evidence=evidence)
    if state is GapState.HEALED:
        metrics.healed.labels(**metrics.labels(gap)).inc()
        latency = (at - gap.detected_at).total_seconds()
        metrics.heal_latency.labels(stream=gap.stream, interval=gap.interval).observe(max(latency, 0.0))
    elif state is GapState.UNHEALABLE:
        metrics.unhealable.labels(**metrics.labels(gap)).inc()
    return gap


async def heal_open(
    writer: Writer,
    engine: AsyncEngine,
    client: BingXClient,
    key: MarketKey,
    *,
    now: datetime,
    recorded_at: datetime | None = None,
    limit: int = 100,
    max_attempts: int = 3,
    metrics: GapMetrics = METRICS,
) -> list[GapEvent]:
    """Heal the oldest ``limit`` open candle gaps of ``key`` in order; a venue error stops the pass.

    Gaps left ``healing`` are taken too: only the lease holder heals, so a healing gap it finds was
    abandoned by a predecessor that died mid-attempt (that attempt stays counted)."""
    query = (
        select(gap_events)
        .where(
            gap_events.c.market == key.market,
            gap_events.c.symbol == key.symbol,
            gap_events.c.stream == KLINES,
            gap_events.c.state.in_([GapState.OPEN.value, GapState.HEALING.value]),
        )
        .order_by(gap_events.c.start_time, gap_events.c.interval)
        .limit(limit)
    )
    async with engine.connect() as conn:
        pending = [GapEvent.of(row) for row in await conn.execute(query)]
    return [
        await heal(
            writer,
            engine,
            client,
            gap,
            now=now,
            recorded_at=recorded_at,
            max_attempts=max_attempts,
            metrics=metrics,
        )
        for gap in pending
    ]


async def list_gaps(
    engine: AsyncEngine,
    *,
    market: str | None = None,
    symbol: str | None = None,
    state: GapState | None = None,
    since: datetime | None = None,
) -> list[GapEvent]:
    """Gap events, filtered; ``since`` keeps those updated at or after it."""
    query = select(gap_events)
    if market is not None:
        query = query.where(gap_events.c.market == market)
    if symbol is not None:
        query = query.where(gap_events.c.symbol == symbol)
    if state is not None:
        query = query.where(gap_events.c.state == state.value)
    if since is not None:
        query = query.where(gap_events.c.updated_at >= since)
    query = query.order_by(
        gap_events.c.market,
        gap_events.c.symbol,
        gap_events.c.stream,
        gap_events.c.interval,
        gap_events.c.start_time,
    )
    async with engine.connect() as conn:
        return [GapEvent.of(row) for row in await conn.execute(query)]


@dataclass(frozen=True)
class Summary:
    """Gap counts of one (stream, interval) by state, and the oldest open gap's start."""

    open: int = 0
    healing: int = 0
    healed: int = 0
    unhealable: int = 0
    oldest_open: datetime | None = None


async def gap_summary(engine: AsyncEngine, key: MarketKey) -> dict[tuple[str, str], Summary]:
    query = (
        select(
            gap_events.c.stream,
            gap_events.c.interval,
            gap_events.c.state,
            func.count(),
            func.min(gap_events.c.start_time),
        )
        .where(gap_events.c.market == key.market, gap_events.c.symbol == key.symbol)
        .group_by(gap_events.c.stream, gap_events.c.interval, gap_events.c.state)
    )
    counts: dict[tuple[str, str], dict[str, Any]] = {}
    async with engine.connect() as conn:
        for stream, interval, state, count, oldest in await conn.execute(query):
            entry = counts.setdefault((stream, interval), {})
            entry[state] = count
            if state == GapState.OPEN.value:
                entry["oldest_open"] = oldest
    return {pair: Summary(**values) for pair, values in counts.items()}
