"""FeatureSet: the ordered feature contract shared by training, backtest and live execution.

The ordered ``features`` list *is* the contract a trained model depends on, so it is immutable once
created (CEL ``self == oldSelf``): changing it means a new FeatureSet with a new fingerprint, never a
silent change under a model that is trading.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator

from tradeplane.crds.common import (
    AGE_COLUMN,
    READY_COLUMN,
    UNIQUE_NAMES,
    CamelModel,
    Fingerprint,
    KindInfo,
    KlineInterval,
    LocalObjectReference,
    PrinterColumn,
    Resource,
    StatusBase,
    cel,
    duration_check,
    duration_schema,
    object_default,
    validations,
)
from tradeplane.crds.feature_parameters import STANDARD_PARAMETERS, params_rules, params_schema

FeatureName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z][a-z0-9_]*$")]

FEATURE_TRANSFORMS: tuple[str, ...] = tuple(sorted(STANDARD_PARAMETERS))
"""The standard registry's transform names, served as the schema's enum so the API server rejects an
unknown transform naming the field. Read from the numpy-free parameter declarations the registry
registers its kernels on; a unit test (tests/unit/featureset) asserts it equals
``runtime.features.standard.STANDARD.names()``."""

TransformName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z][a-z0-9_.]*$"),
    WithJsonSchema({"type": "string", "enum": list(FEATURE_TRANSFORMS), "maxLength": 63}),
]
"""Enum in the served schema only: an object stored under an older CRD with a transform this release
no longer knows must still parse, so the operator can say ``Stalled``/``UnknownFeature`` about it."""

FeatureParams = Annotated[
    dict[str, int | str],
    Field(max_length=32),
    WithJsonSchema(params_schema()),
]
"""Integers, or decimals written as strings (``"0.5"``) so the contract fingerprint never depends on
float formatting. The served schema types every parameter of the registry and ties it to its
transforms; the Python model stays lenient so that an object stored under an older CRD (``n: "14"``)
still parses and the operator says ``Stalled``/``InvalidFeatureParameter`` about it."""


class Feature(CamelModel):
    """One column of the contract, computed by the registered transform ``transform``."""

    model_config = ConfigDict(json_schema_extra=validations(*params_rules()))

    name: FeatureName
    transform: TransformName
    interval: Annotated[
        KlineInterval | None,
        Field(description="Source interval; unset means baseInterval. Context uses the last closed bar."),
    ] = None
    params: FeatureParams = Field(default_factory=dict)


class Normalization(CamelModel):
    """Fitted on the training split only and stored with the model (never refitted on live data)."""

    method: Literal["none", "zscore", "robust", "minmax"] = "zscore"
    clip: Annotated[float | None, Field(gt=0, le=1000)] = None


SnapshotMode = Literal["production", "research"]
"""production refuses any data gap (fail closed); research builds and records the gaps."""

SnapshotRange = Annotated[str, duration_check("1h", "8760h"), duration_schema("1h", "8760h")]
SnapshotSchedule = Annotated[str, duration_check("5m", "8760h"), duration_schema("5m", "8760h")]


class SnapshotPolicy(CamelModel):
    """How the dataset snapshot is built: which span, how often, and how strict about gaps.

    Durations are Go durations (``168h`` for a week), the one syntax CEL's ``duration()`` and the
    rest of the API share. A build also runs on request: the annotation
    ``dataset.tradeplane.io/requested-at`` set to any new value asks for one now.
    """

    range: Annotated[
        SnapshotRange, Field(description="How far back from the build time the snapshot covers.")
    ] = "24h"
    schedule: Annotated[
        SnapshotSchedule | None,
        Field(description="Rebuild when the latest snapshot is older than this; unset: on request only."),
    ] = None
    mode: Annotated[
        SnapshotMode,
        Field(description="production refuses any data gap (fail closed); research records gaps."),
    ] = "production"


FEATURES_IMMUTABLE = cel(
    "self == oldSelf", "spec.features is immutable after creation; create a new FeatureSet instead"
)
CONTEXT_INTERVALS_KNOWN = cel(
    "self.features.all(f, !has(f.interval) || f.interval == self.baseInterval"
    " || (has(self.contextIntervals) && f.interval in self.contextIntervals))",
    "spec.features[].interval must be spec.baseInterval or one of spec.contextIntervals",
    field_path=".features",
)
CONTEXT_NOT_BASE = cel(
    "!has(self.contextIntervals) || !(self.baseInterval in self.contextIntervals)",
    "spec.contextIntervals must not repeat spec.baseInterval",
    field_path=".contextIntervals",
)


class FeatureSetSpec(CamelModel):
    """What the user declares: inputs, intervals, ordered features, normalisation and window."""

    model_config = ConfigDict(json_schema_extra=validations(CONTEXT_INTERVALS_KNOWN, CONTEXT_NOT_BASE))

    instrument_refs: Annotated[
        list[LocalObjectReference],
        Field(
            min_length=1,
            max_length=16,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        ),
    ]
    base_interval: KlineInterval
    context_intervals: Annotated[
        list[KlineInterval], Field(max_length=8, json_schema_extra={"x-kubernetes-list-type": "set"})
    ] = Field(default_factory=list)
    features: Annotated[
        list[Feature],
        Field(
            min_length=1,
            max_length=128,
            description="Ordered feature columns; immutable after creation.",
            json_schema_extra=validations(FEATURES_IMMUTABLE, UNIQUE_NAMES),
        ),
    ]
    normalization: Annotated[Normalization, Field(json_schema_extra=object_default())] = Normalization()
    window: Annotated[int, Field(ge=1, le=4096, description="Bars of history the policy observes.")] = 64
    snapshot_retention: Annotated[int, Field(ge=1, le=100, description="Dataset snapshots kept.")] = 5
    snapshot: Annotated[SnapshotPolicy, Field(json_schema_extra=object_default())] = SnapshotPolicy()

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSetSpec:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("spec.features: names must be unique")
        if self.base_interval in self.context_intervals:
            raise ValueError("spec.contextIntervals must not repeat spec.baseInterval")
        allowed = {self.base_interval, *self.context_intervals}
        if any(f.interval is not None and f.interval not in allowed for f in self.features):
            raise ValueError(
                "spec.features[].interval must be spec.baseInterval or one of spec.contextIntervals"
            )
        return self


class DatasetSnapshot(CamelModel):
    """A materialised Parquet snapshot, named by content hash."""

    hash: Fingerprint
    rows: Annotated[int, Field(ge=0, json_schema_extra={"format": "int64"})]
    start: datetime
    end: datetime
    uri: Annotated[str, StringConstraints(max_length=2048)] | None = None
    created_time: datetime | None = None
    gap_free: bool = True


class ContractSummary(CamelModel):
    """The resolved contract in brief: the intervals it reads and its normalisation."""

    intervals: Annotated[list[KlineInterval], Field(max_length=16)] = Field(default_factory=list)
    normalization: Literal["none", "zscore", "robust", "minmax"] | None = None


BuildPhase = Literal["Running", "Succeeded", "Failed"]
"""The states of a dataset build (``reconcilers.dataset_build`` holds the transition table)."""


class BuildStatus(CamelModel):
    """The latest dataset build Job: why it ran, the span it covers and how it ended.

    The span is fixed when the build is planned and kept here, so every later pass re-derives the
    identical Job (a Job's template is immutable, and a local job with new arguments would restart).
    """

    job: Annotated[str, StringConstraints(max_length=63)]
    trigger: Literal["Initial", "Requested", "Scheduled", "Retry"]
    request: Annotated[
        str | None,
        StringConstraints(max_length=128),
        Field(description="The dataset.tradeplane.io/requested-at value this build answered."),
    ] = None
    phase: BuildPhase = "Running"
    range_start: datetime
    range_end: datetime
    mode: SnapshotMode = "production"
    fingerprint: Annotated[Fingerprint | None, Field(description="The contract the build is for.")] = None
    started_time: datetime
    finished_time: datetime | None = None
    message: Annotated[str, StringConstraints(max_length=2048)] | None = None


class FeatureSetStatus(StatusBase):
    fingerprint: Annotated[Fingerprint | None, Field(description="Hash of the feature contract.")] = None
    warmup_bars: Annotated[int, Field(ge=0)] | None = None
    columns: Annotated[int, Field(ge=0)] | None = None
    latest_snapshot: DatasetSnapshot | None = None
    snapshots: Annotated[int, Field(ge=0)] | None = None
    contract: Annotated[
        ContractSummary | None, Field(description="What the fingerprint covers, resolved.")
    ] = None
    build: Annotated[BuildStatus | None, Field(description="The latest dataset build Job.")] = None
    next_build_time: Annotated[
        datetime | None, Field(description="When spec.snapshot.schedule next asks for a build.")
    ] = None
    next_check_time: Annotated[
        datetime | None, Field(description="When the operator looks again without an event.")
    ] = None


class FeatureSet(Resource):
    """A complete FeatureSet object."""

    kind: Literal["FeatureSet"] = "FeatureSet"
    spec: FeatureSetSpec
    status: FeatureSetStatus | None = None


INFO = KindInfo(
    kind="FeatureSet",
    plural="featuresets",
    short_names=("fset",),
    resource=FeatureSet,
    spec=FeatureSetSpec,
    status=FeatureSetStatus,
    description="An ordered, fingerprinted feature contract and its dataset snapshots.",
    columns=(
        PrinterColumn("Interval", ".spec.baseInterval"),
        PrinterColumn("Fingerprint", ".status.fingerprint", priority=1),
        PrinterColumn("Snapshot", ".status.latestSnapshot.hash", priority=1),
        PrinterColumn("Rows", ".status.latestSnapshot.rows", "integer"),
        PrinterColumn("Mode", ".spec.snapshot.mode", priority=1),
        PrinterColumn("Range-End", ".status.latestSnapshot.end", "date"),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)
