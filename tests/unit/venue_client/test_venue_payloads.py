"""The documented BingX payload shapes, written out literally, parse to exact Decimals and ids."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeplane.runtime.venue.errors import PayloadError
from tradeplane.runtime.venue.payloads import (
    Balance,
    CancelAllAfterResult,
    CloseAllResult,
    CommissionRate,
    DepthSnapshot,
    Fill,
    FundingRate,
    HistoricalTrade,
    Income,
    Kline,
    Leverage,
    MaintMarginTier,
    MarkPriceKline,
    Order,
    Position,
    PremiumIndex,
    Trade,
    parse,
    parse_list,
)
from tradeplane.runtime.venue.payloads_market import (
    BookTickerUpdate,
    DepthUpdate,
    IncrementalDepth,
    KlineUpdate,
    MarkPriceUpdate,
    TradeUpdate,
    parse_market,
)
from tradeplane.runtime.venue.payloads_stream import (
    AccountConfigUpdate,
    AccountUpdate,
    ListenKeyExpired,
    OrderUpdate,
    parse_user,
)
from tradeplane.runtime.venue.rest import loads

pytestmark = pytest.mark.unit

BIG_ID = 1970374651259388000  # > 2**53: a float would round it


def test_big_ids_survive_json_parsing() -> None:
    assert BIG_ID > 2**53
    raw = loads('{"order":{"symbol":"BTC-USDT","orderId":1970374651259388000,"side":"BUY","type":"LIMIT"}}')
    assert parse(Order, raw["order"]).order_id == BIG_ID


def test_kline_v3_strings_and_open_time() -> None:
    raw = loads(
        '[{"open":"2650.10","close":"2651.3","high":"2652","low":"2649.95","volume":"12.5","time":1700000040000}]'
    )
    [bar] = parse_list(Kline, raw)
    assert (bar.open, bar.close, bar.high, bar.low) == (
        Decimal("2650.10"),
        Decimal("2651.3"),
        Decimal("2652"),
        Decimal("2649.95"),
    )
    assert bar.volume == Decimal("12.5")
    assert bar.open_time_ms == 1700000040000


def test_numbers_as_json_numbers_become_decimal_not_float() -> None:
    raw = loads('{"open":2650.1,"close":2651.3,"high":2652,"low":2649.95,"volume":0.1,"time":1}')
    bar = parse(Kline, raw)
    assert bar.volume == Decimal("0.1")


def test_float_money_is_refused_with_the_field_named() -> None:
    with pytest.raises(PayloadError) as caught:
        parse(Kline, {"open": 1.1, "close": "1", "high": "1", "low": "1", "volume": "1", "time": 1})
    assert caught.value.field == "open"


def test_missing_field_is_named() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_list(
            FundingRate,
            [
                {"symbol": "BTC-USDT", "fundingRate": "0.0001", "fundingTime": 1},
                {"symbol": "BTC-USDT", "fundingRate": "0.0001"},
            ],
        )
    assert caught.value.field == "[1].fundingTime"


def test_mark_price_kline() -> None:
    bar = parse(
        MarkPriceKline,
        {
            "open": "1",
            "close": "2",
            "high": "3",
            "low": "0.5",
            "openTime": 1700000000000,
            "closeTime": 1700000059999,
        },
    )
    assert bar.high == Decimal(3)
    assert bar.close_time_ms - bar.open_time_ms == 59999


def test_premium_index_funding_rate_depth_trades() -> None:
    index = parse(
        PremiumIndex,
        loads(
            '{"symbol":"XAUT-USDT","markPrice":"2650.5","indexPrice":"2650.1",'
            '"lastFundingRate":"-0.00012","nextFundingTime":1700006400000}'
        ),
    )
    assert index.last_funding_rate == Decimal("-0.00012")
    assert index.next_funding_time_ms == 1700006400000
    funding = parse(
        FundingRate, {"symbol": "PAXG-USDT", "fundingRate": "0.0001", "fundingTime": 1699992000000}
    )
    assert funding.funding_rate == Decimal("0.0001")
    depth = parse(
        DepthSnapshot,
        loads(
            '{"T":1700000000123,"bids":[["2650.1","1.5"],["2650.0","2"]],'
            '"asks":[["2650.2","0.75"]],"bidsCoin":[],"asksCoin":[]}'
        ),
    )
    assert depth.bids[0] == (Decimal("2650.1"), Decimal("1.5"))
    assert depth.asks == ((Decimal("2650.2"), Decimal("0.75")),)
    trade = parse(
        Trade,
        {"time": 1700000000001, "isBuyerMaker": True, "price": "2650.2", "qty": "0.3", "quoteQty": "795.06"},
    )
    assert trade.is_buyer_maker is True
    assert trade.quote_qty == Decimal("795.06")
    historical = parse(
        HistoricalTrade,
        {"id": BIG_ID, "time": 1, "isBuyerMaker": False, "price": "1", "qty": "2", "quoteQty": "2"},
    )
    assert historical.id == BIG_ID


def test_account_payloads() -> None:
    nested = parse(
        CommissionRate, {"commission": {"takerCommissionRate": "0.0005", "makerCommissionRate": "0.0002"}}
    )
    flat = parse(CommissionRate, {"takerCommissionRate": "0.0005", "makerCommissionRate": "0.0002"})
    assert nested == flat
    assert nested.taker_commission_rate == Decimal("0.0005")
    tier = parse(
        MaintMarginTier,
        {
            "tier": "Tier 2",
            "symbol": "BTC-USDT",
            "minPositionVal": "150000",
            "maxPositionVal": "500000",
            "maintMarginRatio": "0.005",
            "maintAmount": "250",
        },
    )
    assert tier.tier == 2
    assert tier.maint_amount == Decimal(250)
    leverage = parse(
        Leverage,
        {
            "longLeverage": 10,
            "shortLeverage": 5,
            "maxLongLeverage": 125,
            "maxShortLeverage": 125,
            "availableLongVol": "3.2",
            "availableShortVol": "3.2",
            "availableLongVal": "80000",
            "availableShortVal": "80000",
            "maxPositionLongVal": "1000000",
            "maxPositionShortVal": "1000000",
        },
    )
    assert (leverage.long_leverage, leverage.short_leverage, leverage.max_long_leverage) == (10, 5, 125)
    [usdt] = parse_list(
        Balance,
        loads(
            '[{"userId":"116***295","asset":"USDT","balance":"194.8212","equity":"196.7431","unrealizedProfit":"1.9219",'
            '"realisedProfit":"-109.2504","availableMargin":"193.7609","usedMargin":"1.0602","freezedMargin":"0.0000"}]'
        ),
    )
    assert usdt.equity - usdt.balance == usdt.unrealized_profit
    assert usdt.freezed_margin == 0


def test_position_order_fill_income() -> None:
    position = parse(
        Position,
        loads(
            '{"symbol":"BTC-USDT","positionId":"1735208409001001001","positionSide":"LONG","isolated":true,'
            '"positionAmt":"0.0010","availableAmt":"0.0010","unrealizedProfit":"0.0277","realisedProfit":"-0.0213",'
            '"initialMargin":"4.2523","margin":"4.2523","avgPrice":"42523.5","liquidationPrice":"38000.1",'
            '"leverage":10,"positionValue":"42.55","markPrice":"42551.2","riskRate":"0.0051",'
            '"maxMarginReduction":"0.0","pnlRatio":"0.0065","updateTime":1700000000000}'
        ),
    )
    assert position.position_id == 1735208409001001001
    assert position.isolated is True
    assert position.liquidation_price == Decimal("38000.1")
    placed = parse(
        Order,
        loads(
            '{"symbol":"XAUT-USDT","side":"BUY","type":"LIMIT","positionSide":"BOTH","reduceOnly":false,'
            '"orderID":1970374651259388000,"clientOrderID":"s1-abc-0","workingType":"MARK_PRICE",'
            '"stopGuaranteed":"false","status":"NEW","avgPrice":"0","executedQty":"0"}'
        ),
    )
    assert placed.order_id == BIG_ID
    assert placed.client_order_id == "s1-abc-0"
    assert placed.reduce_only is False
    queried = parse(
        Order,
        loads(
            '{"symbol":"XAUT-USDT","orderId":1970374651259388000,"side":"SELL","positionSide":"BOTH","type":"MARKET",'
            '"origQty":"0.05","price":"0","executedQty":"0.05","avgPrice":"2650.4","cumQuote":"132.52",'
            '"stopPrice":"","profit":"0.1","commission":"-0.066","status":"FILLED","time":1700000000000,'
            '"updateTime":1700000000050,"clientOrderId":"","workingType":"MARK_PRICE"}'
        ),
    )
    assert queried.client_order_id is None
    assert queried.avg_price * queried.executed_qty == queried.cum_quote
    fill = parse(
        Fill,
        loads(
            '{"tradeId":"1970374651259388001","orderId":"1970374651259388000","symbol":"XAUT-USDT","qty":"0.05",'
            '"price":"2650.4","quoteQty":"132.52","commission":"-0.066","commissionAsset":"USDT","role":"taker",'
            '"positionSide":"BOTH","filledTime":"2023-11-08T16:43:54.000+0800"}'
        ),
    )
    assert (fill.trade_id, fill.order_id) == (BIG_ID + 1, BIG_ID)
    income = parse(
        Income,
        {
            "symbol": "XAUT-USDT",
            "incomeType": "FUNDING_FEE",
            "income": "-0.0132",
            "asset": "USDT",
            "info": "Funding Fee",
            "time": 1700006400000,
            "tranId": "9_1700006400000",
            "tradeId": "9_1700006400000",
        },
    )
    assert income.income == Decimal("-0.0132")
    assert income.tran_id == "9_1700006400000"


def test_panic_tool_results() -> None:
    armed = parse(CancelAllAfterResult, {"triggerTime": 1700000060000, "status": "ACTIVATED", "note": ""})
    assert armed.trigger_time_ms == 1700000060000
    closed = parse(CloseAllResult, loads('{"success":[1970374651259388000],"failed":null}'))
    assert closed.success == (BIG_ID,)
    assert closed.failed == ()


def test_market_frames_by_topic() -> None:
    kline = parse_market(
        "BTC-USDT@kline_1m",
        loads(
            '{"code":0,"dataType":"BTC-USDT@kline_1m","s":"BTC-USDT",'
            '"data":[{"c":"42000.5","o":"41990.0","h":"42010.0","l":"41980.1","v":"3.5","T":1700000040000}]}'
        ),
    )
    assert isinstance(kline, KlineUpdate)
    assert kline.symbol == "BTC-USDT"
    assert kline.bars[0].close == Decimal("42000.5")
    assert kline.bars[0].open_time_ms == 1700000040000
    trades = parse_market(
        "BTC-USDT@trade",
        loads(
            '{"code":0,"dataType":"BTC-USDT@trade","data":[{"q":"0.010","p":"42000.1","T":1700000000001,'
            '"m":true,"s":"BTC-USDT"},{"q":"0.2","p":"42000.2","T":1700000000001,"m":false,"s":"BTC-USDT"}]}'
        ),
    )
    assert isinstance(trades, TradeUpdate)
    assert [t.buyer_is_maker for t in trades.trades] == [True, False]
    assert trades.trades[0].qty == Decimal("0.010")
    incr = parse_market(
        "BTC-USDT@incrDepth",
        loads(
            '{"code":0,"dataType":"BTC-USDT@incrDepth","data":{"action":"update","lastUpdateId":1970374651259388000,'
            '"time":1700000000200,"bids":[["42000.0","0"]],"asks":[["42000.5","1.25"]]}}'
        ),
    )
    assert isinstance(incr, IncrementalDepth)
    assert incr.last_update_id == BIG_ID
    assert incr.bid_levels == ((Decimal("42000.0"), Decimal(0)),)
    depth = parse_market(
        "BTC-USDT@depth5@500ms",
        loads(
            '{"code":0,"dataType":"BTC-USDT@depth5@500ms","ts":1700000000500,'
            '"data":{"bids":[["42000.0","1"]],"asks":[["42000.5","2"]]}}'
        ),
    )
    assert isinstance(depth, DepthUpdate)
    assert depth.time_ms == 1700000000500
    mark = parse_market(
        "BTC-USDT@markPrice",
        {
            "dataType": "BTC-USDT@markPrice",
            "data": {"e": "markPriceUpdate", "E": 1, "s": "BTC-USDT", "p": "42000.7"},
        },
    )
    assert isinstance(mark, MarkPriceUpdate)
    assert mark.mark_price == Decimal("42000.7")
    ticker = parse_market(
        "BTC-USDT@bookTicker",
        {
            "data": {
                "e": "bookTicker",
                "u": BIG_ID,
                "E": 2,
                "T": 2,
                "s": "BTC-USDT",
                "b": "1",
                "B": "2",
                "a": "3",
                "A": "4",
            }
        },
    )
    assert isinstance(ticker, BookTickerUpdate)
    assert (ticker.bid_price, ticker.ask_qty) == (Decimal(1), Decimal(4))
    with pytest.raises(PayloadError):
        parse_market("BTC-USDT@incrDepth", {"data": {"action": "all", "bids": []}})


@pytest.mark.parametrize("name", ["ORDER_TRADE_UPDATE", "TRADE_UPDATE"])
def test_order_event_under_both_names(name: str) -> None:
    event = parse_user(
        loads(
            '{"e":"'
            + name
            + '","E":1700000000100,"o":{"s":"XAUT-USDT","c":"s1-abc-0","i":1970374651259388000,'
            '"S":"BUY","o":"LIMIT","q":"0.05","p":"2650.0","sp":"0","ap":"2650.0","x":"TRADE",'
            '"X":"PARTIALLY_FILLED","N":"USDT","n":"-0.0265","T":1700000000099,"wt":"MARK_PRICE","ps":"BOTH",'
            '"rp":"0","z":"0.02","td":1970374651259388001,"tv":"53.0"}}'
        )
    )
    assert isinstance(event, OrderUpdate)
    assert event.order.order_id == BIG_ID
    assert event.order.cumulative_filled_qty == Decimal("0.02")
    assert event.order.trade_id == BIG_ID + 1


def test_other_user_events() -> None:
    account = parse_user(
        loads(
            '{"e":"ACCOUNT_UPDATE","E":1,"a":{"m":"FUNDING_FEE","B":[{"a":"USDT","wb":"100.5","cw":"90.5","bc":"-0.01"}],'
            '"P":[{"s":"XAUT-USDT","pa":"0.05","ep":"2650.0","up":"0.1","mt":"isolated","iw":"10","ps":"BOTH"}]}}'
        )
    )
    assert isinstance(account, AccountUpdate)
    assert account.account.balances[0].balance_change == Decimal("-0.01")
    assert account.account.positions[0].position_amt == Decimal("0.05")
    expired = parse_user({"e": "listenKeyExpired", "E": 2, "listenKey": "abc"})
    assert isinstance(expired, ListenKeyExpired)
    config = parse_user(
        {"e": "ACCOUNT_CONFIG_UPDATE", "E": 3, "ac": {"s": "BTC-USDT", "l": 10, "S": 5, "mt": "cross"}}
    )
    assert isinstance(config, AccountConfigUpdate)
    assert (config.config.long_leverage, config.config.short_leverage) == (10, 5)
    assert parse_user({"e": "SOMETHING_NEW", "E": 4}) is None
