"""The ingestor of one Instrument: lease first, then WebSocket frames through the pipeline into
PostgreSQL in batched fenced transactions, with REST confirmation of every closed bar and funding
after every settlement. A full batch is written by the ``BatchCommitter`` while the reader decodes
the next one (one commit in flight, in order).

Finality and healing are one mechanism: per interval a *confirmation frontier* (the first bar not yet
confirmed by REST) advances as the venue's clock passes each bar's close plus a grace. The sweep reads
every finished bar from the frontier on, so a bar the stream skipped, lost in a reconnect or missed
while PostgreSQL was down is written by the same pass that confirms the bars it did see; a
reconnection sweeps at once. The venue's clock is the newest push time (``ts``) of the stream, so a
simulated venue with a manual clock drives the ingestor deterministically.

A lost lease (renewal refused, or a fenced write refused) ends the leading phase: pending rows are
dropped (the new holder reads the same venue) and the process returns to standby.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.runtime.intervals import align, next_open
from tradeplane.runtime.marketdata.backfill import (
    backfill_candles,
    backfill_funding,
    backfill_history,
    last_confirmed_open,
)
from tradeplane.runtime.marketdata.gaps import heal_open, scan_candles
from tradeplane.runtime.marketdata.ingest_committer import RETRY_S, BatchCommitter
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.ingest_pipeline import Batch, Pipeline
from tradeplane.runtime.marketdata.ingest_source import RawFrame, Reconnected, raw_frames
from tradeplane.runtime.marketdata.lease import FencedWriter, Lease, LeaseLost, release, renew, wait_for_lease
from tradeplane.runtime.marketdata.retention import RetentionJob, RetentionPolicy
from tradeplane.runtime.marketdata.waiting import wait_or_timeout
from tradeplane.runtime.marketdata.watchdog import SilenceCheck, stream_of
from tradeplane.runtime.millis import from_ms, to_ms
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.errors import VenueError

log = structlog.get_logger(__name__)

Source = Callable[[str, list[str]], AsyncIterator[RawFrame | Reconnected]]


class Ingestor:
    """``await Ingestor(config, engine, client).run(stopping)`` until ``stopping`` is set."""

    def __init__(
        self,
        config: IngestorConfig,
        engine: AsyncEngine,
        client: BingXClient,
        *,
        metrics: IngestMetrics | None = None,
        source: Source = raw_frames,
    ) -> None:
        self.config = config
        self.engine = engine
        self.client = client
        self.metrics = metrics or IngestMetrics()
        self.source = source
        self.pipeline = Pipeline(config, self.metrics)
        self.lease: Lease | None = None
        self.venue_now: datetime | None = None
        """The venue's clock: the newest push time committed."""
        self.frontier: dict[str, datetime] = {}
        self.confirmed_through: datetime | None = None
        """Every interval's bars are confirmed up to (excluding) this venue time."""
        self.changed = asyncio.Condition()
        self.lease_lost = 0
        self._sweep_now = asyncio.Event()
        self.next_funding: datetime | None = None
        """The settlement whose rate is read once the venue's clock passes it plus the delay."""
        self._funding_behind = True
        """The last day's settlements are read once per leading phase, before waiting for the next."""
        self._heal_due = False
        self._connection_guard: asyncio.Timeout | None = None
        """Expires the current connection when a topic has gone silent (``_watch_silence``)."""
        self.connection_id: str | None = None
        self.connections = 0
        """Connections that delivered a frame (an ack counts): tests await a reconnection by it."""
        self.retention = RetentionJob(
            config.key,
            RetentionPolicy.of(config),
            self.metrics,
            interval=config.prune_interval,
            venue_clock=lambda: self.venue_now,
            on_pass=self._notify,
        )
        """Prunes the journal, depth and trades while this process leads (fenced like every write)."""

    async def wait_until(self, predicate: Callable[[Ingestor], bool]) -> None:
        """Until ``predicate(self)`` holds after a commit or sweep (tests bound this with a timeout)."""
        async with self.changed:
            await self.changed.wait_for(lambda: predicate(self))

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def run(self, stopping: asyncio.Event) -> None:
        """Standby until the lease is ours, lead until it is lost or ``stopping``; repeat."""
        while not stopping.is_set():
            self.metrics.leader.set(0)
            lease = await self._standby(stopping)
            if lease is None:
                return
            self.lease = lease
            self.metrics.lease_changes.labels("acquired").inc()
            self.metrics.leader.set(1)
            log.info("ingest.lease.acquired", key=str(self.config.key), token=lease.token)
            lost = await self._lead_until_lost(lease, stopping)
            self.metrics.leader.set(0)
            if lost is None:
                with contextlib.suppress(DBAPIError, OSError):
                    await release(self.engine, lease)
                self.metrics.lease_changes.labels("released").inc()
                return
            self.lease_lost += 1
            self.metrics.lease_changes.labels("lost").inc()
            log.warning("ingest.lease.lost", error=str(lost))
            self.pipeline = Pipeline(self.config, self.metrics)
            await self._notify()

    async def _lead_until_lost(self, lease: Lease, stopping: asyncio.Event) -> LeaseLost | None:
        try:
            await self._lead(lease, stopping)
        except LeaseLost as lost:
            return lost
        except ExceptionGroup as group:
            matched, rest = group.split(LeaseLost)
            if rest is not None:
                raise rest from None
            assert matched is not None
            first = matched.exceptions[0]
            while isinstance(first, ExceptionGroup):
                first = first.exceptions[0]
            assert isinstance(first, LeaseLost)
            return first
        return None

    async def _standby(self, stopping: asyncio.Event) -> Lease | None:
        poll = max(0.2, self.config.lease_ttl.total_seconds() / 3)
        while True:
            try:
                return await wait_for_lease(
                    self.engine,
                    self.config.key,
                    self.config.holder,
                    ttl=self.config.lease_ttl,
                    poll_s=poll,
                    stopping=stopping,
                )
            except (DBAPIError, OperationalError, OSError) as error:
                log.warning("ingest.lease.unreachable", error=type(error).__name__)
                await wait_or_timeout(stopping, RETRY_S)
                if stopping.is_set():
                    return None

    async def _lead(self, lease: Lease, stopping: asyncio.Event) -> None:
        writer = FencedWriter(self.engine, lease)
        while not stopping.is_set():
            try:
                await self._start(writer)
                break
            except (VenueError, DBAPIError, OperationalError, OSError) as error:
                # a 429/5xx storm or a database restart during backfill: every step is idempotent
                log.warning("ingest.start.failed", error=type(error).__name__)
                await wait_or_timeout(stopping, RETRY_S)
        committer = BatchCommitter(writer, self.config.key, self.metrics, committed=self._committed)
        try:
            async with asyncio.TaskGroup() as tasks:
                stop_all = tasks.create_task(stopping.wait())
                workers = [
                    tasks.create_task(self._read(committer)),
                    tasks.create_task(self._renew(writer)),
                    tasks.create_task(self._sweep(writer, committer)),
                    tasks.create_task(self._watch_silence()),
                    tasks.create_task(self.retention.run(writer)),  # a refused prune ends the phase too
                    tasks.create_task(committer.watch()),  # a refused commit ends the phase at once
                ]
                await stop_all
                for worker in workers:
                    worker.cancel()
            await self._flush(committer, wait=True)
        finally:
            await committer.close()  # only a phase ended by a failure leaves a commit in flight

    async def _start(self, writer: FencedWriter) -> None:
        """Backfill from the Instrument's start (bounded), then set each interval's frontier."""
        config = self.config
        now = from_ms((await self.client.server_time()).server_time_ms)
        self.venue_now = now
        lookback_start = now - config.lookback
        if config.backfill_from is not None:
            start = max(config.backfill_from, now - config.max_backfill)
            await backfill_history(
                self.client,
                writer,
                self.engine,
                config.key,
                intervals=list(config.intervals),
                start=start,
                now=now,
            )
            lookback_start = min(lookback_start, start)
        for interval in config.intervals:
            latest = await last_confirmed_open(self.engine, config.key, interval)
            begin = next_open(latest, interval) if latest is not None else lookback_start
            self.frontier[interval] = align(max(begin, lookback_start), interval)
        self._heal_due = True
        self._funding_behind = True
        self.next_funding = None
        self._sweep_now.set()

    async def _read(self, committer: BatchCommitter) -> None:
        """Frames into the pipeline; an incrDepth break reconnects, which brings a fresh snapshot.
        A full batch is handed to the committer, and reading goes on while it is written."""
        while True:
            frames = self.source(self.config.ws_url, self.config.topics())
            try:
                async with asyncio.timeout(None) as guard:
                    self._connection_guard = guard
                    async for item in frames:
                        if isinstance(item, Reconnected):
                            self.metrics.reconnects.inc()
                            self._heal_due = True
                            self._sweep_now.set()
                            continue
                        if item.connection_id != self.connection_id:
                            self.connection_id = item.connection_id
                            self.connections += 1
                            await self._notify()
                        pipeline = self.pipeline
                        pipeline.accept(
                            item.data, connection_id=item.connection_id, received_at=item.received_at
                        )
                        if len(pipeline.batch) >= self.config.flush_frames:
                            await self._flush(committer)
                        if pipeline.resync:
                            pipeline.resync.clear()
                            break
            except TimeoutError:
                pass  # a topic went silent (_watch_silence): this connection is replaced
            finally:
                self._connection_guard = None
                await frames.aclose()  # type: ignore[attr-defined]
            # a resync's or a silence's new connection starts a new source, which marks no
            # reconnection itself: whatever was pushed while the socket was replaced is healed
            self.metrics.reconnects.inc()
            self._heal_due = True
            self._sweep_now.set()

    async def _watch_silence(self) -> None:
        """Every ``silence_check``, the venue's server time against each topic's last push. A topic
        silent beyond its cadence (the socket may be alive: Pings keep it so) replaces the connection,
        and the venue clock moves to the server's, so the sweep confirms and heals from REST the bars
        the dark stream did not deliver instead of waiting for it to come back."""
        check = SilenceCheck(self.config.topics())
        while True:
            await asyncio.sleep(self.config.silence_check.total_seconds())
            try:
                server = from_ms((await self.client.server_time()).server_time_ms)
            except (VenueError, OSError) as error:
                log.warning("ingest.silence.clock_failed", error=type(error).__name__)
                continue
            last_push = self.pipeline.last_event
            overdue = check.check(connection=self.connection_id, last_push=last_push, venue_now=server)
            if not overdue:
                continue
            log.warning("ingest.stream.silent", topics=overdue, connection=self.connection_id)
            for topic in overdue:
                self.metrics.silences.labels(stream_of(topic)).inc()
            if self.venue_now is None or server > self.venue_now:
                self.venue_now = server
            self._heal_due = True
            self._sweep_now.set()
            if self._connection_guard is not None:
                self._connection_guard.reschedule(asyncio.get_running_loop().time())

    async def _flush(self, committer: BatchCommitter, *, wait: bool = False) -> None:
        """Hand the pending batch to the committer (which retries a database failure); ``wait``:
        until it and everything before it is committed (the sweep reads what was written)."""
        batch = self.pipeline.take()
        if batch.frames or batch.journal:
            await committer.submit(batch)
        if wait:
            await committer.drain()

    async def _committed(self, batch: Batch) -> None:
        self._advance(batch)
        await self._notify()

    def _advance(self, batch: Batch) -> None:
        if batch.exchange_time is not None and (
            self.venue_now is None or batch.exchange_time > self.venue_now
        ):
            self.venue_now = batch.exchange_time
        now = datetime.now(UTC)
        for stream, when in self.pipeline.last_event.items():
            self.metrics.lag.labels(stream).set((now - when).total_seconds())
        if batch.gaps:
            self._heal_due = True
            self._sweep_now.set()

    async def _renew(self, writer: FencedWriter) -> None:
        ttl = self.config.lease_ttl
        while True:
            await asyncio.sleep(ttl.total_seconds() / 3)
            try:
                writer.lease = await renew(self.engine, writer.lease, ttl=ttl)
            except (DBAPIError, OperationalError, OSError) as error:
                log.warning("ingest.lease.renew_failed", error=type(error).__name__)

    async def _sweep(self, writer: FencedWriter, committer: BatchCommitter) -> None:
        """Flush on the interval, confirm and heal bars whose grace has passed, poll funding."""
        interval_s = self.config.flush_interval.total_seconds()
        while True:
            await wait_or_timeout(self._sweep_now, interval_s)
            self._sweep_now.clear()
            await self._flush(committer, wait=True)
            try:
                await self._confirm(writer)
                if self.config.funding:
                    await self._funding(writer)
            except (VenueError, DBAPIError, OperationalError, OSError) as error:
                log.warning("ingest.sweep.failed", error=type(error).__name__)
                await asyncio.sleep(RETRY_S)
                self._sweep_now.set()

    async def _heal(self, writer: FencedWriter, horizon: datetime) -> None:
        """Record what is missing since the lookback as gap events, then heal them from REST."""
        assert self.venue_now is not None
        gaps = self.metrics.gaps
        for interval in self.config.intervals:
            await scan_candles(
                self.engine,
                writer,
                self.config.key,
                interval,
                start=self.venue_now - self.config.lookback,
                end=horizon,
                now=horizon,
                recorded_at=datetime.now(UTC),
                metrics=gaps,
            )
        await heal_open(
            writer,
            self.engine,
            self.client,
            self.config.key,
            now=horizon,
            recorded_at=datetime.now(UTC),
            metrics=gaps,
        )

    async def _confirm(self, writer: FencedWriter) -> None:
        assert self.venue_now is not None  # _start read the venue's clock before any sweep
        horizon = self.venue_now - self.config.confirm_delay
        if self._heal_due and self.config.gap_healing:
            self._heal_due = False
            await self._heal(writer, horizon)
        for interval, frontier in self.frontier.items():
            if next_open(frontier, interval) > horizon:
                continue
            await backfill_candles(
                self.client,
                writer,
                self.config.key,
                interval,
                start=frontier,
                end=horizon,
                received_at=datetime.now(UTC),
                now_ms=to_ms(horizon),
            )
            latest = await last_confirmed_open(self.engine, self.config.key, interval)
            if latest is not None and latest >= frontier:
                self.frontier[interval] = next_open(latest, interval)
        self.confirmed_through = min(self.frontier.values(), default=horizon)
        await self._notify()

    async def _funding(self, writer: FencedWriter) -> None:
        if self.next_funding is None:
            index = await self.client.premium_index(self.config.symbol)
            upcoming = from_ms(index.next_funding_time_ms)
            if self._funding_behind:  # settlements passed while this process was not leading
                await backfill_funding(
                    self.client,
                    writer,
                    self.config.key,
                    upcoming - timedelta(days=1),
                    upcoming,
                    received_at=datetime.now(UTC),
                )
                self._funding_behind = False
            self.next_funding = upcoming
        due = self.next_funding + self.config.funding_delay
        if self.venue_now is None or self.venue_now < due:
            return
        start = self.next_funding - timedelta(days=1)
        await backfill_funding(
            self.client, writer, self.config.key, start, self.next_funding, received_at=datetime.now(UTC)
        )
        self.next_funding = None
