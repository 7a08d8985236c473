"""The signed trading and account routes through the real simulator application on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tradeplane.runtime.venue import signing
from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator

pytestmark = pytest.mark.unit

SYMBOL = "XAUT-USDT"


@pytest.fixture
async def sim() -> AsyncIterator[VenueSimulator]:
    async with VenueSimulator(SimConfig(seed=11, history_minutes=60)) as simulator:
        yield simulator


async def call(sim: VenueSimulator, method: str, path: str, **params: signing.Param) -> dict[str, Any]:
    query = signing.signed_query({**params, "timestamp": sim.clock.now_ms()}, sim.config.api_secret)
    headers = {"X-BX-APIKEY": sim.config.api_key}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{sim.rest_url}{path}?{query}", headers=headers) as response,
    ):
        body: dict[str, Any] = json.loads(await response.text(), parse_float=Decimal)
        return body


async def test_place_query_fills_and_account_payloads(sim: VenueSimulator) -> None:
    placed = await call(
        sim, "POST", "/openApi/swap/v2/trade/order", symbol=SYMBOL, side="BUY", positionSide="BOTH",
        type="MARKET", quantity=Decimal("0.01"), clientOrderId="Entry-1",
    )  # fmt: skip
    assert placed["code"] == 0
    order = placed["data"]["order"]
    assert isinstance(order["orderId"], int) and order["orderId"] > 2**53
    assert order["clientOrderId"] == "entry-1" and order["status"] == "FILLED"
    assert Decimal(order["executedQty"]) == Decimal("0.01")
    queried = await call(sim, "GET", "/openApi/swap/v2/trade/order", symbol=SYMBOL, clientOrderId="ENTRY-1")
    assert queried["data"]["order"]["orderId"] == order["orderId"]
    fills = (await call(sim, "GET", "/openApi/swap/v2/trade/fillHistory", symbol=SYMBOL))["data"]
    rows = fills["fill_history_orders"]
    quote = sum((Decimal(row["quoteQty"]) for row in rows), Decimal(0))
    assert quote / Decimal("0.01") == Decimal(order["avgPrice"])
    assert all(Decimal(row["commission"]) > 0 and row["role"] == "taker" for row in rows)
    (balance,) = (await call(sim, "GET", "/openApi/swap/v3/user/balance"))["data"]
    fee = sum((Decimal(row["commission"]) for row in rows), Decimal(0))
    assert Decimal(balance["balance"]) == Decimal("10000") - fee
    assert Decimal(balance["equity"]) == Decimal(balance["balance"]) + Decimal(balance["unrealizedProfit"])
    (position,) = (await call(sim, "GET", "/openApi/swap/v2/user/positions", symbol=SYMBOL))["data"]
    assert position["positionSide"] == "BOTH" and Decimal(position["positionAmt"]) == Decimal("0.01")
    incomes = (await call(sim, "GET", "/openApi/swap/v2/user/income", symbol=SYMBOL))["data"]
    assert {row["incomeType"] for row in incomes} == {"TRADING_FEE"}
    closed = await call(sim, "POST", "/openApi/swap/v2/trade/closeAllPositions", symbol=SYMBOL)
    assert len(closed["data"]["success"]) == 1 and closed["data"]["failed"] == []


async def test_business_errors_and_settings(sim: VenueSimulator) -> None:
    unknown = await call(sim, "DELETE", "/openApi/swap/v2/trade/order", symbol=SYMBOL, orderId=1)
    assert unknown["code"] == 80016
    too_small = await call(
        sim, "POST", "/openApi/swap/v2/trade/order/test", symbol=SYMBOL, side="BUY", positionSide="BOTH",
        type="LIMIT", quantity=Decimal("0.0001"), price=Decimal("100"),
    )  # fmt: skip
    assert too_small["code"] == 101400
    lever = await call(
        sim, "POST", "/openApi/swap/v2/trade/leverage", symbol=SYMBOL, side="BOTH", leverage=51
    )
    assert lever["code"] == 101414
    got = (await call(sim, "GET", "/openApi/swap/v2/trade/leverage", symbol=SYMBOL))["data"]
    assert (got["longLeverage"], got["maxLongLeverage"]) == (10, 50)
    dual = await call(sim, "POST", "/openApi/swap/v1/positionSide/dual", dualSidePosition="true")
    assert dual["data"] == {"dualSidePosition": "true"}
    armed = await call(sim, "POST", "/openApi/swap/v2/trade/cancelAllAfter", type="ACTIVATE", timeOut=30)
    assert armed["data"]["triggerTime"] == sim.clock.now_ms() + 30_000
    tiers = (await call(sim, "GET", "/openApi/swap/v1/maintMarginRatio", symbol=SYMBOL))["data"]
    assert [Decimal(t["maintMarginRatio"]) for t in tiers] == [
        Decimal("0.005"),
        Decimal("0.01"),
        Decimal("0.025"),
    ]
    rates = (await call(sim, "GET", "/openApi/swap/v2/user/commissionRate"))["data"]["commission"]
    assert Decimal(rates["makerCommissionRate"]) == Decimal("0.0002")
    unsigned = await call(sim, "GET", "/openApi/swap/v2/trade/openOrders", signature="0" * 64)
    assert unsigned["code"] != 0
