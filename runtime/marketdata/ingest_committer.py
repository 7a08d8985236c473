"""Batch commits that overlap with decoding: at most one in flight, strictly in order.

Committing inline stopped the reader for every round trip of every batch, so the ingestor could only
decode while PostgreSQL was idle and vice versa. ``BatchCommitter.submit`` hands the batch to a task
and returns as soon as the *previous* batch is committed, so the reader fills batch N+1 while batch N
is written; waiting for N-1 is the backpressure that bounds memory to two batches.

Order is fixed when ``submit`` is called, not when a task happens to run: each commit task first
awaits its predecessor, so batch N+1 (its rows and its ``committed`` callback) always follows batch N,
even when two coroutines (the reader and the sweep) submit concurrently.

A database failure is retried in the task, as the inline commit did. Anything else (``LeaseLost``
above all) ends the chain: it is raised by the next ``submit`` or ``drain``, and ``watch`` raises it
at once so a task group can end the leading phase without waiting for the next batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError

from tradeplane.runtime.marketdata.ingest_commit import commit_batch
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingest_pipeline import Batch
from tradeplane.runtime.marketdata.lease import Writer
from tradeplane.runtime.marketdata.tables import MarketKey

log = structlog.get_logger(__name__)

RETRY_S = 0.5
"""Pause after a failed database or REST step before it is tried again (the step is idempotent)."""
RETRIED = (DBAPIError, OperationalError, OSError)
"""Failures a commit survives by trying again; the batch is idempotent, so a retry is safe."""


class BatchCommitter:
    """``await submit(batch)`` per full batch, ``await drain()`` when the caller needs it written.

    ``committed(batch)`` runs after each batch's transaction commits, in batch order. After a
    failure that was not retried every later ``submit``/``drain`` raises it; make a new committer
    (the ingestor does, per leading phase).
    """

    def __init__(
        self,
        writer: Writer,
        key: MarketKey,
        metrics: IngestMetrics,
        *,
        committed: Callable[[Batch], Awaitable[None]] | None = None,
        retry_s: float = RETRY_S,
    ) -> None:
        self.writer = writer
        self.key = key
        self.metrics = metrics
        self.committed = committed
        self.retry_s = retry_s
        self.attempts_failed = 0
        """Commit attempts that failed and were retried (tests observe a retry by it)."""
        self._tail: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._failed = asyncio.Event()

    async def submit(self, batch: Batch) -> None:
        """Queue ``batch`` behind the commit in flight and wait for that one (not for ``batch``).

        Cancelling the caller while it waits does not cancel any commit: ``batch`` is queued already.
        """
        previous = self._tail
        task = asyncio.create_task(self._commit_after(previous, batch))
        task.add_done_callback(self._record)
        self._tail = task
        if previous is not None:
            await asyncio.wait([previous])
            self._raise_failure()

    async def drain(self) -> None:
        """Until every batch submitted so far is committed; raises what ended the chain, if anything."""
        tail = self._tail
        if tail is not None:
            await asyncio.wait([tail])
        self._raise_failure()

    async def watch(self) -> None:
        """Raise the first failure that was not retried as soon as it happens (never returns)."""
        await self._failed.wait()
        self._raise_failure()

    async def close(self) -> None:
        """Abandon whatever is still queued or in flight (its transaction rolls back): a leading
        phase that ended by a failure drops its pending rows, the next holder reads the same venue."""
        tail = self._tail
        if tail is not None and not tail.done():
            tail.cancel()  # cancels the chain: each task awaits its predecessor directly
            await asyncio.wait([tail])

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _record(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        failure = task.exception()  # retrieved for every task, so asyncio never reports it as lost
        if failure is not None and self._failure is None:
            self._failure = failure
            self._failed.set()

    async def _commit_after(self, previous: asyncio.Task[None] | None, batch: Batch) -> None:
        if previous is not None:
            await previous  # raises the predecessor's failure: nothing commits out of order
        while True:
            try:
                async with self.writer.transaction() as conn:
                    await commit_batch(conn, self.key, batch, metrics=self.metrics, now=datetime.now(UTC))
                break
            except RETRIED as error:
                self.attempts_failed += 1
                log.warning("ingest.commit.failed", error=type(error).__name__, frames=batch.frames)
                await asyncio.sleep(self.retry_s)
        if self.committed is not None:
            await self.committed(batch)
