"""Rollout: progressive delivery of a challenger model with capital weights instead of traffic.

Argo Rollouts' shape (ordered steps, background analysis, progress deadline) with a trading meaning:
at weight w the challenger trades w of the risk budget; ``shadow`` paper-trades it on live data with
no capital, so shadow steps only make sense before the first capital weight (enforced in CEL).
Emergency commands (promote, abort) are written to status, never to spec, so GitOps cannot undo them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from tradeplane.crds.common import (
    AGE_COLUMN,
    READY_COLUMN,
    UNIQUE_NAMES,
    CamelModel,
    Duration,
    KindInfo,
    LocalObjectReference,
    PrinterColumn,
    Quantity,
    Resource,
    StatusBase,
    cel,
    validations,
)

MetricName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z][a-zA-Z0-9]*$")]
Expression = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class AnalysisMetric(CamelModel):
    """One measured quantity and its verdict expressions (CEL over ``result``), Argo-style limits."""

    name: MetricName
    provider: Literal[
        "pnl", "sharpe", "drawdown", "hitRate", "slippage", "latency", "rejectRate", "riskBreaches", "drift"
    ]
    success_condition: Expression
    failure_condition: Expression | None = None
    interval: Duration = "5m"
    count: Annotated[
        int | None, Field(ge=1, le=10_000, description="Measurements; unset: until the step ends.")
    ] = None
    failure_limit: Annotated[int, Field(ge=0, le=100)] = 0
    inconclusive_limit: Annotated[int, Field(ge=0, le=100)] = 0
    consecutive_error_limit: Annotated[int, Field(ge=0, le=100)] = 4


class Analysis(CamelModel):
    """A set of metrics evaluated together; any failure aborts the rollout (automatic rollback)."""

    metrics: Annotated[
        list[AnalysisMetric],
        Field(min_length=1, max_length=16, json_schema_extra=validations(UNIQUE_NAMES)),
    ]
    duration: Annotated[
        Duration | None, Field(description="Step analysis length; unset: until counts are met.")
    ] = None

    @model_validator(mode="after")
    def _unique_metric_names(self) -> Analysis:
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError("analysis.metrics: names must be unique")
        return self


class Shadow(CamelModel):
    """Paper-trade the challenger on live data: decisions recorded and paper-filled, never sent."""

    duration: Duration


class Pause(CamelModel):
    """Wait ``duration``; without one, wait for ``tradeplane promote`` (a manual gate)."""

    duration: Duration | None = None


EXACTLY_ONE_KIND = cel(
    "(has(self.shadow) ? 1 : 0) + (has(self.analysis) ? 1 : 0) + (has(self.setWeight) ? 1 : 0)"
    " + (has(self.pause) ? 1 : 0) == 1",
    "each spec.steps item must set exactly one of shadow, analysis, setWeight, pause",
)


class Step(CamelModel):
    """One step; exactly one of the four fields is set."""

    model_config = ConfigDict(json_schema_extra=validations(EXACTLY_ONE_KIND))

    shadow: Shadow | None = None
    analysis: Analysis | None = None
    set_weight: Annotated[
        int | None, Field(ge=0, le=100, description="Challenger capital weight, percent.")
    ] = None
    pause: Pause | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        kinds = [self.shadow, self.analysis, self.set_weight, self.pause]
        if sum(k is not None for k in kinds) != 1:
            raise ValueError(
                "each spec.steps item must set exactly one of shadow, analysis, setWeight, pause"
            )
        return self


WEIGHTS_NON_DECREASING = cel(
    "self.filter(s, has(s.setWeight)).map(s, s.setWeight).isSorted()",
    "spec.steps: setWeight values must be non-decreasing from step to step",
)
SHADOW_BEFORE_WEIGHT = cel(
    "!self.exists(s, has(s.setWeight)) || !self.exists(s, has(s.shadow))"
    " || self.map(s, has(s.shadow)).lastIndexOf(true) < self.map(s, has(s.setWeight)).indexOf(true)",
    "spec.steps: shadow steps must all come before the first setWeight step",
)


class Capital(CamelModel):
    """The rollout's risk budget (notional, in the margin asset), split between champion and challenger."""

    budget: Quantity
    currency: Literal["USDT"] = "USDT"


CAPITAL_POSITIVE = cel(
    "double(self.budget) > 0.0", "spec.capital.budget must be positive", field_path=".budget"
)


class RolloutSpec(CamelModel):
    """What the user declares: what trades where, under which policy, with which steps."""

    instrument_ref: LocalObjectReference
    venue_ref: LocalObjectReference
    model_ref: LocalObjectReference
    candidate_ref: Annotated[
        LocalObjectReference | None,
        Field(description="Pin the challenger ModelVersion; unset: the Model's latest passing candidate."),
    ] = None
    risk_policy_ref: LocalObjectReference
    capital: Annotated[Capital, Field(json_schema_extra=validations(CAPITAL_POSITIVE))]
    steps: Annotated[
        list[Step],
        Field(
            min_length=1,
            max_length=32,
            json_schema_extra=validations(WEIGHTS_NON_DECREASING, SHADOW_BEFORE_WEIGHT),
        ),
    ]
    analysis: Annotated[Analysis | None, Field(description="Background analysis for the whole rollout.")] = (
        None
    )
    progress_deadline: Annotated[
        Duration, Field(description="A step without progress for this long marks the rollout Stalled.")
    ] = "1h"

    @model_validator(mode="after")
    def _step_order(self) -> RolloutSpec:
        if self.capital.budget <= 0:
            raise ValueError("spec.capital.budget must be positive")
        weights = [s.set_weight for s in self.steps if s.set_weight is not None]
        if weights != sorted(weights):
            raise ValueError("spec.steps: setWeight values must be non-decreasing from step to step")
        first_weight = next((i for i, s in enumerate(self.steps) if s.set_weight is not None), None)
        shadows = [i for i, s in enumerate(self.steps) if s.shadow is not None]
        if first_weight is not None and shadows and max(shadows) > first_weight:
            raise ValueError("spec.steps: shadow steps must all come before the first setWeight step")
        return self


Phase = Literal["Pending", "Shadow", "Progressing", "Paused", "Promoted", "Aborted", "Degraded"]


class PauseCondition(CamelModel):
    reason: Literal["PauseStep", "ManualGate", "InconclusiveAnalysis", "RiskHalted"]
    start_time: datetime


class MetricResult(CamelModel):
    name: MetricName
    phase: Literal["Running", "Successful", "Failed", "Inconclusive", "Error"]
    successful: Annotated[int, Field(ge=0)] = 0
    failed: Annotated[int, Field(ge=0)] = 0
    inconclusive: Annotated[int, Field(ge=0)] = 0
    errors: Annotated[int, Field(ge=0)] = 0
    last_value: float | None = None
    message: Annotated[str, StringConstraints(max_length=1024)] | None = None


class AnalysisRun(CamelModel):
    """The result of one analysis (a step's, or the background one with ``step`` unset)."""

    name: Annotated[str, StringConstraints(max_length=253)]
    step: Annotated[int, Field(ge=0, le=31)] | None = None
    phase: Literal["Running", "Successful", "Failed", "Inconclusive", "Error"]
    started_time: datetime | None = None
    metrics: Annotated[
        list[MetricResult],
        Field(
            max_length=16,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        ),
    ] = Field(default_factory=list)


class RolloutStatus(StatusBase):
    phase: Phase | None = None
    message: Annotated[str, StringConstraints(max_length=4096)] | None = None
    current_step_index: Annotated[int, Field(ge=0, le=32)] | None = None
    current_step_hash: Annotated[str, StringConstraints(max_length=71)] | None = None
    step_started_time: datetime | None = None
    canary_weight: Annotated[int | None, Field(ge=0, le=100, description="Challenger share, percent.")] = None
    stable_weight: Annotated[int | None, Field(ge=0, le=100, description="Champion share, percent.")] = None
    stable_version: Annotated[str, StringConstraints(max_length=253)] | None = None
    canary_version: Annotated[str, StringConstraints(max_length=253)] | None = None
    pause_conditions: Annotated[list[PauseCondition], Field(max_length=8)] = Field(default_factory=list)
    abort: Annotated[bool | None, Field(description="Set by `tradeplane abort` through /status.")] = None
    promote_full: Annotated[
        bool | None, Field(description="Set by `tradeplane promote --full` through /status.")
    ] = None
    analysis_runs: Annotated[list[AnalysisRun], Field(max_length=40)] = Field(default_factory=list)


class Rollout(Resource):
    """A complete Rollout object."""

    kind: Literal["Rollout"] = "Rollout"
    spec: RolloutSpec
    status: RolloutStatus | None = None


INFO = KindInfo(
    kind="Rollout",
    plural="rollouts",
    short_names=("tpro",),
    resource=Rollout,
    spec=RolloutSpec,
    status=RolloutStatus,
    description="Progressive delivery of a challenger model with capital weights, analysis and rollback.",
    selectable_fields=(".spec.modelRef.name", ".spec.instrumentRef.name", ".spec.riskPolicyRef.name"),
    columns=(
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Step", ".status.currentStepIndex", "integer"),
        PrinterColumn(
            "Weight", ".status.canaryWeight", "integer", description="Challenger capital weight (%)"
        ),
        PrinterColumn("Stable", ".status.stableVersion"),
        PrinterColumn("Canary", ".status.canaryVersion"),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)
