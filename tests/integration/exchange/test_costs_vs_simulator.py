"""The shared cost model against the venue simulator's own accounting, through the BingX client:
a round trip's fees match the simulator's fills to the cent, a resting order pays the maker rate,
and a position held across funding settlements pays exactly once per settlement, on mark notional.

Everything the cost model knows comes from the venue's metadata (contracts, commissionRate,
funding history), never from literals in this test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.costs import CostModel
from tradeplane.runtime.venue.costs_funding import PositionChange, Settlement
from tradeplane.runtime.venue.credentials import Credentials
from tradeplane.runtime.venue.metadata import (
    derive_funding_interval,
    normalise_commission,
    normalise_contract,
)
from tradeplane.runtime.venue.order_request import OrderRequest
from tradeplane.runtime.venue.quantize import Quantizer
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator
from tradeplane.runtime.venue.wire import Liquidity, OrderSide, OrderStatus, OrderType, PositionSide

pytestmark = pytest.mark.integration

KEY = Credentials("costs-api-key", "costs-secret-key")
CENT = Decimal("0.01")
HOUR_MS = 3_600_000


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@pytest.fixture
async def sim() -> AsyncIterator[VenueSimulator]:
    config = SimConfig(
        seed=11, api_key=KEY.api_key, api_secret=KEY.secret_key, clock="manual", history_minutes=120
    )
    async with VenueSimulator(config) as simulator:
        yield simulator


async def _model(client: BingXClient, symbol: str) -> tuple[CostModel, Quantizer]:
    record = normalise_contract((await client.contracts(symbol))[0])
    fees = normalise_commission((await client.commission_rate()).model_dump(by_alias=True))
    history = await client.funding_rate_history(symbol, limit=12)
    premium = await client.premium_index(symbol)
    upcoming = _time(premium.next_funding_time_ms)
    interval = derive_funding_interval([_time(row.funding_time_ms) for row in history], upcoming)
    assert interval is not None
    model = CostModel.build(record, fees, funding_interval=interval, funding_anchor=upcoming)
    return model, Quantizer.from_contract(record)


def _market(
    quantizer: Quantizer, symbol: str, side: OrderSide, quantity: Decimal, reference: Decimal
) -> OrderRequest:
    order = quantizer.quantize(side, OrderType.MARKET, quantity, None, reference_price=reference)
    return OrderRequest(
        symbol=symbol,
        side=side,
        position_side=PositionSide.BOTH,
        type=OrderType.MARKET,
        quantity=order.quantity,
    )


async def test_a_round_trips_fees_match_the_simulators_fills_to_the_cent(sim: VenueSimulator) -> None:
    symbol = "BTC-USDT"
    async with BingXClient(sim.rest_url, credentials=KEY) as client:
        model, quantizer = await _model(client, symbol)
        mark = (await client.premium_index(symbol)).mark_price
        # an over-precise request: the quantizer floors it to the step the venue would truncate to
        opened = await client.place_order(
            _market(quantizer, symbol, OrderSide.BUY, Decimal("0.0537291"), mark)
        )
        closed = await client.place_order(
            _market(quantizer, symbol, OrderSide.SELL, Decimal("0.0537291"), mark)
        )
        fills = [
            fill
            for order in (opened, closed)
            for fill in await client.fill_history(symbol, order_id=order.order_id)
        ]
    # partial fills across book levels are fine; together they are the quantized quantity, twice
    assert sum(f.qty for f in fills) == 2 * quantizer.quantity(Decimal("0.0537291"))
    expected = sum(model.fee(f.qty, f.price, Liquidity(str(f.role).lower())) for f in fills)
    charged = sum(abs(f.commission) for f in fills)
    assert expected > 0
    assert expected.quantize(CENT) == charged.quantize(CENT)
    assert all(str(f.role).lower() == Liquidity.TAKER for f in fills), "market orders take liquidity"


async def test_a_resting_limit_order_pays_the_maker_rate(sim: VenueSimulator) -> None:
    symbol = "BTC-USDT"
    async with BingXClient(sim.rest_url, credentials=KEY) as client:
        model, quantizer = await _model(client, symbol)
        depth = await client.depth(symbol, 5)
        best_bid = depth.bids[0][0]
        price = best_bid - 20 * model.tick_size
        order = quantizer.quantize(OrderSide.BUY, OrderType.LIMIT, Decimal("0.01"), price)
        placed = await client.place_order(
            OrderRequest(
                symbol=symbol, side=OrderSide.BUY, position_side=PositionSide.BOTH, type=OrderType.LIMIT,
                quantity=order.quantity, price=order.price,
            )
        )  # fmt: skip
        status = placed.status
        for _ in range(240):  # the seeded market crosses the bid within a few simulated hours
            if status == OrderStatus.FILLED:
                break
            await sim.clock.advance(60_000)
            status = (await client.query_order(symbol, order_id=placed.order_id)).status
        assert status == OrderStatus.FILLED
        fills = await client.fill_history(symbol, order_id=placed.order_id)
    assert all(str(f.role).lower() == Liquidity.MAKER and f.price == order.price for f in fills)
    expected = sum(model.fee(f.qty, f.price, Liquidity.MAKER) for f in fills)
    assert expected.quantize(CENT) == sum(abs(f.commission) for f in fills).quantize(CENT)


async def test_funding_is_paid_once_per_settlement_on_mark_notional(sim: VenueSimulator) -> None:
    symbol = "PAXG-USDT"  # 4 h funding in the simulator: two settlements in 9 h
    async with BingXClient(sim.rest_url, credentials=KEY) as client:
        model, quantizer = await _model(client, symbol)
        mark = (await client.premium_index(symbol)).mark_price
        opened_at = sim.clock.now_ms()
        order = await client.place_order(_market(quantizer, symbol, OrderSide.SELL, Decimal("0.5"), mark))
        await sim.clock.advance(9 * HOUR_MS)
        until = sim.clock.now_ms()
        income = await client.income(symbol, income_type="FUNDING_FEE", start_ms=opened_at, end_ms=until)
    held = -order.executed_qty  # short
    assert held < 0
    published = sim.market.funding_between(symbol, opened_at, until)
    settlements = [Settlement(_time(s.time_ms), s.rate, s.mark_price) for s in published]
    assert [s.time for s in settlements] == list(model.settlement_times(_time(opened_at), _time(until)))
    charges = model.funding_between([PositionChange(_time(opened_at), held)], settlements)
    assert len(charges) == len(income) == 2, "once per settlement, never per bar"
    by_time = {row.time_ms: row.income for row in income}
    for charge in charges:
        paid = by_time[int(charge.time.timestamp() * 1000)]
        assert paid.quantize(CENT) == charge.amount.quantize(CENT)
        # short with a positive rate receives; with a negative rate pays
        assert (paid > 0) == (charge.rate > 0)
