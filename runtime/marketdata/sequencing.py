"""Pure sequencers for BingX streams that carry no sequence number: klines and trades.

BingX pushes the current kline about once a second with no closed flag, so a bar is final only when a
frame with a later open time arrives (trading.md 1.6). The swap trade stream has no trade id, so trades
get a synthetic key that is the same whenever the same frame is delivered again. Neither class touches
a clock, a socket or a database: the ingestor feeds parsed events and decides what to store, which makes
every rule here testable with hand-built frames. The ``incrDepth`` book lives in depth_book.py.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from tradeplane.runtime.bars import Bar
from tradeplane.runtime.intervals import align, check, grid_ms, next_open
from tradeplane.runtime.marketdata.depth_book import BookNotSynced, DepthSequencer, DepthStep
from tradeplane.runtime.marketdata.frames import FrameError, FrameErrorKind, utc_from_ms
from tradeplane.runtime.millis import EPOCH
from tradeplane.runtime.venue.payloads_market import KlineUpdate, TradeUpdate

__all__ = [
    "BookNotSynced",
    "DepthSequencer",
    "DepthStep",
    "KeyedTrade",
    "KlineSequencer",
    "StreamCounters",
    "TradeDeduper",
]


class KlineSequencer:
    """Closes bars on open-time rollover.

    Within one bar the volume is cumulative, so it orders the pushes: a frame with a lower volume than
    the one already seen (a late or redelivered push) is ``out_of_order`` and ignored, and so is a
    differing frame with equal volume (first seen wins). Frames for a bar already closed are ``late``;
    identical repeats are ``duplicates``; open times off the interval grid are ``off_grid``. None of
    these change the bars, which is what makes redelivery harmless.
    """

    def __init__(self, interval: str) -> None:
        self.interval = check(interval)
        self._grid = grid_ms(interval)
        """(origin, step) in epoch ms when the grid is fixed-length (all but months): the on-grid
        test is then one integer modulo instead of datetime arithmetic per push."""
        self.current: Bar | None = None
        self.last_closed: datetime | None = None
        self.late = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.off_grid = 0

    def feed(self, update: KlineUpdate) -> list[Bar]:
        """The bars this update closes, oldest first (usually none, one on rollover)."""
        closed: list[Bar] = []
        grid = self._grid
        for pushed in update.bars:
            bar = pushed.to_bar()
            if grid is not None:
                on_grid = (pushed.open_time_ms - grid[0]) % grid[1] == 0  # what align() == open time means
            else:
                on_grid = align(bar.open_time, self.interval) == bar.open_time
            if not on_grid:
                self.off_grid += 1
            elif self.current is None:
                if self.last_closed is not None and bar.open_time <= self.last_closed:
                    self.late += 1
                else:
                    self.current = bar
            elif bar.open_time > self.current.open_time:
                closed.append(self.current)
                self.last_closed = self.current.open_time
                self.current = bar
            elif bar.open_time < self.current.open_time:
                self.late += 1
            elif bar == self.current:
                self.duplicates += 1
            elif bar.volume > self.current.volume:
                self.current = bar
            else:
                self.out_of_order += 1
        return closed

    def skipped(self, prev_open: datetime, next_open_time: datetime) -> list[datetime]:
        """Open times strictly between two consecutive bars seen: bars the stream never showed."""
        missing: list[datetime] = []
        moment = next_open(prev_open, self.interval)
        while moment < next_open_time:
            missing.append(moment)
            moment = next_open(moment, self.interval)
        return missing


class KeyedTrade(NamedTuple):
    time: datetime
    key: str
    price: Decimal
    qty: Decimal
    buyer_is_maker: bool


_PLAIN_MAX = 16
"""Plain text this short has fewer digits than any Decimal context precision in use (28 by
default), so ``normalize`` would not round it."""


def _canonical(value: Decimal) -> str:
    """``100.50`` and ``100.5`` are one price: the key must not depend on how the venue formats it.

    That is ``format(value.normalize(), "f")``. Most prices and quantities already print that way
    (plain notation, no trailing fractional zero), and ``str`` costs a fifth of normalize + format,
    so the short plain ones are taken as printed and only the rest are normalized."""
    text = str(value)
    plain = len(text) <= _PLAIN_MAX and text[-1].isdigit() and "E" not in text
    if plain and ("." not in text or text[-1] != "0"):  # no trailing zero after the point
        return text
    return format(value.normalize(), "f")


class TradeDeduper:
    """Synthetic trade keys ``T:p:q:m:ordinal`` and a bounded memory of the keys already emitted.

    The ordinal numbers identical ``(T, p, q, m)`` items within one frame, so two genuinely identical
    trades in one frame are both kept while a redelivered frame yields the same keys and is dropped.
    Keys are remembered for ``window`` behind the newest trade time seen; a trade older than that is
    still emitted (counted ``late``) because only the store's natural key can tell it apart then.
    Without a venue trade id, an identical trade split across two frames is indistinguishable from a
    redelivery; REST history (which carries ids) is the reference for such a second.
    """

    def __init__(self, window: timedelta) -> None:
        if window <= timedelta(0):
            raise ValueError("the dedupe window must be positive")
        self.window = window
        self._seen: set[str] = set()
        self._expiry: list[tuple[datetime, str]] = []
        self.newest: datetime | None = None
        self.duplicates = 0
        self.accepted = 0
        self.late = 0

    def __len__(self) -> int:
        return len(self._seen)

    def feed(self, update: TradeUpdate) -> list[KeyedTrade]:
        """The trades of this frame not emitted before, in frame order."""
        ordinals: dict[str, int] = {}
        """Per ``T:p:q:m`` (which determines the item: no part contains a colon), items seen so far."""
        fresh: list[KeyedTrade] = []
        seen = self._seen
        horizon = None if self.newest is None else self.newest - self.window  # fixed during a frame
        latest: datetime | None = None
        when_ms, when = -1, EPOCH  # the last trade time converted: a frame's trades often share it
        for trade in update.trades:
            side = "true" if trade.buyer_is_maker else "false"
            ident = f"{trade.time_ms}:{_canonical(trade.price)}:{_canonical(trade.qty)}:{side}"
            ordinal = ordinals.get(ident, 0)
            ordinals[ident] = ordinal + 1
            key = f"{ident}:{ordinal}"
            if key in seen:
                self.duplicates += 1
                continue
            if trade.time_ms != when_ms:
                when_ms, when = trade.time_ms, utc_from_ms(trade.time_ms)
            if horizon is not None and when < horizon:
                self.late += 1
            else:
                seen.add(key)
                heapq.heappush(self._expiry, (when, key))
            fresh.append(KeyedTrade(when, key, trade.price, trade.qty, trade.buyer_is_maker))
            if latest is None or when > latest:
                latest = when
        self.accepted += len(fresh)
        self._forget(latest)
        return fresh

    def _forget(self, latest: datetime | None) -> None:
        """Drop the keys that fell behind the window. Only a newer ``newest`` moves the horizon:
        otherwise everything older was dropped before and nothing older was added (it is late)."""
        if latest is None or (self.newest is not None and latest <= self.newest):
            return
        self.newest = latest
        horizon = latest - self.window
        while self._expiry and self._expiry[0][0] < horizon:
            self._seen.discard(heapq.heappop(self._expiry)[1])


@dataclass
class StreamCounters:
    """One stream's ingest counters, exported by the ingestor as Prometheus metrics."""

    frames: int = 0
    decoded: int = 0
    parse_errors: Counter[FrameErrorKind] = field(default_factory=Counter)
    duplicates: int = 0
    late: int = 0
    out_of_order: int = 0
    resyncs: int = 0

    def error(self, error: FrameError) -> None:
        self.parse_errors[error.kind] += 1

    def absorb(self, sequencer: KlineSequencer | TradeDeduper | DepthSequencer[Any]) -> None:
        """Copy a sequencer's totals (they only grow, so the copy is a monotone counter)."""
        self.duplicates = sequencer.duplicates
        self.late = getattr(sequencer, "late", 0)
        self.out_of_order = getattr(sequencer, "out_of_order", 0) + getattr(sequencer, "off_grid", 0)
        self.resyncs = getattr(sequencer, "resyncs", 0)
