"""BingX user-stream events (by ``e``): orders, account, listen key, account config.

User events need no subscription and are told apart by ``e``; the order event has two documented
names and both are accepted. Market-stream payloads, where decoding speed matters, are in
payloads_market.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from tradeplane.runtime.venue.payloads import (
    Millis,
    Money,
    OptionalMoney,
    VenueId,
    VenuePayload,
    parse,
)


class OrderEventBody(VenuePayload):
    symbol: str = Field(alias="s")
    client_order_id: str | None = Field(default=None, alias="c")
    order_id: VenueId = Field(alias="i")
    side: str = Field(alias="S")
    type: str = Field(alias="o")
    quantity: OptionalMoney = Field(default=None, alias="q")
    price: OptionalMoney = Field(default=None, alias="p")
    stop_price: OptionalMoney = Field(default=None, alias="sp")
    average_price: OptionalMoney = Field(default=None, alias="ap")
    execution_type: str = Field(alias="x")
    status: str = Field(alias="X")
    fee_asset: str | None = Field(default=None, alias="N")
    fee: OptionalMoney = Field(default=None, alias="n")
    time_ms: Millis | None = Field(default=None, alias="T")
    working_type: str | None = Field(default=None, alias="wt")
    position_side: str | None = Field(default=None, alias="ps")
    realized_profit: OptionalMoney = Field(default=None, alias="rp")
    cumulative_filled_qty: Money = Field(alias="z")
    trade_id: VenueId | str | None = Field(default=None, alias="td")
    trade_value: OptionalMoney = Field(default=None, alias="tv")
    reduce_only: bool | None = Field(default=None, alias="ro")


class OrderUpdate(VenuePayload):
    """``ORDER_TRADE_UPDATE`` (docs text) or ``TRADE_UPDATE`` (2025 sample). Fill = change in ``z``."""

    event: Literal["ORDER_TRADE_UPDATE", "TRADE_UPDATE"] = Field(alias="e")
    event_time_ms: Millis = Field(alias="E")
    order: OrderEventBody = Field(alias="o")


class BalanceChange(VenuePayload):
    asset: str = Field(alias="a")
    wallet_balance: Money = Field(alias="wb")
    cross_wallet_balance: OptionalMoney = Field(default=None, alias="cw")
    balance_change: OptionalMoney = Field(default=None, alias="bc")


class PositionChange(VenuePayload):
    symbol: str = Field(alias="s")
    position_amt: Money = Field(alias="pa")
    entry_price: Money = Field(alias="ep")
    unrealized_profit: OptionalMoney = Field(default=None, alias="up")
    margin_type: str | None = Field(default=None, alias="mt")
    isolated_wallet: OptionalMoney = Field(default=None, alias="iw")
    position_side: str = Field(alias="ps")


class AccountChange(VenuePayload):
    reason: str = Field(alias="m")
    balances: tuple[BalanceChange, ...] = Field(default=(), alias="B")
    positions: tuple[PositionChange, ...] = Field(default=(), alias="P")


class AccountUpdate(VenuePayload):
    event: Literal["ACCOUNT_UPDATE"] = Field(alias="e")
    event_time_ms: Millis = Field(alias="E")
    account: AccountChange = Field(alias="a")


class ListenKeyExpired(VenuePayload):
    event: Literal["listenKeyExpired"] = Field(alias="e")
    event_time_ms: Millis = Field(alias="E")
    listen_key: str | None = Field(default=None, alias="listenKey")


class AccountConfig(VenuePayload):
    symbol: str = Field(alias="s")
    long_leverage: int | None = Field(default=None, alias="l")
    short_leverage: int | None = Field(default=None, alias="S")
    margin_type: str | None = Field(default=None, alias="mt")


class AccountConfigUpdate(VenuePayload):
    event: Literal["ACCOUNT_CONFIG_UPDATE"] = Field(alias="e")
    event_time_ms: Millis = Field(alias="E")
    config: AccountConfig = Field(alias="ac")


UserEvent = OrderUpdate | AccountUpdate | ListenKeyExpired | AccountConfigUpdate

USER_EVENTS: dict[str, type[BaseModel]] = {
    "ORDER_TRADE_UPDATE": OrderUpdate,
    "TRADE_UPDATE": OrderUpdate,
    "ACCOUNT_UPDATE": AccountUpdate,
    "listenKeyExpired": ListenKeyExpired,
    "ACCOUNT_CONFIG_UPDATE": AccountConfigUpdate,
}


def parse_user(event: dict[str, Any]) -> UserEvent | None:
    """One user-stream event, or None for an event type we do not consume (logged by the caller)."""
    name = event.get("e")
    model = USER_EVENTS.get(str(name))
    if model is None:
        return None
    parsed = parse(model, event, endpoint=f"user:{name}")
    assert isinstance(parsed, OrderUpdate | AccountUpdate | ListenKeyExpired | AccountConfigUpdate)
    return parsed
