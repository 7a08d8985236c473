"""Order requests are checked before they leave the process; clientOrderId is stored lowercased."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tradeplane.runtime.venue.order_request import (
    OrderRequest,
    OrderSide,
    OrderType,
    PositionSide,
    TimeInForce,
    normalise_client_order_id,
)

pytestmark = pytest.mark.unit


def limit(**overrides: object) -> OrderRequest:
    fields: dict[str, object] = {
        "symbol": "XAUT-USDT",
        "side": OrderSide.BUY,
        "position_side": PositionSide.BOTH,
        "type": OrderType.LIMIT,
        "quantity": Decimal("0.05"),
        "price": Decimal("2650.1"),
    }
    fields.update(overrides)
    return OrderRequest.model_validate(fields)


def test_params_always_carry_position_side_and_drop_unset() -> None:
    order = limit(client_order_id="Strat-ABC-0", time_in_force=TimeInForce.POST_ONLY, reduce_only=False)
    params = order.params()
    assert params["positionSide"] == "BOTH"
    assert params["clientOrderId"] == "strat-abc-0"
    assert params["timeInForce"] == "PostOnly"
    assert params["quantity"] == Decimal("0.05")
    assert params["stopPrice"] is None


@pytest.mark.parametrize("bad", ["", "x" * 41, "has space", "ünïcode", "a/b"])
def test_client_order_id_rules(bad: str) -> None:
    with pytest.raises(ValidationError):
        limit(client_order_id=bad)


@given(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=40
    )
)
def test_law_client_order_id_is_lowercase_and_idempotent(value: str) -> None:
    once = normalise_client_order_id(value)
    assert once == value.lower()
    assert normalise_client_order_id(once) == once


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"price": None}, "need a price"),
        ({"type": OrderType.MARKET}, "take no price"),
        ({"type": OrderType.STOP_MARKET, "price": None}, "need a stop_price"),
        ({"stop_price": Decimal(1)}, "take no stop_price"),
        ({"quantity": Decimal(0)}, "positive"),
        ({"quantity": 0.1}, "never float"),
        ({"price": Decimal("-1")}, "positive"),
        ({"symbol": "XAUTUSDT"}, "BTC-USDT"),
        ({"reduce_only": True, "position_side": PositionSide.LONG}, "one-way"),
        ({"type": OrderType.STOP, "stop_price": Decimal(2), "client_order_id": "a"}, "LIMIT and MARKET"),
    ],
)
def test_inconsistent_orders_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        limit(**overrides)


def test_trigger_orders_carry_their_stop() -> None:
    order = limit(type=OrderType.STOP_MARKET, price=None, stop_price=Decimal("2600"))
    assert order.params()["stopPrice"] == Decimal("2600")
    assert order.params()["price"] is None


def test_a_liquidation_is_reported_by_the_venue_never_placed() -> None:
    with pytest.raises(ValidationError, match="cannot be placed"):
        limit(type=OrderType.LIQUIDATION)
