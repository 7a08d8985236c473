"""FeatureSet dataset builds: when a build is due, the Job that runs it, and how the last one ended.

A build is one ``tradeplane build-dataset`` Job. Its span is fixed when the build is planned and kept
in ``status.build``, so every later pass derives the identical Job: a Kubernetes Job's template is
immutable, and the local driver restarts a job whose arguments change. A new request (the annotation
``dataset.tradeplane.io/requested-at``) or a due schedule plans a new build with a new Job name, so a
finished Job is never re-run in place.

A build's life is an explicit state machine (:data:`BUILD_MACHINE`, on ``statemachine.py``): no
build yet -> Running -> Succeeded or Failed -> Running (the next build). Every move is checked
against :data:`BUILD_TABLE` and audited once in the FeatureSet's chain (states ``build:<phase>``).

Where the snapshot goes depends on what runs the Job. A local child writes under
``$TRADEPLANE_HOME/datasets`` (the builder's default), which outlives it. A pod has a read-only root
and only an emptyDir at /tmp, gone with the pod, so under the Kubernetes driver the Job mounts the
``tradeplane-datasets`` claim (manifests/base) and writes there: the ``file://`` uri it registers
then names a file that still exists, for any pod that mounts the claim at the same path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import ValidationError

from tradeplane.crds.annotations import FEATURESET_LABEL
from tradeplane.crds.common import API_VERSION, format_time, parse_duration
from tradeplane.crds.featureset import BuildPhase, BuildStatus, FeatureSetSpec, FeatureSetStatus
from tradeplane.reconcilers.statemachine import StateMachine, StateNotWritten, Transition, validated
from tradeplane.runtime.features.build_config import DatasetBuildConfig, named_spec_document
from tradeplane.runtime.workloads.spec import (
    Owner,
    Resources,
    RestartPolicy,
    SecretEnv,
    VolumeMount,
    WorkloadKind,
    WorkloadSpec,
    WorkloadStatus,
)

COMPONENT = "dataset-builder"
RETRY_FAILED = timedelta(minutes=5)
"""A failed build (in production mode typically a gap still healing) is tried again this late."""
MAX_MESSAGE = 2048
SETTLE = timedelta(minutes=1)
"""How long a closed bar is given to reach the store (stream close, commit) before a build needs it."""
DATASET_CLAIM = "tradeplane-datasets"
"""The PersistentVolumeClaim installed with the operator (manifests/base/datasets-pvc.yaml)."""
DATASET_DIR = "/var/lib/tradeplane/datasets"
"""Where a build pod mounts it; registered uris name files below it, so readers mount it here too."""
DATASET_MOUNT = VolumeMount(name="datasets", claim_name=DATASET_CLAIM, mount_path=DATASET_DIR)
Trigger = Literal["Initial", "Requested", "Scheduled", "Retry"]


@dataclass(frozen=True)
class SnapshotRecord:
    """The latest snapshot registered for the FeatureSet (the builder's registry row)."""

    hash: str
    rows: int
    start: datetime
    end: datetime
    created: datetime
    uri: str | None = None
    gap_free: bool = True
    count: int = 1
    """How many snapshots the registry holds for this FeatureSet."""


@dataclass(frozen=True)
class BuildTarget:
    """What the Job reads besides the spec: the (Ready) Instrument and its Venue as JSON documents
    (``metadata.name`` and ``spec`` only: status changes every pass and would change the Job), and the
    contract exactly as computed for status, so the Job cannot fingerprint differently."""

    instrument_json: str
    venue_json: str
    contract_json: str
    fingerprint: str


@dataclass(frozen=True)
class JobObservation:
    """The driver's view of ``status.build``'s Job, and the builder's own last error line, if any."""

    status: WorkloadStatus
    detail: str | None = None


def previous_build(status: dict[str, object] | None) -> BuildStatus | None:
    """``status.build`` parsed; a record this version cannot read counts as none (a new build fixes it)."""
    raw = (status or {}).get("build")
    if not isinstance(raw, dict):
        return None
    try:
        return BuildStatus.model_validate(raw)
    except ValidationError:
        return None


@dataclass(frozen=True)
class BuildSpec:
    """What the build machine reads from the object: its name, its spec, and its contract's fingerprint."""

    name: str
    spec: FeatureSetSpec
    fingerprint: str


@dataclass(frozen=True)
class BuildObserved:
    """What one pass saw: the inputs a Job reads, the registry's latest snapshot, the build Job, the
    request annotation. ``job`` describes the Job named ``job_name`` (status.build's when the pass
    began), so a build planned later in the pass is not judged by its predecessor's Job."""

    target: BuildTarget | None
    snapshot: SnapshotRecord | None
    job: JobObservation | None
    job_name: str | None
    requested: str | None


@dataclass(frozen=True, kw_only=True)
class StartBuild(Transition[BuildPhase]):
    """Entering Running plans a new build: its span and Job name are fixed here, once."""

    build: BuildStatus


BUILD_TABLE: Mapping[BuildPhase | None, frozenset[BuildPhase]] = {
    None: frozenset({"Running"}),
    "Running": frozenset({"Succeeded", "Failed"}),
    "Succeeded": frozenset({"Running"}),
    "Failed": frozenset({"Running"}),
}
BUILD_CHAINED: frozenset[tuple[BuildPhase, BuildPhase]] = frozenset(
    {("Succeeded", "Running"), ("Failed", "Running")}
)
"""A build that ended while the next one was already due (a new request) is followed at once."""


def _finished(build: BuildStatus, observed: BuildObserved) -> Transition[BuildPhase] | None:
    """The running build's end: the Job's terminal state, or a snapshot registered since it started
    (an operator restarted under a local driver no longer knows the finished child)."""
    if observed.job_name != build.job:
        return None  # nothing seen of this Job yet
    job = observed.job
    seen = job.status if job is not None else WorkloadStatus(exists=False)
    if seen.succeeded:
        return Transition("Succeeded", "BuildSucceeded", "completed", evidence=_evidence(build))
    if seen.failed:
        detail = job.detail if job is not None and job.detail else seen.message
        message = (detail or "the build Job failed")[:MAX_MESSAGE]
        return Transition("Failed", "BuildFailed", message, evidence=_evidence(build))
    snapshot = observed.snapshot
    if not seen.exists and snapshot is not None and snapshot.created >= build.started_time:
        return Transition("Succeeded", "BuildSucceeded", "registered", evidence=_evidence(build))
    return None


def _evidence(build: BuildStatus) -> dict[str, str]:
    return {"contract": build.fingerprint.removeprefix("sha256:")} if build.fingerprint else {}


def decide_build(
    spec: BuildSpec, status: FeatureSetStatus, observed: BuildObserved, now: datetime
) -> Transition[BuildPhase] | None:
    """A running build ends by what its Job did; otherwise a new one starts when one is due."""
    last = status.build
    if last is not None and last.phase == "Running":
        return _finished(last, observed)
    requested = observed.requested
    trigger = due_trigger(spec.spec, observed.target, last, observed.snapshot, requested=requested, now=now)
    if trigger is None:
        return None
    build = plan_build(spec.name, spec.spec, spec.fingerprint, trigger, requested=requested, now=now)
    message = (
        f"{trigger} build: Job {build.job} over [{format_time(build.range_start)}, "
        f"{format_time(build.range_end)}) in {build.mode} mode"
    )
    return StartBuild("Running", "BuildStarted", message, evidence=_evidence(build), build=build)


def write_build(
    status: FeatureSetStatus, transition: Transition[BuildPhase], now: datetime
) -> FeatureSetStatus:
    """Running records the planned build; an end records phase, time and message on the build."""
    if isinstance(transition, StartBuild):
        return validated(status, build=transition.build)
    if status.build is None or transition.to == "Running":
        raise StateNotWritten(f"dataset build: {transition.to} needs a planned build (StartBuild)")
    ended = validated(status.build, phase=transition.to, finished_time=now, message=transition.message)
    return validated(status, build=ended)


def _phase(status: FeatureSetStatus) -> BuildPhase | None:
    return status.build.phase if status.build is not None else None


BUILD_MACHINE: StateMachine[BuildSpec, FeatureSetStatus, BuildObserved, BuildPhase] = StateMachine(
    name="FeatureSet dataset build",
    table=BUILD_TABLE,
    decide=decide_build,
    read=_phase,
    write=write_build,
    chained=BUILD_CHAINED,
    audit_prefix="build:",
)


def due_trigger(
    spec: FeatureSetSpec,
    target: BuildTarget | None,
    last: BuildStatus | None,
    snapshot: SnapshotRecord | None,
    *,
    requested: str | None,
    now: datetime,
) -> Trigger | None:
    """Why a new build must start now, or None. Nothing starts while one runs or the inputs are not Ready."""
    if target is None or (last is not None and last.phase == "Running"):
        return None
    if requested and (last is None or last.request != requested[:128]):
        return "Requested"
    finished_recently = (
        last is not None and last.finished_time is not None and now < last.finished_time + RETRY_FAILED
    )
    if snapshot is None:
        # a finished build that left no snapshot (failed, or registered nothing) is retried, not looped
        if last is None or last.fingerprint != target.fingerprint:
            return "Initial"  # also after a normalisation or window edit: a new contract, none built yet
        return None if finished_recently else "Retry"
    failed_recently = finished_recently and last is not None and last.phase == "Failed"
    due = next_build_time(spec, snapshot, last)
    if due is not None and now >= due and not failed_recently:
        return "Scheduled"
    return None


def next_build_time(
    spec: FeatureSetSpec, snapshot: SnapshotRecord | None, last: BuildStatus | None
) -> datetime | None:
    """``schedule`` after the newest of the snapshot and the last successful build: a build whose
    content hashes to the snapshot already registered re-registers nothing (the registry is idempotent
    on the hash), and must not leave the schedule due for ever."""
    if spec.snapshot.schedule is None or snapshot is None:
        return None
    built = snapshot.created
    if last is not None and last.phase == "Succeeded":
        built = max(built, last.started_time)
    return built + parse_duration(spec.snapshot.schedule)


def plan_build(
    name: str,
    spec: FeatureSetSpec,
    fingerprint: str,
    trigger: Trigger,
    *,
    requested: str | None,
    now: datetime,
) -> BuildStatus:
    """A new build over ``[end - range, end)``, ``end`` a settle margin before ``now`` and floored to
    the minute (bars close on minutes): the bar that closed a second ago may not be stored yet, and a
    production build would fail closed on it, retry, and meet the same race again."""
    end = (now - SETTLE).replace(second=0, microsecond=0)
    start = end - parse_duration(spec.snapshot.range)
    request = requested[:128] if requested else None
    token = f"{fingerprint}|{trigger}|{request}|{format_time(end)}|{spec.snapshot.mode}"
    digest = hashlib.sha256(token.encode()).hexdigest()[:8]
    return BuildStatus(
        job=f"{f'dataset-{name}'[:54].rstrip('-')}-{digest}",
        trigger=trigger,
        request=request,
        range_start=start,
        range_end=end,
        mode=spec.snapshot.mode,
        fingerprint=fingerprint,
        started_time=now,
    )


def dataset_build_config(
    *, namespace: str, name: str, spec: FeatureSetSpec, build: BuildStatus, target: BuildTarget, in_pods: bool
) -> DatasetBuildConfig:
    """Everything the Job for ``build`` reads: the FeatureSet, its span and mode as planned, the
    Instrument and Venue, and the contract as computed for status. ``in_pods``: the snapshot goes to
    the mounted datasets claim; otherwise the builder's default directory."""
    return DatasetBuildConfig.build(
        {
            "featureset": f"{namespace}/{name}",
            "spec": spec.to_k8s(),
            "instrument": named_spec_document(json.loads(target.instrument_json)),
            "venue": named_spec_document(json.loads(target.venue_json)),
            "start": build.range_start,
            "end": build.range_end,
            "contract": json.loads(target.contract_json),
            "fingerprint": target.fingerprint,
            "mode": build.mode,
            "output": DATASET_DIR if in_pods else None,
        }
    )


def build_workload(
    *,
    namespace: str,
    name: str,
    uid: str,
    spec: FeatureSetSpec,
    build: BuildStatus,
    target: BuildTarget,
    database_secret: str | None,
    in_pods: bool = False,
) -> WorkloadSpec:
    """The Job for ``build``, its configuration in one argument. ``database_secret`` as for the
    ingestor: in a cluster DATABASE_URL comes from that Secret's ``url`` key; the embedded default
    passes the operator's environment instead. ``in_pods`` (the Kubernetes driver runs it) mounts
    the datasets claim, and the configuration's ``output`` names it."""
    config = dataset_build_config(
        namespace=namespace, name=name, spec=spec, build=build, target=target, in_pods=in_pods
    )
    secrets = (SecretEnv(env="DATABASE_URL", secret=database_secret, key="url"),) if database_secret else ()
    return WorkloadSpec(
        name=build.job,
        namespace=namespace,
        kind=WorkloadKind.JOB,
        component=COMPONENT,
        command=("tradeplane",),
        args=("build-dataset", "--config", config.to_json()),
        secret_env=secrets,
        volumes=(DATASET_MOUNT,) if in_pods else (),
        labels={FEATURESET_LABEL: name},
        owner=Owner(api_version=API_VERSION, kind="FeatureSet", name=name, uid=uid),
        # exit 2 (DatasetIncomplete) is a verdict about the data, not a crash: retrying at once
        # would only repeat it, so the operator decides when to try again (RETRY_FAILED)
        restart_policy=RestartPolicy.NEVER,
        backoff_limit=0,
        resources=Resources(
            requests={"cpu": "250m", "memory": "256Mi"}, limits={"cpu": "2", "memory": "2Gi"}
        ),
    )
