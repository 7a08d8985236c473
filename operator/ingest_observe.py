"""What the operator reads back about an Instrument's ingestion: its workload, the write lease,
the last closed bar per interval and the gap events, all from the driver and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.reconcilers.ingest import GapCounts, IngestObservation
from tradeplane.runtime.marketdata.gaps import GapState, gap_summary, list_gaps
from tradeplane.runtime.marketdata.lease import current_holder
from tradeplane.runtime.marketdata.store_reads import last_closed_candle
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.workloads.spec import WorkloadDriver, WorkloadSpec


async def gap_counts(engine: AsyncEngine, key: MarketKey) -> GapCounts:
    summary = await gap_summary(engine, key)
    unfinished = [
        gap
        for state in (GapState.OPEN, GapState.HEALING)
        for gap in await list_gaps(engine, market=key.market, symbol=key.symbol, state=state)
    ]
    oldest = min(unfinished, key=lambda gap: gap.start, default=None)
    return GapCounts(
        open=len(unfinished),
        healed=sum(s.healed for s in summary.values()),
        unhealable=sum(s.unhealable for s in summary.values()),
        oldest_open=None if oldest is None else (oldest.stream, oldest.interval, oldest.start, oldest.end),
    )


async def observe_ingest(
    engine: AsyncEngine,
    driver: WorkloadDriver,
    workload: WorkloadSpec,
    key: MarketKey,
    intervals: Sequence[str],
) -> IngestObservation:
    status = await asyncio.to_thread(driver.status, workload)
    lease = await current_holder(engine, key)
    last_closed = {}
    for interval in intervals:
        candle = await last_closed_candle(engine, key, interval)
        last_closed[interval] = None if candle is None else candle.open_time
    return IngestObservation(
        workload=status,
        workload_name=workload.name,
        lease_holder=None if lease is None else lease.holder,
        last_closed=last_closed,
        gaps=await gap_counts(engine, key),
    )
