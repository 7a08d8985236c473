"""Model: a continuously retrained RL policy for one instrument, and the gates a candidate must pass.

The operator runs the retraining workflow (trainer Jobs, walk-forward evaluation, gate decision) and
creates one ModelVersion per candidate; the gate thresholds live here so that "what counts as better"
is declared and reviewed like any other configuration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator

from tradeplane.crds.common import (
    AGE_COLUMN,
    READY_COLUMN,
    AnyDuration,
    CamelModel,
    Duration,
    KindInfo,
    LocalObjectReference,
    PrinterColumn,
    Ratio,
    Resource,
    StatusBase,
    cel,
    object_default,
    validations,
)
from tradeplane.crds.hyperparameters import check_hyperparameters, hyperparameters_schema

Hyperparameters = Annotated[
    dict[str, Any],
    Field(max_length=64),
    AfterValidator(check_hyperparameters),
    WithJsonSchema(hyperparameters_schema()),
]
"""Keyword arguments of the stable-baselines3 algorithm, passed through as written (numbers, lists,
nested net_arch dicts). The known ones are typed (``crds.hyperparameters``), here and by the API
server; any other key is kept for the trainer, which checks it against the algorithm's signature."""


class Algorithm(CamelModel):
    """The stable-baselines3 algorithm, policy network and its hyperparameters."""

    name: Literal["PPO", "A2C", "DQN", "SAC", "TD3", "DDPG"] = "PPO"
    policy: Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9]*$")] = "MlpPolicy"
    hyperparameters: Hyperparameters = Field(default_factory=dict)
    total_timesteps: Annotated[
        int, Field(ge=1000, le=10_000_000_000, json_schema_extra={"format": "int64"})
    ] = 1_000_000
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0


class TrainingWindow(CamelModel):
    """The history used for one retrain: ``lookback`` before ``end`` (unset end: the last closed bar)."""

    lookback: Duration = "2160h"
    end: datetime | None = None


class WalkForward(CamelModel):
    """Walk-forward folds with purge and embargo (AFML ch. 7); challenger and champion share folds."""

    folds: Annotated[int, Field(ge=1, le=50)] = 5
    test_span: Duration = "168h"
    purge: AnyDuration = "0s"
    embargo: AnyDuration = "0s"
    anchored: Annotated[bool, Field(description="Expanding (true) or sliding (false) training window.")] = (
        False
    )


class CostStress(CamelModel):
    """The net edge must survive these cost shocks."""

    fee_multiplier: Annotated[float, Field(ge=1, le=10)] = 2.0
    extra_slippage_ticks: Annotated[int, Field(ge=0, le=100)] = 1
    adverse_funding: bool = True


class PromotionGates(CamelModel):
    """Thresholds from reference/trading.md section 5.3; a candidate must pass every one."""

    min_psr: Annotated[Ratio, Field(description="PSR(SR*=0) lower bound.")] = 0.95
    min_dsr: Annotated[Ratio, Field(description="DSR lower bound with N = all registered trials.")] = 0.95
    bootstrap_confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    bootstrap_method: Annotated[
        Literal["stationary", "circular"],
        Field(description="Paired block bootstrap of the Sharpe gap."),
    ] = "stationary"
    bootstrap_resamples: Annotated[int, Field(ge=100, le=100_000)] = 2000
    min_trades: Annotated[int, Field(ge=1, le=1_000_000)] = 30
    min_folds: Annotated[int, Field(ge=1, le=50)] = 3
    min_positive_fold_share: Ratio = 0.6
    max_drawdown: Annotated[Ratio | None, Field(description="Absolute cap on max drawdown (fraction).")] = (
        None
    )
    drawdown_no_worse_than_champion: bool = True
    cost_stress: Annotated[CostStress, Field(json_schema_extra=object_default())] = CostStress()
    min_shadow: Annotated[Duration, Field(description="Minimum live shadow period before any capital.")] = (
        "72h"
    )


class DriftTriggers(CamelModel):
    """When drift starts a retrain: PSI thresholds, ADWIN on live PnL, persistence m of n windows."""

    # has() guards: the API server checks these rules against the bare ``default: {}`` too.
    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "!has(self.persistence) || !has(self.of) || self.persistence <= self.of",
                "spec.retraining.drift.persistence must not exceed spec.retraining.drift.of",
                field_path=".persistence",
            ),
            cel(
                "!has(self.psiWatch) || !has(self.psiAct) || self.psiWatch < self.psiAct",
                "spec.retraining.drift.psiWatch must be below spec.retraining.drift.psiAct",
                field_path=".psiWatch",
            ),
        )
    )

    psi_watch: Ratio = 0.1
    psi_act: Annotated[float, Field(gt=0, le=10)] = 0.25
    adwin_delta: Annotated[float, Field(gt=0, lt=1)] = 0.002
    window: Duration = "24h"
    persistence: Annotated[int, Field(ge=1, le=100, description="Windows in alarm out of `of`.")] = 2
    of: Annotated[int, Field(ge=1, le=100)] = 3

    @model_validator(mode="after")
    def _consistent(self) -> DriftTriggers:
        if self.persistence > self.of:
            raise ValueError("spec.retraining.drift.persistence must not exceed spec.retraining.drift.of")
        if self.psi_watch >= self.psi_act:
            raise ValueError("spec.retraining.drift.psiWatch must be below spec.retraining.drift.psiAct")
        return self


CRON = r"^(@(hourly|daily|weekly|monthly)|(\S+\s+){4}\S+)$"


class Retraining(CamelModel):
    """Scheduled and drift-triggered retraining; ``suspend`` stops new workflows, not running ones."""

    schedule: Annotated[str, StringConstraints(max_length=128, pattern=CRON)] | None = None
    min_interval: Duration = "24h"
    suspend: bool = False
    max_concurrent_trials: Annotated[int, Field(ge=1, le=16)] = 1
    drift: Annotated[DriftTriggers, Field(json_schema_extra=object_default())] = DriftTriggers()


GATES_MIN_FOLDS = cel(
    "self.promotionGates.minFolds <= self.walkForward.folds",
    "spec.promotionGates.minFolds must not exceed spec.walkForward.folds",
    field_path=".promotionGates.minFolds",
)


class ModelSpec(CamelModel):
    """What the user declares about a model family."""

    model_config = ConfigDict(json_schema_extra=validations(GATES_MIN_FOLDS))

    instrument_ref: LocalObjectReference
    feature_set_ref: LocalObjectReference
    venue_ref: Annotated[
        LocalObjectReference, Field(description="Venue whose costs the model is trained on.")
    ]
    algorithm: Annotated[Algorithm, Field(json_schema_extra=object_default())] = Algorithm()
    training_window: Annotated[TrainingWindow, Field(json_schema_extra=object_default())] = TrainingWindow()
    walk_forward: Annotated[WalkForward, Field(json_schema_extra=object_default())] = WalkForward()
    promotion_gates: Annotated[PromotionGates, Field(json_schema_extra=object_default())] = PromotionGates()
    retraining: Annotated[Retraining, Field(json_schema_extra=object_default())] = Retraining()

    @model_validator(mode="after")
    def _gates_fit_folds(self) -> ModelSpec:
        if self.promotion_gates.min_folds > self.walk_forward.folds:
            raise ValueError("spec.promotionGates.minFolds must not exceed spec.walkForward.folds")
        return self


WorkflowPhase = Literal["Idle", "Preparing", "Training", "Evaluating", "Gating", "Succeeded", "Failed"]


class Workflow(CamelModel):
    """The current (or last) retraining workflow: a state machine resumed from here after a restart."""

    phase: WorkflowPhase = "Idle"
    trigger: Literal["Initial", "Schedule", "Drift", "Manual", "SpecChange"] | None = None
    started_time: datetime | None = None
    jobs: Annotated[list[Annotated[str, StringConstraints(max_length=253)]], Field(max_length=32)] = Field(
        default_factory=list
    )
    candidate: Annotated[str, StringConstraints(max_length=253)] | None = None
    message: Annotated[str, StringConstraints(max_length=4096)] | None = None


class ModelStatus(StatusBase):
    phase: WorkflowPhase | None = None
    champion: Annotated[str | None, Field(max_length=253, description="ModelVersion now trading.")] = None
    latest_candidate: Annotated[str, StringConstraints(max_length=253)] | None = None
    workflow: Workflow | None = None
    trials: Annotated[
        int | None, Field(ge=0, description="Candidates ever evaluated (N of the deflated Sharpe ratio).")
    ] = None
    last_trained_time: datetime | None = None
    next_retrain_time: datetime | None = None


class Model(Resource):
    """A complete Model object."""

    kind: Literal["Model"] = "Model"
    spec: ModelSpec
    status: ModelStatus | None = None


INFO = KindInfo(
    kind="Model",
    plural="models",
    short_names=("mdl",),
    resource=Model,
    spec=ModelSpec,
    status=ModelStatus,
    description="A retrained RL policy for one instrument: training, walk-forward evaluation, gates.",
    selectable_fields=(".spec.instrumentRef.name", ".spec.featureSetRef.name"),
    columns=(
        PrinterColumn("Algorithm", ".spec.algorithm.name"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Champion", ".status.champion"),
        PrinterColumn("Candidate", ".status.latestCandidate"),
        PrinterColumn("Next-Retrain", ".status.nextRetrainTime", "date", priority=1),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)
