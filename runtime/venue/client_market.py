"""Public market-data endpoints (IP group 1, unsigned)."""

from __future__ import annotations

from typing import Any

from tradeplane.runtime import intervals
from tradeplane.runtime.venue.errors import PayloadError
from tradeplane.runtime.venue.paging import walk_forward
from tradeplane.runtime.venue.payloads import (
    DepthSnapshot,
    FundingRate,
    HistoricalTrade,
    Kline,
    MarkPriceKline,
    PremiumIndex,
    ServerTime,
    Trade,
    parse,
    parse_list,
)
from tradeplane.runtime.venue.rest import SERVER_TIME_PATH, RestTransport
from tradeplane.runtime.venue.signing import Param

CONTRACTS_PATH = "/openApi/swap/v2/quote/contracts"
KLINES_PATH = "/openApi/swap/v3/quote/klines"
MARK_KLINES_PATH = "/openApi/swap/v1/market/markPriceKlines"
PREMIUM_INDEX_PATH = "/openApi/swap/v2/quote/premiumIndex"
FUNDING_RATE_PATH = "/openApi/swap/v2/quote/fundingRate"
DEPTH_PATH = "/openApi/swap/v2/quote/depth"
TRADES_PATH = "/openApi/swap/v2/quote/trades"
HISTORICAL_TRADES_PATH = "/openApi/swap/v1/market/historicalTrades"

DEPTH_LIMITS = frozenset({5, 10, 20, 50, 100, 500, 1000})
MAX_KLINES = 1440
MAX_FUNDING_RATES = 1000
MAX_TRADES = 1000
MAX_HISTORICAL_TRADES = 100


def require_symbol(symbol: str) -> str:
    if not symbol or "-" not in symbol or symbol != symbol.strip():
        raise ValueError(f"symbol must look like BTC-USDT (hyphen required), got {symbol!r}")
    return symbol


def require_limit(limit: int | None, maximum: int, *, name: str = "limit") -> int | None:
    if limit is not None and not 1 <= limit <= maximum:
        raise ValueError(f"{name} must be in 1..{maximum}, got {limit}")
    return limit


def require_range(start_ms: int | None, end_ms: int | None) -> None:
    for name, value in (("start_ms", start_ms), ("end_ms", end_ms)):
        if value is not None and value < 0:
            raise ValueError(f"{name} must be non-negative epoch milliseconds, got {value}")
    if start_ms is not None and end_ms is not None and start_ms > end_ms:
        raise ValueError(f"start_ms {start_ms} is after end_ms {end_ms}")


def _open_time_ms(bar: Kline | MarkPriceKline) -> int:
    return bar.open_time_ms


def _funding_time_ms(row: FundingRate) -> int:
    return row.funding_time_ms


def _bar_query(
    symbol: str, interval: str, *, start_ms: int | None, end_ms: int | None, limit: int | None
) -> dict[str, Param | None]:
    """The validated query of both bar endpoints (trade-price and mark-price klines)."""
    require_range(start_ms, end_ms)
    return {
        "symbol": require_symbol(symbol),
        "interval": intervals.check(interval),
        "startTime": start_ms,
        "endTime": end_ms,
        "limit": require_limit(limit, MAX_KLINES),
    }


class MarketEndpoints:
    rest: RestTransport

    async def server_time(self) -> ServerTime:
        return parse(ServerTime, await self.rest.request("GET", SERVER_TIME_PATH), endpoint=SERVER_TIME_PATH)

    async def contracts(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Raw contract records (numbers as Decimal); normalisation belongs to the metadata module."""
        params = {"symbol": require_symbol(symbol) if symbol is not None else None}
        data = await self.rest.request("GET", CONTRACTS_PATH, params)
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise PayloadError("expected a list of contract objects", field="data", endpoint=CONTRACTS_PATH)
        return data

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Kline]:
        """v3 klines, oldest first (``open_time_ms`` = bar open)."""
        params = _bar_query(symbol, interval, start_ms=start_ms, end_ms=end_ms, limit=limit)
        rows = parse_list(Kline, await self.rest.request("GET", KLINES_PATH, params), endpoint=KLINES_PATH)
        return sorted(rows, key=lambda row: row.open_time_ms)

    async def klines_between(
        self, symbol: str, interval: str, *, start_ms: int, end_ms: int, page_limit: int = MAX_KLINES
    ) -> list[Kline]:
        """Every bar opening in [start_ms, end_ms] (``paging.walk_forward``)."""
        require_range(start_ms, end_ms)
        require_limit(page_limit, MAX_KLINES, name="page_limit")

        async def page(cursor: int) -> list[Kline]:
            return await self.klines(symbol, interval, start_ms=cursor, end_ms=end_ms, limit=page_limit)

        return await walk_forward(page, _open_time_ms, start_ms=start_ms, end_ms=end_ms)

    async def mark_price_klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> list[MarkPriceKline]:
        params = _bar_query(symbol, interval, start_ms=start_ms, end_ms=end_ms, limit=limit)
        data = await self.rest.request("GET", MARK_KLINES_PATH, params)
        rows = parse_list(MarkPriceKline, data, endpoint=MARK_KLINES_PATH)
        return sorted(rows, key=lambda row: row.open_time_ms)

    async def mark_price_klines_between(
        self, symbol: str, interval: str, *, start_ms: int, end_ms: int, page_limit: int = MAX_KLINES
    ) -> list[MarkPriceKline]:
        """Every mark-price bar opening in [start_ms, end_ms] (``paging.walk_forward``)."""
        require_range(start_ms, end_ms)
        require_limit(page_limit, MAX_KLINES, name="page_limit")

        async def page(cursor: int) -> list[MarkPriceKline]:
            return await self.mark_price_klines(
                symbol, interval, start_ms=cursor, end_ms=end_ms, limit=page_limit
            )

        return await walk_forward(page, _open_time_ms, start_ms=start_ms, end_ms=end_ms)

    async def premium_index(self, symbol: str) -> PremiumIndex:
        data = await self.rest.request("GET", PREMIUM_INDEX_PATH, {"symbol": require_symbol(symbol)})
        if isinstance(data, list):
            matching = [item for item in data if isinstance(item, dict) and item.get("symbol") == symbol]
            if len(matching) != 1:
                raise PayloadError(
                    f"expected one record for {symbol}", field="data", endpoint=PREMIUM_INDEX_PATH
                )
            data = matching[0]
        return parse(PremiumIndex, data, endpoint=PREMIUM_INDEX_PATH)

    async def funding_rate_history(
        self,
        symbol: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> list[FundingRate]:
        """Settlements oldest first."""
        require_range(start_ms, end_ms)
        params = {
            "symbol": require_symbol(symbol),
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": require_limit(limit, MAX_FUNDING_RATES),
        }
        data = await self.rest.request("GET", FUNDING_RATE_PATH, params)
        rows = parse_list(FundingRate, data, endpoint=FUNDING_RATE_PATH)
        return sorted(rows, key=lambda row: row.funding_time_ms)

    async def funding_rates_between(
        self, symbol: str, *, start_ms: int, end_ms: int, page_limit: int = MAX_FUNDING_RATES
    ) -> list[FundingRate]:
        """Every settlement in [start_ms, end_ms] (``paging.walk_forward``): a wider range than one
        page returns only the first ``limit`` after ``startTime``."""
        require_range(start_ms, end_ms)
        require_limit(page_limit, MAX_FUNDING_RATES, name="page_limit")

        async def page(cursor: int) -> list[FundingRate]:
            return await self.funding_rate_history(symbol, start_ms=cursor, end_ms=end_ms, limit=page_limit)

        return await walk_forward(page, _funding_time_ms, start_ms=start_ms, end_ms=end_ms)

    async def depth(self, symbol: str, limit: int = 20) -> DepthSnapshot:
        if limit not in DEPTH_LIMITS:
            raise ValueError(f"depth limit must be one of {sorted(DEPTH_LIMITS)}, got {limit}")
        data = await self.rest.request("GET", DEPTH_PATH, {"symbol": require_symbol(symbol), "limit": limit})
        return parse(DepthSnapshot, data, endpoint=DEPTH_PATH)

    async def trades(self, symbol: str, limit: int | None = None) -> list[Trade]:
        params = {"symbol": require_symbol(symbol), "limit": require_limit(limit, MAX_TRADES)}
        return parse_list(Trade, await self.rest.request("GET", TRADES_PATH, params), endpoint=TRADES_PATH)

    async def historical_trades(
        self, symbol: str, *, from_id: int | None = None, limit: int | None = None
    ) -> list[HistoricalTrade]:
        if from_id is not None and from_id < 0:
            raise ValueError(f"from_id must be non-negative, got {from_id}")
        params = {
            "symbol": require_symbol(symbol),
            "fromId": from_id,
            "limit": require_limit(limit, MAX_HISTORICAL_TRADES),
        }
        data = await self.rest.request("GET", HISTORICAL_TRADES_PATH, params)
        return parse_list(HistoricalTrade, data, endpoint=HISTORICAL_TRADES_PATH)
