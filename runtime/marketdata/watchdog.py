"""Per-stream silence detection: a topic that stops pushing while its socket stays open.

The socket's own idle timeout only sees the connection as a whole (Ping frames keep it alive), so a
single topic the venue stopped serving would go unnoticed. Each stream has an expected cadence from
trading.md 1.6; silence beyond ``factor`` times that is overdue, and the ingestor re-subscribes and
checks for a gap. The caller passes every time in, so tests drive it without a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

CADENCES: dict[str, timedelta] = {
    "kline": timedelta(seconds=1),
    "trade": timedelta(seconds=30),  # trades are irregular: a quiet market is not a dead stream
    "incrDepth": timedelta(milliseconds=800),
    "depth": timedelta(milliseconds=500),
    "markPrice": timedelta(seconds=1),
    "lastPrice": timedelta(seconds=1),
    "bookTicker": timedelta(milliseconds=200),
}
DEFAULT_FACTOR = 5


def stream_of(topic: str) -> str:
    """``XAUT-USDT@kline_1m`` -> ``kline_1m`` (a metric label, and the pipeline's key per stream)."""
    return topic.partition("@")[2] or "unknown"


def stream_kind(topic: str) -> str:
    """``BTC-USDT@kline_1m`` -> ``kline``; ``BTC-USDT@depth5@200ms`` -> ``depth``."""
    stream = topic.partition("@")[2]
    for kind in ("kline", "incrDepth", "depth"):
        if stream.startswith(kind):
            return kind
    return stream


class StreamWatchdog:
    """``watch`` a stream (or just ``note`` it), ``note`` each frame, ask ``overdue(now)``."""

    def __init__(
        self, *, factor: int = DEFAULT_FACTOR, cadences: Mapping[str, timedelta] | None = None
    ) -> None:
        if factor < 1:
            raise ValueError("factor must be at least 1")
        self.factor = factor
        self.cadences = {**CADENCES, **(cadences or {})}
        self._last: dict[str, datetime] = {}
        self._bound: dict[str, timedelta] = {}

    def cadence(self, stream: str) -> timedelta:
        """The expected cadence of a topic; an unknown kind gets the most generous known one."""
        return self.cadences.get(stream_kind(stream), max(self.cadences.values()))

    def watch(self, stream: str, at: datetime, *, cadence: timedelta | None = None) -> None:
        """Start expecting frames, counting silence from ``at`` (the subscription time)."""
        self._bound[stream] = (cadence or self.cadence(stream)) * self.factor
        self._last[stream] = at

    def note(self, stream: str, at: datetime) -> None:
        """A frame arrived; times only move forward (a late callback cannot revive a dead stream)."""
        if stream not in self._bound:
            self.watch(stream, at)
        elif at > self._last[stream]:
            self._last[stream] = at

    def forget(self, stream: str) -> None:
        self._last.pop(stream, None)
        self._bound.pop(stream, None)

    def silence(self, stream: str, now: datetime) -> timedelta:
        return now - self._last[stream]

    def overdue(self, now: datetime) -> list[str]:
        """Streams silent for longer than ``factor`` x cadence, sorted."""
        return sorted(stream for stream, last in self._last.items() if now - last > self._bound[stream])


MAX_SILENCE_BACKOFF = timedelta(minutes=1)
"""A venue that stays dark gets a new connection at most this often (in venue time)."""


class SilenceCheck:
    """The ingestor's use of ``StreamWatchdog``, on the venue's clock: every subscribed topic is
    expected to push within its bound of the subscription or of its last push (``ts``); the venue's
    time comes from its REST server time, which keeps moving when every stream has gone quiet. A
    new connection restarts every bound. After a silence is reported the next report waits a
    doubling pause (the first bound, then twice that, ... up to ``MAX_SILENCE_BACKOFF``), so a dark
    venue is not reconnected to in a tight loop; a check that finds nothing overdue resets it.
    A manual simulator clock that does not move makes nothing overdue, so tests stay deterministic.
    """

    def __init__(self, topics: list[str], *, factor: int = DEFAULT_FACTOR) -> None:
        self.topics = list(topics)
        self.watchdog = StreamWatchdog(factor=factor)
        self.connection: str | None = None
        self.reports = 0
        self._quiet_until: datetime | None = None

    def check(
        self, *, connection: str | None, last_push: Mapping[str, datetime], venue_now: datetime
    ) -> list[str]:
        """The topics overdue now (and not within the pause after the last report)."""
        if connection != self.connection:
            self.connection = connection
            for topic in self.topics:
                self.watchdog.watch(topic, venue_now)
        for topic in self.topics:
            pushed = last_push.get(stream_of(topic))
            if pushed is not None:
                self.watchdog.note(topic, pushed)
        overdue = self.watchdog.overdue(venue_now)
        if not overdue:
            self.reports = 0
            self._quiet_until = None
            return []
        if self._quiet_until is not None and venue_now < self._quiet_until:
            return []
        first = min(self.watchdog.cadence(topic) for topic in overdue) * self.watchdog.factor
        self._quiet_until = venue_now + min(MAX_SILENCE_BACKOFF, first * 2**self.reports)
        self.reports += 1
        return overdue
