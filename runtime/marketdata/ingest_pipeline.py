"""Frames in, rows out: one ingestor's per-frame work without any I/O.

``Pipeline.accept`` takes the bytes of one WebSocket frame as received, decodes it, journals it,
routes it through the stream's sequencer and appends what is to be stored to the pending ``Batch``;
the ingestor commits that batch in one fenced transaction every N frames or every few hundred
milliseconds. Nothing here touches a socket, a database or a clock, so a malformed frame can only
ever be counted, journaled and skipped, and the benchmark can time exactly this code path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from tradeplane.runtime.marketdata.depth_book import DepthSequencer
from tradeplane.runtime.marketdata.frames import FrameError, MarketFrame, read_frame, utc_from_ms
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.rows import Candle, DepthRow, JournalEntry, Provenance, TradeRow
from tradeplane.runtime.marketdata.sequencing import KlineSequencer, TradeDeduper
from tradeplane.runtime.marketdata.watchdog import stream_of
from tradeplane.runtime.venue.payloads_market import (
    IncrementalDepth,
    KlineUpdate,
    MarketEvent,
    MarkPriceUpdate,
    TradeUpdate,
)

TRADE_WINDOW = timedelta(minutes=10)
"""How long synthetic trade keys are remembered: far longer than any redelivery the venue does."""


@dataclass
class Batch:
    """Rows waiting for the next commit, each with the provenance of the frame it came from."""

    frames: int = 0
    journal: list[JournalEntry] = field(default_factory=list)
    candles: list[tuple[str, Candle, Provenance]] = field(default_factory=list)
    trades: list[tuple[TradeRow, Provenance]] = field(default_factory=list)
    depth: list[tuple[DepthRow, Provenance]] = field(default_factory=list)
    marks: list[tuple[datetime, Decimal, Provenance]] = field(default_factory=list)
    """(push time, mark price, provenance)."""
    gaps: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    """(interval, first missing open time, last missing open time) seen skipped on the stream."""
    exchange_time: datetime | None = None
    """The newest push time (``ts``) in the batch, set by ``Pipeline.take``."""
    exchange_ms: int | None = None

    def __len__(self) -> int:
        return self.frames


MAX_TOPICS = 256
"""Per-topic lookups are cached up to this many topics (a subscription has a handful; the bound
only keeps a venue sending junk topics from growing memory)."""


class Pipeline:
    """Per-stream sequencers and the pending batch; ``resync`` names topics that need a fresh snapshot."""

    def __init__(self, config: IngestorConfig, metrics: IngestMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.klines: dict[str, KlineSequencer] = {
            interval: KlineSequencer(interval) for interval in config.intervals
        }
        self.trades = TradeDeduper(TRADE_WINDOW)
        self.depth: DepthSequencer[tuple[bytes, Provenance]] = DepthSequencer()
        self.batch = Batch()
        self.resync: set[str] = set()
        self._last_event_ms: dict[str, int] = {}
        self._streams: dict[str, str] = {}
        """Topic -> stream label, so a frame does not split its topic again."""
        self._counted: dict[str, int] = {}
        self._duplicated: dict[str, int] = {}
        """Frames and duplicates per stream since the last ``take``: added to the Prometheus counters
        (a lock and a few calls per increment) once per batch, so they are exact at every take."""
        self.bar_source: dict[str, Provenance] = {}
        """Per interval, the frame that set the open bar's current values: a bar closed by the next
        bar's first push keeps the provenance of the frame it was read from, not of that push."""

    @property
    def last_event(self) -> dict[str, datetime]:
        """Exchange time of the newest event per stream (lag = now minus this)."""
        return {stream: utc_from_ms(ms) for stream, ms in self._last_event_ms.items()}

    def take(self) -> Batch:
        """The pending batch, replaced by an empty one (the caller commits it)."""
        batch, self.batch = self.batch, Batch()
        if batch.exchange_ms is not None:
            batch.exchange_time = utc_from_ms(batch.exchange_ms)
        self._publish_counts()
        return batch

    def _publish_counts(self) -> None:
        """The frame and duplicate counts gathered since the last take, into the metrics."""
        for stream, count in self._counted.items():
            self.metrics.frames.labels(stream).inc(count)
        for stream, count in self._duplicated.items():
            self.metrics.duplicates.labels(stream).inc(count)
        self._counted.clear()
        self._duplicated.clear()

    def accept(self, raw: bytes | str, *, connection_id: str, received_at: datetime) -> None:
        """One frame as received. Never raises for anything the venue (or a fault) can send."""
        payload = raw if isinstance(raw, bytes) else raw.encode()
        try:
            frame = read_frame(raw)
        except FrameError as error:
            self._refused(payload, error, connection_id=connection_id, received_at=received_at)
            return
        if not isinstance(frame, MarketFrame):
            return  # Ping, subscription ack, notice
        topic = frame.topic
        stream = self._streams.get(topic)
        if stream is None:
            stream = stream_of(topic)
            if len(self._streams) < MAX_TOPICS:
                self._streams[topic] = stream
        counted = self._counted
        counted[stream] = counted.get(stream, 0) + 1
        batch = self.batch
        batch.frames += 1
        pushed = frame.push_time_ms
        if pushed is not None:
            self._last_event_ms[stream] = pushed
            if batch.exchange_ms is None or pushed > batch.exchange_ms:
                batch.exchange_ms = pushed
        if self.config.journal:
            when = utc_from_ms(pushed) if pushed is not None else None
            batch.journal.append(
                JournalEntry(connection_id, received_at, topic, when, payload, "", frame.payload_hash)
            )
        provenance = Provenance("ws", received_at, connection_id, frame.payload_hash)
        event = frame.event
        if isinstance(event, IncrementalDepth):
            self._depth(frame.topic, event, payload, provenance)
        else:
            self._route(stream, event, provenance)

    def _refused(
        self, payload: bytes, error: FrameError, *, connection_id: str, received_at: datetime
    ) -> None:
        """Counted, and journaled whether or not the journal is enabled: a refused frame is stored
        nowhere else, and the journal is its quarantine (evidence for the venue or for a parser fix)."""
        self.metrics.parse_errors.labels(error.kind).inc()
        note = f"refused {error.kind}: {error.detail}"[:500]
        topic = error.topic or "<undecodable>"
        self.batch.journal.append(JournalEntry(connection_id, received_at, topic, None, payload, note))

    def _route(self, stream: str, event: MarketEvent, provenance: Provenance) -> None:
        if isinstance(event, KlineUpdate):
            self._klines(stream, event, provenance)
        elif isinstance(event, TradeUpdate):
            before = self.trades.duplicates
            trades = self.batch.trades
            for trade in self.trades.feed(event):
                row = TradeRow(trade.time, trade.key, trade.price, trade.qty, trade.buyer_is_maker, None)
                trades.append((row, provenance))
            self._duplicates("trade", self.trades.duplicates - before)
        elif isinstance(event, MarkPriceUpdate):
            self.batch.marks.append((utc_from_ms(event.event_time_ms), event.mark_price, provenance))

    def _klines(self, stream: str, event: KlineUpdate, provenance: Provenance) -> None:
        interval = stream.removeprefix("kline_")
        sequencer = self.klines.get(interval)
        if sequencer is None:  # a topic we did not subscribe to: nothing to sequence it against
            return
        before = sequencer.duplicates + sequencer.late + sequencer.out_of_order
        open_bar = sequencer.current
        source = self.bar_source.get(interval, provenance)
        for bar in sequencer.feed(event):
            candle = Candle.of(bar, closed=True, confirmed=False)
            self.batch.candles.append((interval, candle, source))
            source = provenance  # a second bar closed by the same push was read from this push
            following = sequencer.current
            if following is not None:
                skipped = sequencer.skipped(bar.open_time, following.open_time)
                if skipped:  # counted when recorded (a replayed skip is the same gap event)
                    self.batch.gaps.append((interval, skipped[0], skipped[-1]))
        if sequencer.current is not open_bar:
            self.bar_source[interval] = provenance
        after = sequencer.duplicates + sequencer.late + sequencer.out_of_order
        self._duplicates(stream, after - before)

    def _depth(self, topic: str, event: IncrementalDepth, payload: bytes, provenance: Provenance) -> None:
        """Stored updates keep the frame they came in: one released from the reorder buffer by a
        later frame is stored with its own bytes and provenance, not that frame's."""
        before = self.depth.duplicates
        step = self.depth.feed(event, (payload, provenance))
        self._duplicates("incrDepth", self.depth.duplicates - before)
        for update, tag in zip(step.applied, step.tags, strict=True):
            assert tag is not None  # every update is fed with its frame
            frame, source = tag
            when = utc_from_ms(update.time_ms) if update.time_ms is not None else source.received_at
            self.batch.depth.append((DepthRow(when, update.last_update_id, update.action, frame), source))
        if step.status == "resync_required":  # a break the reorder buffer cannot repair
            self.metrics.resyncs.inc()
            self.resync.add(topic)

    def _duplicates(self, stream: str, count: int) -> None:
        if count:
            self._duplicated[stream] = self._duplicated.get(stream, 0) + count
