"""A static market and a manual clock for driving the engine: test data that the tests set level
by level, so every expected fill can be computed by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeplane.runtime.venue.sim.catalog import CATALOG
from tradeplane.runtime.venue.sim.exchange import Exchange
from tradeplane.runtime.venue.sim.views import Book, FundingSettlement, Level

XAUT = "XAUT-USDT"
START_MS = 1_700_000_000_000


def levels(*rows: tuple[str, str]) -> tuple[Level, ...]:
    return tuple((Decimal(price), Decimal(quantity)) for price, quantity in rows)


@dataclass
class ManualClock:
    now: int = START_MS

    def now_ms(self) -> int:
        return self.now


@dataclass
class StaticMarket:
    clock: ManualClock
    bids: dict[str, tuple[Level, ...]] = field(default_factory=dict)
    asks: dict[str, tuple[Level, ...]] = field(default_factory=dict)
    marks: dict[str, Decimal] = field(default_factory=dict)
    settlements: list[FundingSettlement] = field(default_factory=list)

    def last_price(self, symbol: str) -> Decimal:
        return self.marks[symbol]

    def mark_price(self, symbol: str) -> Decimal:
        return self.marks[symbol]

    def book(self, symbol: str, depth: int = 20) -> Book:
        return Book(self.bids[symbol][:depth], self.asks[symbol][:depth], self.clock.now)

    def funding_between(self, symbol: str, after_ms: int, until_ms: int) -> list[FundingSettlement]:
        return [s for s in self.settlements if s.symbol == symbol and after_ms < s.time_ms <= until_ms]


@dataclass
class Venue:
    clock: ManualClock
    market: StaticMarket
    exchange: Exchange
    events: list[dict[str, Any]]

    def tick(self, advance_ms: int = 100) -> None:
        self.clock.now += advance_ms
        self.exchange.on_tick(self.clock.now)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["e"] == kind]


def venue(balance: str = "10000") -> Venue:
    clock = ManualClock()
    market = StaticMarket(clock)
    for symbol in CATALOG:
        market.bids[symbol] = levels(("3999.90", "1"))
        market.asks[symbol] = levels(("4000.10", "1"))
        market.marks[symbol] = Decimal("4000.00")
    events: list[dict[str, Any]] = []
    exchange = Exchange(
        catalog=CATALOG, market=market, clock=clock, initial_balance=Decimal(balance), publish=events.append
    )
    return Venue(clock, market, exchange, events)
