"""Retention of one Instrument's high-volume market data, run by its ingestor while it leads.

The raw journal keeps every frame a second time and a deep book pushes several depth rows a second,
so without pruning the database grows without bound. Candles, mark prices, mark candles, funding and
candle revisions are never pruned: datasets are built, and rebuilt for reproduction, from them
(``store_reads.prune_older`` refuses those tables outright).

Only the leading ingestor prunes, and every delete runs in a ``FencedWriter`` transaction: a former
holder that wakes up after a takeover is refused (``LeaseLost``) before it deletes anything, exactly
as its writes are. A backlog (the first pass after a retention is shortened, or after the ingestor was
down) is deleted oldest first in chunks of ``CHUNK_ROWS``, each its own short transaction, so batch
commits keep flowing and the lease row's share lock is never held for long.

Each table is judged by the clock that stamped it: the journal by this process's clock
(``received_at``), depth and trades by the venue's (their exchange time), so the rows of a venue whose
clock is not ours (a simulator replaying a past day) are not mistaken for old ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.lease import LeaseLost, Writer
from tradeplane.runtime.marketdata.store_reads import prune_older
from tradeplane.runtime.marketdata.tables import MarketKey, depth_updates, raw_journal, trades
from tradeplane.runtime.marketdata.waiting import wait_or_timeout

log = structlog.get_logger(__name__)

CHUNK_ROWS = 5000
"""Rows per delete transaction: large enough that a pass is a few statements, small enough that
one takes milliseconds, not the minutes a first prune of a week of depth would."""
FIRST_PASS_DELAY = timedelta(seconds=30)
"""After taking the lease the first pass waits this long (or one interval when shorter), so the
first sweep's confirmations and heals are not queued behind a backlog's deletes."""
LABELS = {raw_journal.name: "journal", depth_updates.name: "depth", trades.name: "trades"}
"""Metric label per table: the same values as ``tradeplane_ingest_rows_total``, so written minus
pruned is what is kept."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each prunable table keeps rows; ``None``: forever."""

    journal: timedelta | None
    depth: timedelta | None
    trades: timedelta | None

    @classmethod
    def of(cls, config: IngestorConfig) -> RetentionPolicy:
        return cls(config.journal_retention, config.depth_retention, config.trades_retention)

    def bounds(self, *, now: datetime, venue_now: datetime | None) -> dict[str, datetime]:
        """Table name -> rows strictly before this time go. Until the venue's clock is known its
        tables are left alone: guessing it from ours could delete a replayed day's rows."""
        bounds: dict[str, datetime] = {}
        if self.journal is not None:
            bounds[raw_journal.name] = now - self.journal
        if venue_now is not None:
            if self.depth is not None:
                bounds[depth_updates.name] = venue_now - self.depth
            if self.trades is not None:
                bounds[trades.name] = venue_now - self.trades
        return bounds


class RetentionJob:
    """``await job.run(writer)`` prunes ``key``'s rows every ``interval`` until cancelled.

    ``clock`` and ``venue_clock`` are injectable so tests pin the times rows are judged against;
    ``venue_clock`` defaults to ``clock``. ``passes`` and ``failures`` count finished passes, and
    ``on_pass`` is awaited after each (the ingestor wakes its ``wait_until`` waiters with it).
    """

    def __init__(
        self,
        key: MarketKey,
        policy: RetentionPolicy,
        metrics: IngestMetrics,
        *,
        interval: timedelta,
        first_delay: timedelta | None = None,
        clock: Callable[[], datetime] = _utcnow,
        venue_clock: Callable[[], datetime | None] | None = None,
        chunk_rows: int = CHUNK_ROWS,
        on_pass: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if interval <= timedelta(0) or chunk_rows < 1:
            raise ValueError("the prune interval and chunk size must be positive")
        self.key = key
        self.policy = policy
        self.metrics = metrics
        self.interval = interval
        self.first_delay = min(FIRST_PASS_DELAY, interval) if first_delay is None else first_delay
        self.clock = clock
        self.venue_clock = venue_clock or clock
        self.chunk_rows = chunk_rows
        self.on_pass = on_pass
        self.passes = 0
        self.failures = 0
        self.changed = asyncio.Condition()
        self._wake = asyncio.Event()

    def trigger(self) -> None:
        """Run the next pass now instead of at the end of the interval."""
        self._wake.set()

    async def wait_until(self, predicate: Callable[[RetentionJob], bool]) -> None:
        """Until ``predicate(self)`` holds after a pass (callers bound this with a timeout)."""
        async with self.changed:
            await self.changed.wait_for(lambda: predicate(self))

    async def prune(self, writer: Writer) -> dict[str, int]:
        """One pass: rows deleted per table. Each chunk commits on its own and is counted once
        committed, so a pass cut short (a lost lease, a database restart) reports what it did."""
        bounds = self.policy.bounds(now=self.clock(), venue_now=self.venue_clock())
        deleted: dict[str, int] = {}
        for table, before in bounds.items():
            deleted[table] = 0
            while True:
                async with writer.transaction() as connection:
                    count = await prune_older(connection, self.key, table, before, limit=self.chunk_rows)
                deleted[table] += count
                self.metrics.pruned.labels(LABELS[table]).inc(count)
                if count < self.chunk_rows:
                    break
        return deleted

    async def run(self, writer: Writer) -> None:
        """Prune after ``first_delay``, then every ``interval``. A failed pass is logged and retried
        at the next interval (retention is never a reason to stop ingesting); ``LeaseLost`` ends the
        loop, so the ingestor's leading phase ends as it does for a refused write."""
        delay = self.first_delay
        while True:
            await wait_or_timeout(self._wake, delay.total_seconds())
            self._wake.clear()
            try:
                deleted = await self.prune(writer)
            except LeaseLost:
                raise
            except Exception as error:
                self.failures += 1
                log.warning(
                    "ingest.retention.failed",
                    key=str(self.key),
                    error=type(error).__name__,
                    detail=str(error),
                )
            else:
                self.passes += 1
                if any(deleted.values()):
                    log.info("ingest.retention.pruned", key=str(self.key), **deleted)
            await self._notify()
            delay = self.interval

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()
        if self.on_pass is not None:
            await self.on_pass()
