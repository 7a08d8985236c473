"""The pure FeatureSet reconciler: contract verdicts, build decisions, snapshot freshness, audit, requeue."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit.featureset.builders import CONTRACT, SAMPLE, SPEC, T0, TARGET, inputs

from tradeplane.crds.annotations import DATASET_REQUESTED_AT
from tradeplane.crds.featureset import FEATURE_TRANSFORMS, FeatureSetSpec, FeatureSetStatus
from tradeplane.reconcilers.dataset_build import (
    RETRY_FAILED,
    JobObservation,
    SnapshotRecord,
)
from tradeplane.reconcilers.featureset import CONTRACT_READY, reconcile_featureset
from tradeplane.reconcilers.kinds import conditions_of
from tradeplane.reconcilers.references import Observed, references
from tradeplane.reconcilers.requeue import recheck_due
from tradeplane.runtime.features.contract import FeatureContract
from tradeplane.runtime.features.registry import FeatureParamError, UnknownFeature
from tradeplane.runtime.features.standard import STANDARD
from tradeplane.runtime.workloads.spec import RestartPolicy, WorkloadKind, WorkloadStatus

pytestmark = pytest.mark.unit

SNAPSHOT = SnapshotRecord(
    hash="sha256:" + "ab" * 32,
    rows=1380,
    start=T0 - timedelta(hours=24),
    end=T0,
    created=T0,
    uri="/data/datasets/ab.parquet",
    count=2,
)
RUNNING = WorkloadStatus(exists=True, running=True, message="running (pid 7)")


def ready_of(status: dict[str, Any], condition: str = "Ready") -> tuple[str, str, str]:
    found = next(c for c in conditions_of(status) if c.type == condition)
    return found.status, found.reason, found.message


def test_crd_transform_enum_is_the_standard_registry() -> None:
    """One source of truth: the CRD's enum (read from the numpy-free declarations) is the registry's."""
    assert list(FEATURE_TRANSFORMS) == STANDARD.names()


def test_sample_uses_real_transforms_and_computes_a_contract() -> None:
    assert {f.transform for f in SPEC.features} <= set(FEATURE_TRANSFORMS)
    assert CONTRACT.fingerprint.startswith("sha256:") and len(CONTRACT.columns) == len(SPEC.features)


def test_first_pass_with_ready_instrument_computes_contract_audits_it_and_starts_the_initial_build() -> None:
    plan = reconcile_featureset(inputs())
    status = plan.status
    FeatureSetStatus.model_validate(status)  # the plan writes what the CRD accepts
    assert status["fingerprint"] == CONTRACT.fingerprint
    assert status["warmupBars"] == CONTRACT.warmup and status["columns"] == len(CONTRACT.columns)
    assert status["contract"] == {"intervals": ["1m", "1h"], "normalization": "zscore"}
    assert ready_of(status)[:2] == ("False", "Building")
    assert ready_of(status, CONTRACT_READY)[:2] == ("True", "ContractValid")
    assert [a.reason for a in plan.audit] == ["ContractComputed", "BuildStarted"]
    assert plan.audit[0].evidence == {"contract": CONTRACT.fingerprint.removeprefix("sha256:")}
    assert (plan.audit[1].from_state, plan.audit[1].to_state) == ("", "build:Running")
    (job,) = plan.workloads
    assert job.kind is WorkloadKind.JOB and job.restart_policy is RestartPolicy.NEVER
    assert job.name.startswith("dataset-gold-1m-") and job.name == status["build"]["job"]
    assert job.args[:2] == ("build-dataset", "--config") and len(job.args) == 3
    config = json.loads(job.args[2])
    assert config["featureset"] == "default/gold-1m"
    # a minute's settle margin before now (12:00:30), floored to the minute: the bar closed at 12:00
    # may still be on its way to the store
    assert config["start"] == "2026-11-23T11:59:00Z" and config["end"] == "2026-11-24T11:59:00Z"
    assert config["mode"] == "production" and config["spec"]["baseInterval"] == "1m"
    instrument = json.loads(TARGET.instrument_json)
    assert config["instrument"] == {"name": "xaut-usdt", "spec": instrument["spec"]} and not job.secret_env
    assert config["fingerprint"] == CONTRACT.fingerprint and config["contract"] == json.loads(
        CONTRACT.to_json()
    )
    assert status["build"]["trigger"] == "Initial" and status["nextCheckTime"] == "2026-11-24T12:00:35Z"


def test_database_url_comes_from_the_secret_reference_in_a_cluster() -> None:
    (job,) = reconcile_featureset(inputs(database_secret="tradeplane-database")).workloads
    assert [(s.env, s.secret, s.key) for s in job.secret_env] == [
        ("DATABASE_URL", "tradeplane-database", "url")
    ]


def test_a_running_build_is_left_alone_and_a_vanished_one_is_recreated_identically() -> None:
    first = reconcile_featureset(inputs())
    later = reconcile_featureset(
        inputs(status=first.status, now=T0 + timedelta(minutes=3), job=JobObservation(RUNNING))
    )
    assert later.workloads == () and later.audit == () and later.status["build"] == first.status["build"]
    assert ready_of(later.status)[1] == "Building"
    gone = JobObservation(WorkloadStatus(exists=False))
    again = reconcile_featureset(inputs(status=later.status, now=T0 + timedelta(minutes=4), job=gone))
    assert again.workloads == first.workloads


def test_success_registers_the_snapshot_ready_with_audit_and_no_new_job() -> None:
    first = reconcile_featureset(inputs())
    done = WorkloadStatus(exists=True, succeeded=True, message="completed")
    snapshot = replace(SNAPSHOT, created=T0 + timedelta(minutes=1))
    plan = reconcile_featureset(
        inputs(
            status=first.status, now=T0 + timedelta(minutes=2), job=JobObservation(done), snapshot=snapshot
        )
    )
    status = plan.status
    assert ready_of(status)[:2] == ("True", "SnapshotReady")
    assert status["latestSnapshot"]["hash"] == SNAPSHOT.hash and status["latestSnapshot"]["rows"] == 1380
    assert status["latestSnapshot"]["uri"] == SNAPSHOT.uri and status["snapshots"] == 2
    assert status["build"]["phase"] == "Succeeded" and plan.workloads == ()
    assert [a.reason for a in plan.audit] == ["SnapshotRegistered", "BuildSucceeded"]
    assert plan.audit[0].evidence["dataset"] == "ab" * 32
    assert (plan.audit[1].from_state, plan.audit[1].to_state) == ("build:Running", "build:Succeeded")
    assert status["nextBuildTime"] == "2026-11-25T12:01:30Z"  # created + schedule 24h
    FeatureSetStatus.model_validate(status)


def test_a_failed_build_shows_build_failed_with_the_builders_message_and_retries_later() -> None:
    first = reconcile_featureset(inputs())
    failed = WorkloadStatus(exists=True, failed=True, message="exited with code 2 (restart policy never)")
    detail = "DatasetIncomplete: klines 1m missing [2026-11-24T03:00:00Z, 2026-11-24T03:05:00Z)"
    after = T0 + timedelta(minutes=1)
    plan = reconcile_featureset(inputs(status=first.status, now=after, job=JobObservation(failed, detail)))
    status, reason, message = ready_of(plan.status)
    assert (status, reason) == ("False", "BuildFailed") and "DatasetIncomplete: klines 1m missing" in message
    assert ready_of(plan.status, "Reconciling")[0] == "True" and plan.workloads == ()
    assert plan.status["nextCheckTime"] == "2026-11-24T12:06:30Z"
    # not retried before RETRY_FAILED; then retried with a new Job
    again = reconcile_featureset(inputs(status=plan.status, now=after + RETRY_FAILED - timedelta(seconds=1)))
    assert again.workloads == ()
    retried = reconcile_featureset(inputs(status=plan.status, now=after + RETRY_FAILED))
    assert retried.status["build"]["trigger"] == "Retry"
    assert retried.workloads[0].name != first.workloads[0].name


def test_without_detail_the_job_message_is_shown() -> None:
    first = reconcile_featureset(inputs())
    failed = WorkloadStatus(
        exists=True, failed=True, message="BackoffLimitExceeded: Job has reached the limit"
    )
    plan = reconcile_featureset(inputs(status=first.status, job=JobObservation(failed)))
    assert "BackoffLimitExceeded" in ready_of(plan.status)[2]


def test_a_request_annotation_makes_a_new_job_once() -> None:
    ready = _ready_status()
    requested = reconcile_featureset(
        inputs(
            status=ready, snapshot=SNAPSHOT, requested="2026-11-24T12:05:00Z", now=T0 + timedelta(minutes=5)
        )
    )
    (job,) = requested.workloads
    assert requested.status["build"]["trigger"] == "Requested"
    assert requested.status["build"]["request"] == "2026-11-24T12:05:00Z"
    # still Ready on the previous snapshot while rebuilding
    assert ready_of(requested.status)[:2] == ("True", "SnapshotReady")
    assert "rebuilding (requested" in ready_of(requested.status)[2]
    done = WorkloadStatus(exists=True, succeeded=True)
    finished = reconcile_featureset(
        inputs(
            status=requested.status,
            snapshot=SNAPSHOT,
            requested="2026-11-24T12:05:00Z",
            job=JobObservation(done),
            now=T0 + timedelta(minutes=6),
        )
    )
    assert finished.workloads == () and finished.status["build"]["phase"] == "Succeeded"
    other = reconcile_featureset(
        inputs(status=finished.status, snapshot=SNAPSHOT, requested="second", now=T0 + timedelta(minutes=7))
    )
    assert other.workloads and other.workloads[0].name != job.name


def test_the_schedule_makes_a_stale_snapshot_not_ready_and_starts_a_build() -> None:
    due = T0 + timedelta(hours=24)
    fresh = reconcile_featureset(
        inputs(status=_ready_status(), snapshot=SNAPSHOT, now=due - timedelta(seconds=1))
    )
    assert fresh.workloads == () and ready_of(fresh.status)[0] == "True"
    assert fresh.status["nextCheckTime"] == "2026-11-25T12:00:30Z"
    stale = reconcile_featureset(inputs(status=_ready_status(), snapshot=SNAPSHOT, now=due))
    assert stale.status["build"]["trigger"] == "Scheduled" and len(stale.workloads) == 1
    assert ready_of(stale.status)[:2] == ("False", "Building")


def test_without_a_schedule_a_snapshot_stays_ready_and_nothing_is_requeued() -> None:
    spec = SPEC.model_copy(update={"snapshot": SPEC.snapshot.model_copy(update={"schedule": None})})
    plan = reconcile_featureset(
        inputs(spec=spec, status=_ready_status(), snapshot=SNAPSHOT, now=T0 + timedelta(days=30))
    )
    assert plan.workloads == () and ready_of(plan.status)[0] == "True"
    assert "nextCheckTime" not in plan.status and "nextBuildTime" not in plan.status
    assert recheck_due("FeatureSet", {}, plan.status) is None


def test_waiting_for_the_instrument_starts_nothing_and_looks_again() -> None:
    plan = reconcile_featureset(inputs(ready=False))
    assert plan.workloads == ()
    assert ready_of(plan.status)[:2] == ("False", "WaitingForInstrument")
    assert "xaut-usdt" in ready_of(plan.status)[2]
    assert plan.status["fingerprint"] == CONTRACT.fingerprint
    assert recheck_due("FeatureSet", {}, plan.status) == T0 + timedelta(seconds=15)
    # a request waits too
    assert reconcile_featureset(inputs(ready=False, requested="now")).workloads == ()


def test_a_missing_instrument_is_progressing_not_found() -> None:
    refs = references(SPEC)
    plan = reconcile_featureset(inputs(observed={ref: Observed(exists=False) for ref in refs}, target=None))
    assert ready_of(plan.status)[:2] == ("False", "InstrumentNotFound")
    assert plan.workloads == () and plan.status["fingerprint"] == CONTRACT.fingerprint


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            FeatureParamError("rsi_14", "n", "must be an integer in [2, 1000], got 5000"),
            "InvalidFeatureParameter",
        ),
        (UnknownFeature("ema_ratio", ["atr", "rsi"]), "UnknownFeature"),
        (ValueError("feature 'x': interval '4h' is neither ..."), "InvalidFeatureSet"),
    ],
)
def test_contract_errors_stall_with_the_registry_message(error: Exception, reason: str) -> None:
    previous = reconcile_featureset(inputs()).status
    plan = reconcile_featureset(inputs(contract=error, status=previous))
    status, found, message = ready_of(plan.status, "Stalled")
    assert (status, found) == ("True", reason) and str(error) in message
    assert ready_of(plan.status)[0] == "False" and ready_of(plan.status, "Reconciling")[0] == "False"
    assert ready_of(plan.status, CONTRACT_READY)[:2] == ("False", reason)
    assert plan.workloads == () and plan.audit == () and "fingerprint" not in plan.status


def test_real_registry_errors_map_to_their_reasons() -> None:
    bad = SAMPLE["spec"] | {"features": [{"name": "rsi_x", "transform": "rsi", "params": {"n": 100000}}]}
    spec = FeatureSetSpec.model_validate(bad)
    with pytest.raises(FeatureParamError) as caught:
        FeatureContract.from_spec(spec)
    plan = reconcile_featureset(inputs(spec=spec, contract=caught.value))
    assert ready_of(plan.status, "Stalled")[1] == "InvalidFeatureParameter"
    assert "'rsi_x'" in ready_of(plan.status)[2] and "'n'" in ready_of(plan.status)[2]


def test_an_operator_restart_mid_build_reapplies_the_job_then_sees_the_registered_snapshot() -> None:
    first = reconcile_featureset(inputs())
    gone = JobObservation(WorkloadStatus(exists=False, message="not running here"))
    again = reconcile_featureset(inputs(status=first.status, job=gone, now=T0 + timedelta(seconds=40)))
    assert again.workloads == first.workloads
    registered = replace(SNAPSHOT, created=T0 + timedelta(seconds=50))
    done = reconcile_featureset(
        inputs(status=again.status, job=gone, snapshot=registered, now=T0 + timedelta(minutes=1))
    )
    assert done.status["build"]["phase"] == "Succeeded" and done.workloads == ()


def test_a_succeeded_build_that_registered_nothing_is_retried_not_looped() -> None:
    first = reconcile_featureset(inputs())
    done = JobObservation(WorkloadStatus(exists=True, succeeded=True))
    finished = reconcile_featureset(inputs(status=first.status, job=done, now=T0 + timedelta(seconds=10)))
    assert finished.workloads == () and ready_of(finished.status)[1] == "ContractReady"
    later = reconcile_featureset(
        inputs(status=finished.status, now=T0 + timedelta(seconds=10) + RETRY_FAILED)
    )
    assert later.status["build"]["trigger"] == "Retry"


def test_request_annotation_name() -> None:
    assert DATASET_REQUESTED_AT == "dataset.tradeplane.io/requested-at"


def _ready_status() -> dict[str, Any]:
    first = reconcile_featureset(inputs())
    done = JobObservation(WorkloadStatus(exists=True, succeeded=True))
    return reconcile_featureset(inputs(status=first.status, job=done, snapshot=SNAPSHOT)).status


@settings(max_examples=60, deadline=None)
@given(
    ready=st.booleans(),
    has_snapshot=st.booleans(),
    job=st.sampled_from([None, "running", "succeeded", "failed", "gone"]),
    requested=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    minutes=st.integers(min_value=0, max_value=3000),
    previous=st.booleans(),
)
def test_the_plan_is_deterministic_for_the_same_inputs(
    ready: bool, has_snapshot: bool, job: str | None, requested: str | None, minutes: int, previous: bool
) -> None:
    observed = {
        None: None,
        "running": JobObservation(RUNNING),
        "succeeded": JobObservation(WorkloadStatus(exists=True, succeeded=True)),
        "failed": JobObservation(WorkloadStatus(exists=True, failed=True, message="exit 2"), "gaps"),
        "gone": JobObservation(WorkloadStatus(exists=False)),
    }[job]
    given_inputs = inputs(
        ready=ready,
        status=reconcile_featureset(inputs()).status if previous else None,
        snapshot=SNAPSHOT if has_snapshot else None,
        job=observed,
        requested=requested,
        now=T0 + timedelta(minutes=minutes),
    )
    first, second = reconcile_featureset(given_inputs), reconcile_featureset(given_inputs)
    assert first == second
    FeatureSetStatus.model_validate(first.status)
    # Ready=True only ever with a snapshot that is not older than the schedule
    if ready_of(first.status)[0] == "True":
        assert has_snapshot and T0 + timedelta(minutes=minutes) < SNAPSHOT.created + timedelta(hours=24)
    assert len(first.workloads) <= 1 and all(w.kind is WorkloadKind.JOB for w in first.workloads)


def test_a_rebuild_with_the_same_content_does_not_leave_the_schedule_due() -> None:
    """The registry is idempotent on the hash: the snapshot's created time does not move, the build's does."""
    due = T0 + timedelta(hours=24)
    scheduled = reconcile_featureset(inputs(status=_ready_status(), snapshot=SNAPSHOT, now=due))
    assert scheduled.status["build"]["trigger"] == "Scheduled"
    done = JobObservation(WorkloadStatus(exists=True, succeeded=True))
    after = due + timedelta(minutes=1)
    finished = reconcile_featureset(inputs(status=scheduled.status, snapshot=SNAPSHOT, job=done, now=after))
    assert finished.workloads == () and ready_of(finished.status)[:2] == ("True", "SnapshotReady")
    assert finished.status["nextBuildTime"] == "2026-11-26T12:00:30Z"
    again = reconcile_featureset(
        inputs(status=finished.status, snapshot=SNAPSHOT, now=after + timedelta(minutes=1))
    )
    assert again.workloads == ()


def test_an_unreadable_build_record_counts_as_none_and_a_bare_hash_is_prefixed() -> None:
    status = {**_ready_status(), "build": {"job": "dataset-gold-1m-x", "phase": "Exploded"}}
    bare = replace(SNAPSHOT, hash="cd" * 32, uri=None)
    plan = reconcile_featureset(inputs(status=status, snapshot=bare, requested="again"))
    assert plan.status["build"]["trigger"] == "Requested"
    assert plan.status["latestSnapshot"]["hash"] == "sha256:" + "cd" * 32
    assert "uri" not in plan.status["latestSnapshot"]
    FeatureSetStatus.model_validate(plan.status)


def test_a_failed_rebuild_keeps_the_older_snapshot_ready_and_says_so() -> None:
    due = T0 + timedelta(hours=24)
    spec = SPEC.model_copy(update={"snapshot": SPEC.snapshot.model_copy(update={"schedule": None})})
    requested = reconcile_featureset(
        inputs(spec=spec, status=_ready_status(), snapshot=SNAPSHOT, requested="r", now=due)
    )
    failed = JobObservation(
        WorkloadStatus(exists=True, failed=True), "dataset incomplete (1 problem(s)): - x"
    )
    plan = reconcile_featureset(
        inputs(spec=spec, status=requested.status, snapshot=SNAPSHOT, requested="r", job=failed, now=due)
    )
    status, reason, message = ready_of(plan.status)
    assert (status, reason) == ("True", "SnapshotReady")
    assert "the last build failed: dataset incomplete" in message


def test_a_new_contract_builds_at_once_instead_of_waiting_for_a_retry() -> None:
    """A normalisation edit changes the fingerprint; the operator then sees no snapshot of this contract."""
    finished = _ready_status()
    assert finished["build"]["fingerprint"] == CONTRACT.fingerprint
    spec = SPEC.model_copy(
        update={"normalization": SPEC.normalization.model_copy(update={"method": "robust"})}
    )
    contract = FeatureContract.from_spec(spec)
    target = replace(TARGET, contract_json=contract.to_json(), fingerprint=contract.fingerprint)
    plan = reconcile_featureset(inputs(spec=spec, contract=contract, target=target, status=finished))
    assert plan.status["build"]["trigger"] == "Initial" and len(plan.workloads) == 1
    assert plan.status["fingerprint"] == contract.fingerprint != CONTRACT.fingerprint
    assert [a.reason for a in plan.audit] == ["ContractComputed", "BuildStarted"]
    assert (plan.audit[1].from_state, plan.audit[1].to_state) == ("build:Succeeded", "build:Running")


def test_a_new_contract_does_not_keep_showing_the_old_contracts_snapshot() -> None:
    """status.fingerprint and status.latestSnapshot must describe the same contract: a consumer pairs them."""
    finished = _ready_status()
    assert finished["latestSnapshot"]["hash"] == SNAPSHOT.hash
    spec = SPEC.model_copy(update={"base_interval": "5m"})
    contract = FeatureContract.from_spec(spec)
    target = replace(TARGET, contract_json=contract.to_json(), fingerprint=contract.fingerprint)
    plan = reconcile_featureset(inputs(spec=spec, contract=contract, target=target, status=finished))
    assert plan.status["fingerprint"] == contract.fingerprint != CONTRACT.fingerprint
    assert "latestSnapshot" not in plan.status and "snapshots" not in plan.status
    FeatureSetStatus.model_validate(plan.status)
    # the same when the references are missing in the pass that sees the new contract
    gone = {ref: Observed(exists=False, ready=False) for ref in references(spec)}
    missing = reconcile_featureset(
        inputs(spec=spec, contract=contract, target=None, status=finished, observed=gone)
    )
    assert "latestSnapshot" not in missing.status
