"""The synthetic order book and its ``@incrDepth`` diff stream.

Levels sit one tick apart outside a calibrated half spread around the last price. A price level's
resting quantity belongs to that price (a seeded draw per (seed, symbol, price)), and each second a
few levels are re-drawn, as orders come and go in a real book; so successive books differ in a
handful of levels, not all of them, and the same instant always shows the same book.
``IncrementalDepth`` turns successive books into BingX's ``action: "all"`` snapshot plus
``"update"`` diffs with contiguous ``lastUpdateId`` (quantity ``0`` deletes a level).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeplane.runtime.venue.sim.views import Book, Level

if TYPE_CHECKING:
    from tradeplane.runtime.venue.sim.market import SymbolMarket

BOOK_STREAM = 5
CHURN_LEVELS = 3
"""Levels per side whose resting quantity changes in a given second."""


def _level_factor(seed: int, symbol: str, tick: int, second: int) -> float:
    """A stable draw in [0.5, 2.5) for one price level, moving only in the seconds it churns."""
    digest = hashlib.blake2b(f"{seed}:{symbol}:{tick}:{second}".encode(), digest_size=8).digest()
    return 0.5 + 2.0 * int.from_bytes(digest, "big") / 2**64


def build(market: SymbolMarket, *, levels: int) -> Book:
    from tradeplane.runtime.venue.sim.market import generator  # noqa: PLC0415 - market imports this module

    second = market.now_ms // 1000
    half_spread = market.spec.calibration.half_spread_ticks
    churn = generator(market.seed, market.spec.symbol, BOOK_STREAM, second).integers(
        0, levels, (2, CHURN_LEVELS)
    )
    bid_top = max(1, market.price - half_spread)
    ask_top = market.price + half_spread

    def level(side: int, index: int, tick: int) -> Level:
        moved = second if index in churn[side] else 0
        steps = max(
            1, round(market.level_steps * _level_factor(market.seed, market.spec.symbol, tick, moved))
        )
        return (market.price_decimal(tick), market.quantity_decimal(steps))

    bids = tuple(level(0, index, bid_top - index) for index in range(levels) if bid_top - index > 0)
    asks = tuple(level(1, index, ask_top + index) for index in range(levels))
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
