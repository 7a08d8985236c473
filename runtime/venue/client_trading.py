"""Signed account and trading endpoints.

Reads are retried by the transport; every state change is sent exactly once. ``place_order`` raises
UnknownOutcome (with the clientOrderId) when the venue may have acted without telling us: the caller
then asks ``query_order(client_order_id=...)`` instead of sending again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from tradeplane.runtime.venue.client_market import (
    require_limit,
    require_range,
    require_symbol,
)
from tradeplane.runtime.venue.errors import AuthenticationError, PayloadError
from tradeplane.runtime.venue.order_request import OrderRequest, normalise_client_order_id
from tradeplane.runtime.venue.payloads import (
    Balance,
    CancelAllAfterResult,
    CancelAllResult,
    CloseAllResult,
    CommissionRate,
    Fill,
    Income,
    Leverage,
    ListenKey,
    MaintMarginTier,
    Order,
    Position,
    VenuePayload,
    parse,
    parse_list,
)
from tradeplane.runtime.venue.rest import RestTransport
from tradeplane.runtime.venue.wire import PositionSide

ORDER_PATH = "/openApi/swap/v2/trade/order"
ALL_OPEN_ORDERS_PATH = "/openApi/swap/v2/trade/allOpenOrders"
OPEN_ORDERS_PATH = "/openApi/swap/v2/trade/openOrders"
FILL_HISTORY_PATH = "/openApi/swap/v2/trade/fillHistory"
INCOME_PATH = "/openApi/swap/v2/user/income"
COMMISSION_PATH = "/openApi/swap/v2/user/commissionRate"
MAINT_MARGIN_PATH = "/openApi/swap/v1/maintMarginRatio"
LEVERAGE_PATH = "/openApi/swap/v2/trade/leverage"
BALANCE_PATH = "/openApi/swap/v3/user/balance"
POSITIONS_PATH = "/openApi/swap/v2/user/positions"
CANCEL_ALL_AFTER_PATH = "/openApi/swap/v2/trade/cancelAllAfter"
CLOSE_ALL_PATH = "/openApi/swap/v2/trade/closeAllPositions"
LISTEN_KEY_PATH = "/openApi/user/auth/userDataStream"

MAX_PAGE = 1000


class CancelAllAfterType(StrEnum):
    ACTIVATE = "ACTIVATE"
    CLOSE = "CLOSE"


class LeverageSet(VenuePayload):
    symbol: str
    leverage: int
    side: str | None = None
    max_leverage: int | None = Field(default=None, alias="maxLeverage")


def _order_ids(order_id: int | None, client_order_id: str | None) -> dict[str, Any]:
    if (order_id is None) == (client_order_id is None):
        raise ValueError("give exactly one of order_id and client_order_id")
    if order_id is not None and order_id <= 0:
        raise ValueError(f"order_id must be positive, got {order_id}")
    return {
        "orderId": order_id,
        "clientOrderId": normalise_client_order_id(client_order_id) if client_order_id is not None else None,
    }


def _nested(data: Any, key: str, *, endpoint: str) -> Any:
    """``data.<key>`` when the venue nests it (``{"order": {...}}``), else ``data`` itself."""
    if isinstance(data, dict) and key in data:
        return data[key]
    if data is None:
        raise PayloadError("missing", field=f"data.{key}", endpoint=endpoint)
    return data


class TradingEndpoints:
    rest: RestTransport

    async def _signed(
        self, method: str, path: str, params: dict[str, Any] | None = None, **options: Any
    ) -> Any:
        return await self.rest.request(method, path, params, signed=True, **options)

    async def commission_rate(self) -> CommissionRate:
        return parse(CommissionRate, await self._signed("GET", COMMISSION_PATH), endpoint=COMMISSION_PATH)

    async def maint_margin_ratio(self, symbol: str) -> list[MaintMarginTier]:
        data = await self._signed("GET", MAINT_MARGIN_PATH, {"symbol": require_symbol(symbol)})
        tiers = parse_list(MaintMarginTier, data, endpoint=MAINT_MARGIN_PATH)
        return sorted(tiers, key=lambda tier: tier.tier)

    async def get_leverage(self, symbol: str) -> Leverage:
        data = await self._signed("GET", LEVERAGE_PATH, {"symbol": require_symbol(symbol)})
        return parse(Leverage, data, endpoint=LEVERAGE_PATH)

    async def set_leverage(self, symbol: str, *, side: PositionSide, leverage: int) -> LeverageSet:
        if not 1 <= leverage <= 200:
            raise ValueError(f"leverage must be in 1..200, got {leverage}")
        params = {"symbol": require_symbol(symbol), "side": PositionSide(side).value, "leverage": leverage}
        return parse(LeverageSet, await self._signed("POST", LEVERAGE_PATH, params), endpoint=LEVERAGE_PATH)

    async def balance(self) -> list[Balance]:
        data = await self._signed("GET", BALANCE_PATH)
        if isinstance(data, dict):
            data = [data.get("balance", data)]
        return parse_list(Balance, data, endpoint=BALANCE_PATH)

    async def positions(self, symbol: str | None = None) -> list[Position]:
        params = {"symbol": require_symbol(symbol) if symbol is not None else None}
        return parse_list(
            Position, await self._signed("GET", POSITIONS_PATH, params), endpoint=POSITIONS_PATH
        )

    async def place_order(self, order: OrderRequest) -> Order:
        data = await self._signed("POST", ORDER_PATH, order.params(), client_order_id=order.client_order_id)
        return parse(Order, _nested(data, "order", endpoint=ORDER_PATH), endpoint=ORDER_PATH)

    async def query_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        params = {"symbol": require_symbol(symbol), **_order_ids(order_id, client_order_id)}
        data = await self._signed("GET", ORDER_PATH, params)
        return parse(Order, _nested(data, "order", endpoint=ORDER_PATH), endpoint=ORDER_PATH)

    async def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        params = {"symbol": require_symbol(symbol), **_order_ids(order_id, client_order_id)}
        data = await self._signed("DELETE", ORDER_PATH, params, client_order_id=params["clientOrderId"])
        return parse(Order, _nested(data, "order", endpoint=ORDER_PATH), endpoint=ORDER_PATH)

    async def cancel_all_orders(self, symbol: str | None = None) -> CancelAllResult:
        params = {"symbol": require_symbol(symbol) if symbol is not None else None}
        data = await self._signed("DELETE", ALL_OPEN_ORDERS_PATH, params)
        return parse(CancelAllResult, data or {}, endpoint=ALL_OPEN_ORDERS_PATH)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        params = {"symbol": require_symbol(symbol) if symbol is not None else None}
        data = await self._signed("GET", OPEN_ORDERS_PATH, params)
        return parse_list(
            Order, _nested(data, "orders", endpoint=OPEN_ORDERS_PATH), endpoint=OPEN_ORDERS_PATH
        )

    async def fill_history(
        self,
        symbol: str | None = None,
        *,
        order_id: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        last_fill_id: int | None = None,
        page_size: int | None = None,
    ) -> list[Fill]:
        """Fills oldest first (past 7 days at most); page with ``last_fill_id``."""
        require_range(start_ms, end_ms)
        params = {
            "symbol": require_symbol(symbol) if symbol is not None else None,
            "orderId": order_id,
            "startTs": start_ms,
            "endTs": end_ms,
            "lastFillId": last_fill_id,
            "pageSize": require_limit(page_size, MAX_PAGE, name="page_size"),
        }
        data = await self._signed("GET", FILL_HISTORY_PATH, params)
        rows = _nested(data, "fill_history_orders", endpoint=FILL_HISTORY_PATH)
        return parse_list(Fill, rows or [], endpoint=FILL_HISTORY_PATH)

    async def income(
        self,
        symbol: str | None = None,
        *,
        income_type: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Income]:
        require_range(start_ms, end_ms)
        params = {
            "symbol": require_symbol(symbol) if symbol is not None else None,
            "incomeType": income_type,
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": require_limit(limit, MAX_PAGE),
        }
        return parse_list(Income, await self._signed("GET", INCOME_PATH, params) or [], endpoint=INCOME_PATH)

    async def cancel_all_after(self, type: CancelAllAfterType, timeout_s: int) -> CancelAllAfterResult:
        """The venue dead-man switch: cancel every open order unless refreshed within ``timeout_s``."""
        if not 10 <= timeout_s <= 120:
            raise ValueError(f"timeout_s must be in 10..120, got {timeout_s}")
        params = {"type": CancelAllAfterType(type).value, "timeOut": timeout_s}
        data = await self._signed("POST", CANCEL_ALL_AFTER_PATH, params)
        return parse(CancelAllAfterResult, data, endpoint=CANCEL_ALL_AFTER_PATH)

    async def close_all_positions(self, symbol: str | None = None) -> CloseAllResult:
        params = {"symbol": require_symbol(symbol) if symbol is not None else None}
        data = await self._signed("POST", CLOSE_ALL_PATH, params)
        return parse(CloseAllResult, data or {}, endpoint=CLOSE_ALL_PATH)

    def _require_key(self) -> None:
        if self.rest.credentials is None:
            raise AuthenticationError(
                "no credentials configured for the user stream", endpoint=LISTEN_KEY_PATH
            )

    async def create_listen_key(self) -> str:
        """A listenKey valid 60 minutes. Authenticated by the API key header alone (no signature)."""
        self._require_key()
        data = await self.rest.request("POST", LISTEN_KEY_PATH)
        return parse(ListenKey, data, endpoint=LISTEN_KEY_PATH).listen_key

    async def extend_listen_key(self, listen_key: str) -> None:
        """Extend by 60 minutes; a 404 (unknown key) surfaces as BusinessReject with http_status 404."""
        self._require_key()
        await self.rest.request("PUT", LISTEN_KEY_PATH, {"listenKey": listen_key}, idempotent=True)

    async def delete_listen_key(self, listen_key: str) -> None:
        self._require_key()
        await self.rest.request("DELETE", LISTEN_KEY_PATH, {"listenKey": listen_key}, idempotent=True)
