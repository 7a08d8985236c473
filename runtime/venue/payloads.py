"""BingX REST payloads as frozen models: Decimal money, exact integer ids, BingX's field names as
aliases. Unknown fields are ignored (BingX adds fields without notice); missing or malformed documented
fields raise PayloadError naming the field, so a shape change fails loudly instead of trading on a
default.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from tradeplane.runtime.bars import Bar
from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.venue.errors import PayloadError

Model = TypeVar("Model", bound=BaseModel)


def _exact_id(value: Any) -> Any:
    """Ids exceed 2^53: accept int or digit strings, refuse anything that went through a float."""
    if isinstance(value, bool):
        raise ValueError("an id cannot be a boolean")
    if isinstance(value, float):
        raise ValueError("an id parsed as float has lost precision")
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise ValueError("an id must be an integer")
        return int(value)
    return value


def _money(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("money parsed as float has lost precision; parse JSON with Decimal")
    if isinstance(value, str) and value.strip() == "":
        raise ValueError("empty string is not a number")
    return value


def _optional_money(value: Any) -> Any:
    """BingX sends ``""`` for an unset optional number (``stopPrice`` of a LIMIT order)."""
    if isinstance(value, str) and value.strip() == "":
        return None
    return _money(value)


def _tier_number(value: Any) -> Any:
    """BingX writes tiers as ``1`` or ``"Tier 1"``."""
    if isinstance(value, str) and value.lower().startswith("tier"):
        return value[4:].strip()
    return value


VenueId = Annotated[int, BeforeValidator(_exact_id)]
Money = Annotated[Decimal, BeforeValidator(_money)]
OptionalMoney = Annotated[Decimal | None, BeforeValidator(_optional_money)]
Millis = Annotated[int, BeforeValidator(_exact_id)]
Level = tuple[Money, Money]


class VenuePayload(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


def parse(model: type[Model], raw: Any, *, endpoint: str = "") -> Model:
    """Validate one record, turning pydantic's error into PayloadError naming the first bad field."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "<record>"
        raise PayloadError(f"{first['msg']} in {model.__name__}", field=field, endpoint=endpoint) from None


def parse_list(model: type[Model], raw: Any, *, endpoint: str = "") -> list[Model]:
    if not isinstance(raw, list):
        raise PayloadError(f"expected a list of {model.__name__}", field="data", endpoint=endpoint)
    parsed: list[Model] = []
    for index, item in enumerate(raw):
        try:
            parsed.append(parse(model, item, endpoint=endpoint))
        except PayloadError as error:
            raise PayloadError(error.msg, field=f"[{index}].{error.field}", endpoint=endpoint) from None
    return parsed


class ServerTime(VenuePayload):
    server_time_ms: Millis = Field(alias="serverTime")


class Kline(VenuePayload):
    """v3 kline; ``open_time_ms`` is the bar's OPEN time (BingX calls it ``time``)."""

    open: Money
    high: Money
    low: Money
    close: Money
    volume: Money
    open_time_ms: Millis = Field(alias="time")

    def to_bar(self) -> Bar:
        return Bar(from_ms(self.open_time_ms), self.open, self.high, self.low, self.close, self.volume)


class MarkPriceKline(VenuePayload):
    open: Money
    high: Money
    low: Money
    close: Money
    volume: OptionalMoney = None
    open_time_ms: Millis = Field(alias="openTime")
    close_time_ms: Millis | None = Field(default=None, alias="closeTime")


class PremiumIndex(VenuePayload):
    symbol: str
    mark_price: Money = Field(alias="markPrice")
    index_price: Money = Field(alias="indexPrice")
    last_funding_rate: Money = Field(alias="lastFundingRate")
    next_funding_time_ms: Millis = Field(alias="nextFundingTime")


class FundingRate(VenuePayload):
    symbol: str
    funding_rate: Money = Field(alias="fundingRate")
    funding_time_ms: Millis = Field(alias="fundingTime")


class DepthSnapshot(VenuePayload):
    """REST depth: no lastUpdateId, so it cannot be aligned with WS increments."""

    time_ms: Millis = Field(alias="T")
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class Trade(VenuePayload):
    time_ms: Millis = Field(alias="time")
    is_buyer_maker: bool = Field(alias="isBuyerMaker")
    price: Money
    qty: Money
    quote_qty: Money = Field(alias="quoteQty")


class HistoricalTrade(Trade):
    id: VenueId


class CommissionRate(VenuePayload):
    taker_commission_rate: Money = Field(alias="takerCommissionRate")
    maker_commission_rate: Money = Field(alias="makerCommissionRate")

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        # Live responses nest the rates under "commission"; the reference table lists them flat.
        if isinstance(value, dict) and isinstance(value.get("commission"), dict):
            return value["commission"]
        return value


class MaintMarginTier(VenuePayload):
    tier: Annotated[int, BeforeValidator(_tier_number)]
    symbol: str | None = None
    min_position_value: Money = Field(alias="minPositionVal")
    max_position_value: Money = Field(alias="maxPositionVal")
    maint_margin_ratio: Money = Field(alias="maintMarginRatio")
    maint_amount: Money = Field(alias="maintAmount")


class Leverage(VenuePayload):
    long_leverage: int = Field(alias="longLeverage")
    short_leverage: int = Field(alias="shortLeverage")
    max_long_leverage: int | None = Field(default=None, alias="maxLongLeverage")
    max_short_leverage: int | None = Field(default=None, alias="maxShortLeverage")
    available_long_vol: OptionalMoney = Field(default=None, alias="availableLongVol")
    available_short_vol: OptionalMoney = Field(default=None, alias="availableShortVol")
    available_long_val: OptionalMoney = Field(default=None, alias="availableLongVal")
    available_short_val: OptionalMoney = Field(default=None, alias="availableShortVal")
    max_position_long_val: OptionalMoney = Field(default=None, alias="maxPositionLongVal")
    max_position_short_val: OptionalMoney = Field(default=None, alias="maxPositionShortVal")


class Balance(VenuePayload):
    """One asset of ``/v3/user/balance``."""

    asset: str
    balance: Money
    equity: Money
    unrealized_profit: Money = Field(alias="unrealizedProfit")
    realised_profit: Money = Field(alias="realisedProfit")
    available_margin: Money = Field(alias="availableMargin")
    used_margin: Money = Field(alias="usedMargin")
    freezed_margin: Money = Field(alias="freezedMargin")


class Position(VenuePayload):
    symbol: str
    position_id: VenueId | None = Field(default=None, alias="positionId")
    position_side: str = Field(alias="positionSide")
    isolated: bool | None = None
    position_amt: Money = Field(alias="positionAmt")
    available_amt: OptionalMoney = Field(default=None, alias="availableAmt")
    avg_price: Money = Field(alias="avgPrice")
    mark_price: OptionalMoney = Field(default=None, alias="markPrice")
    liquidation_price: OptionalMoney = Field(default=None, alias="liquidationPrice")
    leverage: int | None = None
    initial_margin: OptionalMoney = Field(default=None, alias="initialMargin")
    margin: OptionalMoney = None
    unrealized_profit: OptionalMoney = Field(default=None, alias="unrealizedProfit")
    realised_profit: OptionalMoney = Field(default=None, alias="realisedProfit")
    position_value: OptionalMoney = Field(default=None, alias="positionValue")
    risk_rate: OptionalMoney = Field(default=None, alias="riskRate")
    max_margin_reduction: OptionalMoney = Field(default=None, alias="maxMarginReduction")
    pnl_ratio: OptionalMoney = Field(default=None, alias="pnlRatio")
    update_time_ms: Millis | None = Field(default=None, alias="updateTime")


class Order(VenuePayload):
    """An order as placed, queried, cancelled or listed. ``orderID``/``clientOrderID`` spellings too."""

    symbol: str
    order_id: VenueId = Field(alias="orderId")
    client_order_id: str | None = Field(default=None, alias="clientOrderId")
    side: str
    position_side: str | None = Field(default=None, alias="positionSide")
    type: str
    status: str | None = None
    price: OptionalMoney = None
    orig_qty: OptionalMoney = Field(default=None, alias="origQty")
    executed_qty: OptionalMoney = Field(default=None, alias="executedQty")
    avg_price: OptionalMoney = Field(default=None, alias="avgPrice")
    cum_quote: OptionalMoney = Field(default=None, alias="cumQuote")
    stop_price: OptionalMoney = Field(default=None, alias="stopPrice")
    commission: OptionalMoney = None
    profit: OptionalMoney = None
    reduce_only: bool | None = Field(default=None, alias="reduceOnly")
    time_in_force: str | None = Field(default=None, alias="timeInForce")
    working_type: str | None = Field(default=None, alias="workingType")
    time_ms: Millis | None = Field(default=None, alias="time")
    update_time_ms: Millis | None = Field(default=None, alias="updateTime")

    @model_validator(mode="before")
    @classmethod
    def _spellings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            renamed = dict(value)
            for upper, lower in (("orderID", "orderId"), ("clientOrderID", "clientOrderId")):
                if upper in renamed and lower not in renamed:
                    renamed[lower] = renamed.pop(upper)
            if renamed.get("clientOrderId") == "":
                renamed["clientOrderId"] = None
            return renamed
        return value


class Fill(VenuePayload):
    trade_id: VenueId = Field(alias="tradeId")
    order_id: VenueId = Field(alias="orderId")
    symbol: str | None = None
    qty: Money
    price: Money
    quote_qty: Money = Field(alias="quoteQty")
    commission: Money
    commission_asset: str = Field(alias="commissionAsset")
    role: str | None = None
    position_side: str | None = Field(default=None, alias="positionSide")
    filled_time: int | str = Field(alias="filledTime")


class Income(VenuePayload):
    income_type: str = Field(alias="incomeType")
    income: Money
    asset: str
    info: str = ""
    symbol: str | None = None
    time_ms: Millis = Field(alias="time")
    tran_id: VenueId | str = Field(alias="tranId")
    trade_id: VenueId | str | None = Field(default=None, alias="tradeId")


class CancelAllAfterResult(VenuePayload):
    trigger_time_ms: Millis = Field(alias="triggerTime")
    status: str
    note: str | None = None


class CloseAllResult(VenuePayload):
    success: tuple[VenueId, ...] = ()
    failed: tuple[Any, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: (value.get(key) or []) for key in ("success", "failed")}
        return value


class CancelAllResult(VenuePayload):
    success: tuple[Order, ...] = ()
    failed: tuple[Any, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: (value.get(key) or []) for key in ("success", "failed")}
        return value


class ListenKey(VenuePayload):
    listen_key: str = Field(alias="listenKey", min_length=1)
