"""BingX's public market-data REST endpoints, with their paths, paging rules and payload shapes
(decimals as strings, times as epoch milliseconds, ``time`` of a kline = the bar's open)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tradeplane.runtime.intervals import INTERVALS
from tradeplane.runtime.millis import DAY_MS, MINUTE_MS
from tradeplane.runtime.venue.sim.bars import TickBar, bucket_close, select
from tradeplane.runtime.venue.sim.market import SymbolMarket
from tradeplane.runtime.venue.sim.protocol import Params, SimError, invalid, ok, sim_of

if TYPE_CHECKING:
    from tradeplane.runtime.venue.sim.server import VenueSimulator

UNKNOWN_SYMBOL = 109425
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
KLINE_LIMIT = (500, 1440)
FUNDING_LIMIT = (100, 1000)

Handler = Callable[[web.Request], Any]


def symbol_market(request: web.Request, params: Params, *, required: bool = True) -> SymbolMarket | None:
    symbol = params.str("symbol") if required else params.optional_str("symbol")
    if symbol is None:
        return None
    sim = sim_of(request)
    if not sim.listed(symbol):
        raise SimError(UNKNOWN_SYMBOL, f"{symbol} does not exist")
    return sim.market[symbol]


def listed_markets(request: web.Request, params: Params) -> list[SymbolMarket]:
    one = symbol_market(request, params, required=False)
    if one is not None:
        return [one]
    sim = sim_of(request)
    return [sim.market[symbol] for symbol in sim.catalog if sim.listed(symbol)]


async def server_time(request: web.Request) -> web.Response:
    return ok({"serverTime": sim_of(request).clock.now_ms()})


async def contracts(request: web.Request) -> web.Response:
    params = await Params.read(request)
    sim = sim_of(request)
    symbol = params.optional_str("symbol")
    if symbol is not None:
        if symbol not in sim.contracts:
            raise SimError(UNKNOWN_SYMBOL, f"{symbol} does not exist")
        return ok([sim.contracts[symbol]])
    return ok(list(sim.contracts.values()))


def _interval(params: Params) -> str:
    interval = params.str("interval")
    if interval not in INTERVALS:
        raise invalid("interval", interval)
    return interval


def _bars(request: web.Request, params: Params) -> tuple[SymbolMarket, str, list[TickBar]]:
    market = symbol_market(request, params)
    assert market is not None
    interval = _interval(params)
    start, end = params.optional_int("startTime"), params.optional_int("endTime")
    if start is not None and end is not None and start > end:
        raise invalid("startTime", start)
    limit = params.limit(default=KLINE_LIMIT[0], maximum=KLINE_LIMIT[1])
    return market, interval, select(market.bars, interval=interval, start_ms=start, end_ms=end, limit=limit)


async def klines(request: web.Request) -> web.Response:
    market, _, bars = _bars(request, await Params.read(request))
    price, quantity = market.price_decimal, market.quantity_decimal
    return ok(
        [
            {
                "open": price(bar.open),
                "close": price(bar.close),
                "high": price(bar.high),
                "low": price(bar.low),
                "volume": quantity(bar.volume),
                "time": bar.open_time,
            }
            for bar in bars
        ]
    )


async def mark_price_klines(request: web.Request) -> web.Response:
    market, interval, bars = _bars(request, await Params.read(request))
    price = market.price_decimal
    return ok(
        [
            {
                "open": price(bar.mark_open),
                "close": price(bar.mark_close),
                "high": price(bar.mark_high),
                "low": price(bar.mark_low),
                "volume": market.quantity_decimal(bar.volume),
                "openTime": bar.open_time,
                "closeTime": bucket_close(interval, bar.open_time),
            }
            for bar in bars
        ]
    )


async def premium_index(request: web.Request) -> web.Response:
    params = await Params.read(request)
    sim = sim_of(request)
    now = sim.clock.now_ms()
    rows = []
    for market in listed_markets(request, params):
        symbol = market.spec.symbol
        next_time = market.next_funding_time(now)
        rows.append(
            {
                "symbol": symbol,
                "markPrice": sim.market.mark_price(symbol),
                "indexPrice": sim.market.index_price(symbol),
                "lastFundingRate": market.funding_rate(next_time),
                "nextFundingTime": next_time,
            }
        )
    return ok(rows[0] if params.optional_str("symbol") else rows)


async def funding_rate(request: web.Request) -> web.Response:
    params = await Params.read(request)
    market = symbol_market(request, params)
    assert market is not None
    now = sim_of(request).clock.now_ms()
    limit = params.limit(default=FUNDING_LIMIT[0], maximum=FUNDING_LIMIT[1])
    start, end = params.optional_int("startTime"), params.optional_int("endTime")
    until = min(now, end) if end is not None else now
    interval = market.funding_interval_ms
    if start is not None:
        times = market.settlement_times(start - 1, min(until, start - 1 + limit * interval))[:limit]
    else:
        times = market.settlement_times(until - (limit + 1) * interval, until)[-limit:]
    symbol = market.spec.symbol
    return ok([{"symbol": symbol, "fundingRate": market.funding_rate(t), "fundingTime": t} for t in times])


def _levels(levels: tuple[tuple[Decimal, Decimal], ...]) -> list[list[Decimal]]:
    return [[price, quantity] for price, quantity in levels]


async def depth(request: web.Request) -> web.Response:
    params = await Params.read(request)
    market = symbol_market(request, params)
    assert market is not None
    limit = params.optional_int("limit") or 20
    if limit not in DEPTH_LIMITS:
        raise invalid("limit", limit)
    book = market.book(limit)
    bids, asks = _levels(book.bids), _levels(book.asks)
    return ok({"T": book.time_ms, "bids": bids, "asks": asks, "bidsCoin": bids, "asksCoin": asks})


async def book_ticker(request: web.Request) -> web.Response:
    params = await Params.read(request)
    market = symbol_market(request, params)
    assert market is not None
    book = market.book(1)
    return ok(
        {
            "book_ticker": {
                "symbol": market.spec.symbol,
                "bid_price": book.bids[0][0],
                "bid_qty": book.bids[0][1],
                "ask_price": book.asks[0][0],
                "ask_qty": book.asks[0][1],
                "lastUpdateId": book.time_ms // 200,
                "time": book.time_ms,
            }
        }
    )


def _trade_rows(market: SymbolMarket, trades: list[Any], *, with_id: bool) -> list[dict[str, Any]]:
    rows = []
    for trade in trades:
        price, quantity = market.price_decimal(trade.price), market.quantity_decimal(trade.quantity)
        row: dict[str, Any] = {"id": trade.id} if with_id else {}
        row |= {
            "time": trade.time_ms,
            "isBuyerMaker": trade.buyer_maker,
            "price": price,
            "qty": quantity,
            "quoteQty": price * quantity,
        }
        rows.append(row)
    return rows


async def trades(request: web.Request) -> web.Response:
    params = await Params.read(request)
    market = symbol_market(request, params)
    assert market is not None
    limit = params.limit(default=500, maximum=1000)
    return ok(_trade_rows(market, list(market.trades)[-limit:], with_id=False))


async def historical_trades(request: web.Request) -> web.Response:
    params = await Params.read(request)
    market = symbol_market(request, params)
    assert market is not None
    limit = params.limit(default=50, maximum=100)
    from_id = params.optional_int("fromId")
    kept = list(market.trades)
    chosen = (
        [trade for trade in kept if trade.id >= from_id][:limit] if from_id is not None else kept[-limit:]
    )
    return ok(_trade_rows(market, chosen, with_id=True))


async def ticker(request: web.Request) -> web.Response:
    params = await Params.read(request)
    now = sim_of(request).clock.now_ms()
    rows = []
    for market in listed_markets(request, params):
        day = select(market.bars, interval="1m", start_ms=now - DAY_MS + MINUTE_MS, end_ms=now, limit=1440)
        price = market.price_decimal
        book = market.book(1)
        opened = price(day[0].open)
        last = price(market.price)
        volume = sum(bar.volume for bar in day)
        rows.append(
            {
                "symbol": market.spec.symbol,
                "priceChange": last - opened,
                "priceChangePercent": ((last - opened) / opened * 100).quantize(Decimal("0.01")),
                "lastPrice": last,
                "lastQty": market.quantity_decimal(market.trades[-1].quantity if market.trades else 0),
                "highPrice": price(max(bar.high for bar in day)),
                "lowPrice": price(min(bar.low for bar in day)),
                "volume": market.quantity_decimal(volume),
                "quoteVolume": sum(
                    (price(bar.close) * market.quantity_decimal(bar.volume) for bar in day), Decimal(0)
                ).quantize(Decimal("0.0001")),
                "openPrice": opened,
                "openTime": day[0].open_time,
                "closeTime": now,
                "bidPrice": book.bids[0][0],
                "bidQty": book.bids[0][1],
                "askPrice": book.asks[0][0],
                "askQty": book.asks[0][1],
            }
        )
    return ok(rows[0] if params.optional_str("symbol") else rows)


async def open_interest(request: web.Request) -> web.Response:
    params = await Params.read(request)
    market = symbol_market(request, params)
    assert market is not None
    now = sim_of(request).clock.now_ms()
    return ok({"openInterest": market.open_interest(now), "symbol": market.spec.symbol, "time": now})


ROUTES: tuple[tuple[str, Handler], ...] = (
    ("/openApi/swap/v2/server/time", server_time),
    ("/openApi/swap/v2/quote/contracts", contracts),
    ("/openApi/swap/v3/quote/klines", klines),
    ("/openApi/swap/v1/market/markPriceKlines", mark_price_klines),
    ("/openApi/swap/v2/quote/premiumIndex", premium_index),
    ("/openApi/swap/v2/quote/fundingRate", funding_rate),
    ("/openApi/swap/v2/quote/depth", depth),
    ("/openApi/swap/v2/quote/bookTicker", book_ticker),
    ("/openApi/swap/v2/quote/trades", trades),
    ("/openApi/swap/v1/market/historicalTrades", historical_trades),
    ("/openApi/swap/v2/quote/ticker", ticker),
    ("/openApi/swap/v2/quote/openInterest", open_interest),
)


def register(app: web.Application, sim: VenueSimulator) -> None:
    del sim  # handlers reach the simulator through the request's application
    for path, handler in ROUTES:
        app.router.add_get(path, handler)
