"""The contracts the simulator lists, as BingX publishes them, plus what the simulator needs to
run a market for each: a start price, a volatility calibration, maintenance-margin tiers and the
funding interval.

``contract`` is the raw ``/openApi/swap/v2/quote/contracts`` record as served (integers as numbers,
decimals as Decimal, which the simulator writes as strings the way BingX writes most decimals,
``"true"``/``"false"`` strings for the API states); tests and the run-time control API may override
any field to serve malformed metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

LAUNCH_TIME_MS = 1_600_000_000_000


@dataclass(frozen=True)
class MarginTier:
    """One row of ``/openApi/swap/v1/maintMarginRatio``; ``maint_amount`` plays Binance's ``cum``."""

    tier: int
    min_position_value: Decimal
    max_position_value: Decimal
    maint_margin_ratio: Decimal
    maint_amount: Decimal


@dataclass(frozen=True)
class PriceCalibration:
    """Per-minute volatility, jump intensity and size, GARCH-like clustering of the seeded process."""

    start_price: Decimal
    minute_volatility: float
    jump_probability: float
    jump_scale: float
    garch_alpha: float = 0.08
    garch_beta: float = 0.90
    half_spread_ticks: int = 1
    level_quantity: Decimal = Decimal("1")


@dataclass(frozen=True)
class ContractSpec:
    symbol: str
    contract: dict[str, Any]
    tiers: tuple[MarginTier, ...]
    calibration: PriceCalibration
    funding_interval_hours: int = 8
    funding_rate: Decimal = Decimal("0.0001")
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def price_precision(self) -> int:
        return int(self.contract["pricePrecision"])

    @property
    def quantity_precision(self) -> int:
        return int(self.contract["quantityPrecision"])


def _contract(
    contract_id: str,
    symbol: str,
    asset: str,
    *,
    price_precision: int,
    quantity_precision: int,
    min_quantity: str,
    max_leverage: int,
) -> dict[str, Any]:
    return {
        "contractId": contract_id,
        "symbol": symbol,
        "size": "0",
        "quantityPrecision": quantity_precision,
        "pricePrecision": price_precision,
        "feeRate": Decimal("0.0005"),
        "makerFeeRate": Decimal("0.0002"),
        "takerFeeRate": Decimal("0.0005"),
        "tradeMinLimit": 0,
        "tradeMinQuantity": Decimal(min_quantity),
        "tradeMinUSDT": 2,
        "maxLongLeverage": max_leverage,
        "maxShortLeverage": max_leverage,
        "currency": "USDT",
        "asset": asset,
        "status": 1,
        "apiStateOpen": "true",
        "apiStateClose": "true",
        "ensureTrigger": False,
        "triggerFeeRate": "0.00020000",
        "brokerState": False,
        "launchTime": LAUNCH_TIME_MS,
        "maintainTime": 0,
        "offTime": 0,
        "displayName": symbol,
    }


def _tiers(*rows: tuple[int, int, str]) -> tuple[MarginTier, ...]:
    """Tiers from (floor, cap, rate); maintenance amount cum_n = floor_n*(r_n - r_n-1) + cum_n-1."""
    tiers: list[MarginTier] = []
    cum = Decimal(0)
    previous = Decimal(0)
    for index, (floor, cap, rate) in enumerate(rows, start=1):
        ratio = Decimal(rate)
        cum = Decimal(floor) * (ratio - previous) + cum
        tiers.append(MarginTier(index, Decimal(floor), Decimal(cap), ratio, cum))
        previous = ratio
    return tuple(tiers)


GOLD_TIERS = _tiers((0, 50_000, "0.005"), (50_000, 250_000, "0.01"), (250_000, 1_000_000, "0.025"))
BTC_TIERS = _tiers(
    (0, 300_000, "0.004"),
    (300_000, 800_000, "0.005"),
    (800_000, 3_000_000, "0.01"),
    (3_000_000, 12_000_000, "0.025"),
)

GOLD = PriceCalibration(Decimal("4000.00"), 0.00035, 0.002, 0.004)
BTC = PriceCalibration(Decimal("95000.0"), 0.0009, 0.003, 0.008)

CATALOG: dict[str, ContractSpec] = {
    spec.symbol: spec
    for spec in (
        ContractSpec(
            "XAUT-USDT",
            _contract(
                "100",
                "XAUT-USDT",
                "XAUT",
                price_precision=2,
                quantity_precision=4,
                min_quantity="0.0001",
                max_leverage=50,
            ),
            GOLD_TIERS,
            GOLD,
        ),
        ContractSpec(
            "PAXG-USDT",
            _contract(
                "101",
                "PAXG-USDT",
                "PAXG",
                price_precision=2,
                quantity_precision=4,
                min_quantity="0.0001",
                max_leverage=50,
            ),
            GOLD_TIERS,
            PriceCalibration(Decimal("4005.00"), 0.00035, 0.002, 0.004),
            funding_interval_hours=4,
        ),
        ContractSpec(
            "BTC-USDT",
            _contract(
                "1",
                "BTC-USDT",
                "BTC",
                price_precision=1,
                quantity_precision=4,
                min_quantity="0.0001",
                max_leverage=125,
            ),
            BTC_TIERS,
            BTC,
        ),
    )
}
