"""What the simulator's matching engine reads from its market and clock.

The market side (price process, replay, synthetic book, funding schedule) and the exchange side
(orders, positions, margin, funding settlement, liquidation) meet only here, so either can be
replaced (a replayed file instead of the seeded process) without the other noticing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

Level = tuple[Decimal, Decimal]
"""(price, quantity in coin)."""


@dataclass(frozen=True)
class Book:
    """A synthetic order book at one instant: bids best (highest) first, asks best (lowest) first."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    time_ms: int


@dataclass(frozen=True)
class FundingSettlement:
    """One funding event as BingX publishes it: the rate applies to positions open at ``time_ms``."""

    symbol: str
    time_ms: int
    rate: Decimal
    mark_price: Decimal


class ClockView(Protocol):
    def now_ms(self) -> int:
        """Simulated epoch milliseconds (real, accelerated or manually advanced time)."""
        ...


class MarketView(Protocol):
    def last_price(self, symbol: str) -> Decimal: ...

    def mark_price(self, symbol: str) -> Decimal: ...

    def book(self, symbol: str, depth: int = 20) -> Book:
        """The book now; levels are quantized to the contract's tick and step."""
        ...

    def funding_between(self, symbol: str, after_ms: int, until_ms: int) -> list[FundingSettlement]:
        """Settlements with after_ms < time_ms <= until_ms, oldest first, from the same schedule that
        ``/quote/fundingRate`` and ``premiumIndex.nextFundingTime`` publish."""
        ...
