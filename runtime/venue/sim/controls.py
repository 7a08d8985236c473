"""Account controls and history queries over the engine: leverage, margin type, position mode,
the cancelAllAfter dead-man switch, closeAllPositions, and the order, fill and tier listings.

Kept apart from order entry and matching so each stays readable; every function takes the
``Exchange`` and answers in BingX's payload shape."""

from __future__ import annotations

from typing import Any

from tradeplane.runtime.venue.sim.accounts import MarginType
from tradeplane.runtime.venue.sim.exchange import Exchange
from tradeplane.runtime.venue.sim.order_checks import INVALID_PARAMETER, WRONG_POSITION_SIDE
from tradeplane.runtime.venue.sim.orders import Fill, Order, text
from tradeplane.runtime.venue.sim.protocol import SimError
from tradeplane.runtime.venue.wire import OrderSide, OrderType, PositionSide

LEVERAGE_ABOVE_MAX = 101414
PENDING_ORDERS_BLOCK = 101212
RANGE_TOO_WIDE = 80014
CANCEL_AFTER_MIN_S, CANCEL_AFTER_MAX_S = 10, 120
SEVEN_DAYS_MS = 7 * 24 * 3_600_000


def leverage(exchange: Exchange, symbol: str) -> dict[str, Any]:
    contract = exchange.spec(symbol).contract
    settings = exchange.account.symbol(symbol)
    return {
        "longLeverage": settings.long_leverage,
        "shortLeverage": settings.short_leverage,
        "maxLongLeverage": int(contract["maxLongLeverage"]),
        "maxShortLeverage": int(contract["maxShortLeverage"]),
    }


def set_leverage(exchange: Exchange, *, symbol: str, side: PositionSide, value: int) -> dict[str, Any]:
    """``side`` is BOTH in one-way mode and LONG/SHORT in hedge mode, as BingX requires."""
    contract = exchange.spec(symbol).contract
    if (side is PositionSide.BOTH) == exchange.account.dual_side:
        raise SimError(WRONG_POSITION_SIDE, "side must be BOTH one-way, LONG or SHORT in hedge mode")
    maximum = min(int(contract["maxLongLeverage"]), int(contract["maxShortLeverage"]))
    if value < 1:
        raise SimError(INVALID_PARAMETER, "leverage must be at least 1")
    if value > maximum:
        raise SimError(LEVERAGE_ABOVE_MAX, f"leverage {value} is above the maximum {maximum}")
    settings = exchange.account.symbol(symbol)
    if side is not PositionSide.SHORT:
        settings.long_leverage = value
    if side is not PositionSide.LONG:
        settings.short_leverage = value
    for position in exchange.portfolio.held():
        if position.symbol == symbol and side in (PositionSide.BOTH, position.position_side):
            position.leverage = value
    return {"leverage": value, "symbol": symbol}


def margin_type(exchange: Exchange, symbol: str) -> dict[str, Any]:
    exchange.spec(symbol)
    return {"marginType": exchange.account.symbol(symbol).margin_type.value, "symbol": symbol}


def set_margin_type(exchange: Exchange, *, symbol: str, value: str) -> dict[str, Any]:
    exchange.spec(symbol)
    try:
        wanted = MarginType(value)
    except ValueError:
        raise SimError(INVALID_PARAMETER, f"marginType {value} is not supported") from None
    settings = exchange.account.symbol(symbol)
    if wanted is not settings.margin_type:
        busy = exchange.open_orders(symbol) or any(p.symbol == symbol for p in exchange.portfolio.held())
        if busy:
            raise SimError(WRONG_POSITION_SIDE, "margin type cannot change while positions or orders exist")
        settings.margin_type = wanted
    return {}


def dual_side(exchange: Exchange) -> dict[str, Any]:
    return {"dualSidePosition": "true" if exchange.account.dual_side else "false"}


def set_dual_side(exchange: Exchange, *, hedge: bool) -> dict[str, Any]:
    if hedge != exchange.account.dual_side:
        if exchange.open_orders():
            raise SimError(PENDING_ORDERS_BLOCK, "open orders block changing the position mode")
        if any(True for _ in exchange.portfolio.held()):
            raise SimError(WRONG_POSITION_SIDE, "positions block changing the position mode")
        exchange.account.dual_side = hedge
    return dual_side(exchange)


def cancel_all_after(exchange: Exchange, *, kind: str, timeout_s: int | None) -> dict[str, Any]:
    """ACTIVATE arms (or re-arms) a deadline ``timeout_s`` from now; CLOSE disarms it."""
    if kind == "CLOSE":
        exchange.cancel_deadline_ms = None
        return {"triggerTime": 0, "status": "CLOSED", "note": ""}
    if kind != "ACTIVATE":
        raise SimError(INVALID_PARAMETER, f"type {kind} is not ACTIVATE or CLOSE")
    if timeout_s is None or not CANCEL_AFTER_MIN_S <= timeout_s <= CANCEL_AFTER_MAX_S:
        raise SimError(INVALID_PARAMETER, "timeOut must be between 10 and 120 seconds")
    exchange.cancel_deadline_ms = exchange.clock.now_ms() + timeout_s * 1000
    return {"triggerTime": exchange.cancel_deadline_ms, "status": "ACTIVATED", "note": ""}


def close_all_positions(exchange: Exchange, symbol: str | None = None) -> dict[str, list[int]]:
    success: list[int] = []
    failed: list[int] = []
    for position in list(exchange.portfolio.held()):
        if symbol is not None and position.symbol != symbol:
            continue
        hedge = position.position_side is not PositionSide.BOTH
        try:
            order = exchange.place_order(
                symbol=position.symbol,
                side=OrderSide.SELL if position.sign > 0 else OrderSide.BUY,
                position_side=position.position_side,
                order_type=OrderType.MARKET,
                quantity=position.size,
                reduce_only=not hedge,
            )
        except SimError:
            failed.append(position.position_id)
            continue
        success.append(order.order_id)
    return {"success": success, "failed": failed}


def finished_orders(
    exchange: Exchange,
    *,
    symbol: str | None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int = 500,
) -> list[Order]:
    if start_ms is not None and end_ms is not None and end_ms - start_ms > SEVEN_DAYS_MS:
        raise SimError(RANGE_TOO_WIDE, "the time range may not exceed 7 days")
    rows = [
        order
        for order in exchange.orders.values()
        if not order.is_open
        and (symbol is None or order.symbol == symbol)
        and (start_ms is None or order.time_ms >= start_ms)
        and (end_ms is None or order.time_ms <= end_ms)
    ]
    return rows[-limit:]


def fill_history(
    exchange: Exchange,
    *,
    symbol: str | None,
    order_id: int | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    last_fill_id: int | None = None,
    page_size: int = 100,
) -> list[Fill]:
    """Oldest first, paged forward by ``lastFillId``."""
    fills = sorted(
        (fill for order in exchange.orders.values() for fill in order.fills),
        key=lambda fill: (fill.time_ms, fill.trade_id),
    )
    rows = [
        fill
        for fill in fills
        if (symbol is None or fill.symbol == symbol)
        and (order_id is None or fill.order_id == order_id)
        and (start_ms is None or fill.time_ms >= start_ms)
        and (end_ms is None or fill.time_ms <= end_ms)
        and (last_fill_id is None or fill.trade_id > last_fill_id)
    ]
    return rows[:page_size]


def maintenance_tiers(exchange: Exchange, symbol: str) -> list[dict[str, Any]]:
    return [
        {
            "tier": f"Tier {tier.tier}",
            "symbol": symbol,
            "minPositionVal": text(tier.min_position_value),
            "maxPositionVal": text(tier.max_position_value),
            "maintMarginRatio": text(tier.maint_margin_ratio),
            "maintAmount": text(tier.maint_amount),
        }
        for tier in exchange.spec(symbol).tiers
    ]


def commission_rate(exchange: Exchange) -> dict[str, Any]:
    return {
        "commission": {
            "takerCommissionRate": text(exchange.account.taker_rate),
            "makerCommissionRate": text(exchange.account.maker_rate),
        }
    }


def positions(exchange: Exchange, symbol: str | None = None) -> list[dict[str, Any]]:
    return [
        exchange.portfolio.position_view(position)
        for position in exchange.portfolio.held()
        if symbol is None or position.symbol == symbol
    ]


def balance(exchange: Exchange) -> list[dict[str, Any]]:
    return [exchange.portfolio.balance_view(exchange.open_orders())]
