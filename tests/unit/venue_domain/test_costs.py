"""Cost model: fees to the cent, depth-walk slippage, funding once per settlement, fingerprints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.venue.costs import (
    CostModel,
    InsufficientDepth,
    Liquidity,
    PositionChange,
    Settlement,
)
from tradeplane.runtime.venue.metadata import FeeSchedule, normalise_commission, normalise_contract
from tradeplane.runtime.venue.sim.catalog import CATALOG
from tradeplane.runtime.venue.wire import OrderSide

pytestmark = pytest.mark.unit

H = timedelta(hours=1)
T0 = datetime(2025, 1, 1, tzinfo=UTC)
XAUT = normalise_contract(CATALOG["XAUT-USDT"].contract)
BTC = normalise_contract(CATALOG["BTC-USDT"].contract)
ACCOUNT_FEES = normalise_commission({"makerCommissionRate": "0.0001", "takerCommissionRate": "0.0004"})
CENT = Decimal("0.01")


def model(**overrides: object) -> CostModel:
    built = CostModel.build(
        XAUT,
        FeeSchedule.from_contract(XAUT),
        funding_interval=8 * H,
        funding_anchor=T0 + 8 * H,
        slippage_ticks=2,
    )
    return built.model_copy(update=overrides) if overrides else built


def test_build_reads_the_snapshot() -> None:
    costs = CostModel.build(BTC, ACCOUNT_FEES, funding_interval=8 * H, funding_anchor=T0)
    assert (costs.maker_fee_rate, costs.taker_fee_rate) == (Decimal("0.0001"), Decimal("0.0004"))
    assert costs.fee_source == "commissionRate"
    assert costs.tick_size == Decimal("0.1")
    assert costs.slippage_ticks == 1
    assert costs.symbol == "BTC-USDT"


def test_round_trip_fees_to_the_cent() -> None:
    costs = model()
    # XAUT defaults taker 0.0005, maker 0.0002: buy 0.5 @ 4000.00 taker 1.00, sell 0.5 @ 4010.00 maker 0.401
    entry = costs.fee(Decimal("0.5"), Decimal("4000.00"), Liquidity.TAKER)
    exit_ = costs.fee(Decimal("-0.5"), Decimal("4010.00"), Liquidity.MAKER)
    assert entry == Decimal("1.00")
    assert (entry + exit_).quantize(CENT, ROUND_HALF_EVEN) == Decimal("1.40")
    # BTC with the account's rates: 0.0123 @ 95000.1, taker 0.0004 both ways -> 0.46740049 + 0.46740049 = 0.93
    btc = CostModel.build(BTC, ACCOUNT_FEES, funding_interval=8 * H, funding_anchor=T0)
    leg = btc.fee(Decimal("0.0123"), Decimal("95000.1"), Liquidity.TAKER)
    assert leg == Decimal("0.4674004920")
    assert (2 * leg).quantize(CENT, ROUND_HALF_EVEN) == Decimal("0.93")
    with pytest.raises(TypeError):
        costs.fee(0.5, Decimal(4000), Liquidity.TAKER)  # type: ignore[arg-type]


BIDS = ((Decimal("3999.90"), Decimal("1")), (Decimal("3999.50"), Decimal("2")))
ASKS = (
    (Decimal("4000.10"), Decimal("0.2")),
    (Decimal("4000.20"), Decimal("0.3")),
    (Decimal("4000.50"), Decimal(1)),
)


def test_depth_walk_buy_against_hand_computed_numbers() -> None:
    walk = model().slippage_from_depth(OrderSide.BUY, Decimal("0.6"), bids=BIDS, asks=ASKS)
    # 0.2*4000.10 + 0.3*4000.20 + 0.1*4000.50 = 800.02 + 1200.06 + 400.05 = 2400.13; mid 4000.00
    assert walk.mid_price == Decimal("4000.00")
    assert walk.average_price.quantize(Decimal("1E-9")) == Decimal("4000.216666667")
    assert walk.half_spread == Decimal("0.10")
    assert walk.cost == Decimal("0.13")
    assert (walk.impact * Decimal("0.6") + walk.half_spread * Decimal("0.6")).quantize(
        Decimal("1E-20")
    ) == Decimal("0.13")


def test_depth_walk_sell_and_insufficient_depth() -> None:
    walk = model().slippage_from_depth(OrderSide.SELL, Decimal("2"), bids=BIDS, asks=ASKS)
    # 1*3999.90 + 1*3999.50 = 7999.40 against mid 8000.00: cost 0.60, half spread 0.10, impact 0.20
    assert walk.average_price == Decimal("3999.70")
    assert walk.cost == Decimal("0.60")
    assert walk.half_spread == Decimal("0.10")
    assert walk.impact == Decimal("0.20")
    with pytest.raises(InsufficientDepth, match="3"):
        model().slippage_from_depth(OrderSide.SELL, Decimal("3.5"), bids=BIDS, asks=ASKS)
    with pytest.raises(InsufficientDepth):
        model().slippage_from_depth(OrderSide.BUY, Decimal(1), bids=(), asks=ASKS)


def test_bar_slippage_is_whole_ticks_against_the_order() -> None:
    costs = model()
    assert costs.bar_fill_price(OrderSide.BUY, Decimal("4000.00")) == Decimal("4000.02")
    assert costs.bar_fill_price(OrderSide.SELL, Decimal("4000.00")) == Decimal("3999.98")
    assert costs.bar_slippage(Decimal("-0.5")) == Decimal("0.01")
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        CostModel.model_validate({**model().to_json(), "slippage_ticks": 0})


@pytest.mark.parametrize(
    ("quantity", "rate", "expected"),
    [("1", "0.0001", "-0.4"), ("-1", "0.0001", "0.4"), ("1", "-0.0001", "0.4"), ("-2", "-0.0001", "-0.8")],
)
def test_funding_signs_by_side(quantity: str, rate: str, expected: str) -> None:
    assert model().funding_payment(Decimal(quantity), Decimal(4000), Decimal(rate)) == Decimal(expected)


def test_settlement_times_follow_the_anchor() -> None:
    costs = model()
    assert costs.settlement_times(T0, T0 + 24 * H) == (T0 + 8 * H, T0 + 16 * H, T0 + 24 * H)
    assert costs.settlement_times(T0 + 8 * H, T0 + 9 * H) == ()
    assert costs.settlement_times(T0 - 17 * H, T0 - 7 * H) == (T0 - 16 * H, T0 - 8 * H)
    four_hourly = model(funding_interval=4 * H)
    assert len(four_hourly.settlement_times(T0, T0 + 24 * H)) == 6


def test_annualised_carry() -> None:
    assert model().annualised_carry(Decimal("0.0001")) == Decimal("0.1095")
    assert model(funding_interval=4 * H).annualised_carry(Decimal("0.0001")) == Decimal("0.219")


def test_funding_between_charges_the_position_held_into_each_settlement() -> None:
    settlements = [Settlement(T0 + k * 8 * H, Decimal("0.0001"), Decimal(4000 + k)) for k in range(1, 4)]
    path = [
        PositionChange(T0 + H, Decimal("0.5")),  # long across 08:00 at mark 4001
        PositionChange(T0 + 12 * H, Decimal("-1")),  # short across 16:00 at mark 4002
        PositionChange(T0 + 24 * H, Decimal(0)),  # closed exactly at 24:00: still charged then
    ]
    charges = model().funding_between(path, settlements)
    assert [charge.amount for charge in charges] == [
        Decimal("-0.20005"),
        Decimal("0.4002"),
        Decimal("0.4003"),
    ]
    with pytest.raises(ValueError, match="time order"):
        model().funding_between(list(reversed(path)), settlements)


@settings(max_examples=300, derandomize=True)
@given(
    entry_minute=st.integers(min_value=0, max_value=72 * 60),
    hold_minutes=st.integers(min_value=0, max_value=48 * 60),
    quantity=st.decimals(min_value=Decimal("-5"), max_value=Decimal(5), places=4),
    interval_hours=st.sampled_from([4, 8]),
)
def test_once_per_settlement(
    entry_minute: int, hold_minutes: int, quantity: Decimal, interval_hours: int
) -> None:
    costs = model(funding_interval=interval_hours * H)
    entry = T0 + timedelta(minutes=entry_minute)
    exit_ = entry + timedelta(minutes=hold_minutes)
    rate = Decimal("0.0001")
    mark = Decimal("4000.5")
    settlements = [Settlement(t, rate, mark) for t in costs.settlement_times(T0 - 24 * H, T0 + 200 * H)]
    charges = costs.funding_between(
        [PositionChange(entry, quantity), PositionChange(exit_, Decimal(0))], settlements
    )
    crossed = [
        T0 + k * interval_hours * H for k in range(-10, 60) if entry < T0 + k * interval_hours * H <= exit_
    ]
    if quantity == 0:
        assert charges == ()
        return
    assert [charge.time for charge in charges] == crossed
    assert sum(charge.amount for charge in charges) == -quantity * mark * rate * len(crossed)


def test_serialisation_round_trip_keeps_the_fingerprint() -> None:
    costs = model()
    restored = CostModel.model_validate_json(costs.model_dump_json())
    assert restored == costs
    assert restored.fingerprint == costs.fingerprint
    assert costs.to_json()["taker_fee_rate"] == "0.0005"
    assert costs.fingerprint.startswith("sha256:")


@pytest.mark.parametrize(
    "change",
    [
        {"symbol": "PAXG-USDT"},
        {"contract_fingerprint": "sha256:" + "0" * 64},
        {"maker_fee_rate": Decimal("0.00021")},
        {"taker_fee_rate": Decimal("0.00051")},
        {"fee_source": "commissionRate"},
        {"tick_size": Decimal("0.1")},
        {"slippage_ticks": 3},
        {"funding_interval": 4 * H},
        {"funding_anchor": T0 + 16 * H},
    ],
)
def test_fingerprint_changes_when_any_input_changes(change: dict[str, object]) -> None:
    assert model(**change).fingerprint != model().fingerprint
    assert set(change) <= set(CostModel.model_fields)


def test_fingerprint_changes_with_the_contract_snapshot() -> None:
    changed = normalise_contract({**CATALOG["XAUT-USDT"].contract, "tradeMinUSDT": "5"})
    other = CostModel.build(
        changed,
        FeeSchedule.from_contract(changed),
        funding_interval=8 * H,
        funding_anchor=T0 + 8 * H,
        slippage_ticks=2,
    )
    assert other.fingerprint != model().fingerprint
