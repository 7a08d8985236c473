"""The ``incrDepth`` order book: a snapshot (``action:"all"``) then updates with contiguous ids.

BingX numbers every update with ``lastUpdateId`` (+1 each) but does not guarantee push order, and its
docs suggest buffering the last 3 increments to reorder them (trading.md 1.6, 3.1). A break the buffer
cannot repair, or a crossed book after an update, makes the book unsynced: nothing is served until the
ingestor re-subscribes and a new snapshot arrives, because a book with a hole in it is a wrong price,
not an approximate one.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from tradeplane.runtime.venue.payloads_stream import IncrementalDepth

REORDER_FRAMES = 3
"""Updates held while waiting for a missing predecessor; one more means the gap is real."""

Level = tuple[Decimal, Decimal]
StepStatus = Literal["applied", "buffered", "duplicate", "resync_required", "unsynced"]


class BookNotSynced(Exception):
    """The book has a gap (or never had a snapshot): no prices can be read from it."""


@dataclass(frozen=True)
class DepthStep:
    """What one frame did. ``applied`` holds every update applied now, in id order (a snapshot first
    when it reset the book), including buffered ones it released; ``synced`` is the state after."""

    status: StepStatus
    applied: tuple[IncrementalDepth, ...]
    synced: bool
    reset: bool = False


class DepthSequencer:
    """Maintains one symbol's book from ``incrDepth`` frames; counters feed the ingest metrics."""

    def __init__(self, *, reorder_frames: int = REORDER_FRAMES) -> None:
        self.reorder_frames = reorder_frames
        self.synced = False
        self.last_update_id: int | None = None
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        self._pending: dict[int, IncrementalDepth] = {}
        self.applied = 0
        self.buffered = 0
        self.duplicates = 0
        self.resyncs = 0
        self.crossed = 0

    def feed(self, update: IncrementalDepth) -> DepthStep:
        if update.action == "all":
            return self._snapshot(update)
        if not self.synced or self.last_update_id is None:
            return DepthStep("unsynced", (), synced=False)
        if update.last_update_id <= self.last_update_id or update.last_update_id in self._pending:
            self.duplicates += 1
            return DepthStep("duplicate", (), synced=True)
        if update.last_update_id != self.last_update_id + 1:
            return self._hold(update)
        self._apply(update)
        return self._settle((update, *self._release()), reset=False)

    def _hold(self, update: IncrementalDepth) -> DepthStep:
        """An update ahead of its predecessor: buffer it, or give up when the buffer is full."""
        if len(self._pending) >= self.reorder_frames:
            return self._break()
        self._pending[update.last_update_id] = update
        self.buffered += 1
        return DepthStep("buffered", (), synced=True)

    def _settle(self, applied: tuple[IncrementalDepth, ...], *, reset: bool) -> DepthStep:
        if self._is_crossed():
            self.crossed += 1
            return self._break()
        return DepthStep("applied", applied, synced=True, reset=reset)

    def _snapshot(self, update: IncrementalDepth) -> DepthStep:
        self._bids = {price: qty for price, qty in update.bids if qty != 0}
        self._asks = {price: qty for price, qty in update.asks if qty != 0}
        self.last_update_id = update.last_update_id
        self.synced = True
        self.applied += 1
        newer = update.last_update_id
        self._pending = {ident: item for ident, item in self._pending.items() if ident > newer}
        return self._settle((update, *self._release()), reset=True)

    def _release(self) -> list[IncrementalDepth]:
        """Buffered updates that now follow on, applied in order."""
        released: list[IncrementalDepth] = []
        while self.last_update_id is not None and (nxt := self._pending.pop(self.last_update_id + 1, None)):
            self._apply(nxt)
            released.append(nxt)
        return released

    def _apply(self, update: IncrementalDepth) -> None:
        for side, levels in ((self._bids, update.bids), (self._asks, update.asks)):
            for price, qty in levels:
                if qty == 0:
                    side.pop(price, None)  # deleting a level we never had is normal
                else:
                    side[price] = qty
        self.last_update_id = update.last_update_id
        self.applied += 1

    def _is_crossed(self) -> bool:
        return bool(self._bids) and bool(self._asks) and max(self._bids) >= min(self._asks)

    def _break(self) -> DepthStep:
        self.synced = False
        self.last_update_id = None
        self._bids, self._asks, self._pending = {}, {}, {}
        self.resyncs += 1
        return DepthStep("resync_required", (), synced=False)

    def book(self, depth: int) -> tuple[list[Level], list[Level]]:
        """The best ``depth`` levels: bids descending, asks ascending; BookNotSynced while unsynced."""
        if not self.synced:
            raise BookNotSynced("the incrDepth book is waiting for a snapshot after a gap")
        bids = heapq.nlargest(depth, self._bids.items())
        asks = heapq.nsmallest(depth, self._asks.items())
        return bids, asks
