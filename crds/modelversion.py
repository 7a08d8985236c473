"""ModelVersion: one trained candidate, created by the operator, with its full lineage.

The spec records exactly what produced the artifact (dataset, feature contract, metadata snapshots,
cost model, code, seeds). It is immutable (CEL ``self == oldSelf`` on the whole spec) so that a
decision made on a version can always be reproduced from the version as it still reads today.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tradeplane.crds.common import (
    AGE_COLUMN,
    MAX_LIST,
    READY_COLUMN,
    CamelModel,
    Fingerprint,
    KindInfo,
    LocalObjectReference,
    PrinterColumn,
    Resource,
    StatusBase,
    cel,
)
from tradeplane.crds.model import Algorithm

Uri = Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=r"^[a-z][a-z0-9+.-]*://\S+$")]


class Artifact(CamelModel):
    """The trained policy (and its VecNormalize statistics), moved by URI and pinned by digest."""

    uri: Uri
    digest: Fingerprint
    mlflow_run_id: Annotated[str, StringConstraints(max_length=64, pattern=r"^[0-9a-f]+$")] | None = None


class TimeRange(CamelModel):
    start: datetime
    end: datetime


class Lineage(CamelModel):
    """Everything that produced the artifact, hashed (principle 5: reproducible)."""

    dataset_snapshot: Fingerprint
    feature_fingerprint: Fingerprint
    cost_model_fingerprint: Fingerprint
    metadata_snapshots: Annotated[list[Fingerprint], Field(min_length=1, max_length=16)]
    code_version: Annotated[str, StringConstraints(min_length=7, max_length=64, pattern=r"^[0-9a-f]+$")]
    seeds: Annotated[
        list[Annotated[int, Field(ge=0, le=2**31 - 1)]], Field(min_length=1, max_length=MAX_LIST)
    ]
    training_range: TimeRange


class ModelVersionSpec(CamelModel):
    """Written once by the operator; never edited (a new candidate is a new ModelVersion)."""

    model_ref: LocalObjectReference
    version: Annotated[int, Field(ge=1, description="Sequence number within the Model.")]
    algorithm: Algorithm
    artifact: Artifact
    lineage: Lineage


class FoldMetrics(CamelModel):
    """Out-of-sample metrics of one walk-forward fold (per-period statistics, not annualised)."""

    index: Annotated[int, Field(ge=0, le=49)]
    test_range: TimeRange
    sharpe: float
    champion_sharpe: float | None = None
    net_return: float
    max_drawdown: Annotated[float, Field(ge=0)]
    trades: Annotated[int, Field(ge=0)]


class GateResult(CamelModel):
    gate: Annotated[str, StringConstraints(max_length=64)]
    passed: bool
    value: float | None = None
    threshold: float | None = None
    message: Annotated[str, StringConstraints(max_length=1024)] = ""


class GateDecision(CamelModel):
    """The promotion decision with every statistic and the reason each gate passed or failed."""

    decision: Literal["Pending", "Passed", "Failed"] = "Pending"
    psr: float | None = None
    dsr: float | None = None
    trials: Annotated[int, Field(ge=0)] | None = None
    delta_sharpe_lower_bound: float | None = None
    results: Annotated[
        list[GateResult],
        Field(
            max_length=32,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["gate"]},
        ),
    ] = Field(default_factory=list)
    decided_time: datetime | None = None


Stage = Literal["Candidate", "Evaluating", "Rejected", "Challenger", "Shadow", "Champion", "Archived"]


class ModelVersionStatus(StatusBase):
    stage: Stage | None = None
    folds: Annotated[list[FoldMetrics], Field(max_length=50)] = Field(default_factory=list)
    gate: GateDecision | None = None
    mlflow_version: Annotated[str, StringConstraints(max_length=32)] | None = None


class ModelVersion(Resource):
    """A complete ModelVersion object."""

    kind: Literal["ModelVersion"] = "ModelVersion"
    spec: ModelVersionSpec
    status: ModelVersionStatus | None = None


INFO = KindInfo(
    kind="ModelVersion",
    plural="modelversions",
    short_names=("mv",),
    resource=ModelVersion,
    spec=ModelVersionSpec,
    status=ModelVersionStatus,
    description="One trained candidate of a Model with its lineage; the spec is immutable.",
    selectable_fields=(".spec.modelRef.name",),
    columns=(
        PrinterColumn("Model", ".spec.modelRef.name"),
        PrinterColumn("Version", ".spec.version", "integer"),
        PrinterColumn("Stage", ".status.stage"),
        PrinterColumn("Gate", ".status.gate.decision"),
        PrinterColumn("PSR", ".status.gate.psr", "number", priority=1),
        READY_COLUMN,
        AGE_COLUMN,
    ),
    spec_validations=(
        cel("self == oldSelf", "spec is immutable: a ModelVersion is never edited, create a new one"),
    ),
)
