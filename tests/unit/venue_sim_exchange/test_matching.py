"""Order entry and matching: fills across levels, fees by role, resting orders, validation codes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from unit.venue_sim_exchange.venue import XAUT, levels, venue

from tradeplane.runtime.venue.sim.protocol import SimError
from tradeplane.runtime.venue.wire import OrderSide, OrderStatus, OrderType, PositionSide, TimeInForce

pytestmark = pytest.mark.unit

BUY, SELL, BOTH = OrderSide.BUY, OrderSide.SELL, PositionSide.BOTH
TWO_TO_53 = 2**53


def code_of(error: pytest.ExceptionInfo[SimError]) -> int:
    return error.value.code


def test_market_order_walks_levels_with_taker_fee_and_cumulative_events() -> None:
    v = venue()
    v.market.asks[XAUT] = levels(("4000.10", "0.5"), ("4000.20", "0.5"), ("4000.50", "1"))
    order = v.exchange.place_order(
        symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.MARKET, quantity=Decimal("1.2")
    )
    quote = (
        Decimal("0.5") * Decimal("4000.10")
        + Decimal("0.5") * Decimal("4000.20")
        + Decimal("0.2") * Decimal("4000.50")
    )
    assert quote == Decimal("4800.25")
    assert order.status is OrderStatus.FILLED
    assert order.average_price == Decimal("4800.25") / Decimal("1.2")
    assert order.commission == Decimal("2.400125")
    assert order.order_id > TWO_TO_53
    trades = [e["o"] for e in v.of_kind("ORDER_TRADE_UPDATE") if e["o"]["x"] == "TRADE"]
    assert [Decimal(t["z"]) for t in trades] == [Decimal("0.5"), Decimal("1.0"), Decimal("1.2")]
    assert [t["X"] for t in trades] == ["PARTIALLY_FILLED", "PARTIALLY_FILLED", "FILLED"]
    assert [Decimal(t["n"]) for t in trades] == [
        Decimal("-1.000025"),
        Decimal("-1.00005"),
        Decimal("-0.40005"),
    ]
    assert len({t["td"] for t in trades}) == 3 and all(t["td"] > TWO_TO_53 for t in trades)
    updates = v.of_kind("ACCOUNT_UPDATE")
    assert len(updates) == 3 and updates[-1]["a"]["m"] == "ORDER"
    assert Decimal(updates[-1]["a"]["P"][0]["pa"]) == Decimal("1.2")
    assert Decimal(updates[-1]["a"]["B"][0]["wb"]) == Decimal("10000") - Decimal("2.400125")


def test_market_order_beyond_the_book_fills_what_exists_and_cancels_the_rest() -> None:
    v = venue()
    order = v.exchange.place_order(
        symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.MARKET, quantity=Decimal("1.5")
    )
    assert order.status is OrderStatus.CANCELED
    assert order.executed_quantity == Decimal("1")


def test_limit_rests_then_fills_as_maker_when_the_book_crosses() -> None:
    v = venue()
    order = v.exchange.place_order(
        symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
        quantity=Decimal("1"), price=Decimal("3999.00"),
    )  # fmt: skip
    v.tick()
    assert order.status is OrderStatus.NEW and order.executed_quantity == 0
    v.market.asks[XAUT] = levels(("3998.50", "0.4"), ("3999.00", "0.3"), ("3999.50", "5"))
    v.tick()
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.executed_quantity == Decimal("0.7")
    assert order.commission == Decimal("0.7") * Decimal("3999.00") * Decimal("0.0002")
    assert order.commission.quantize(Decimal("0.01")) == Decimal("0.56")
    assert all(fill.price == Decimal("3999.00") and fill.role.value == "maker" for fill in order.fills)
    v.tick()
    assert order.status is OrderStatus.FILLED
    assert v.exchange.account.wallet == Decimal("10000") - Decimal("3999.00") * Decimal("0.0002")


def test_marketable_limit_pays_taker_on_the_crossing_part_then_rests() -> None:
    v = venue()
    v.market.asks[XAUT] = levels(("4000.10", "0.25"), ("4001.00", "5"))
    order = v.exchange.place_order(
        symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
        quantity=Decimal("1"), price=Decimal("4000.50"),
    )  # fmt: skip
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.commission == Decimal("0.25") * Decimal("4000.10") * Decimal("0.0005")
    assert [o.order_id for o in v.exchange.open_orders()] == [order.order_id]


def test_ioc_cancels_its_rest_and_fok_fills_all_or_nothing() -> None:
    v = venue()
    ioc = v.exchange.place_order(
        symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
        quantity=Decimal("2"), price=Decimal("4000.10"), time_in_force=TimeInForce.IOC,
    )  # fmt: skip
    assert (ioc.status, ioc.executed_quantity) == (OrderStatus.CANCELED, Decimal("1"))
    fok = v.exchange.place_order(
        symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
        quantity=Decimal("2"), price=Decimal("4000.10"), time_in_force=TimeInForce.FOK,
    )  # fmt: skip
    assert (fok.status, fok.executed_quantity) == (OrderStatus.CANCELED, Decimal(0))


def test_over_precise_values_are_truncated_then_checked_against_the_minimum_notional() -> None:
    v = venue()
    with pytest.raises(SimError) as rejected:
        v.exchange.place_order(
            symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
            quantity=Decimal("0.00049"), price=Decimal("4000.129"),
        )  # fmt: skip
    assert code_of(rejected) == 101400  # 0.0004 * 4000.12 = 1.600048 < 2
    order = v.exchange.place_order(
        symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
        quantity=Decimal("0.00059"), price=Decimal("4000.129"),
    )  # fmt: skip
    assert (order.quantity, order.price) == (Decimal("0.0005"), Decimal("4000.12"))


def test_client_order_id_is_lowercased_unique_and_bounded() -> None:
    v = venue()
    place = dict(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
                 quantity=Decimal("0.01"), price=Decimal("3990"))  # fmt: skip
    order = v.exchange.place_order(**place, client_order_id="Entry-ABC")  # type: ignore[arg-type]
    assert order.client_order_id == "entry-abc"
    assert v.exchange.find(symbol=XAUT, client_order_id="ENTRY-abc") is order
    with pytest.raises(SimError) as reused:
        v.exchange.place_order(**place, client_order_id="entry-abc")  # type: ignore[arg-type]
    assert code_of(reused) == 101481
    with pytest.raises(SimError) as too_long:
        v.exchange.place_order(**place, client_order_id="x" * 41)  # type: ignore[arg-type]
    assert code_of(too_long) == 100400


def test_post_only_that_would_cross_is_rejected_and_otherwise_rests() -> None:
    v = venue()
    post = dict(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
                quantity=Decimal("0.01"), time_in_force=TimeInForce.POST_ONLY)  # fmt: skip
    with pytest.raises(SimError) as crossing:
        v.exchange.place_order(**post, price=Decimal("4000.10"))  # type: ignore[arg-type]
    assert code_of(crossing) == 101215
    assert v.exchange.place_order(**post, price=Decimal("4000.09")).status is OrderStatus.NEW  # type: ignore[arg-type]


def test_reduce_only_may_never_open() -> None:
    v = venue()
    sell = dict(symbol=XAUT, side=SELL, position_side=BOTH, order_type=OrderType.MARKET, reduce_only=True)
    with pytest.raises(SimError) as flat:
        v.exchange.place_order(**sell, quantity=Decimal("0.1"))  # type: ignore[arg-type]
    assert code_of(flat) == 101290
    v.exchange.place_order(
        symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.MARKET, quantity=Decimal("1")
    )
    with pytest.raises(SimError) as beyond:
        v.exchange.place_order(**sell, quantity=Decimal("1.5"))  # type: ignore[arg-type]
    assert code_of(beyond) == 101290
    v.exchange.place_order(**sell, quantity=Decimal("0.4"))  # type: ignore[arg-type]
    position = v.exchange.portfolio.get(XAUT, BOTH)
    assert position is not None and position.amount == Decimal("0.6")
    assert position.realised_profit == Decimal("0.4") * (Decimal("3999.90") - Decimal("4000.10"))


def test_position_side_follows_the_position_mode() -> None:
    v = venue()
    with pytest.raises(SimError) as one_way:
        v.exchange.place_order(symbol=XAUT, side=BUY, position_side=PositionSide.LONG,
                               order_type=OrderType.MARKET, quantity=Decimal("0.1"))  # fmt: skip
    assert code_of(one_way) == 109400
    v.exchange.account.dual_side = True
    with pytest.raises(SimError) as hedge:
        v.exchange.place_order(symbol=XAUT, side=BUY, position_side=BOTH,
                               order_type=OrderType.MARKET, quantity=Decimal("0.1"))  # fmt: skip
    assert code_of(hedge) == 109400
    with pytest.raises(SimError) as reduce_in_hedge:
        v.exchange.place_order(symbol=XAUT, side=SELL, position_side=PositionSide.LONG, reduce_only=True,
                               order_type=OrderType.MARKET, quantity=Decimal("0.1"))  # fmt: skip
    assert code_of(reduce_in_hedge) == 109400
    for side, position_side in ((BUY, PositionSide.LONG), (SELL, PositionSide.SHORT)):
        v.exchange.place_order(symbol=XAUT, side=side, position_side=position_side,
                               order_type=OrderType.MARKET, quantity=Decimal("0.5"))  # fmt: skip
    long, short = (
        v.exchange.portfolio.get(XAUT, PositionSide.LONG),
        v.exchange.portfolio.get(XAUT, PositionSide.SHORT),
    )
    assert long is not None and short is not None
    assert (long.amount, short.amount) == (Decimal("0.5"), Decimal("-0.5"))
    with pytest.raises(SimError) as over_close:
        v.exchange.place_order(symbol=XAUT, side=SELL, position_side=PositionSide.LONG,
                               order_type=OrderType.MARKET, quantity=Decimal("0.6"))  # fmt: skip
    assert code_of(over_close) == 101290


def test_cancel_codes() -> None:
    v = venue()
    resting = v.exchange.place_order(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
                                     quantity=Decimal("0.01"), price=Decimal("3990"))  # fmt: skip
    v.exchange.cancel_order(symbol=XAUT, order_id=resting.order_id)
    v.clock.now += 999
    with pytest.raises(SimError) as again:
        v.exchange.cancel_order(symbol=XAUT, order_id=resting.order_id)
    assert code_of(again) == 109201
    v.clock.now += 1
    with pytest.raises(SimError) as later:
        v.exchange.cancel_order(symbol=XAUT, order_id=resting.order_id)
    assert code_of(later) == 80018
    filled = v.exchange.place_order(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.MARKET,
                                    quantity=Decimal("0.01"))  # fmt: skip
    with pytest.raises(SimError) as done:
        v.exchange.cancel_order(symbol=XAUT, order_id=filled.order_id)
    assert code_of(done) == 80018
    with pytest.raises(SimError) as unknown:
        v.exchange.cancel_order(symbol=XAUT, order_id=12345)
    assert code_of(unknown) == 80016


def test_insufficient_margin_and_suspended_symbol() -> None:
    v = venue(balance="100")
    with pytest.raises(SimError) as poor:
        v.exchange.place_order(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.MARKET,
                               quantity=Decimal("1"))  # fmt: skip
    assert code_of(poor) == 101204  # 1 * 4000.10 / 10 = 400.01 > 100
    rich = venue()
    rich.exchange.place_order(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.MARKET,
                              quantity=Decimal("0.5"))  # fmt: skip
    rich.exchange.catalog[XAUT].contract["apiStateOpen"] = "false"
    try:
        with pytest.raises(SimError) as suspended:
            rich.exchange.place_order(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.MARKET,
                                      quantity=Decimal("0.1"))  # fmt: skip
        assert code_of(suspended) == 101415
        closing = rich.exchange.place_order(symbol=XAUT, side=SELL, position_side=BOTH,
                                            order_type=OrderType.MARKET, quantity=Decimal("0.5"))  # fmt: skip
        assert closing.status is OrderStatus.FILLED
    finally:
        rich.exchange.catalog[XAUT].contract["apiStateOpen"] = "true"


def test_test_orders_validate_without_changing_anything() -> None:
    v = venue()
    order = v.exchange.place_order(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.MARKET,
                                   quantity=Decimal("0.5"), test=True)  # fmt: skip
    assert order.executed_quantity == 0
    assert v.exchange.orders == {} and v.events == []
    assert v.exchange.portfolio.get(XAUT, BOTH) is None
