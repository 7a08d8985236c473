"""Positions and their margin arithmetic: average entry, realised PnL on reduction, tiered
maintenance margin and the liquidation price of reference/trading.md 7.1.

The liquidation price is the Binance USD-M formula that BingX's tier primitives (``maintMarginRatio``,
``maintAmount``) serve; each position is priced on its own with every other cross position folded
into TMM1/UPNL1 at the current mark, a simplification only for hedge-mode pairs on one symbol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tradeplane.runtime.venue.sim.catalog import MarginTier
from tradeplane.runtime.venue.wire import PositionSide


@dataclass
class Position:
    position_id: int
    symbol: str
    position_side: PositionSide
    isolated: bool
    leverage: int
    amount: Decimal = Decimal(0)
    """Signed coin quantity: positive long, negative short (LONG is never negative, SHORT never positive)."""
    entry_price: Decimal = Decimal(0)
    isolated_margin: Decimal = Decimal(0)
    """Margin set aside for an isolated position; unused in cross mode."""
    realised_profit: Decimal = Decimal(0)
    update_time_ms: int = 0

    @property
    def sign(self) -> int:
        return 1 if self.amount > 0 else -1 if self.amount < 0 else 0

    @property
    def size(self) -> Decimal:
        return abs(self.amount)

    def unrealised(self, mark: Decimal) -> Decimal:
        return self.amount * (mark - self.entry_price)

    def notional(self, mark: Decimal) -> Decimal:
        return self.size * mark

    def margin(self, mark: Decimal) -> Decimal:
        """What the position holds: its isolated wallet, or mark notional over leverage in cross."""
        return self.isolated_margin if self.isolated else self.notional(mark) / self.leverage

    def apply(self, *, delta: Decimal, price: Decimal) -> Decimal:
        """Add a signed fill; returns the PnL realised by the part that reduced the position.

        The reducing part realises against the average entry; any remainder opens the other way
        (one-way mode only: callers never pass a flip for LONG/SHORT) at the fill price.
        """
        realised = Decimal(0)
        if self.amount == 0 or (self.amount > 0) == (delta > 0):
            opened = abs(delta)
            total = self.size + opened
            self.entry_price = (self.size * self.entry_price + opened * price) / total
            self.amount += delta
            if self.isolated:
                self.isolated_margin += opened * price / self.leverage
            return realised
        closed = min(abs(delta), self.size)
        realised = closed * (price - self.entry_price) * self.sign
        if self.isolated:
            self.isolated_margin -= self.isolated_margin * closed / self.size
        remainder = abs(delta) - closed
        self.amount += closed * (1 if delta > 0 else -1)
        self.realised_profit += realised
        if self.amount == 0:
            self.entry_price = Decimal(0)
            self.isolated_margin = Decimal(0)
        if remainder > 0:
            self.apply(delta=remainder * (1 if delta > 0 else -1), price=price)
        return realised


def tier_for(tiers: Sequence[MarginTier], notional: Decimal) -> MarginTier:
    """The bracket holding ``notional``; the last bracket beyond the table's cap."""
    for tier in tiers:
        if notional < tier.max_position_value:
            return tier
    return tiers[-1]


def maintenance_margin(tiers: Sequence[MarginTier], notional: Decimal) -> Decimal:
    tier = tier_for(tiers, notional)
    return notional * tier.maint_margin_ratio - tier.maint_amount


def liquidation_price(
    *,
    sign: int,
    size: Decimal,
    entry_price: Decimal,
    wallet: Decimal,
    tiers: Sequence[MarginTier],
    other_maintenance: Decimal = Decimal(0),
    other_unrealised: Decimal = Decimal(0),
) -> Decimal:
    """LP = (WB - TMM1 + UPNL1 + cum - s*|Q|*EP) / (|Q|*MMR - s*|Q|), MMR and cum from the tier
    at the liquidation notional, re-evaluated until the tier is stable; 0 when no price liquidates."""
    if size == 0:
        return Decimal(0)
    tier = tier_for(tiers, size * entry_price)
    price = Decimal(0)
    for _ in range(len(tiers) + 1):
        numerator = (
            wallet - other_maintenance + other_unrealised + tier.maint_amount - sign * size * entry_price
        )
        denominator = size * tier.maint_margin_ratio - sign * size
        price = numerator / denominator
        settled = tier_for(tiers, size * max(price, Decimal(0)))
        if settled == tier:
            break
        tier = settled
    return max(price, Decimal(0))


def bankruptcy_price(*, sign: int, size: Decimal, entry_price: Decimal, wallet: Decimal) -> Decimal:
    """The price at which the position's margin is exactly used up."""
    return max(entry_price - sign * wallet / size, Decimal(0))
