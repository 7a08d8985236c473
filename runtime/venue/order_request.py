"""What we ask the venue to do with an order, validated before it leaves the process.

BingX silently defaults ``positionSide`` to LONG and lowercases ``clientOrderId``; we always send the
former and lowercase the latter ourselves, so the id we persist is the id the venue stores.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

from tradeplane.runtime.venue.signing import Param
from tradeplane.runtime.venue.wire import OrderSide, OrderType, PositionSide, TimeInForce, WorkingType

CLIENT_ORDER_ID = re.compile(r"^[a-z0-9_\-:.]{1,40}$")
NEEDS_PRICE = frozenset({OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT, OrderType.TRIGGER_LIMIT})
NEEDS_STOP = frozenset(set(OrderType) - {OrderType.LIMIT, OrderType.MARKET, OrderType.LIQUIDATION})
CARRIES_CLIENT_ID = frozenset({OrderType.LIMIT, OrderType.MARKET})


def normalise_client_order_id(value: str) -> str:
    """Lowercased as BingX stores it; 1-40 characters of ``[a-z0-9_-:.]``."""
    lowered = value.lower()
    if not CLIENT_ORDER_ID.fullmatch(lowered):
        raise ValueError(f"clientOrderId must be 1-40 characters of [a-z0-9_-:.], got {value!r}")
    return lowered


def _no_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError("prices and quantities are Decimal, never float")
    return value


def _positive(value: Decimal | None) -> Decimal | None:
    if value is not None and (not value.is_finite() or value <= 0):
        raise ValueError(f"must be a positive finite number, got {value}")
    return value


Amount = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_positive)]


class OrderRequest(BaseModel):
    """One order. Prices and quantities must already be quantized to the contract (BingX truncates
    over-precise values silently instead of rejecting them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    side: OrderSide
    position_side: PositionSide
    type: OrderType
    quantity: Amount
    price: Amount | None = None
    stop_price: Amount | None = None
    time_in_force: TimeInForce | None = None
    working_type: WorkingType | None = None
    reduce_only: bool | None = None
    client_order_id: Annotated[str, AfterValidator(normalise_client_order_id)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if "-" not in self.symbol:
            raise ValueError(f"symbol must look like BTC-USDT, got {self.symbol!r}")
        if self.type is OrderType.LIQUIDATION:
            raise ValueError("LIQUIDATION orders are the venue's forced closes; they cannot be placed")
        if self.type in NEEDS_PRICE and self.price is None:
            raise ValueError(f"{self.type} orders need a price")
        if self.type is OrderType.MARKET and self.price is not None:
            raise ValueError("MARKET orders take no price")
        if self.type in NEEDS_STOP and self.stop_price is None:
            raise ValueError(f"{self.type} orders need a stop_price")
        if self.type not in NEEDS_STOP and self.stop_price is not None:
            raise ValueError(f"{self.type} orders take no stop_price")
        if self.client_order_id is not None and self.type not in CARRIES_CLIENT_ID:
            raise ValueError("BingX keeps clientOrderId on LIMIT and MARKET orders only")
        if self.reduce_only and self.position_side is not PositionSide.BOTH:
            raise ValueError("reduceOnly is one-way mode only (position_side BOTH)")
        if self.time_in_force is not None and self.type is OrderType.MARKET:
            raise ValueError("MARKET orders take no time_in_force")
        return self

    def params(self) -> dict[str, Param | None]:
        """The query parameters as BingX names them; unset values are dropped by the signer."""
        return {
            "symbol": self.symbol,
            "side": self.side.value,
            "positionSide": self.position_side.value,
            "type": self.type.value,
            "quantity": self.quantity,
            "price": self.price,
            "stopPrice": self.stop_price,
            "timeInForce": self.time_in_force.value if self.time_in_force else None,
            "workingType": self.working_type.value if self.working_type else None,
            "reduceOnly": self.reduce_only,
            "clientOrderId": self.client_order_id,
        }
