"""BingX's order validation that needs no account state: mandatory parameters by type, position
side against the position mode, clientOrderId form, precision truncation, minimum size and the
contract's trading state. Each failure carries the code BingX answers with."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from tradeplane.runtime.venue.sim.catalog import ContractSpec
from tradeplane.runtime.venue.sim.orders import TRIGGER_TYPES
from tradeplane.runtime.venue.sim.protocol import SimError
from tradeplane.runtime.venue.wire import OrderType, PositionSide

MIN_CLIENT_ORDER_ID, MAX_CLIENT_ORDER_ID = 1, 40
INVALID_PARAMETER = 100400
WRONG_POSITION_SIDE = 109400
NOT_TRADABLE = 101400
SUSPENDED = 101415


def truncate(value: Decimal, places: int) -> Decimal:
    """Over-precise prices and quantities are cut, not rejected, as BingX does."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def check_shape(
    *,
    order_type: OrderType,
    quantity: Decimal | None,
    price: Decimal | None,
    stop_price: Decimal | None,
    close_position: bool,
) -> None:
    if order_type is OrderType.LIQUIDATION:
        raise SimError(INVALID_PARAMETER, "Invalid parameters, type")
    if quantity is None and not (close_position and order_type in TRIGGER_TYPES):
        raise SimError(INVALID_PARAMETER, "Invalid parameters, quantity is required: quantity")
    if order_type is OrderType.LIMIT and price is None:
        raise SimError(INVALID_PARAMETER, "Invalid parameters, price is required: price")
    if order_type in TRIGGER_TYPES and stop_price is None:
        raise SimError(INVALID_PARAMETER, "Invalid parameters, stopPrice is required: stopPrice")
    if close_position and order_type not in TRIGGER_TYPES:
        raise SimError(INVALID_PARAMETER, "closePosition is only for STOP_MARKET and TAKE_PROFIT_MARKET")


def check_position_side(*, position_side: PositionSide, hedge: bool, reduce_only: bool) -> None:
    if (position_side is PositionSide.BOTH) == hedge:
        wanted = "LONG or SHORT in hedge mode" if hedge else "BOTH in one-way mode"
        raise SimError(WRONG_POSITION_SIDE, f"positionSide must be {wanted}")
    if reduce_only and hedge:
        raise SimError(WRONG_POSITION_SIDE, "reduceOnly is not allowed in hedge mode")


def normalise_client_order_id(client_order_id: str | None) -> str | None:
    if client_order_id is None:
        return None
    if not MIN_CLIENT_ORDER_ID <= len(client_order_id) <= MAX_CLIENT_ORDER_ID:
        raise SimError(INVALID_PARAMETER, "clientOrderId must be 1 to 40 characters")
    return client_order_id.lower()


def check_size(spec: ContractSpec, *, quantity: Decimal, reference_price: Decimal) -> None:
    """Checked after truncation, so a quantity cut below the minimum is rejected."""
    minimum_quantity = Decimal(str(spec.contract["tradeMinQuantity"]))
    minimum_notional = Decimal(str(spec.contract["tradeMinUSDT"]))
    if quantity <= 0 or quantity < minimum_quantity or quantity * reference_price < minimum_notional:
        raise SimError(NOT_TRADABLE, f"the order amount should be greater than {minimum_notional}u")


def check_tradable(spec: ContractSpec, *, opening: bool) -> None:
    contract = spec.contract
    online = int(contract["status"]) == 1
    if opening and not (online and str(contract["apiStateOpen"]).lower() == "true"):
        raise SimError(SUSPENDED, f"{spec.symbol} is suspended from opening positions")
    if not opening and str(contract["apiStateClose"]).lower() != "true":
        raise SimError(SUSPENDED, f"{spec.symbol} is suspended from closing positions")
