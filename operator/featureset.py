"""What the operator observes for a FeatureSet: its contract, its latest snapshot, its build Job.

Thin on purpose: every decision is ``reconcilers.featureset``'s. The contract is computed here
because the registry's errors are the verdict (a bad parameter stalls this one object, nothing
else); the snapshot comes from the builder's registry in PostgreSQL; the Job from the workload
driver, plus, for a local Job that failed, the builder's last stderr line (``DatasetIncomplete``
with its gaps), which the driver's own status cannot carry.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.crds.featureset import FeatureSetSpec
from tradeplane.operator.engine import OperatorContext, Pass
from tradeplane.reconcilers.dataset_build import (
    COMPONENT,
    REQUEST_ANNOTATION,
    BuildTarget,
    JobObservation,
    SnapshotRecord,
    previous_build,
)
from tradeplane.reconcilers.featureset import FeatureSetInputs, reconcile_featureset
from tradeplane.reconcilers.plan import Plan
from tradeplane.reconcilers.references import Observed, Reference, references
from tradeplane.runtime.features.contract import FeatureContract
from tradeplane.runtime.features.registry import FeatureParamError, UnknownFeature
from tradeplane.runtime.features.snapshot_store import count_snapshots, latest_snapshot
from tradeplane.runtime.workloads.kubernetes import KubernetesDriver
from tradeplane.runtime.workloads.local import LocalProcessDriver
from tradeplane.runtime.workloads.spec import WorkloadDriver, WorkloadKind, WorkloadSpec

DETAIL_BYTES = 16384
"""How much of a failed local Job's log is read back for its last error line."""


def compute_contract(spec: FeatureSetSpec) -> FeatureContract | Exception:
    """The contract, or the error that is this FeatureSet's verdict (never the operator's crash)."""
    try:
        return FeatureContract.from_spec(spec)
    except (UnknownFeature, FeatureParamError, ValueError) as error:
        return error


async def read_snapshot(
    engine: AsyncEngine, namespace: str, name: str, fingerprint: str
) -> SnapshotRecord | None:
    """The latest registered snapshot, if it was built for this very contract (a changed
    normalisation or window is a new fingerprint: the old snapshot no longer counts)."""
    latest = await latest_snapshot(engine, namespace, name)
    if latest is None or latest.fingerprint != fingerprint:
        return None
    count = await count_snapshots(engine, namespace, name)
    return SnapshotRecord(
        hash=latest.hash,
        rows=latest.rows,
        start=latest.start,
        end=latest.end,
        created=latest.created_at,
        uri=latest.uri,
        gap_free=latest.gap_free,
        count=int(count),
    )


VERDICT_PREFIXES = ("dataset incomplete", "build-dataset failed")
"""How the builder's stderr verdicts begin (``dataset_cli``); the problem list follows, one per line."""


def last_error(path: Path) -> str | None:
    """The builder's last verdict with its problem lines, as one line; the driver's own lines start
    with ``[tradeplane]``."""
    try:
        with path.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - DETAIL_BYTES))
            lines = log.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    found = [line.strip() for line in lines if line.strip() and not line.startswith("[tradeplane]")]
    starts = [i for i, line in enumerate(found) if line.lower().startswith(VERDICT_PREFIXES)]
    if starts:
        return " ".join(found[starts[-1] :])
    return found[-1] if found else None


async def observe_job(driver: WorkloadDriver, namespace: str, job: str) -> JobObservation:
    """Status needs only the name and kind; a stand-in spec avoids re-deriving the Job's arguments."""
    probe = WorkloadSpec(
        name=job, namespace=namespace, kind=WorkloadKind.JOB, component=COMPONENT, command=("tradeplane",)
    )
    status = await asyncio.to_thread(driver.status, probe)
    detail = None
    if status.failed and isinstance(driver, LocalProcessDriver):
        detail = await asyncio.to_thread(last_error, driver.log_path(probe))
    return JobObservation(status, detail)


def builds_in_pods(driver: WorkloadDriver | None) -> bool:
    """Whether a build Job becomes a pod, whose own filesystem dies with it (the reconciler then
    mounts the datasets claim); a local child keeps writing under ``$TRADEPLANE_HOME/datasets``."""
    return isinstance(driver, KubernetesDriver)


def _named(obj: Mapping[str, Any]) -> str:
    document = {"metadata": {"name": obj["metadata"]["name"]}, "spec": obj.get("spec") or {}}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


async def build_target(
    step: Pass, context: OperatorContext, spec: FeatureSetSpec, contract: FeatureContract
) -> BuildTarget | None:
    """The first referenced Instrument and its Venue (the builder reads one instrument), or None."""
    instrument = await context.kube.get_custom("instruments", step.namespace, spec.instrument_refs[0].name)
    if instrument is None:
        return None
    venue_name = ((instrument.get("spec") or {}).get("venueRef") or {}).get("name")
    venue = await context.kube.get_custom("venues", step.namespace, str(venue_name)) if venue_name else None
    if venue is None:
        return None
    return BuildTarget(
        instrument_json=_named(instrument),
        venue_json=_named(venue),
        contract_json=contract.to_json(),
        fingerprint=contract.fingerprint,
    )


async def decide_featureset(
    step: Pass, context: OperatorContext, observed: Mapping[Reference, Observed]
) -> Plan:
    spec: FeatureSetSpec = getattr(step.resource, "spec")  # noqa: B009
    metadata = step.body["metadata"]
    name = str(metadata["name"])
    contract = compute_contract(spec)
    refs = references(spec)
    target = snapshot = job = None
    if isinstance(contract, FeatureContract) and all(found.exists for found in observed.values()):
        if all(found.ready for found in observed.values()) and context.workloads is not None:
            target = await build_target(step, context, spec, contract)
        snapshot = await read_snapshot(context.audit, step.namespace, name, contract.fingerprint)
        last = previous_build(step.status)
        if last is not None and last.phase == "Running" and context.workloads is not None:
            job = await observe_job(context.workloads, step.namespace, last.job)
    requested = (metadata.get("annotations") or {}).get(REQUEST_ANNOTATION)
    return reconcile_featureset(
        FeatureSetInputs(
            namespace=step.namespace,
            name=name,
            uid=str(metadata["uid"]),
            spec=spec,
            contract=contract,
            refs=refs,
            observed=observed,
            status=step.status,
            generation=step.generation,
            now=step.now,
            target=target,
            snapshot=snapshot,
            job=job,
            requested=str(requested) if requested else None,
            database_secret=context.database_secret,
            in_pods=builds_in_pods(context.workloads),
        )
    )
