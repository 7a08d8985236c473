"""FeatureSet's dataset build lifecycle obeys the state-machine laws for any build record and observation."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from harness.statemachine import assert_machine_laws, table_edges
from hypothesis import strategies as st
from unit.featureset.builders import CONTRACT, SPEC, T0, TARGET

from tradeplane.crds.featureset import BuildStatus, FeatureSetStatus
from tradeplane.reconcilers.dataset_build import (
    BUILD_MACHINE,
    BuildObserved,
    BuildSpec,
    JobObservation,
    SnapshotRecord,
)
from tradeplane.reconcilers.statemachine import IllegalTransition, Transition
from tradeplane.runtime.workloads.spec import WorkloadStatus

pytestmark = pytest.mark.unit

OTHER = "sha256:" + "cd" * 32
"""Another contract's fingerprint (a normalisation edit)."""
JOBS = ["dataset-gold-1m-0a0a0a0a", "dataset-gold-1m-1b1b1b1b"]
NAME = "gold-1m"


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _spec(schedule: str | None, fingerprint: str) -> BuildSpec:
    snapshot = SPEC.snapshot.model_copy(update={"schedule": schedule})
    return BuildSpec(NAME, SPEC.model_copy(update={"snapshot": snapshot}), fingerprint)


def _build(started: int, finished: int | None, **fields: object) -> BuildStatus:
    return BuildStatus.model_validate(
        {
            "range_start": _at(started - 24 * 60),
            "range_end": _at(started - 1),
            "started_time": _at(started),
            "finished_time": _at(started + finished) if finished is not None else None,
            **fields,
        }
    )


BUILDS = st.builds(
    _build,
    started=st.integers(-3000, 0),
    finished=st.one_of(st.none(), st.integers(0, 30)),
    job=st.sampled_from(JOBS),
    trigger=st.sampled_from(["Initial", "Requested", "Scheduled", "Retry"]),
    request=st.sampled_from([None, "r1"]),
    phase=st.sampled_from(["Running", "Succeeded", "Failed"]),
    fingerprint=st.sampled_from([None, CONTRACT.fingerprint, OTHER]),
    message=st.sampled_from([None, "completed", "dataset incomplete"]),
)
STATUSES = st.builds(FeatureSetStatus, build=st.one_of(st.none(), BUILDS))
SPECS = st.builds(_spec, st.sampled_from([None, "5m", "24h"]), st.sampled_from([CONTRACT.fingerprint, OTHER]))
JOB_STATES = st.sampled_from(
    [
        WorkloadStatus(exists=True, running=True),
        WorkloadStatus(exists=True, succeeded=True),
        WorkloadStatus(exists=True, failed=True, message="exited with code 2"),
        WorkloadStatus(exists=False),
    ]
)


def _snapshot(created: int) -> SnapshotRecord:
    return SnapshotRecord(
        hash="sha256:" + "ab" * 32,
        rows=1380,
        start=_at(created - 1440),
        end=_at(created),
        created=_at(created),
    )


SNAPSHOTS = st.builds(_snapshot, st.integers(-3000, 3000))
OBSERVATIONS = st.builds(
    BuildObserved,
    target=st.sampled_from([None, TARGET, replace(TARGET, fingerprint=OTHER)]),
    snapshot=st.one_of(st.none(), SNAPSHOTS),
    job=st.one_of(st.none(), st.builds(JobObservation, JOB_STATES, st.sampled_from([None, "gaps"]))),
    job_name=st.sampled_from([None, *JOBS]),
    requested=st.sampled_from([None, "r1", "r2"]),
)
TIMES = st.integers(0, 3000).map(_at)


def test_the_build_lifecycle_obeys_the_state_machine_laws_on_every_edge() -> None:
    reached = assert_machine_laws(
        BUILD_MACHINE,
        specs=SPECS,
        statuses=STATUSES,
        observations=OBSERVATIONS,
        times=TIMES,
        max_examples=600,
    )
    assert reached == table_edges(BUILD_MACHINE)


def test_a_finished_build_and_the_next_one_already_due_are_two_audited_moves_in_one_pass() -> None:
    running = FeatureSetStatus(build=_build(-10, None, job=JOBS[0], trigger="Initial", request=None))
    done = JobObservation(WorkloadStatus(exists=True, succeeded=True))
    observed = BuildObserved(TARGET, None, done, JOBS[0], requested="r1")
    step = BUILD_MACHINE.run(_spec(None, CONTRACT.fingerprint), running, observed, T0)
    assert step.status.build is not None and step.status.build.trigger == "Requested"
    assert step.status.build.phase == "Running" and step.status.build.job != JOBS[0]
    assert [(a.from_state, a.to_state, a.reason) for a in step.audit] == [
        ("build:Running", "build:Succeeded", "BuildSucceeded"),
        ("build:Succeeded", "build:Running", "BuildStarted"),
    ]
    assert step.audit[1].evidence == {"contract": CONTRACT.fingerprint.removeprefix("sha256:")}


def test_a_job_observed_under_another_name_does_not_end_the_build() -> None:
    running = FeatureSetStatus(build=_build(-10, None, job=JOBS[1], trigger="Initial"))
    done = JobObservation(WorkloadStatus(exists=True, succeeded=True))
    observed = BuildObserved(TARGET, None, done, JOBS[0], requested=None)
    assert BUILD_MACHINE.decide(_spec(None, CONTRACT.fingerprint), running, observed, T0) is None


def test_ending_a_build_that_was_never_started_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="no state"):
        BUILD_MACHINE.apply(FeatureSetStatus(), Transition("Succeeded", "BuildSucceeded", "completed"), T0)
