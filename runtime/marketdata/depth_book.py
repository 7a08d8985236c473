"""The ``incrDepth`` sequence: a snapshot (``action:"all"``) then updates with contiguous ids.

BingX numbers every update with ``lastUpdateId`` (+1 each) but does not guarantee push order, and its
docs suggest buffering the last 3 increments to reorder them (trading.md 1.6, 3.1). ``DepthSequencer``
does exactly that on the ids alone: a break the buffer cannot repair makes the stream unsynced, and
nothing more is stored until the ingestor re-subscribes and a new snapshot arrives. So the stored
updates are always a snapshot followed by a contiguous run, and a book is served from them by
``replay_book``, which refuses anything else (a hole, a missing snapshot, a crossed book): a book with
a hole in it is a wrong price, not an approximate one.

The ingestor keeps no book of its own. Applying hundreds of levels per BTC push to a dictionary
costs more than decoding the frame, and a book rebuilt from what was stored is the one every reader
sees, replay after replay.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from tradeplane.runtime.marketdata.frames import FrameError, MarketFrame, read_frame
from tradeplane.runtime.venue import depth_levels
from tradeplane.runtime.venue.payloads_market import IncrementalDepth

REORDER_FRAMES = 3
"""Updates held while waiting for a missing predecessor; one more means the gap is real."""

Level = tuple[Decimal, Decimal]
StepStatus = Literal["applied", "buffered", "duplicate", "resync_required", "unsynced"]
Tag = TypeVar("Tag")
"""What the caller keeps with each update (the ingestor: the frame it came in), released with it."""


class BookNotSynced(Exception):
    """The updates do not make a book (no snapshot, a hole in the ids, a crossed result)."""


@dataclass(frozen=True)
class DepthStep(Generic[Tag]):
    """What one frame did. ``applied`` holds every update to store now, in id order (a snapshot first
    when it reset the sequence), including buffered ones it released; ``tags`` holds the tag each was
    fed with, in the same order (a released update keeps its own frame, not the one that released
    it); ``synced`` is the state after."""

    status: StepStatus
    applied: tuple[IncrementalDepth, ...]
    synced: bool
    reset: bool = False
    tags: tuple[Tag | None, ...] = ()


class DepthSequencer(Generic[Tag]):
    """Orders one symbol's ``incrDepth`` frames by id; counters feed the ingest metrics."""

    def __init__(self, *, reorder_frames: int = REORDER_FRAMES) -> None:
        self.reorder_frames = reorder_frames
        self.synced = False
        self.last_update_id: int | None = None
        self._pending: dict[int, tuple[IncrementalDepth, Tag | None]] = {}
        self.applied = 0
        self.buffered = 0
        self.duplicates = 0
        self.resyncs = 0

    def feed(self, update: IncrementalDepth, tag: Tag | None = None) -> DepthStep[Tag]:
        if update.action == "all":
            return self._snapshot(update, tag)
        if not self.synced or self.last_update_id is None:
            return DepthStep("unsynced", (), synced=False)
        if update.last_update_id <= self.last_update_id or update.last_update_id in self._pending:
            self.duplicates += 1
            return DepthStep("duplicate", (), synced=True)
        if update.last_update_id != self.last_update_id + 1:
            return self._hold(update, tag)
        self._apply(update)
        return self._applied((update, tag), reset=False)

    def _applied(self, first: tuple[IncrementalDepth, Tag | None], *, reset: bool) -> DepthStep[Tag]:
        released = [first, *self._release()]
        updates = tuple(update for update, _ in released)
        return DepthStep("applied", updates, synced=True, reset=reset, tags=tuple(tag for _, tag in released))

    def _hold(self, update: IncrementalDepth, tag: Tag | None) -> DepthStep[Tag]:
        """An update ahead of its predecessor: buffer it, or give up when the buffer is full."""
        if len(self._pending) >= self.reorder_frames:
            return self._break()
        self._pending[update.last_update_id] = (update, tag)
        self.buffered += 1
        return DepthStep("buffered", (), synced=True)

    def _snapshot(self, update: IncrementalDepth, tag: Tag | None) -> DepthStep[Tag]:
        self.synced = True
        self._apply(update)
        newer = update.last_update_id
        self._pending = {ident: item for ident, item in self._pending.items() if ident > newer}
        return self._applied((update, tag), reset=True)

    def _release(self) -> list[tuple[IncrementalDepth, Tag | None]]:
        """Buffered updates that now follow on, in order."""
        released: list[tuple[IncrementalDepth, Tag | None]] = []
        while self.last_update_id is not None and (nxt := self._pending.pop(self.last_update_id + 1, None)):
            self._apply(nxt[0])
            released.append(nxt)
        return released

    def _apply(self, update: IncrementalDepth) -> None:
        self.last_update_id = update.last_update_id
        self.applied += 1

    def _break(self) -> DepthStep[Tag]:
        self.synced = False
        self.last_update_id = None
        self._pending = {}
        self.resyncs += 1
        return DepthStep("resync_required", (), synced=False)


Pairs = Sequence[Sequence[str]]
GZIP_MAGIC = b"\x1f\x8b"


class StoredFrameInvalid(ValueError):
    """A stored depth frame no longer parses as the incrDepth push it was accepted as."""


def stored_levels(frame: bytes) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The bids and asks of a stored frame (``DepthRow.frame``), as decimal strings exactly as the
    venue wrote them, read by the parser that accepted the frame. A gzip frame is the venue's binary
    frame; anything else was a text frame, stored as its UTF-8."""
    try:
        read = read_frame(frame if frame[:2] == GZIP_MAGIC else frame.decode())
    except (FrameError, UnicodeDecodeError) as error:
        raise StoredFrameInvalid(f"a stored depth frame does not parse: {error}") from None
    if not isinstance(read, MarketFrame) or not isinstance(read.event, IncrementalDepth):
        raise StoredFrameInvalid("a stored depth frame holds no incrDepth push")
    return depth_levels.pairs(bytes(read.event.bids)), depth_levels.pairs(bytes(read.event.asks))


@dataclass(frozen=True)
class Book:
    """A book as of ``last_update_id``: price -> quantity, deleted levels gone."""

    bids: dict[Decimal, Decimal]
    asks: dict[Decimal, Decimal]
    last_update_id: int

    def top(self, depth: int) -> tuple[list[Level], list[Level]]:
        """The best ``depth`` levels: bids descending, asks ascending."""
        return heapq.nlargest(depth, self.bids.items()), heapq.nsmallest(depth, self.asks.items())


def _apply_side(side: dict[Decimal, Decimal], levels: Pairs) -> None:
    for price, qty in levels:
        value = Decimal(qty)
        if value:
            side[Decimal(price)] = value
        else:
            side.pop(Decimal(price), None)  # deleting a level we never had is normal


def replay_book(updates: Iterable[tuple[str, int, Pairs, Pairs]]) -> Book:
    """The book from stored ``(action, update_id, bids, asks)`` in id order, starting at a snapshot.
    BookNotSynced when there is no snapshot first, an id is skipped, or the result is crossed."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    last: int | None = None
    for action, update_id, bid_levels, ask_levels in updates:
        if action == "all":
            bids, asks = {}, {}
        elif last is None:
            raise BookNotSynced(f"update {update_id} has no snapshot before it")
        elif update_id != last + 1:
            raise BookNotSynced(f"updates {last + 1}..{update_id - 1} are missing")
        _apply_side(bids, bid_levels)
        _apply_side(asks, ask_levels)
        last = update_id
    if last is None:
        raise BookNotSynced("no snapshot yet")
    if bids and asks and max(bids) >= min(asks):
        raise BookNotSynced(f"the book at update {last} is crossed: {max(bids)} >= {min(asks)}")
    return Book(bids, asks, last)
