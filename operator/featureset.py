"""FeatureSet's decider: its contract, its latest snapshot, its build Job.

Thin on purpose: every decision is ``reconcilers.featureset``'s. The contract is computed here
because the registry's errors are the verdict (a bad parameter stalls this one object, nothing
else); the snapshot comes from the builder's registry in PostgreSQL; the referenced Instrument and
Venue from kopf's indexes; the Job from the workload driver, plus, for a Job that failed, the
builder's own verdict (``DatasetIncomplete`` with its gaps) as the driver tells it.
"""

from __future__ import annotations

import asyncio
import json

from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.crds.annotations import DATASET_REQUESTED_AT
from tradeplane.crds.featureset import FeatureSetSpec
from tradeplane.operator.engine import KindDecider, OperatorContext, Pass
from tradeplane.operator.indexes import Indexed, find, observe_all
from tradeplane.reconcilers.dataset_build import (
    COMPONENT,
    BuildTarget,
    JobObservation,
    SnapshotRecord,
    previous_build,
)
from tradeplane.reconcilers.featureset import FeatureSetInputs, reconcile_featureset
from tradeplane.reconcilers.plan import Decision
from tradeplane.reconcilers.references import references
from tradeplane.runtime.features.contract import FeatureContract
from tradeplane.runtime.features.registry import FeatureParamError, UnknownFeature
from tradeplane.runtime.features.snapshot_store import count_snapshots, latest_snapshot
from tradeplane.runtime.workloads.spec import WorkloadDriver, WorkloadKind, WorkloadSpec


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


async def observe_job(driver: WorkloadDriver, namespace: str, job: str) -> JobObservation:
    """Status needs only the name and kind; a stand-in spec avoids re-deriving the Job's arguments."""
    probe = WorkloadSpec(
        name=job, namespace=namespace, kind=WorkloadKind.JOB, component=COMPONENT, command=("tradeplane",)
    )
    status = await asyncio.to_thread(driver.status, probe)
    detail = await asyncio.to_thread(driver.failure_detail, probe) if status.failed else None
    return JobObservation(status, detail)


def builds_in_pods(driver: WorkloadDriver | None) -> bool:
    """Whether a build Job becomes a pod, whose own filesystem dies with it (the reconciler then
    mounts the datasets claim); a local child keeps writing under ``$TRADEPLANE_HOME/datasets``."""
    return driver is not None and driver.runs_in_pods


def _named(obj: Indexed) -> str:
    document = {"metadata": {"name": obj.name}, "spec": dict(obj.spec)}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def build_target(step: Pass[FeatureSetSpec], contract: FeatureContract) -> BuildTarget | None:
    """The first referenced Instrument and its Venue (the builder reads one instrument), or None."""
    instrument = find(step, "instruments", step.spec.instrument_refs[0].name)
    if instrument is None:
        return None
    venue_name = (instrument.spec.get("venueRef") or {}).get("name")
    venue = find(step, "venues", str(venue_name)) if venue_name else None
    if venue is None:
        return None
    return BuildTarget(
        instrument_json=_named(instrument),
        venue_json=_named(venue),
        contract_json=contract.to_json(),
        fingerprint=contract.fingerprint,
    )


async def decide_featureset(step: Pass[FeatureSetSpec], context: OperatorContext) -> Decision:
    spec = step.spec
    metadata = step.body["metadata"]
    name = step.name
    contract = compute_contract(spec)
    refs = references(spec)
    observed = observe_all(step, refs)
    target = snapshot = job = None
    if isinstance(contract, FeatureContract) and all(found.exists for found in observed.values()):
        if all(found.ready for found in observed.values()) and context.workloads is not None:
            target = build_target(step, contract)
        snapshot = await read_snapshot(context.database, step.namespace, name, contract.fingerprint)
        last = previous_build(step.status)
        if last is not None and last.phase == "Running" and context.workloads is not None:
            job = await observe_job(context.workloads, step.namespace, last.job)
    requested = (metadata.get("annotations") or {}).get(DATASET_REQUESTED_AT)
    return reconcile_featureset(
        FeatureSetInputs(
            namespace=step.namespace,
            name=name,
            uid=step.uid,
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


FEATURESET = KindDecider(FeatureSetSpec, decide_featureset)
