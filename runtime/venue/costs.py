"""The one cost model shared by the RL environment, the backtest and the executor.

Every number comes from the exchange snapshot (contract record, account fee schedule, derived
funding interval), and the model is fingerprinted, so a trained policy, a backtest and a live
decision can each say exactly which costs they assumed. Costs are positive amounts of quote
currency; funding is a signed cash flow (see ``costs_funding``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from tradeplane.runtime.venue.canonical import CanonicalDecimal, sha256_fingerprint
from tradeplane.runtime.venue.costs_funding import (
    FundingCharge,
    PositionChange,
    Settlement,
    annualised_carry,
    funding_between,
    funding_payment,
    settlement_times,
)
from tradeplane.runtime.venue.metadata import ContractRecord, FeeSchedule, fingerprint
from tradeplane.runtime.venue.wire import Liquidity, OrderSide

__all__ = [
    "CostModel",
    "DepthSlippage",
    "FundingCharge",
    "InsufficientDepth",
    "Liquidity",
    "PositionChange",
    "Settlement",
]

Level = tuple[Decimal, Decimal]
"""(price, quantity in coin), best first."""


class InsufficientDepth(ValueError):
    """The book cannot absorb the quantity; a cost estimate would be invented, not measured."""


class DepthSlippage(NamedTuple):
    """Walking the book: per-unit slippage = half spread + impact, all versus mid."""

    average_price: Decimal
    mid_price: Decimal
    half_spread: Decimal
    impact: Decimal
    cost: Decimal
    """(half spread + impact) * quantity, in quote currency."""


def _decimal(name: str, value: object) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    return value


class CostModel(BaseModel):
    """Fees by liquidity, slippage (depth walk, or whole ticks on bars), funding at settlements."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    contract_fingerprint: str
    maker_fee_rate: CanonicalDecimal
    taker_fee_rate: CanonicalDecimal
    fee_source: Literal["commissionRate", "contracts"]
    tick_size: CanonicalDecimal
    slippage_ticks: int = Field(ge=1)
    funding_interval: timedelta
    funding_anchor: datetime
    """A settlement instant on the schedule (BingX ``nextFundingTime``)."""

    @classmethod
    def build(
        cls,
        record: ContractRecord,
        fees: FeeSchedule,
        *,
        funding_interval: timedelta,
        funding_anchor: datetime,
        slippage_ticks: int = 1,
    ) -> CostModel:
        if funding_interval <= timedelta(0):
            raise ValueError(f"funding interval {funding_interval} is not positive")
        if funding_anchor.tzinfo is None:
            raise ValueError("funding anchor must be timezone-aware (UTC)")
        return cls(
            symbol=record.symbol,
            contract_fingerprint=fingerprint(record),
            maker_fee_rate=fees.maker,
            taker_fee_rate=fees.taker,
            fee_source=fees.source,
            tick_size=record.tick_size,
            slippage_ticks=slippage_ticks,
            funding_interval=funding_interval,
            funding_anchor=funding_anchor,
        )

    @property
    def fingerprint(self) -> str:
        return sha256_fingerprint(self.model_dump(mode="json"))

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    # fees

    def fee_rate(self, liquidity: Liquidity) -> Decimal:
        return self.maker_fee_rate if liquidity == Liquidity.MAKER else self.taker_fee_rate

    def fee(self, quantity: Decimal, price: Decimal, liquidity: Liquidity) -> Decimal:
        """|q| * p * rate as a cost (negative only for a maker rebate)."""
        _decimal("quantity", quantity)
        _decimal("price", price)
        if liquidity not in (Liquidity.MAKER, Liquidity.TAKER):
            raise ValueError(f"unknown liquidity {liquidity!r}")
        return abs(quantity) * price * self.fee_rate(liquidity)

    # slippage

    def slippage_from_depth(
        self, side: OrderSide, quantity: Decimal, *, bids: Sequence[Level], asks: Sequence[Level]
    ) -> DepthSlippage:
        """A marketable order of ``quantity`` walking the opposite side of a depth snapshot."""
        _decimal("quantity", quantity)
        if quantity <= 0:
            raise ValueError(f"quantity {quantity} is not positive")
        if not bids or not asks:
            raise InsufficientDepth("the book has an empty side; mid price is undefined")
        mid = (bids[0][0] + asks[0][0]) / 2
        levels = asks if side == OrderSide.BUY else bids
        remaining = quantity
        notional = Decimal(0)
        for price, size in levels:
            take = min(remaining, size)
            notional += take * price
            remaining -= take
            if not remaining:
                break
        if remaining:
            raise InsufficientDepth(f"book holds {quantity - remaining} of the {quantity} to fill")
        direction = 1 if side == OrderSide.BUY else -1
        cost = (notional - mid * quantity) * direction
        half_spread = (levels[0][0] - mid) * direction
        return DepthSlippage(
            average_price=notional / quantity,
            mid_price=mid,
            half_spread=half_spread,
            impact=cost / quantity - half_spread,
            cost=cost,
        )

    def bar_fill_price(self, side: OrderSide, price: Decimal) -> Decimal:
        """With bars only: the reference price moved ``slippage_ticks`` ticks against the order."""
        _decimal("price", price)
        offset = self.tick_size * self.slippage_ticks
        return price + offset if side == OrderSide.BUY else price - offset

    def bar_slippage(self, quantity: Decimal) -> Decimal:
        """The cost of ``bar_fill_price`` over the reference price for ``quantity``."""
        return abs(_decimal("quantity", quantity)) * self.tick_size * self.slippage_ticks

    # funding

    def funding_payment(self, signed_quantity: Decimal, mark_price: Decimal, rate: Decimal) -> Decimal:
        return funding_payment(signed_quantity, mark_price, rate)

    def funding_between(
        self, path: Sequence[PositionChange], settlements: Iterable[Settlement]
    ) -> tuple[FundingCharge, ...]:
        return funding_between(path, settlements)

    def settlement_times(self, start: datetime, end: datetime) -> tuple[datetime, ...]:
        return settlement_times(start, end, interval=self.funding_interval, anchor=self.funding_anchor)

    def annualised_carry(self, rate: Decimal) -> Decimal:
        return annualised_carry(_decimal("rate", rate), self.funding_interval)
