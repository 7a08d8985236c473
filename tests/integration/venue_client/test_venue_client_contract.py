"""Contract tests: every client method against the real venue simulator in-process on 127.0.0.1."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.client_trading import CancelAllAfterType
from tradeplane.runtime.venue.credentials import Credentials
from tradeplane.runtime.venue.errors import (
    AuthenticationError,
    BusinessReject,
    RateLimited,
    RejectKind,
    UnknownOutcome,
)
from tradeplane.runtime.venue.order_request import (
    OrderRequest,
    OrderSide,
    OrderType,
    PositionSide,
    TimeInForce,
)
from tradeplane.runtime.venue.ratelimit import RateLimiter
from tradeplane.runtime.venue.rest import RetryPolicy
from tradeplane.runtime.venue.sim.faults import RestFault
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator

pytestmark = pytest.mark.integration

KEY = Credentials("contract-api-key", "contract-secret-key")
SYMBOL = "BTC-USDT"
MINUTE = 60_000


@pytest.fixture
async def sim() -> AsyncIterator[VenueSimulator]:
    config = SimConfig(
        seed=7, api_key=KEY.api_key, api_secret=KEY.secret_key, clock="manual", history_minutes=600
    )
    async with VenueSimulator(config) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: VenueSimulator) -> AsyncIterator[BingXClient]:
    async with BingXClient(
        sim.rest_url, credentials=KEY, retry=RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.05)
    ) as venue:
        yield venue


async def test_public_market_endpoints(sim: VenueSimulator, client: BingXClient) -> None:
    now = sim.clock.now_ms()
    assert (await client.server_time()).server_time_ms == now
    contracts = await client.contracts()
    assert {record["symbol"] for record in contracts} >= {"BTC-USDT", "XAUT-USDT", "PAXG-USDT"}
    [btc] = await client.contracts(SYMBOL)
    assert btc["symbol"] == SYMBOL
    bars = await client.klines(SYMBOL, "1m", limit=10)
    assert len(bars) == 10
    assert [b.open_time_ms % MINUTE for b in bars] == [0] * 10
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    start = now - 300 * MINUTE
    walked = await client.klines_between(SYMBOL, "1m", start_ms=start, end_ms=now - MINUTE, page_limit=100)
    times = [b.open_time_ms for b in walked]
    assert times == list(range(start, now, MINUTE))
    marks = await client.mark_price_klines(SYMBOL, "1m", limit=5)
    assert len(marks) == 5
    index = await client.premium_index(SYMBOL)
    assert index.symbol == SYMBOL
    assert index.next_funding_time_ms > now
    funding = await client.funding_rate_history(SYMBOL, limit=3)
    assert all(f.funding_time_ms <= now for f in funding)
    depth = await client.depth(SYMBOL, 5)
    assert len(depth.bids) == len(depth.asks) == 5
    assert depth.bids[0][0] < depth.asks[0][0]
    assert await client.trades(SYMBOL, 5) is not None
    assert await client.historical_trades(SYMBOL, limit=5) is not None


async def test_account_endpoints(client: BingXClient) -> None:
    rates = await client.commission_rate()
    assert rates.taker_commission_rate > rates.maker_commission_rate > 0
    tiers = await client.maint_margin_ratio(SYMBOL)
    assert tiers[0].min_position_value == 0
    assert all(a.max_position_value == b.min_position_value for a, b in itertools.pairwise(tiers))
    leverage = await client.get_leverage(SYMBOL)
    changed = await client.set_leverage(SYMBOL, side=PositionSide.BOTH, leverage=7)
    assert changed.leverage == 7
    assert (await client.get_leverage(SYMBOL)).long_leverage == 7
    assert leverage.max_long_leverage is None or leverage.max_long_leverage >= 7
    [usdt] = [b for b in await client.balance() if b.asset == "USDT"]
    assert usdt.balance == Decimal(10000)
    assert await client.positions() == []


def market(side: OrderSide, quantity: str, client_order_id: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL,
        side=side,
        position_side=PositionSide.BOTH,
        type=OrderType.MARKET,
        quantity=Decimal(quantity),
        client_order_id=client_order_id,
    )


async def test_order_lifecycle(client: BingXClient) -> None:
    depth = await client.depth(SYMBOL, 5)
    far_below = (depth.bids[0][0] * Decimal("0.8")).quantize(Decimal(1))
    resting = await client.place_order(
        OrderRequest(
            symbol=SYMBOL,
            side=OrderSide.BUY,
            position_side=PositionSide.BOTH,
            type=OrderType.LIMIT,
            quantity=Decimal("0.001"),
            price=far_below,
            time_in_force=TimeInForce.GTC,
            client_order_id="Rest-1",
        )
    )
    assert resting.client_order_id == "rest-1"
    [listed] = await client.open_orders(SYMBOL)
    assert listed.order_id == resting.order_id
    by_client_id = await client.query_order(SYMBOL, client_order_id="REST-1")
    assert by_client_id.order_id == resting.order_id
    assert by_client_id.status == "NEW"
    cancelled = await client.cancel_order(SYMBOL, order_id=resting.order_id)
    assert cancelled.order_id == resting.order_id
    assert (await client.query_order(SYMBOL, order_id=resting.order_id)).status == "CANCELED"
    with pytest.raises(BusinessReject) as duplicate:
        await client.place_order(
            OrderRequest(
                symbol=SYMBOL,
                side=OrderSide.BUY,
                position_side=PositionSide.BOTH,
                type=OrderType.LIMIT,
                quantity=Decimal("0.001"),
                price=far_below,
                client_order_id="rest-1",
            )
        )
    assert duplicate.value.kind is RejectKind.DUPLICATE_CLIENT_ORDER_ID

    filled = await client.place_order(market(OrderSide.BUY, "0.002", "buy-1"))
    queried = await client.query_order(SYMBOL, order_id=filled.order_id)
    assert queried.status == "FILLED"
    assert queried.executed_qty == Decimal("0.002")
    [position] = await client.positions(SYMBOL)
    assert position.position_amt == Decimal("0.002")
    fills = await client.fill_history(SYMBOL, order_id=filled.order_id)
    assert sum(f.qty for f in fills) == Decimal("0.002")
    assert all(f.order_id == filled.order_id for f in fills)
    income = await client.income(SYMBOL)
    assert all(row.asset == "USDT" for row in income)

    for price in (far_below, far_below - 1):
        await client.place_order(
            OrderRequest(
                symbol=SYMBOL,
                side=OrderSide.BUY,
                position_side=PositionSide.BOTH,
                type=OrderType.LIMIT,
                quantity=Decimal("0.001"),
                price=price,
            )
        )
    swept = await client.cancel_all_orders(SYMBOL)
    assert len(swept.success) == 2
    assert await client.open_orders(SYMBOL) == []

    armed = await client.cancel_all_after(CancelAllAfterType.ACTIVATE, 30)
    assert armed.trigger_time_ms > 0
    await client.cancel_all_after(CancelAllAfterType.CLOSE, 30)
    closed = await client.close_all_positions(SYMBOL)
    assert len(closed.success) == 1
    assert await client.positions(SYMBOL) == []


async def test_listen_key_endpoints(client: BingXClient) -> None:
    key = await client.create_listen_key()
    await client.extend_listen_key(key)
    await client.delete_listen_key(key)
    with pytest.raises(BusinessReject) as gone:
        await client.extend_listen_key(key)
    assert gone.value.http_status == 404


async def test_bad_signature_is_an_authentication_error(sim: VenueSimulator) -> None:
    wrong = Credentials(KEY.api_key, "not-the-secret")
    async with BingXClient(sim.rest_url, credentials=wrong) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.balance()
    assert caught.value.code == 100001
    assert "not-the-secret" not in str(caught.value)


async def test_clock_skew_is_resynced_and_the_request_succeeds(
    sim: VenueSimulator, client: BingXClient
) -> None:
    first = await client.sync_clock()
    await sim.clock.advance(10 * MINUTE)
    balances = await client.balance()
    assert balances
    assert client.clock_offset_ms - first >= 10 * MINUTE - 1000


async def test_429_storm_waits_then_raises_rate_limited(sim: VenueSimulator) -> None:
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    limiter = RateLimiter(clock=lambda: sum(waited), sleep=fake_sleep)
    async with BingXClient(
        sim.rest_url, credentials=KEY, limiter=limiter, retry=RetryPolicy(attempts=3)
    ) as client:
        sim.faults.add(RestFault(kind="status", status=429, path="/openApi/swap/v2/quote/depth", count=2))
        assert (await client.depth(SYMBOL, 5)).bids
        assert len(waited) == 2
        assert all(seconds >= 1 for seconds in waited)  # the simulator's Retry-After is 1 s
        sim.faults.add(RestFault(kind="status", status=429, path="/openApi/swap/v2/quote/depth"))
        with pytest.raises(RateLimited) as caught:
            await client.depth(SYMBOL, 5)
    assert caught.value.retry_after_s == 1
    assert len(waited) == 4  # two more pauses, then the third 429 of the request is raised


async def test_504_after_execution_then_query_finds_the_single_order(
    sim: VenueSimulator, client: BingXClient
) -> None:
    sim.faults.add(
        RestFault(
            kind="after_execution", status=504, method="POST", path="/openApi/swap/v2/trade/order", count=1
        )
    )
    with pytest.raises(UnknownOutcome) as caught:
        await client.place_order(market(OrderSide.BUY, "0.001", "Intent-504"))
    assert caught.value.client_order_id == "intent-504"
    found = await client.query_order(SYMBOL, client_order_id="intent-504")
    assert found.status == "FILLED"
    [position] = await client.positions(SYMBOL)
    assert position.position_amt == Decimal("0.001")  # executed exactly once, never re-sent
