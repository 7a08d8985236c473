"""RiskPolicy: the limits every executor enforces, the breakers, and the kill switch.

Notional limits are money, so they are decimal strings on the wire and ``Decimal`` in Python. The API
server still has to check that they are positive and nested (per order <= per instrument <= portfolio
gross); CEL has no decimal type, so the rules compare ``double(...)`` of the strings. That is exact
while a limit has at most 15 significant digits (every realistic USDT limit); two limits that differ
only beyond that could pass the API server's ordering check, and are then refused by the pydantic
models and by the executor's own ``Decimal`` checks. The alternative, Kubernetes quantities, accepts
suffixes such as ``1Mi`` and rounds beyond nano precision - both wrong for money.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from tradeplane.crds.common import (
    AGE_COLUMN,
    READY_COLUMN,
    CamelModel,
    Duration,
    KindInfo,
    LabelName,
    LocalObjectReference,
    PrinterColumn,
    Quantity,
    Resource,
    SignedQuantity,
    StatusBase,
    Symbol,
    cel,
    object_default,
    validations,
)


class Scope(CamelModel):
    """Which instruments the policy governs; both lists empty means every Instrument in the namespace."""

    instrument_refs: Annotated[
        list[LocalObjectReference],
        Field(
            max_length=64,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        ),
    ] = Field(default_factory=list)
    exposure_groups: Annotated[
        list[LabelName], Field(max_length=32, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = Field(default_factory=list)


GROUP_LIMIT_MESSAGE = (
    "spec.limits.perExposureGroupNotional values must be positive and not exceed portfolioGrossNotional"
)


def _positive(name: str) -> dict[str, str]:
    return cel(f"double(self.{name}) > 0.0", f"spec.limits.{name} must be positive", field_path=f".{name}")


LIMIT_RULES = (
    _positive("perOrderNotional"),
    _positive("perInstrumentNotional"),
    _positive("portfolioGrossNotional"),
    cel(
        "!has(self.portfolioNetNotional) || double(self.portfolioNetNotional) > 0.0",
        "spec.limits.portfolioNetNotional must be positive",
        field_path=".portfolioNetNotional",
    ),
    cel(
        "double(self.perOrderNotional) <= double(self.perInstrumentNotional)",
        "spec.limits.perOrderNotional must not exceed spec.limits.perInstrumentNotional",
        field_path=".perOrderNotional",
    ),
    cel(
        "double(self.perInstrumentNotional) <= double(self.portfolioGrossNotional)",
        "spec.limits.perInstrumentNotional must not exceed spec.limits.portfolioGrossNotional",
        field_path=".perInstrumentNotional",
    ),
    cel(
        "!has(self.portfolioNetNotional)"
        " || double(self.portfolioNetNotional) <= double(self.portfolioGrossNotional)",
        "spec.limits.portfolioNetNotional must not exceed spec.limits.portfolioGrossNotional",
        field_path=".portfolioNetNotional",
    ),
    cel(
        "!has(self.perExposureGroupNotional) || self.perExposureGroupNotional.all(g,"
        " double(self.perExposureGroupNotional[g]) > 0.0"
        " && double(self.perExposureGroupNotional[g]) <= double(self.portfolioGrossNotional))",
        GROUP_LIMIT_MESSAGE,
        field_path=".perExposureGroupNotional",
    ),
)


class Limits(CamelModel):
    """Pre-trade exposure limits, notional in the margin asset (USDT), checked on quantized orders."""

    model_config = ConfigDict(json_schema_extra=validations(*LIMIT_RULES))

    per_order_notional: Quantity
    per_instrument_notional: Quantity
    per_exposure_group_notional: Annotated[
        dict[LabelName, Quantity],
        Field(
            description="Cap per exposure group, e.g. gold = XAUT + PAXG.",
            json_schema_extra={"maxProperties": 32},
        ),
    ] = Field(default_factory=dict)
    portfolio_gross_notional: Quantity
    portfolio_net_notional: Quantity | None = None
    max_leverage: Annotated[int, Field(ge=1, le=125)] = 3
    max_open_orders: Annotated[int, Field(ge=1, le=1000)] = 20
    max_orders_per_minute: Annotated[int, Field(ge=1, le=6000)] = 60

    @model_validator(mode="after")
    def _nested(self) -> Limits:
        named = {
            "perOrderNotional": self.per_order_notional,
            "perInstrumentNotional": self.per_instrument_notional,
            "portfolioGrossNotional": self.portfolio_gross_notional,
        }
        if self.portfolio_net_notional is not None:
            named["portfolioNetNotional"] = self.portfolio_net_notional
        for name, value in named.items():
            if value <= 0:
                raise ValueError(f"spec.limits.{name} must be positive")
        if self.per_order_notional > self.per_instrument_notional:
            raise ValueError("spec.limits.perOrderNotional must not exceed spec.limits.perInstrumentNotional")
        if self.per_instrument_notional > self.portfolio_gross_notional:
            raise ValueError(
                "spec.limits.perInstrumentNotional must not exceed spec.limits.portfolioGrossNotional"
            )
        if (
            self.portfolio_net_notional is not None
            and self.portfolio_net_notional > self.portfolio_gross_notional
        ):
            raise ValueError(
                "spec.limits.portfolioNetNotional must not exceed spec.limits.portfolioGrossNotional"
            )
        if any(
            not Decimal(0) < v <= self.portfolio_gross_notional
            for v in self.per_exposure_group_notional.values()
        ):
            raise ValueError(GROUP_LIMIT_MESSAGE)
        return self


class Liquidation(CamelModel):
    """Liquidation-distance feasibility with tiered maintenance margin (reference/trading.md 7.1)."""

    min_distance_sigmas: Annotated[float, Field(gt=0, le=100)] = 3.0
    horizon: Duration = "24h"
    max_margin_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.5
    stop_buffer_ticks: Annotated[int, Field(ge=0, le=1000)] = 2


BreakerAction = Literal["REDUCING", "HALTED"]


class DailyLossBreaker(CamelModel):
    limit: Quantity
    action: BreakerAction = "HALTED"


POSITIVE_LOSS = cel(
    "double(self.limit) > 0.0", "spec.breakers.dailyLoss.limit must be positive", field_path=".limit"
)


class DrawdownBreaker(CamelModel):
    max_fraction: Annotated[float, Field(gt=0, le=1)]
    action: BreakerAction = "HALTED"


class RejectRateBreaker(CamelModel):
    max_fraction: Annotated[float, Field(gt=0, le=1)] = 0.2
    window: Duration = "5m"
    min_orders: Annotated[int, Field(ge=1, le=10_000)] = 10
    action: BreakerAction = "REDUCING"


class StaleDataBreaker(CamelModel):
    max_age: Duration = "30s"
    action: BreakerAction = "REDUCING"


class Breakers(CamelModel):
    """Automatic triggers of REDUCING (no risk-increasing orders) or HALTED (kill switch)."""

    daily_loss: Annotated[DailyLossBreaker | None, Field(json_schema_extra=validations(POSITIVE_LOSS))] = None
    drawdown: DrawdownBreaker | None = None
    reject_rate: Annotated[RejectRateBreaker, Field(json_schema_extra=object_default())] = RejectRateBreaker()
    stale_data: Annotated[StaleDataBreaker, Field(json_schema_extra=object_default())] = StaleDataBreaker()

    @model_validator(mode="after")
    def _loss_positive(self) -> Breakers:
        if self.daily_loss is not None and self.daily_loss.limit <= 0:
            raise ValueError("spec.breakers.dailyLoss.limit must be positive")
        return self


class KillSwitch(CamelModel):
    """HALTED cancels every open order; ``flatten`` also closes positions. Resume is always manual."""

    flatten: bool = False
    resume_cooldown: Annotated[Duration, Field(description="Earliest resume after a halt.")] = "15m"


class RiskPolicySpec(CamelModel):
    """What the user declares: scope, limits, feasibility checks, breakers, kill-switch behaviour."""

    scope: Annotated[Scope, Field(json_schema_extra=object_default())] = Scope()
    limits: Limits
    liquidation: Annotated[Liquidation, Field(json_schema_extra=object_default())] = Liquidation()
    breakers: Annotated[Breakers, Field(json_schema_extra=object_default())] = Breakers()
    kill_switch: Annotated[KillSwitch, Field(json_schema_extra=object_default())] = KillSwitch()


TradingState = Literal["ACTIVE", "REDUCING", "HALTED"]


class NotionalEntry(CamelModel):
    name: Annotated[str, StringConstraints(max_length=253)]
    notional: SignedQuantity


class Exposure(CamelModel):
    """Exposure at ``observedTime`` as executors last reported it."""

    gross: Quantity
    net: SignedQuantity
    per_instrument: Annotated[
        list[NotionalEntry],
        Field(
            max_length=64,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        ),
    ] = Field(default_factory=list)
    per_group: Annotated[
        list[NotionalEntry],
        Field(
            max_length=32,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        ),
    ] = Field(default_factory=list)
    observed_time: datetime | None = None


class BreakerState(CamelModel):
    name: Literal["dailyLoss", "drawdown", "rejectRate", "staleData", "limits", "liquidation", "manual"]
    state: Literal["Ok", "Tripped"]
    value: Annotated[str, StringConstraints(max_length=64)] | None = None
    since: datetime | None = None


class Breach(CamelModel):
    breaker: Annotated[str, StringConstraints(max_length=64)]
    time: datetime
    value: Annotated[str, StringConstraints(max_length=64)] | None = None
    limit: Annotated[str, StringConstraints(max_length=64)] | None = None
    symbol: Symbol | None = None
    message: Annotated[str, StringConstraints(max_length=1024)] = ""


class StateRequest(CamelModel):
    """A halt or resume written through /status by ``tradeplane halt|resume`` (survives GitOps sync)."""

    state: Literal["HALTED", "ACTIVE"]
    actor: Annotated[str, StringConstraints(min_length=1, max_length=253)]
    reason: Annotated[str, StringConstraints(max_length=1024)] = ""
    time: datetime


class RiskPolicyStatus(StatusBase):
    state: TradingState | None = None
    state_reason: Annotated[str, StringConstraints(max_length=1024)] | None = None
    state_since: datetime | None = None
    requested: StateRequest | None = None
    exposure: Exposure | None = None
    breakers: Annotated[
        list[BreakerState],
        Field(
            max_length=16,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        ),
    ] = Field(default_factory=list)
    last_breach: Breach | None = None


class RiskPolicy(Resource):
    """A complete RiskPolicy object."""

    kind: Literal["RiskPolicy"] = "RiskPolicy"
    spec: RiskPolicySpec
    status: RiskPolicyStatus | None = None


INFO = KindInfo(
    kind="RiskPolicy",
    plural="riskpolicies",
    short_names=("rpol",),
    resource=RiskPolicy,
    spec=RiskPolicySpec,
    status=RiskPolicyStatus,
    description="Exposure limits, breakers and the kill switch (ACTIVE / REDUCING / HALTED) for executors.",
    columns=(
        PrinterColumn("State", ".status.state"),
        PrinterColumn("Gross", ".status.exposure.gross"),
        PrinterColumn("Limit", ".spec.limits.portfolioGrossNotional"),
        PrinterColumn("Last-Breach", ".status.lastBreach.time", "date"),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)
