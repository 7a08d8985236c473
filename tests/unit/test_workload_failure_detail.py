"""A failed Job's own words, whichever driver ran it: the local child's log, or the pod's
termination message (falling back to the Job's Failed condition). Unit-level for Kubernetes
because kwok completes every pod: a Job never fails there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tradeplane.runtime.workloads.kubernetes import KubernetesDriver, build_job
from tradeplane.runtime.workloads.local import LocalProcessDriver
from tradeplane.runtime.workloads.spec import WorkloadKind, WorkloadSpec

pytestmark = pytest.mark.unit

JOB = WorkloadSpec(
    name="build-1", namespace="ns", kind=WorkloadKind.JOB, component="dataset-builder", command=("x",)
)
VERDICT = "dataset incomplete (1 problem(s)):\n  - klines/1m: 3 missing\n"


class Batch:
    def __init__(self, failed: bool) -> None:
        condition = client.V1JobCondition(type="Failed", status="True", reason="BackoffLimitExceeded")
        condition.message = "Job has reached the specified backoff limit"
        self.job = client.V1Job(status=client.V1JobStatus(conditions=[condition] if failed else []))

    def read_namespaced_job(self, name: str, namespace: str) -> client.V1Job:
        return self.job


class Core:
    def __init__(self, messages: list[str | None]) -> None:
        self.messages = messages

    def list_namespaced_pod(self, namespace: str, label_selector: str) -> Any:
        pods = []
        for index, message in enumerate(self.messages):
            terminated = client.V1ContainerStateTerminated(exit_code=2, message=message)
            status = client.V1ContainerStatus(
                name="c", image="i", image_id="", ready=False, restart_count=0,
                state=client.V1ContainerState(terminated=terminated),
            )  # fmt: skip
            metadata = client.V1ObjectMeta(name=f"p{index}", creation_timestamp=f"2026-11-01T00:00:0{index}Z")
            pods.append(
                client.V1Pod(metadata=metadata, status=client.V1PodStatus(container_statuses=[status]))
            )
        return client.V1PodList(items=pods)


def driver(batch: Batch, core: Core) -> KubernetesDriver:
    cluster = KubernetesDriver(api_client=client.ApiClient())
    cluster.batch, cluster.core = batch, core  # type: ignore[assignment]
    return cluster


def test_the_newest_failed_pods_termination_message_is_the_detail() -> None:
    cluster = driver(Batch(failed=True), Core(["build-dataset failed: older", VERDICT]))
    assert cluster.failure_detail(JOB) == "dataset incomplete (1 problem(s)): - klines/1m: 3 missing"


def test_without_a_message_the_jobs_failed_condition_is_the_detail() -> None:
    cluster = driver(Batch(failed=True), Core([None]))
    assert cluster.failure_detail(JOB) == "BackoffLimitExceeded: Job has reached the specified backoff limit"
    assert driver(Batch(failed=False), Core([])).failure_detail(JOB) is None


def test_pods_put_their_log_tail_in_the_termination_message() -> None:
    container = build_job(JOB)["spec"]["template"]["spec"]["containers"][0]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_the_local_driver_reads_the_verdict_from_the_childs_log(tmp_path: Path) -> None:
    with LocalProcessDriver(state_root=tmp_path) as local:
        assert local.failure_detail(JOB) is None  # no log yet
        local.log_path(JOB).parent.mkdir(parents=True)
        local.log_path(JOB).write_text(f"[tradeplane] start #0\n{VERDICT}[tradeplane] exited with code 2\n")
        assert local.failure_detail(JOB) == "dataset incomplete (1 problem(s)): - klines/1m: 3 missing"
        assert not local.runs_in_pods and local.owns_cleanup


def test_a_driver_closes_only_an_api_client_it_created(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[client.ApiClient] = []

    def close(api: client.ApiClient) -> None:
        closed.append(api)

    monkeypatch.setattr(client.ApiClient, "close", close)
    shared = client.ApiClient()
    cluster = KubernetesDriver(api_client=shared)
    assert cluster.runs_in_pods and not cluster.owns_cleanup
    cluster.close()
    assert closed == [], "the operator's shared client stays open for its other callers"
    monkeypatch.setattr(
        "tradeplane.runtime.workloads.kubernetes.kube_api_client", lambda _path: client.ApiClient()
    )
    owned = KubernetesDriver()
    owned.close()
    assert closed == [owned.api_client]
