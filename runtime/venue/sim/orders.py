"""Orders and fills of the simulated account, and their BingX wire forms.

One record per order carries everything the REST queries, the user stream and the matching engine
need, so the three can never disagree about an order's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeplane.runtime.venue.wire import (
    Liquidity,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    TimeInForce,
)

ORDER_ID_BASE = 1_970_374_651_259_388_000
"""BingX order ids exceed 2^53; ours start there too so a client parsing ids as floats breaks early."""
TRADE_ID_BASE = 1_970_374_700_000_000_000
TRANSACTION_ID_BASE = 1_970_374_800_000_000_000
POSITION_ID_BASE = 1_970_374_900_000_000_000
ID_STRIDE = 7
"""Ids are not consecutive on BingX either; a stride catches clients that assume +1."""

SETTLE_ASSET = "USDT"


OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
TRIGGER_TYPES = frozenset({OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET})


def text(value: Decimal) -> str:
    """Decimals go on the wire as plain strings, never in exponent form."""
    return format(value, "f")


def side_sign(side: OrderSide) -> int:
    return 1 if side is OrderSide.BUY else -1


class IdSequence:
    """Deterministic ids: a base above 2^53 plus a strided counter."""

    def __init__(self, base: int) -> None:
        self._next = base

    def __call__(self) -> int:
        self._next += ID_STRIDE
        return self._next


@dataclass
class Fill:
    trade_id: int
    order_id: int
    symbol: str
    side: OrderSide
    position_side: PositionSide
    quantity: Decimal
    price: Decimal
    commission: Decimal
    """Positive when paid, as fillHistory reports it."""
    realised_pnl: Decimal
    role: Liquidity
    time_ms: int

    @property
    def quote_quantity(self) -> Decimal:
        return self.quantity * self.price


@dataclass
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: OrderSide
    position_side: PositionSide
    type: OrderType
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: TimeInForce
    reduce_only: bool
    close_position: bool
    working_type: str
    time_ms: int
    update_time_ms: int
    status: OrderStatus = OrderStatus.NEW
    executed_quantity: Decimal = Decimal(0)
    cumulative_quote: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    realised_pnl: Decimal = Decimal(0)
    first_cancel_ms: int | None = None
    fills: list[Fill] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.executed_quantity

    @property
    def average_price(self) -> Decimal:
        if not self.executed_quantity:
            return Decimal(0)
        return self.cumulative_quote / self.executed_quantity

    def record(self, fill: Fill) -> None:
        self.fills.append(fill)
        self.executed_quantity += fill.quantity
        self.cumulative_quote += fill.quote_quantity
        self.commission += fill.commission
        self.realised_pnl += fill.realised_pnl
        self.update_time_ms = fill.time_ms
        self.status = OrderStatus.FILLED if self.remaining <= 0 else OrderStatus.PARTIALLY_FILLED

    def placed_view(self) -> dict[str, Any]:
        """``data.order`` of the place-order response."""
        return {
            "symbol": self.symbol,
            "side": self.side.value,
            "type": self.type.value,
            "positionSide": self.position_side.value,
            "reduceOnly": self.reduce_only,
            "orderId": self.order_id,
            "orderID": self.order_id,
            "clientOrderId": self.client_order_id,
            "clientOrderID": self.client_order_id,
            "workingType": self.working_type,
            "stopGuaranteed": "false",
            "timeInForce": self.time_in_force.value,
            "price": text(self.price or Decimal(0)),
            "quantity": text(self.quantity),
            "stopPrice": text(self.stop_price or Decimal(0)),
            "status": self.status.value,
            "avgPrice": text(self.average_price),
            "executedQty": text(self.executed_quantity),
        }

    def rest_view(self) -> dict[str, Any]:
        """One order as the query, openOrders and allOrders endpoints return it."""
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "side": self.side.value,
            "positionSide": self.position_side.value,
            "type": self.type.value,
            "origQty": text(self.quantity),
            "price": text(self.price or Decimal(0)),
            "executedQty": text(self.executed_quantity),
            "avgPrice": text(self.average_price),
            "cumQuote": text(self.cumulative_quote),
            "stopPrice": text(self.stop_price or Decimal(0)),
            "profit": text(self.realised_pnl),
            "commission": text(-self.commission),
            "status": self.status.value,
            "time": self.time_ms,
            "updateTime": self.update_time_ms,
            "clientOrderId": self.client_order_id,
            "leverage": "",
            "workingType": self.working_type,
            "timeInForce": self.time_in_force.value,
            "reduceOnly": self.reduce_only,
            "closePosition": "true" if self.close_position else "false",
            "triggerOrderId": 0,
            "stopGuaranteed": "false",
        }

    def event(self, *, now_ms: int, execution: str, fill: Fill | None = None) -> dict[str, Any]:
        """ORDER_TRADE_UPDATE; per-fill fields (``n``, ``rp``, ``td``, ``tv``) describe ``fill``."""
        body: dict[str, Any] = {
            "s": self.symbol,
            "c": self.client_order_id,
            "i": self.order_id,
            "S": self.side.value,
            "o": self.type.value,
            "q": text(self.quantity),
            "p": text(self.price or Decimal(0)),
            "sp": text(self.stop_price or Decimal(0)),
            "ap": text(self.average_price),
            "x": execution,
            "X": self.status.value,
            "N": SETTLE_ASSET,
            "n": text(-fill.commission) if fill else "0",
            "T": fill.time_ms if fill else self.update_time_ms,
            "wt": self.working_type,
            "ps": self.position_side.value,
            "rp": text(fill.realised_pnl) if fill else "0",
            "z": text(self.executed_quantity),
            "sg": "false",
            "ro": self.reduce_only,
        }
        if fill is not None:
            body["td"] = fill.trade_id
            body["tv"] = text(fill.quote_quantity)
        return {"e": "ORDER_TRADE_UPDATE", "E": now_ms, "T": now_ms, "o": body}


def fill_view(fill: Fill) -> dict[str, Any]:
    """One row of ``fillHistory``: commission positive, as BingX's samples show it."""
    return {
        "symbol": fill.symbol,
        "tradeId": fill.trade_id,
        "orderId": fill.order_id,
        "side": fill.side.value,
        "positionSide": fill.position_side.value,
        "qty": text(fill.quantity),
        "price": text(fill.price),
        "quoteQty": text(fill.quote_quantity),
        "commission": text(fill.commission),
        "commissionAsset": SETTLE_ASSET,
        "realizedPnl": text(fill.realised_pnl),
        "role": fill.role.value,
        "filledTime": fill.time_ms,
    }
