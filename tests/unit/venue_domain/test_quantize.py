"""Quantizer laws: on the grid, never larger, never more aggressive, minimums on quantized values."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tradeplane.runtime.venue.metadata import normalise_contract
from tradeplane.runtime.venue.quantize import (
    NotionalBelowMinimum,
    OrderSide,
    OrderType,
    PriceNotAccepted,
    PriceNotPositive,
    PriceRequired,
    QuantityBelowMinimum,
    QuantityNotPositive,
    QuantityRoundsToZero,
    QuantizationError,
    Quantizer,
    ReferencePriceRequired,
)
from tradeplane.runtime.venue.sim.catalog import CATALOG

pytestmark = pytest.mark.unit

XAUT = Quantizer.from_contract(normalise_contract(CATALOG["XAUT-USDT"].contract))
BTC = Quantizer.from_contract(normalise_contract(CATALOG["BTC-USDT"].contract))
PRICED_TYPES = [t for t in OrderType if t not in {OrderType.MARKET, OrderType.LIQUIDATION}]
LIMIT_PART = {OrderType.STOP, OrderType.TAKE_PROFIT, OrderType.TRIGGER_LIMIT}

quantities = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal(50), places=7)
prices = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(200_000), places=5)
quantizers = st.sampled_from([XAUT, BTC])
sides = st.sampled_from(list(OrderSide))


def floor_to(value: Decimal, increment: Decimal) -> Decimal:
    units = math.floor(Fraction(value) / Fraction(increment))
    return Decimal(units) * increment


def ceil_to(value: Decimal, increment: Decimal) -> Decimal:
    units = math.ceil(Fraction(value) / Fraction(increment))
    return Decimal(units) * increment


def test_catalog_quantizer_reads_the_record() -> None:
    assert (XAUT.tick_size, XAUT.step_size) == (Decimal("0.01"), Decimal("0.0001"))
    assert (XAUT.min_quantity, XAUT.min_notional) == (Decimal("0.0001"), Decimal(2))
    assert BTC.tick_size == Decimal("0.1")


def test_hand_computed_limit_orders() -> None:
    buy = XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal("0.01237"), Decimal("4000.129"))
    assert buy.quantity == Decimal("0.0123")
    assert buy.price == Decimal("4000.12")
    assert buy.notional == Decimal("49.201476")
    sell = XAUT.quantize(OrderSide.SELL, OrderType.LIMIT, Decimal("0.01237"), Decimal("4000.121"))
    assert sell.price == Decimal("4000.13")
    assert sell.notional == Decimal("49.201599")


def test_stop_limit_rounds_both_prices_toward_the_side() -> None:
    order = XAUT.quantize(
        OrderSide.SELL, OrderType.STOP, Decimal("0.5"), Decimal("3990.001"), trigger_price=Decimal("3991.001")
    )
    assert (order.price, order.trigger_price) == (Decimal("3990.01"), Decimal("3991.01"))
    stop_buy = XAUT.quantize(OrderSide.BUY, OrderType.STOP_MARKET, Decimal("0.5"), Decimal("4010.019"))
    assert stop_buy.price == Decimal("4010.01")


def test_minimums_apply_to_quantized_values() -> None:
    # 0.00059 floors to 0.0005; at 4000 that is 2.0 USDT, exactly the minimum: accepted
    accepted = XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal("0.00059"), Decimal(4000))
    assert accepted.notional == Decimal(2)
    # 0.00049999 would be 1.99996 USDT unquantized, 0.0004 * 4000.00 = 1.600000 after flooring
    with pytest.raises(NotionalBelowMinimum, match=r"1\.600000 below the venue minimum 2"):
        XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal("0.00049999"), Decimal(4000))
    # a BUY rounds its price down: 0.0005 at 3999.99 is 1.999995, below 2
    with pytest.raises(NotionalBelowMinimum):
        XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal("0.0005"), Decimal("3999.999"))
    strict = Quantizer(
        tick_size=Decimal("0.01"),
        step_size=Decimal("0.001"),
        min_quantity=Decimal("0.01"),
        min_notional=Decimal(0),
    )
    with pytest.raises(QuantityBelowMinimum, match=r"0\.009 below the venue minimum 0\.01"):
        strict.quantize(OrderSide.SELL, OrderType.MARKET, Decimal("0.0099"), None)
    assert strict.quantize(OrderSide.SELL, OrderType.MARKET, Decimal("0.0199"), None).notional is None


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (
            lambda: XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal(0), Decimal(1)),
            QuantityNotPositive,
            "0",
        ),
        (
            lambda: XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal(-1), Decimal(1)),
            QuantityNotPositive,
            "-1",
        ),
        (
            lambda: XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal("NaN"), Decimal(1)),
            QuantityNotPositive,
            "NaN",
        ),
        (
            lambda: XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal("0.00009"), Decimal(4000)),
            QuantityRoundsToZero,
            "0.00009 floors to 0 at step 0.0001",
        ),
        (
            lambda: XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal(1), Decimal("0.009")),
            PriceNotPositive,
            "0.00",
        ),
        (
            lambda: XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal(1), Decimal(-3)),
            PriceNotPositive,
            "-3",
        ),
        (lambda: XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal(1), None), PriceRequired, "LIMIT"),
        (
            lambda: XAUT.quantize(OrderSide.BUY, OrderType.STOP, Decimal(1), Decimal(4000)),
            PriceRequired,
            "trigger_price",
        ),
        (
            lambda: XAUT.quantize(OrderSide.BUY, OrderType.MARKET, Decimal(1), None),
            ReferencePriceRequired,
            "minimum notional 2",
        ),
        (
            lambda: XAUT.quantize(OrderSide.BUY, OrderType.MARKET, Decimal(1), Decimal(4000)),
            PriceNotAccepted,
            "4000",
        ),
        (
            lambda: XAUT.quantize(
                OrderSide.BUY, OrderType.MARKET, Decimal("0.0001"), None, reference_price=Decimal(4000)
            ),
            NotionalBelowMinimum,
            "0.4000",
        ),
    ],
)
def test_specific_errors_carry_numbers(call: object, error: type[QuantizationError], fragment: str) -> None:
    with pytest.raises(error) as caught:
        call()  # type: ignore[operator]
    assert isinstance(caught.value, QuantizationError)
    assert fragment in str(caught.value)


def test_floats_are_rejected() -> None:
    with pytest.raises(TypeError, match="quantity must be a Decimal"):
        XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, 0.1, Decimal(4000))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="price must be a Decimal"):
        XAUT.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal(1), 4000.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="reference_price must be a Decimal"):
        XAUT.quantize(OrderSide.BUY, OrderType.MARKET, Decimal(1), None, reference_price=4000.0)  # type: ignore[arg-type]


def test_wire_strings_are_accepted_and_unknowns_rejected() -> None:
    by_enum = XAUT.quantize(OrderSide.SELL, OrderType.LIMIT, Decimal("0.01"), Decimal("4000.001"))
    by_text = XAUT.quantize("SELL", "LIMIT", Decimal("0.01"), Decimal("4000.001"))  # type: ignore[arg-type]
    assert by_enum == by_text
    with pytest.raises(ValueError, match="unknown order side"):
        XAUT.quantize("HOLD", OrderType.LIMIT, Decimal(1), Decimal(4000))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown order type"):
        XAUT.quantize(OrderSide.BUY, "ICEBERG", Decimal(1), Decimal(4000))  # type: ignore[arg-type]


def test_increments_must_be_powers_of_ten() -> None:
    with pytest.raises(ValueError, match="not a power of ten"):
        Quantizer(
            tick_size=Decimal("0.5"), step_size=Decimal(1), min_quantity=Decimal(0), min_notional=Decimal(0)
        )
    with pytest.raises(ValueError, match="positive"):
        Quantizer(
            tick_size=Decimal(0), step_size=Decimal(1), min_quantity=Decimal(0), min_notional=Decimal(0)
        )
    with pytest.raises(ValueError, match="min_notional"):
        Quantizer(
            tick_size=Decimal(1), step_size=Decimal(1), min_quantity=Decimal(0), min_notional=Decimal(-1)
        )


@settings(max_examples=400, derandomize=True)
@given(
    quantizer=quantizers,
    side=sides,
    order_type=st.sampled_from(PRICED_TYPES),
    quantity=quantities,
    price=prices,
)
def test_priced_order_laws(
    quantizer: Quantizer, side: OrderSide, order_type: OrderType, quantity: Decimal, price: Decimal
) -> None:
    trigger = price if order_type in LIMIT_PART else None
    expected_quantity = floor_to(quantity, quantizer.step_size)
    rounded = floor_to if side is OrderSide.BUY else ceil_to
    expected_price = rounded(price, quantizer.tick_size)
    try:
        order = quantizer.quantize(side, order_type, quantity, price, trigger_price=trigger)
    except QuantityRoundsToZero:
        assert expected_quantity == 0
        return
    except QuantityBelowMinimum:
        assert expected_quantity < quantizer.min_quantity
        return
    except NotionalBelowMinimum:
        assert expected_quantity * expected_price < quantizer.min_notional
        return
    except PriceNotPositive:
        assert expected_price <= 0
        return
    assert order.quantity == expected_quantity
    assert order.price == expected_price
    assert order.notional == expected_quantity * expected_price
    assert order.notional >= quantizer.min_notional
    assert order.quantity >= quantizer.min_quantity
    # on the grid, never larger, never more aggressive, within one increment
    assert Fraction(order.quantity) / Fraction(quantizer.step_size) == int(
        order.quantity / quantizer.step_size
    )
    assert Fraction(order.price) / Fraction(quantizer.tick_size) == int(order.price / quantizer.tick_size)
    assert quantity - quantizer.step_size < order.quantity <= quantity
    if side is OrderSide.BUY:
        assert price - quantizer.tick_size < order.price <= price
    else:
        assert price <= order.price < price + quantizer.tick_size
    if order_type in LIMIT_PART:
        assert order.trigger_price == expected_price
    again = quantizer.quantize(
        side, order_type, order.quantity, order.price, trigger_price=order.trigger_price
    )
    assert again == order


@settings(max_examples=300, derandomize=True)
@given(quantizer=quantizers, side=sides, quantity=quantities, reference=prices)
def test_market_order_laws(
    quantizer: Quantizer, side: OrderSide, quantity: Decimal, reference: Decimal
) -> None:
    expected_quantity = floor_to(quantity, quantizer.step_size)
    assume(expected_quantity >= quantizer.min_quantity and expected_quantity > 0)
    try:
        order = quantizer.quantize(side, OrderType.MARKET, quantity, None, reference_price=reference)
    except NotionalBelowMinimum:
        assert expected_quantity * reference < quantizer.min_notional
        return
    assert order.price is None
    assert order.quantity == expected_quantity
    assert order.notional == expected_quantity * reference
    assert (
        quantizer.quantize(side, OrderType.MARKET, order.quantity, None, reference_price=reference) == order
    )
