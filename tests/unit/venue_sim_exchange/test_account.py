"""Funding, liquidation, the dead-man switch and the balance identities."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit.venue_sim_exchange.venue import START_MS, XAUT, levels, venue

from tradeplane.runtime.venue.sim import controls
from tradeplane.runtime.venue.sim.accounts import IncomeType, MarginType
from tradeplane.runtime.venue.sim.protocol import SimError
from tradeplane.runtime.venue.sim.views import FundingSettlement
from tradeplane.runtime.venue.wire import OrderSide, OrderStatus, OrderType, PositionSide

pytestmark = pytest.mark.unit

BUY, SELL, BOTH = OrderSide.BUY, OrderSide.SELL, PositionSide.BOTH
TAKER = Decimal("0.0005")


def market(v, side: OrderSide, quantity: str, position_side: PositionSide = BOTH):  # type: ignore[no-untyped-def]
    return v.exchange.place_order(
        symbol=XAUT,
        side=side,
        position_side=position_side,
        order_type=OrderType.MARKET,
        quantity=Decimal(quantity),
    )


def incomes(v, kind: IncomeType) -> list[Decimal]:  # type: ignore[no-untyped-def]
    return [row.amount for row in v.exchange.account.incomes if row.income_type is kind]


@pytest.mark.parametrize(("side", "sign"), [(BUY, 1), (SELL, -1)])
def test_funding_is_charged_once_per_settlement_and_signed_by_side(side: OrderSide, sign: int) -> None:
    v = venue()
    v.market.asks[XAUT] = levels(("4000.10", "5"))
    v.market.bids[XAUT] = levels(("3999.90", "5"))
    market(v, side, "2")
    settlement = FundingSettlement(XAUT, START_MS + 1000, Decimal("0.0001"), Decimal("4010.00"))
    v.market.settlements.append(settlement)
    before = v.exchange.account.wallet
    for _ in range(30):
        v.tick(100)
    expected = -sign * Decimal("2") * Decimal("4010.00") * Decimal("0.0001")  # longs pay at a positive rate
    assert incomes(v, IncomeType.FUNDING_FEE) == [expected]
    assert v.exchange.account.wallet - before == expected
    pushed = [e for e in v.of_kind("ACCOUNT_UPDATE") if e["a"]["m"] == "FUNDING_FEE"]
    assert len(pushed) == 1
    assert Decimal(pushed[0]["a"]["B"][0]["bc"]) == expected
    assert pushed[0]["a"]["P"] == []  # cross: balance only


def test_funding_skips_positions_closed_before_the_settlement() -> None:
    v = venue()
    market(v, BUY, "1")
    market(v, SELL, "1")
    v.market.settlements.append(FundingSettlement(XAUT, START_MS + 500, Decimal("0.0003"), Decimal("4000")))
    v.tick(1000)
    assert incomes(v, IncomeType.FUNDING_FEE) == []


def isolated_long(v, quantity: str = "1"):  # type: ignore[no-untyped-def]
    controls.set_margin_type(v.exchange, symbol=XAUT, value="ISOLATED")
    v.market.asks[XAUT] = levels(("4000.00", "50"))
    market(v, BUY, quantity)
    position = v.exchange.portfolio.get(XAUT, BOTH)
    assert position is not None and position.isolated
    return position


def test_isolated_liquidation_price_matches_the_tier_formula() -> None:
    v = venue()
    position = isolated_long(v)
    margin = Decimal("4000.00") / 10
    assert position.isolated_margin == margin
    # tier 1 (notional < 50 000): MMR 0.005, maintAmount 0; LP = (WB + cum - Q*EP) / (Q*MMR - Q)
    expected = (margin + 0 - Decimal("4000.00")) / (Decimal("0.005") - 1)
    assert v.exchange.portfolio.liquidation_price(position) == expected
    assert Decimal(controls.positions(v.exchange)[0]["liquidationPrice"]) == expected
    assert expected.quantize(Decimal("0.01")) == Decimal("3618.09")


def test_liquidation_price_uses_the_tier_at_the_liquidation_notional() -> None:
    v = venue(balance="100000")
    controls.set_leverage(v.exchange, symbol=XAUT, side=BOTH, value=20)
    position = isolated_long(
        v, quantity="13"
    )  # 52 000 notional at entry (tier 2), below 50 000 at LP (tier 1)
    wallet = Decimal("13") * Decimal("4000.00") / 20
    tier1 = (wallet - 13 * Decimal("4000.00")) / (13 * Decimal("0.005") - 13)
    assert 13 * Decimal("4000.00") >= 50_000 > 13 * tier1
    assert v.exchange.portfolio.liquidation_price(position) == tier1


def test_isolated_liquidation_when_the_mark_crosses_loses_exactly_the_margin() -> None:
    v = venue()
    position = isolated_long(v)
    threshold = v.exchange.portfolio.liquidation_price(position)
    fee = Decimal("4000.00") * TAKER
    v.market.marks[XAUT] = threshold + Decimal("0.01")
    v.tick()
    assert v.exchange.portfolio.get(XAUT, BOTH) is not None
    v.market.marks[XAUT] = Decimal("3600.00")  # gapped past the liquidation price
    v.tick()
    assert v.exchange.portfolio.get(XAUT, BOTH) is None
    assert v.exchange.account.wallet == Decimal("10000") - fee - Decimal("400")
    liquidation = [o for o in v.exchange.orders.values() if o.type is OrderType.LIQUIDATION]
    assert len(liquidation) == 1 and liquidation[0].status is OrderStatus.FILLED
    assert incomes(v, IncomeType.INSURANCE_CLEAR) == [Decimal(0)]  # the 4 USDT deficit is the insurer's
    assert incomes(v, IncomeType.REALIZED_PNL) == [Decimal("-400")]
    event = [e["o"] for e in v.of_kind("ORDER_TRADE_UPDATE") if e["o"]["o"] == "LIQUIDATION"]
    assert event and event[-1]["X"] == "FILLED"


def test_isolated_liquidation_at_the_price_pays_the_maintenance_margin_as_clearance() -> None:
    v = venue()
    position = isolated_long(v)
    v.market.marks[XAUT] = Decimal("3618.00")
    v.tick()
    assert v.exchange.portfolio.get(XAUT, BOTH) is None
    pnl = Decimal("3618.00") - Decimal("4000.00")
    assert incomes(v, IncomeType.REALIZED_PNL) == [pnl]
    assert incomes(v, IncomeType.INSURANCE_CLEAR) == [-(Decimal("400") + pnl)]
    assert position.amount == 0


def test_cancel_all_after_fires_at_its_deadline_and_close_disarms() -> None:
    v = venue()
    resting = v.exchange.place_order(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
                                     quantity=Decimal("0.01"), price=Decimal("3990"))  # fmt: skip
    armed = controls.cancel_all_after(v.exchange, kind="ACTIVATE", timeout_s=10)
    assert armed["triggerTime"] == START_MS + 10_000 and armed["status"] == "ACTIVATED"
    v.tick(9_999)
    assert resting.status is OrderStatus.NEW
    v.tick(1)
    assert resting.status is OrderStatus.CANCELED
    other = v.exchange.place_order(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
                                   quantity=Decimal("0.01"), price=Decimal("3990"))  # fmt: skip
    controls.cancel_all_after(v.exchange, kind="ACTIVATE", timeout_s=10)
    assert controls.cancel_all_after(v.exchange, kind="CLOSE", timeout_s=None)["status"] == "CLOSED"
    v.tick(20_000)
    assert other.status is OrderStatus.NEW
    for bad in (9, 121):
        with pytest.raises(SimError):
            controls.cancel_all_after(v.exchange, kind="ACTIVATE", timeout_s=bad)


def test_close_all_positions_flattens_with_market_orders() -> None:
    v = venue()
    market(v, BUY, "0.5")
    result = controls.close_all_positions(v.exchange)
    assert result["failed"] == [] and len(result["success"]) == 1
    assert v.exchange.orders[result["success"][0]].reduce_only
    assert list(v.exchange.portfolio.held()) == []


def test_position_mode_and_margin_type_change_only_when_flat() -> None:
    v = venue()
    market(v, BUY, "0.1")
    with pytest.raises(SimError) as mode:
        controls.set_dual_side(v.exchange, hedge=True)
    assert mode.value.code == 109400
    with pytest.raises(SimError) as margin:
        controls.set_margin_type(v.exchange, symbol=XAUT, value=MarginType.ISOLATED.value)
    assert margin.value.code == 109400
    with pytest.raises(SimError) as lever:
        controls.set_leverage(v.exchange, symbol=XAUT, side=BOTH, value=51)
    assert lever.value.code == 101414


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    quantity=st.decimals("0.001", "1.5", places=3),
    mark=st.decimals("3800", "4200", places=2),
    sell_first=st.booleans(),
    isolated=st.booleans(),
)
def test_balance_identities(quantity: Decimal, mark: Decimal, sell_first: bool, isolated: bool) -> None:
    v = venue()
    v.market.asks[XAUT] = levels(("4000.10", "10"))
    v.market.bids[XAUT] = levels(("3999.90", "10"))
    if isolated:
        controls.set_margin_type(v.exchange, symbol=XAUT, value="ISOLATED")
    market(v, SELL if sell_first else BUY, str(quantity))
    v.exchange.place_order(symbol=XAUT, side=BUY, position_side=BOTH, order_type=OrderType.LIMIT,
                           quantity=Decimal("0.5"), price=Decimal("3900"))  # fmt: skip
    v.market.marks[XAUT] = mark
    (row,) = controls.balance(v.exchange)
    entry = Decimal("3999.90") if sell_first else Decimal("4000.10")
    signed = -quantity if sell_first else quantity
    unrealised = signed * (mark - entry)
    fee = quantity * entry * TAKER
    assert Decimal(row["balance"]) == Decimal("10000") - fee
    assert Decimal(row["unrealizedProfit"]) == unrealised
    assert Decimal(row["equity"]) == Decimal(row["balance"]) + Decimal(row["unrealizedProfit"])
    assert Decimal(row["realisedProfit"]) == -fee
    used = quantity * (entry if isolated else mark) / 10
    assert Decimal(row["usedMargin"]) == used
    opening = max(Decimal("0.5") - (quantity if sell_first else 0), Decimal(0))
    assert Decimal(row["freezedMargin"]) == opening * Decimal("3900") / 10
    cross_unrealised = 0 if isolated else unrealised
    free = Decimal(row["balance"]) + cross_unrealised - used - Decimal(row["freezedMargin"])
    assert Decimal(row["availableMargin"]) == max(free, Decimal(0))
