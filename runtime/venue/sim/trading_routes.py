"""BingX's signed trading and account REST routes over the simulator's engine. Each handler
authenticates first (key, signature, timestamp window), reads typed parameters, and answers in the
payload shapes of reference/trading.md 1.5; business errors travel as ``SimError``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from tradeplane.runtime.venue.sim import controls
from tradeplane.runtime.venue.sim.exchange import Exchange
from tradeplane.runtime.venue.sim.orders import fill_view
from tradeplane.runtime.venue.sim.protocol import Params, SimError, invalid, missing, ok, signed, sim_of
from tradeplane.runtime.venue.wire import OrderSide, OrderType, PositionSide, TimeInForce

if TYPE_CHECKING:
    from tradeplane.runtime.venue.sim.server import VenueSimulator

E = TypeVar("E", bound=StrEnum)
Handler = Callable[[web.Request], Awaitable[web.Response]]
ORDER_LIMIT, FILL_LIMIT, INCOME_LIMIT = (500, 1000), (100, 1000), (100, 1000)


def choice(params: Params, name: str, kind: type[E], default: E | None = None) -> E:
    value = params.optional_str(name)
    if value is None:
        if default is None:
            raise missing(name)
        return default
    try:
        return kind(value)
    except ValueError:
        raise invalid(name, value) from None


async def exchange_and_params(request: web.Request) -> tuple[Exchange, Params]:
    params = await signed(request)
    exchange = sim_of(request).exchange
    if exchange is None:  # pragma: no cover - the engine is always assembled with these routes
        raise SimError(100500, "internal error")
    return exchange, params


async def place(request: web.Request, *, test: bool) -> web.Response:
    exchange, params = await exchange_and_params(request)
    order = exchange.place_order(
        symbol=params.str("symbol"),
        side=choice(params, "side", OrderSide),
        position_side=choice(params, "positionSide", PositionSide, PositionSide.LONG),
        order_type=choice(params, "type", OrderType),
        quantity=params.optional_decimal("quantity"),
        price=params.optional_decimal("price"),
        stop_price=params.optional_decimal("stopPrice"),
        time_in_force=choice(params, "timeInForce", TimeInForce, TimeInForce.GTC),
        reduce_only=params.optional_bool("reduceOnly") or False,
        close_position=params.optional_bool("closePosition") or False,
        client_order_id=params.optional_str("clientOrderId") or params.optional_str("clientOrderID"),
        working_type=params.optional_str("workingType") or "MARK_PRICE",
        test=test,
    )
    return ok({"order": order.placed_view()})


async def place_order(request: web.Request) -> web.Response:
    return await place(request, test=False)


async def test_order(request: web.Request) -> web.Response:
    return await place(request, test=True)


def _ids(params: Params) -> dict[str, Any]:
    order_id = params.optional_int("orderId")
    client_order_id = params.optional_str("clientOrderId")
    if order_id is None and client_order_id is None:
        raise missing("orderId")
    return {"symbol": params.str("symbol"), "order_id": order_id, "client_order_id": client_order_id}


async def query_order(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok({"order": exchange.find(**_ids(params)).rest_view()})


async def cancel_order(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok({"order": exchange.cancel_order(**_ids(params)).rest_view()})


async def cancel_all(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    cancelled = exchange.cancel_all(params.optional_str("symbol"))
    return ok({"success": [order.rest_view() for order in cancelled], "failed": []})


async def open_orders(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    kind = params.optional_str("type")
    rows = [
        order.rest_view()
        for order in exchange.open_orders(params.optional_str("symbol"))
        if kind is None or order.type.value == kind
    ]
    return ok({"orders": rows})


async def all_orders(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    rows = controls.finished_orders(
        exchange,
        symbol=params.optional_str("symbol"),
        start_ms=params.optional_int("startTime"),
        end_ms=params.optional_int("endTime"),
        limit=params.limit(default=ORDER_LIMIT[0], maximum=ORDER_LIMIT[1]),
    )
    return ok({"orders": [order.rest_view() for order in rows]})


async def fill_history(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    rows = controls.fill_history(
        exchange,
        symbol=params.optional_str("symbol"),
        order_id=params.optional_int("orderId"),
        start_ms=params.optional_int("startTs"),
        end_ms=params.optional_int("endTs"),
        last_fill_id=params.optional_int("lastFillId"),
        page_size=params.limit("pageSize", default=FILL_LIMIT[0], maximum=FILL_LIMIT[1]),
    )
    return ok({"fill_history_orders": [fill_view(fill) for fill in rows]})


async def income(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    rows = exchange.account.income_history(
        symbol=params.optional_str("symbol"),
        income_type=params.optional_str("incomeType"),
        start_ms=params.optional_int("startTime"),
        end_ms=params.optional_int("endTime"),
        limit=params.limit(default=INCOME_LIMIT[0], maximum=INCOME_LIMIT[1]),
    )
    return ok([row.view() for row in rows])


async def balance(request: web.Request) -> web.Response:
    exchange, _ = await exchange_and_params(request)
    return ok(controls.balance(exchange))


async def positions(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok(controls.positions(exchange, params.optional_str("symbol")))


async def commission_rate(request: web.Request) -> web.Response:
    exchange, _ = await exchange_and_params(request)
    return ok(controls.commission_rate(exchange))


async def maint_margin_ratio(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok(controls.maintenance_tiers(exchange, params.str("symbol")))


async def get_leverage(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok(controls.leverage(exchange, params.str("symbol")))


async def set_leverage(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok(
        controls.set_leverage(
            exchange,
            symbol=params.str("symbol"),
            side=choice(params, "side", PositionSide),
            value=params.int("leverage"),
        )
    )


async def get_margin_type(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok(controls.margin_type(exchange, params.str("symbol")))


async def set_margin_type(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok(controls.set_margin_type(exchange, symbol=params.str("symbol"), value=params.str("marginType")))


async def get_dual(request: web.Request) -> web.Response:
    exchange, _ = await exchange_and_params(request)
    return ok(controls.dual_side(exchange))


async def set_dual(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok(controls.set_dual_side(exchange, hedge=params.bool("dualSidePosition")))


async def cancel_all_after(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok(
        controls.cancel_all_after(exchange, kind=params.str("type"), timeout_s=params.optional_int("timeOut"))
    )


async def close_all_positions(request: web.Request) -> web.Response:
    exchange, params = await exchange_and_params(request)
    return ok(controls.close_all_positions(exchange, params.optional_str("symbol")))


ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("POST", "/openApi/swap/v2/trade/order", place_order),
    ("GET", "/openApi/swap/v2/trade/order", query_order),
    ("DELETE", "/openApi/swap/v2/trade/order", cancel_order),
    ("POST", "/openApi/swap/v2/trade/order/test", test_order),
    ("DELETE", "/openApi/swap/v2/trade/allOpenOrders", cancel_all),
    ("GET", "/openApi/swap/v2/trade/openOrders", open_orders),
    ("GET", "/openApi/swap/v2/trade/fillHistory", fill_history),
    ("GET", "/openApi/swap/v2/trade/allOrders", all_orders),
    ("GET", "/openApi/swap/v2/user/income", income),
    ("GET", "/openApi/swap/v3/user/balance", balance),
    ("GET", "/openApi/swap/v2/user/positions", positions),
    ("GET", "/openApi/swap/v2/user/commissionRate", commission_rate),
    ("GET", "/openApi/swap/v1/maintMarginRatio", maint_margin_ratio),
    ("GET", "/openApi/swap/v2/trade/leverage", get_leverage),
    ("POST", "/openApi/swap/v2/trade/leverage", set_leverage),
    ("GET", "/openApi/swap/v2/trade/marginType", get_margin_type),
    ("POST", "/openApi/swap/v2/trade/marginType", set_margin_type),
    ("GET", "/openApi/swap/v1/positionSide/dual", get_dual),
    ("POST", "/openApi/swap/v1/positionSide/dual", set_dual),
    ("POST", "/openApi/swap/v2/trade/cancelAllAfter", cancel_all_after),
    ("POST", "/openApi/swap/v2/trade/closeAllPositions", close_all_positions),
)


def register(app: web.Application, sim: VenueSimulator) -> None:
    del sim  # handlers reach the simulator through the request's application
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
