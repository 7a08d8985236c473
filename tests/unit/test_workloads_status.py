"""How Deployment and Job objects, as the API returns them, become a WorkloadStatus.

Failures are covered here rather than against the cluster because kwok completes every pod:
a Job never fails and a Deployment never stalls under the workloads tier.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tradeplane.runtime.workloads import WorkloadStatus
from tradeplane.runtime.workloads.kubernetes import deployment_status, job_status

pytestmark = pytest.mark.unit


def deployment(generation: int = 2, **status: Any) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="d", generation=generation),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"a": "b"}),
            template=client.V1PodTemplateSpec(),
        ),
        status=client.V1DeploymentStatus(**status) if status else None,
    )


def condition(kind: str, status: str = "True", reason: str = "R", message: str = "m") -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def test_available_deployment_is_ready() -> None:
    observed = deployment(
        observed_generation=2, available_replicas=1, updated_replicas=1, ready_replicas=1, replicas=1
    )
    assert deployment_status(observed, restarts=2) == WorkloadStatus(
        exists=True, ready=True, running=True, restarts=2, message="1/1 replicas available"
    )


def test_stale_generation_is_not_ready() -> None:
    stale = deployment(observed_generation=1, available_replicas=1, updated_replicas=1, ready_replicas=1)
    status = deployment_status(stale, restarts=0)
    assert not status.ready and status.running
    assert status.message == "1/1 replicas available, waiting"


def test_new_deployment_without_status_waits() -> None:
    assert deployment_status(deployment(), restarts=0) == WorkloadStatus(
        exists=True, message="0/1 replicas available, waiting"
    )


def test_progress_deadline_is_failure() -> None:
    stuck = deployment(
        observed_generation=2,
        conditions=[
            client.V1DeploymentCondition(
                **condition("Progressing", "False", "ProgressDeadlineExceeded", "too slow")
            )
        ],
    )
    status = deployment_status(stuck, restarts=0)
    assert status.failed and not status.ready
    assert status.message == "ProgressDeadlineExceeded: too slow"


def test_replica_failure_is_failure() -> None:
    quota = deployment(
        observed_generation=2,
        conditions=[client.V1DeploymentCondition(**condition("ReplicaFailure", reason="FailedCreate"))],
    )
    assert deployment_status(quota, restarts=0).message == "FailedCreate: m"


def job(**status: Any) -> client.V1Job:
    return client.V1Job(metadata=client.V1ObjectMeta(name="j"), status=client.V1JobStatus(**status))


def test_completed_job_succeeded() -> None:
    done = job(succeeded=1, conditions=[client.V1JobCondition(**condition("Complete"))])
    assert job_status(done, restarts=0) == WorkloadStatus(exists=True, succeeded=True, message="completed")


def test_failed_job_counts_retries() -> None:
    failed = job(
        failed=4,
        conditions=[client.V1JobCondition(**condition("Failed", reason="BackoffLimitExceeded"))],
    )
    status = job_status(failed, restarts=1)
    assert status.failed and not status.succeeded
    assert status.restarts == 5
    assert status.message == "BackoffLimitExceeded: m"


def test_running_job() -> None:
    running = job(active=1, ready=1, conditions=[client.V1JobCondition(**condition("Complete", "False"))])
    assert job_status(running, restarts=0) == WorkloadStatus(
        exists=True, ready=True, running=True, message="1 active, 0 failed"
    )
