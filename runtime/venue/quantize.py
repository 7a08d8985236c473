"""The one quantizer: what paper and live send is exactly what this returns.

Rounding never makes an order bigger or more aggressive than the strategy asked for: quantities
are floored to the step, and every price (limit, trigger, the limit part of a stop-limit) rounds
toward the side's own interest - BUY down, SELL up. For a limit or take-profit that means a price
never worse than asked; for a stop-loss it moves the trigger toward the market by less than one
tick, so the stop fires no later than asked and the loss it bounds is never larger. The venue's
minimums are checked on the quantized values, because a quantity of 0.00019 with a minimum of
0.0001 and a step of 0.0001 is sent as 0.0001, not 0.00019.

Tick and step are powers of ten (BingX publishes precisions), so ``Decimal.quantize`` with a
precomputed exponent and a cached context does the rounding exactly and fast.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, InvalidOperation
from typing import NamedTuple

from tradeplane.runtime.venue.metadata import ContractRecord
from tradeplane.runtime.venue.wire import OrderSide, OrderType

__all__ = [
    "NotionalBelowMinimum",
    "OrderSide",
    "OrderType",
    "PriceNotAccepted",
    "PriceNotPositive",
    "PriceRequired",
    "QuantityBelowMinimum",
    "QuantityNotPositive",
    "QuantityRoundsToZero",
    "QuantizationError",
    "QuantizedOrder",
    "Quantizer",
    "ReferencePriceRequired",
]


_TRIGGERED_MARKET = frozenset({OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET, OrderType.TRIGGER_MARKET})
"""``price`` is the trigger (BingX ``stopPrice``)."""
_TRIGGERED_LIMIT = frozenset({OrderType.STOP, OrderType.TAKE_PROFIT, OrderType.TRIGGER_LIMIT})
"""``price`` is the limit price; ``trigger_price`` the trigger."""
_MARKET = OrderType.MARKET
_PRICED = frozenset({OrderType.LIMIT}) | _TRIGGERED_MARKET | _TRIGGERED_LIMIT
_ROUNDING = {OrderSide.BUY: ROUND_FLOOR, OrderSide.SELL: ROUND_CEILING}


class QuantizationError(ValueError):
    """The order cannot be sent as asked; the message carries the numbers.

    The message is formatted when it is read, not when the error is raised: rejecting an order
    is a hot path too (a policy asking for less than the minimum), and formatting Decimals costs
    more than the whole check.
    """

    template = ""

    def __init__(self, **values: object) -> None:
        super().__init__()
        self.__dict__.update(values)
        self._values = values

    def __str__(self) -> str:
        return self.template.format(**self._values)


class QuantityNotPositive(QuantizationError):
    template = "quantity {quantity} is not a positive number"

    def __init__(self, quantity: Decimal) -> None:
        super().__init__(quantity=quantity)


class QuantityRoundsToZero(QuantizationError):
    template = "quantity {quantity} floors to 0 at step {step}"

    def __init__(self, quantity: Decimal, step: Decimal) -> None:
        super().__init__(quantity=quantity, step=step)


class QuantityBelowMinimum(QuantizationError):
    template = "quantized quantity {quantity} below the venue minimum {minimum}"

    def __init__(self, quantity: Decimal, minimum: Decimal) -> None:
        super().__init__(quantity=quantity, minimum=minimum)


class NotionalBelowMinimum(QuantizationError):
    template = "quantized notional {notional} below the venue minimum {minimum}"

    def __init__(self, notional: Decimal, minimum: Decimal) -> None:
        super().__init__(notional=notional, minimum=minimum)


class PriceNotPositive(QuantizationError):
    template = "{what} {price} is not positive after rounding"

    def __init__(self, price: Decimal, what: str = "price") -> None:
        super().__init__(price=price, what=what)


class PriceRequired(QuantizationError):
    template = "{order_type} order needs a {what}"

    def __init__(self, order_type: str, what: str = "price") -> None:
        super().__init__(order_type=order_type, what=what)


class PriceNotAccepted(QuantizationError):
    template = "{order_type} order takes no price (got {price}); the notional uses reference_price"

    def __init__(self, order_type: str, price: Decimal) -> None:
        super().__init__(order_type=order_type, price=price)


class ReferencePriceRequired(QuantizationError):
    template = "MARKET order needs a reference price to check the minimum notional {minimum}"

    def __init__(self, minimum: Decimal) -> None:
        super().__init__(minimum=minimum)


class QuantizedOrder(NamedTuple):
    """What is sent: ``price`` is the limit (or, for ``*_MARKET`` triggers, the trigger) price."""

    quantity: Decimal
    price: Decimal | None
    notional: Decimal | None
    trigger_price: Decimal | None = None


def _power_of_ten_exponent(name: str, increment: Decimal) -> Decimal:
    if not isinstance(increment, Decimal) or not increment.is_finite() or increment <= 0:
        raise ValueError(f"{name} must be a positive Decimal, got {increment!r}")
    normal = increment.normalize()
    if normal.as_tuple().digits != (1,):
        raise ValueError(f"{name} {increment} is not a power of ten")
    return Decimal(1).scaleb(normal.as_tuple().exponent)  # type: ignore[arg-type]


def _require_decimal(name: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")


class Quantizer:
    """Step, tick and venue minimums of one instrument, precomputed for the hot path."""

    __slots__ = ("_context", "min_notional", "min_quantity", "step_size", "tick_size")

    def __init__(
        self, *, tick_size: Decimal, step_size: Decimal, min_quantity: Decimal, min_notional: Decimal
    ) -> None:
        self.tick_size = _power_of_ten_exponent("tick_size", tick_size)
        self.step_size = _power_of_ten_exponent("step_size", step_size)
        for name, minimum in (("min_quantity", min_quantity), ("min_notional", min_notional)):
            if not isinstance(minimum, Decimal) or not minimum.is_finite() or minimum < 0:
                raise ValueError(f"{name} must be a non-negative Decimal, got {minimum!r}")
        self.min_quantity = min_quantity
        self.min_notional = min_notional
        self._context = Context(prec=60, traps=[InvalidOperation])

    @classmethod
    def from_contract(cls, record: ContractRecord) -> Quantizer:
        return cls(
            tick_size=record.tick_size,
            step_size=record.step_size,
            min_quantity=record.trade_min_quantity,
            min_notional=record.trade_min_usdt,
        )

    def quantity(self, quantity: Decimal) -> Decimal:
        """The quantity floored to the step; never larger than asked."""
        _require_decimal("quantity", quantity)
        if not quantity.is_finite() or quantity <= 0:
            raise QuantityNotPositive(quantity)
        quantized = quantity.quantize(self.step_size, rounding=ROUND_FLOOR, context=self._context)
        if not quantized:
            raise QuantityRoundsToZero(quantity, self.step_size)
        return quantized

    def price(self, side: OrderSide, price: Decimal, *, what: str = "price") -> Decimal:
        """The price on the tick, rounded toward the side's interest (BUY down, SELL up)."""
        _require_decimal(what, price)
        if not price.is_finite() or price <= 0:
            raise PriceNotPositive(price, what)
        quantized = price.quantize(self.tick_size, rounding=_ROUNDING[side], context=self._context)
        if quantized <= 0:
            raise PriceNotPositive(quantized, what)
        return quantized

    def _raise_below_minimum(self, quantity: Decimal, notional: Decimal | None) -> None:
        if quantity < self.min_quantity:
            raise QuantityBelowMinimum(quantity, self.min_quantity)
        if self.min_notional:
            if notional is None:
                raise ReferencePriceRequired(self.min_notional)
            if notional < self.min_notional:
                raise NotionalBelowMinimum(notional, self.min_notional)

    @staticmethod
    def _reference(reference_price: Decimal | None) -> Decimal | None:
        if reference_price is not None:
            _require_decimal("reference_price", reference_price)
            if not reference_price.is_finite() or reference_price <= 0:
                raise PriceNotPositive(reference_price, "reference_price")
        return reference_price

    def quantize(
        self,
        side: OrderSide,
        order_type: OrderType,
        quantity: Decimal,
        price: Decimal | None,
        *,
        reference_price: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> QuantizedOrder:
        """The order as it will be sent, or the specific ``QuantizationError`` that stops it."""
        if side not in _ROUNDING:
            raise ValueError(f"unknown order side {side!r}")
        quantized_quantity = self.quantity(quantity)
        quantized_trigger: Decimal | None = None
        if order_type == _MARKET:
            if price is not None:
                raise PriceNotAccepted(order_type, price)
            quantized_price = None
            notional_price = self._reference(reference_price)
        elif order_type in _PRICED:
            if price is None:
                raise PriceRequired(order_type)
            quantized_price = notional_price = self.price(side, price)
            if order_type in _TRIGGERED_LIMIT:
                if trigger_price is None:
                    raise PriceRequired(order_type, "trigger_price")
                quantized_trigger = self.price(side, trigger_price, what="trigger_price")
        else:
            raise ValueError(f"unknown order type {order_type!r}")
        notional = (
            None if notional_price is None else self._context.multiply(quantized_quantity, notional_price)
        )
        if quantized_quantity < self.min_quantity or (
            self.min_notional and (notional is None or notional < self.min_notional)
        ):
            self._raise_below_minimum(quantized_quantity, notional)
        return QuantizedOrder(quantized_quantity, quantized_price, notional, quantized_trigger)
