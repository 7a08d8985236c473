"""BingX's enumerations, spelled as on the wire, shared by the client, the quantizer, the cost model
and the simulator: one definition, so a new order type or status is added in one place."""

from __future__ import annotations

from enum import StrEnum


class OrderSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class PositionSide(StrEnum):
    """``BOTH`` in one-way mode; ``LONG``/``SHORT`` in hedge mode."""

    BOTH = "BOTH"
    LONG = "LONG"
    SHORT = "SHORT"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    STOP = "STOP"
    TAKE_PROFIT = "TAKE_PROFIT"
    TRIGGER_LIMIT = "TRIGGER_LIMIT"
    TRIGGER_MARKET = "TRIGGER_MARKET"
    LIQUIDATION = "LIQUIDATION"
    """Reported by the venue for forced closes; never placed."""


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "PostOnly"


class WorkingType(StrEnum):
    MARK_PRICE = "MARK_PRICE"
    CONTRACT_PRICE = "CONTRACT_PRICE"
    INDEX_PRICE = "INDEX_PRICE"


class OrderStatus(StrEnum):
    """REST statuses (``PENDING``/``FAILED``) and user-stream ones (``EXPIRED``) together."""

    NEW = "NEW"
    PENDING = "PENDING"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"


class Liquidity(StrEnum):
    """Which side of the book a fill took: BingX's fill ``role`` (maker pays the maker rate)."""

    MAKER = "maker"
    TAKER = "taker"
