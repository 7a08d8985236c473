"""Exchange metadata from BingX, normalised once and fingerprinted.

Everything downstream (quantizer, cost model, Nautilus instrument, risk checks) reads the
normalised record, never the raw payload, so a malformed field fails here with the BingX field
name in the message instead of surfacing later as a wrong order. Numbers arrive as JSON numbers or
strings depending on the client and endpoint; they are parsed through ``Decimal(str(x))`` and never
through float. Nothing is defaulted that would change what is sent to the venue: a missing
precision or minimum is an error, not a guess.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import IntEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field

from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.venue.canonical import CanonicalDecimal, sha256_fingerprint
from tradeplane.runtime.venue.raw_fields import (
    MetadataInvalid,
    optional_decimal,
    optional_int,
    required,
    to_bool,
    to_decimal,
    to_epoch_ms,
    to_int,
)

__all__ = [
    "ContractRecord",
    "ContractStatus",
    "FeeSchedule",
    "MarginTier",
    "MetadataInvalid",
    "derive_funding_interval",
    "fingerprint",
    "normalise_commission",
    "normalise_contract",
    "normalise_tiers",
    "select_contract",
]

MAX_PRECISION = 18
"""More decimals than any venue quotes; a larger value is a corrupted payload."""
FEE_RATE_FLOOR = Decimal("-0.01")
"""Rebates exist, but not of 1 % of notional."""
FEE_RATE_CEILING = Decimal("0.01")
"""A fee above 1 % of notional is a corrupted payload, not a tariff."""
SPACING_RESOLUTION = timedelta(minutes=1)
"""Settlement times are on the hour; sub-minute jitter in published times is not a schedule change."""
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]+-[A-Z0-9]+$")


class ContractStatus(IntEnum):
    """BingX ``status``: whether the contract trades, and in which direction."""

    OFFLINE = 0
    ONLINE = 1
    PRE_ONLINE = 5
    CLOSE_ONLY = 25


class ContractRecord(BaseModel):
    """One ``/openApi/swap/v2/quote/contracts`` record, every field normalised."""

    model_config = ConfigDict(frozen=True)

    contract_id: str | None
    symbol: str
    size: CanonicalDecimal
    quantity_precision: int
    price_precision: int
    fee_rate: CanonicalDecimal | None
    maker_fee_rate: CanonicalDecimal
    taker_fee_rate: CanonicalDecimal
    trade_min_limit: CanonicalDecimal
    trade_min_quantity: CanonicalDecimal
    trade_min_usdt: CanonicalDecimal
    max_long_leverage: int | None
    max_short_leverage: int | None
    currency: str
    asset: str
    status: ContractStatus
    api_state_open: bool
    api_state_close: bool
    ensure_trigger: bool
    trigger_fee_rate: CanonicalDecimal | None
    broker_state: bool
    launch_time: datetime | None
    maintain_time: datetime | None
    off_time: datetime | None
    display_name: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tick_size(self) -> CanonicalDecimal:
        return Decimal(1).scaleb(-self.price_precision)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def step_size(self) -> CanonicalDecimal:
        return Decimal(1).scaleb(-self.quantity_precision)

    @property
    def can_open(self) -> bool:
        """New positions may be opened through the API."""
        return self.status is ContractStatus.ONLINE and self.api_state_open

    @property
    def can_close(self) -> bool:
        """Existing positions may be reduced through the API (also while close-only)."""
        return self.status in {ContractStatus.ONLINE, ContractStatus.CLOSE_ONLY} and self.api_state_close

    def to_json(self) -> dict[str, Any]:
        """Decimals as canonical strings, times as ISO 8601: safe for JSONB and Kubernetes status."""
        return self.model_dump(mode="json")


class MarginTier(BaseModel):
    """One maintenance-margin tier; ``maint_amount`` plays the role of Binance's ``cum``."""

    model_config = ConfigDict(frozen=True)

    tier: int
    min_position_value: CanonicalDecimal
    max_position_value: CanonicalDecimal
    maint_margin_ratio: CanonicalDecimal
    maint_amount: CanonicalDecimal

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class FeeSchedule(BaseModel):
    """The rates actually charged: the account's ``commissionRate`` when known, else the contract defaults."""

    model_config = ConfigDict(frozen=True)

    maker: CanonicalDecimal
    taker: CanonicalDecimal
    source: Literal["commissionRate", "contracts"]

    @classmethod
    def from_contract(cls, record: ContractRecord) -> FeeSchedule:
        return cls(maker=record.maker_fee_rate, taker=record.taker_fee_rate, source="contracts")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _fee_rate(raw: Mapping[str, Any], name: str) -> Decimal:
    rate = to_decimal(name, required(raw, name))
    _check_fee_rate(name, rate)
    return rate


def _check_fee_rate(name: str, rate: Decimal) -> None:
    if not FEE_RATE_FLOOR <= rate <= FEE_RATE_CEILING:
        raise MetadataInvalid(name, f"fee rate {rate} outside [{FEE_RATE_FLOOR}, {FEE_RATE_CEILING}]")


def _precision(raw: Mapping[str, Any], name: str) -> int:
    value = to_int(name, required(raw, name))
    if not 0 <= value <= MAX_PRECISION:
        raise MetadataInvalid(name, f"precision {value} outside [0, {MAX_PRECISION}]")
    return value


def _non_negative(name: str, value: Decimal) -> Decimal:
    if value < 0:
        raise MetadataInvalid(name, f"negative ({value})")
    return value


def _leverage(raw: Mapping[str, Any], name: str) -> int | None:
    value = optional_int(raw, name)
    if value is not None and value < 1:
        raise MetadataInvalid(name, f"leverage below 1 ({value})")
    return value


def _time(raw: Mapping[str, Any], name: str) -> datetime | None:
    if raw.get(name) in (None, ""):
        return None
    milliseconds = to_epoch_ms(name, raw[name])
    if milliseconds == 0:
        return None
    return from_ms(milliseconds)


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = required(raw, name)
    if not isinstance(value, str) or not value.strip():
        raise MetadataInvalid(name, f"not a non-empty string ({value!r})")
    return value.strip()


def _status(raw: Mapping[str, Any]) -> ContractStatus:
    code = to_int("status", required(raw, "status"))
    try:
        return ContractStatus(code)
    except ValueError:
        raise MetadataInvalid("status", f"unknown status code {code}") from None


def _optional_fee(raw: Mapping[str, Any], name: str) -> Decimal | None:
    rate = optional_decimal(raw, name)
    if rate is not None:
        _check_fee_rate(name, rate)
    return rate


def normalise_contract(raw: Mapping[str, Any]) -> ContractRecord:
    """The normalised record, or ``MetadataInvalid`` naming the first bad BingX field."""
    symbol = _text(raw, "symbol")
    if not SYMBOL_PATTERN.match(symbol):
        raise MetadataInvalid("symbol", f"not BASE-QUOTE ({symbol!r})")
    contract_id = raw.get("contractId")
    display_name = raw.get("displayName")
    return ContractRecord(
        contract_id=None if contract_id in (None, "") else str(contract_id),
        symbol=symbol,
        size=_non_negative("size", optional_decimal(raw, "size") or Decimal(0)),
        quantity_precision=_precision(raw, "quantityPrecision"),
        price_precision=_precision(raw, "pricePrecision"),
        fee_rate=_optional_fee(raw, "feeRate"),
        maker_fee_rate=_fee_rate(raw, "makerFeeRate"),
        taker_fee_rate=_fee_rate(raw, "takerFeeRate"),
        trade_min_limit=_non_negative("tradeMinLimit", optional_decimal(raw, "tradeMinLimit") or Decimal(0)),
        trade_min_quantity=_non_negative(
            "tradeMinQuantity", to_decimal("tradeMinQuantity", required(raw, "tradeMinQuantity"))
        ),
        trade_min_usdt=_non_negative(
            "tradeMinUSDT", to_decimal("tradeMinUSDT", required(raw, "tradeMinUSDT"))
        ),
        max_long_leverage=_leverage(raw, "maxLongLeverage"),
        max_short_leverage=_leverage(raw, "maxShortLeverage"),
        currency=_text(raw, "currency"),
        asset=_text(raw, "asset"),
        status=_status(raw),
        api_state_open=to_bool("apiStateOpen", required(raw, "apiStateOpen")),
        api_state_close=to_bool("apiStateClose", required(raw, "apiStateClose")),
        ensure_trigger=to_bool("ensureTrigger", raw.get("ensureTrigger", False)),
        trigger_fee_rate=_optional_fee(raw, "triggerFeeRate"),
        broker_state=to_bool("brokerState", raw.get("brokerState", False)),
        launch_time=_time(raw, "launchTime"),
        maintain_time=_time(raw, "maintainTime"),
        off_time=_time(raw, "offTime"),
        display_name=str(display_name) if display_name not in (None, "") else symbol,
    )


def select_contract(records: Iterable[Mapping[str, Any]], symbol: str) -> Mapping[str, Any]:
    """The raw record for ``symbol`` from a ``contracts`` listing; absence or duplicates fail closed."""
    matches = [record for record in records if record.get("symbol") == symbol]
    if not matches:
        raise MetadataInvalid("symbol", f"{symbol!r} not listed by the venue")
    if len(matches) > 1:
        raise MetadataInvalid("symbol", f"{symbol!r} listed {len(matches)} times")
    return matches[0]


def fingerprint(record: BaseModel) -> str:
    """``sha256:<hex>`` over the canonical JSON of a normalised record (spelling-independent)."""
    return sha256_fingerprint(record.model_dump(mode="json"))


def normalise_tiers(rows: Iterable[Mapping[str, Any]]) -> tuple[MarginTier, ...]:
    """``/maintMarginRatio`` rows as contiguous tiers from 0 with non-decreasing ratios."""
    tiers = sorted(
        (
            MarginTier(
                tier=to_int("tier", required(row, "tier")),
                min_position_value=_non_negative(
                    "minPositionVal", to_decimal("minPositionVal", required(row, "minPositionVal"))
                ),
                max_position_value=to_decimal("maxPositionVal", required(row, "maxPositionVal")),
                maint_margin_ratio=to_decimal("maintMarginRatio", required(row, "maintMarginRatio")),
                maint_amount=_non_negative(
                    "maintAmount", to_decimal("maintAmount", required(row, "maintAmount"))
                ),
            )
            for row in rows
        ),
        key=lambda tier: tier.tier,
    )
    if not tiers:
        raise MetadataInvalid("tier", "no maintenance-margin tiers")
    previous: MarginTier | None = None
    for expected_number, tier in enumerate(tiers, start=1):
        if tier.tier != expected_number:
            raise MetadataInvalid(
                "tier", f"tiers not numbered 1..n (found {tier.tier}, expected {expected_number})"
            )
        if tier.max_position_value <= tier.min_position_value:
            raise MetadataInvalid(
                "maxPositionVal",
                f"tier {tier.tier}: max {tier.max_position_value} not above min {tier.min_position_value}",
            )
        if not 0 < tier.maint_margin_ratio < 1:
            raise MetadataInvalid(
                "maintMarginRatio", f"tier {tier.tier}: {tier.maint_margin_ratio} outside (0, 1)"
            )
        floor = previous.max_position_value if previous else Decimal(0)
        if tier.min_position_value != floor:
            raise MetadataInvalid(
                "minPositionVal", f"tier {tier.tier}: starts at {tier.min_position_value}, expected {floor}"
            )
        if previous and tier.maint_margin_ratio < previous.maint_margin_ratio:
            raise MetadataInvalid(
                "maintMarginRatio",
                f"tier {tier.tier}: {tier.maint_margin_ratio} below tier {previous.tier}'s "
                f"{previous.maint_margin_ratio}",
            )
        previous = tier
    return tuple(tiers)


def normalise_commission(raw: Mapping[str, Any]) -> FeeSchedule:
    """The account's rates from ``/user/commissionRate`` (``data`` or ``data.commission``)."""
    nested = raw.get("commission")
    body = nested if isinstance(nested, Mapping) else raw
    return FeeSchedule(
        maker=_fee_rate(body, "makerCommissionRate"),
        taker=_fee_rate(body, "takerCommissionRate"),
        source="commissionRate",
    )


def _spacing(later: datetime, earlier: datetime) -> timedelta:
    minutes = round((later - earlier) / SPACING_RESOLUTION)
    return minutes * SPACING_RESOLUTION


def _dominant_spacing(spacings: Sequence[timedelta]) -> timedelta | None:
    """The most frequent spacing, if it is unique, seen at least twice, and divides every other one."""
    ranked = Counter(spacings).most_common(2)
    if not ranked or ranked[0][1] < 2 or (len(ranked) == 2 and ranked[1][1] == ranked[0][1]):
        return None
    spacing = ranked[0][0]
    if spacing <= timedelta(0) or any(other % spacing for other in spacings):
        return None
    return spacing


def derive_funding_interval(
    funding_times: Sequence[datetime], next_funding_time: datetime | None
) -> timedelta | None:
    """The current funding interval from settlement history, or None when it cannot be trusted.

    The interval is the most recent spacing seen twice in a row (the scheduled ``nextFundingTime``
    counts as the newest spacing), so a single missing settlement (one doubled gap) does not move it
    and a schedule change (4 h -> 8 h) is picked up as soon as two new spacings agree. The upcoming
    settlement must then lie a whole number of intervals after the last one; anything else means the
    history and the schedule disagree, and the caller must not guess.
    """
    times = sorted(set(funding_times))
    spacings = [_spacing(later, earlier) for earlier, later in itertools.pairwise(times)]
    upcoming: timedelta | None = None
    if next_funding_time is not None and times:
        if next_funding_time <= times[-1]:
            return None
        upcoming = _spacing(next_funding_time, times[-1])
        spacings.append(upcoming)
    interval = next(
        (newer for older, newer in reversed(list(itertools.pairwise(spacings))) if older == newer),
        None,
    ) or _dominant_spacing(spacings)
    if interval is None or interval <= timedelta(0):
        return None
    if upcoming is not None and upcoming % interval:
        return None
    return interval
