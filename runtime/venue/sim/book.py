"""The synthetic order book and its ``@incrDepth`` diff stream.

Levels sit one tick apart outside a calibrated half spread around the last price; quantities grow
with the distance from the touch and carry a seeded factor that depends only on (seed, symbol,
second), so the same instant always shows the same book. ``IncrementalDepth`` turns successive
books into BingX's ``action: "all"`` snapshot plus ``"update"`` diffs with contiguous
``lastUpdateId`` (quantity ``0`` deletes a level).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from tradeplane.runtime.venue.sim.views import Book, Level

if TYPE_CHECKING:
    from tradeplane.runtime.venue.sim.market import SymbolMarket

BOOK_STREAM = 5
GROWTH = 0.15


def build(market: SymbolMarket, *, levels: int) -> Book:
    from tradeplane.runtime.venue.sim.market import generator  # noqa: PLC0415 - market imports this module

    half_spread = market.spec.calibration.half_spread_ticks
    factors = generator(market.seed, market.spec.symbol, BOOK_STREAM, market.now_ms // 1000).uniform(
        0.5, 1.5, (2, levels)
    )
    growth = 1 + GROWTH * np.arange(levels)
    steps = np.maximum(1, np.rint(market.level_steps * growth * factors)).astype(np.int64)
    bid_top = max(1, market.price - half_spread)
    ask_top = market.price + half_spread
    bids = tuple(
        (market.price_decimal(bid_top - index), market.quantity_decimal(int(steps[0][index])))
        for index in range(levels)
        if bid_top - index > 0
    )
    asks = tuple(
        (market.price_decimal(ask_top + index), market.quantity_decimal(int(steps[1][index])))
        for index in range(levels)
    )
    return Book(bids, asks, market.now_ms)


def side_changes(before: tuple[Level, ...], after: tuple[Level, ...]) -> list[Level]:
    """Levels that changed or appeared, plus removed prices with quantity 0, best first."""
    old = dict(before)
    new = dict(after)
    changes = [(price, quantity) for price, quantity in after if old.get(price) != quantity]
    changes += [(price, Decimal(0)) for price in old if price not in new]
    return changes


@dataclass
class IncrementalDepth:
    """One symbol's ``@incrDepth`` sequence, shared by every subscriber (the id is per symbol)."""

    levels: int = 100
    last_update_id: int = 0
    book: Book | None = None

    def snapshot(self) -> dict[str, Any]:
        book = self.book
        if book is None:
            raise RuntimeError("no book yet")
        return {
            "action": "all",
            "lastUpdateId": self.last_update_id,
            "time": book.time_ms,
            "bids": [list(level) for level in book.bids],
            "asks": [list(level) for level in book.asks],
        }

    def advance(self, book: Book) -> dict[str, Any] | None:
        """The diff from the previous book, or None when nothing changed (no id is consumed)."""
        previous, self.book = self.book, book
        if previous is None:
            self.last_update_id += 1
            return None
        bids = side_changes(previous.bids, book.bids)
        asks = side_changes(previous.asks, book.asks)
        if not bids and not asks:
            return None
        self.last_update_id += 1
        return {
            "action": "update",
            "lastUpdateId": self.last_update_id,
            "time": book.time_ms,
            "bids": [list(level) for level in bids],
            "asks": [list(level) for level in asks],
        }
