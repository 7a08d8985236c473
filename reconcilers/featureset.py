"""FeatureSet: the contract's fingerprint in status, and a dataset snapshot kept built and fresh.

Pure: the operator computes the contract (or the registry's error), reads the latest registered
snapshot and the build Job's state, and this module decides the status, the audit records and the
build Job that must exist; the build's lifecycle is the state machine in ``dataset_build``. The
ordered features are immutable, so a contract error is final for the object (Stalled); everything
else here changes by itself (an Instrument turning Ready, a gap healing, the schedule coming due)
and is Progressing while it does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tradeplane.crds.common import Condition, format_time
from tradeplane.crds.featureset import BuildStatus, FeatureSetSpec, FeatureSetStatus
from tradeplane.reconcilers.conditions import ConditionStatus, Outcome, Progress, set_condition
from tradeplane.reconcilers.dataset_build import (
    BUILD_MACHINE,
    RETRY_FAILED,
    BuildObserved,
    BuildSpec,
    BuildTarget,
    JobObservation,
    SnapshotRecord,
    build_workload,
    next_build_time,
    previous_build,
)
from tradeplane.reconcilers.kinds import conditions_of, status_with
from tradeplane.reconcilers.plan import AuditEntry, Plan, applying
from tradeplane.reconcilers.references import Observed, Reference, missing_references
from tradeplane.reconcilers.statemachine import Step
from tradeplane.runtime.features.contract import FeatureContract
from tradeplane.runtime.features.registry import FeatureParamError, UnknownFeature
from tradeplane.runtime.workloads.spec import WorkloadSpec

CONTRACT_READY = "ContractReady"
CHECK_BUILD = timedelta(seconds=5)
"""A running Job raises no event on the FeatureSet: its end is seen by looking again this soon."""
CHECK_INPUTS = timedelta(seconds=15)
"""Nor does an Instrument turning Ready."""


@dataclass(frozen=True)
class FeatureSetInputs:
    """Everything one pass observed; ``contract`` is the contract or the registry's error."""

    namespace: str
    name: str
    uid: str
    spec: FeatureSetSpec
    contract: FeatureContract | Exception
    refs: list[Reference]
    observed: Mapping[Reference, Observed]
    status: Mapping[str, Any] | None
    generation: int | None
    now: datetime
    target: BuildTarget | None = None
    """The Instrument and Venue the Job reads; None unless every referenced Instrument is Ready."""
    snapshot: SnapshotRecord | None = None
    job: JobObservation | None = None
    requested: str | None = None
    """The ``dataset.tradeplane.io/requested-at`` annotation's value."""
    database_secret: str | None = None
    in_pods: bool = False
    """The Kubernetes driver runs the build: its pod must write the snapshot to the datasets claim."""


def contract_outcome(contract: FeatureContract | Exception) -> Outcome:
    """The registry's own message: it names the feature column, the parameter and the allowed range."""
    if isinstance(contract, FeatureContract):
        return Outcome(Progress.READY, "ContractValid", f"fingerprint {contract.fingerprint}")
    if isinstance(contract, UnknownFeature):
        return Outcome(Progress.STALLED, "UnknownFeature", str(contract))
    if isinstance(contract, FeatureParamError):
        return Outcome(Progress.STALLED, "InvalidFeatureParameter", str(contract))
    return Outcome(Progress.STALLED, "InvalidFeatureSet", f"{type(contract).__name__}: {contract}")


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _digest(value: str) -> str:
    return value.removeprefix("sha256:")


def contract_fields(contract: FeatureContract) -> dict[str, Any]:
    return {
        "fingerprint": contract.fingerprint,
        "warmupBars": contract.warmup,
        "columns": len(contract.columns),
        "contract": {
            "intervals": list(contract.source_intervals),
            "normalization": contract.normalization_method,
        },
    }


def snapshot_fields(snapshot: SnapshotRecord) -> dict[str, Any]:
    latest: dict[str, Any] = {
        "hash": snapshot.hash if snapshot.hash.startswith("sha256:") else f"sha256:{snapshot.hash}",
        "rows": snapshot.rows,
        "start": format_time(snapshot.start),
        "end": format_time(snapshot.end),
        "createdTime": format_time(snapshot.created),
        "gapFree": snapshot.gap_free,
    }
    if snapshot.uri:
        latest["uri"] = snapshot.uri[:2048]
    return {"latestSnapshot": latest, "snapshots": snapshot.count}


def _audit(
    previous: Mapping[str, Any], contract: FeatureContract, snapshot: SnapshotRecord | None
) -> tuple[AuditEntry, ...]:
    """The contract when first computed, and every newly registered snapshot (digests as evidence)."""
    entries = []
    fingerprint = contract.fingerprint
    before = previous.get("fingerprint")
    if before != fingerprint:
        entries.append(
            AuditEntry(
                f"contract:{_short(before)}" if isinstance(before, str) else "None",
                f"contract:{_short(fingerprint)}",
                "ContractComputed",
                f"fingerprint {fingerprint}: {len(contract.columns)} columns, warm-up {contract.warmup} bars",
                evidence={"contract": _digest(fingerprint)},
            )
        )
    old = (previous.get("latestSnapshot") or {}).get("hash")
    if snapshot is not None and _digest(str(old or "")) != _digest(snapshot.hash):
        entries.append(
            AuditEntry(
                f"snapshot:{_short(old)}" if isinstance(old, str) else "None",
                f"snapshot:{_short(snapshot.hash)}",
                "SnapshotRegistered",
                f"{snapshot.rows} rows [{format_time(snapshot.start)}, {format_time(snapshot.end)})"
                f"{'' if snapshot.gap_free else ' with gaps'}; {snapshot.uri or 'no uri'}",
                evidence={"contract": _digest(fingerprint), "dataset": _digest(snapshot.hash)},
            )
        )
    return tuple(entries)


def _not_ready(refs: list[Reference], observed: Mapping[Reference, Observed]) -> list[str]:
    return [ref.name for ref in refs if ref.kind == "Instrument" and not observed[ref].ready]


def _readiness(inputs: FeatureSetInputs, build: BuildStatus | None, fresh: bool) -> Outcome:
    snapshot = inputs.snapshot
    running = build is not None and build.phase == "Running"
    failed = build is not None and build.phase == "Failed"
    if snapshot is not None and fresh:
        note = f"; rebuilding ({build.trigger.lower()}, Job {build.job})" if running and build else ""
        if failed and build is not None and build.finished_time and build.finished_time > snapshot.created:
            note = f"; the last build failed: {build.message}"
        message = (
            f"snapshot {_short(snapshot.hash)}: {snapshot.rows} rows "
            f"[{format_time(snapshot.start)}, {format_time(snapshot.end)}){note}"
        )
        return Outcome(Progress.READY, "SnapshotReady", message[:1024])
    if running and build is not None:
        message = (
            f"Job {build.job} builds [{format_time(build.range_start)}, {format_time(build.range_end)}) "
            f"in {build.mode} mode ({build.trigger.lower()})"
        )
        return Outcome(Progress.PROGRESSING, "Building", message)
    if failed and build is not None:
        retry = format_time((build.finished_time or inputs.now) + RETRY_FAILED)
        return Outcome(Progress.PROGRESSING, "BuildFailed", f"{build.message}; retried at {retry}"[:1024])
    waiting = _not_ready(inputs.refs, inputs.observed)
    if waiting or inputs.target is None:
        names = ", ".join(waiting) or "the referenced Instrument"
        return Outcome(
            Progress.PROGRESSING, "WaitingForInstrument", f"{names} not Ready; no build starts yet"
        )
    return Outcome(Progress.PROGRESSING, "ContractReady", "contract valid; no snapshot yet")


def _next_check(
    inputs: FeatureSetInputs, build: BuildStatus | None, scheduled: datetime | None
) -> datetime | None:
    now = inputs.now
    times = [scheduled] if scheduled is not None else []
    if build is not None and build.phase == "Running":
        times.append(now + CHECK_BUILD)
    elif build is not None and build.phase == "Failed" and build.finished_time is not None:
        times.append(max(build.finished_time + RETRY_FAILED, now + CHECK_BUILD))
    if inputs.target is None:
        times.append(now + CHECK_INPUTS)
    return min(times) if times else None


def reconcile_featureset(inputs: FeatureSetInputs) -> Plan:
    """Contract first (an error there is final), then references, then the snapshot and its build."""
    status, now, generation = inputs.status, inputs.now, inputs.generation
    contract = inputs.contract
    verdict = contract_outcome(contract)
    if not isinstance(contract, FeatureContract):
        result = status_with(status, verdict, generation=generation, now=now)
        for key in ("fingerprint", "warmupBars", "columns", "contract", "nextCheckTime", "nextBuildTime"):
            result.pop(key, None)
        return Plan(status=_with_contract_condition(result, verdict, generation, now))
    missing = missing_references(inputs.refs, inputs.observed)
    if missing is not None:
        result = status_with(status, missing, generation=generation, now=now, **contract_fields(contract))
        if (status or {}).get("fingerprint") != contract.fingerprint:
            _drop_snapshot(result)  # it was built for another contract
        result["nextCheckTime"] = format_time(now + CHECK_INPUTS)
        return Plan(
            status=_with_contract_condition(result, verdict, generation, now),
            audit=_audit(status or {}, contract, None),
        )
    snapshot = inputs.snapshot
    lifecycle = _build_lifecycle(inputs, contract)
    build = lifecycle.status.build
    workloads: tuple[WorkloadSpec, ...] = ()
    # a Job that exists is left alone: its template is immutable, and re-applying it with a spec edited
    # meanwhile would fail (Kubernetes) or restart it (local); only a new or vanished Job is applied
    exists = inputs.job is not None and inputs.job.status.exists
    if build is not None and build.phase == "Running" and inputs.target is not None and not exists:
        workloads = (
            build_workload(
                namespace=inputs.namespace,
                name=inputs.name,
                uid=inputs.uid,
                spec=inputs.spec,
                build=build,
                target=inputs.target,
                database_secret=inputs.database_secret,
                in_pods=inputs.in_pods,
            ),
        )
    scheduled = next_build_time(inputs.spec, snapshot, build)
    fresh = snapshot is not None and (scheduled is None or now < scheduled)
    fields = contract_fields(contract)
    if snapshot is not None:
        fields.update(snapshot_fields(snapshot))
    if build is not None:
        fields["build"] = build.to_k8s()
    outcome = _readiness(inputs, build, fresh)
    result = status_with(status, outcome, generation=generation, now=now, **fields)
    if snapshot is None:
        _drop_snapshot(result)  # none of this contract: an older one was built for another fingerprint
    for key, value in (
        ("nextBuildTime", scheduled),
        ("nextCheckTime", _next_check(inputs, build, scheduled)),
    ):
        if value is None:
            result.pop(key, None)
        else:
            result[key] = format_time(value)
    return Plan(
        status=_with_contract_condition(result, verdict, generation, now),
        audit=_audit(status or {}, contract, snapshot) + lifecycle.audit,
        effects=applying(workloads),
    )


def _build_lifecycle(inputs: FeatureSetInputs, contract: FeatureContract) -> Step[FeatureSetStatus]:
    """One pass of the build machine over ``status.build`` (an unreadable record counts as none)."""
    last = previous_build(dict(inputs.status or {}))
    observed = BuildObserved(
        target=inputs.target,
        snapshot=inputs.snapshot,
        job=inputs.job,
        job_name=last.job if last is not None else None,
        requested=inputs.requested,
    )
    machine_spec = BuildSpec(inputs.name, inputs.spec, contract.fingerprint)
    return BUILD_MACHINE.run(machine_spec, FeatureSetStatus(build=last), observed, inputs.now)


def _drop_snapshot(result: dict[str, Any]) -> None:
    """Status must not pair this contract's fingerprint with a snapshot of another contract."""
    result.pop("latestSnapshot", None)
    result.pop("snapshots", None)


def _with_contract_condition(
    result: dict[str, Any], verdict: Outcome, generation: int | None, now: datetime
) -> dict[str, Any]:
    ready: ConditionStatus = "True" if verdict.progress is Progress.READY else "False"
    conditions: list[Condition] = set_condition(
        conditions_of(result),
        CONTRACT_READY,
        ready,
        verdict.reason,
        verdict.message,
        generation=generation,
        now=now,
    )
    result["conditions"] = [c.to_k8s() for c in conditions]
    return result
