"""The Kubernetes driver against the workloads tier: real controllers, kwok-run pods."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from harness.cluster import ClusterHandle

from tradeplane.runtime.workloads import (
    Owner,
    SecretEnv,
    VolumeMount,
    WorkloadKind,
    WorkloadSpec,
    WorkloadStatus,
)
from tradeplane.runtime.workloads.kubernetes import FIELD_MANAGER, KubernetesDriver

pytestmark = [pytest.mark.integration, pytest.mark.workloads]

TIMEOUT = 90.0


@pytest.fixture
def driver(workloads_cluster: ClusterHandle) -> Iterator[KubernetesDriver]:
    kube = KubernetesDriver(workloads_cluster.kubeconfig)
    yield kube
    kube.close()


def wait_for(check: Callable[[], WorkloadStatus], until: Callable[[WorkloadStatus], bool]) -> WorkloadStatus:
    """Poll the driver's status until it holds, failing with the last status seen."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        status = check()
        if until(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {TIMEOUT}s; last status {status}")
        time.sleep(0.2)


def workload(namespace: str, name: str, kind: WorkloadKind, owner: Owner | None = None) -> WorkloadSpec:
    return WorkloadSpec(
        name=name,
        namespace=namespace,
        kind=kind,
        component="ingestor" if kind is WorkloadKind.SERVICE else "dataset-builder",
        command=("tradeplane", "ingest" if kind is WorkloadKind.SERVICE else "build-dataset"),
        args=("--instrument", "xaut-usdt"),
        env={"LOG_LEVEL": "info"},
        secret_env=(SecretEnv(env="BINGX_API_KEY", secret="bingx-paper", key="api-key"),),
        owner=owner,
    )


def get(cluster: ClusterHandle, namespace: str, *what: str) -> dict[str, Any]:
    return json.loads(cluster.kubectl("get", "-n", namespace, *what, "-o", "json").stdout)


def pods(cluster: ClusterHandle, namespace: str, instance: str) -> list[dict[str, Any]]:
    listed = get(cluster, namespace, "pods", "-l", f"app.kubernetes.io/instance={instance}")
    return listed["items"]


def test_service_reaches_a_running_pod_and_reports_ready(
    workloads_cluster: ClusterHandle, namespace: str, driver: KubernetesDriver
) -> None:
    spec = workload(namespace, "ingest", WorkloadKind.SERVICE)
    assert driver.status(spec) == WorkloadStatus(
        exists=False, message=f"Deployment {namespace}/ingest not found"
    )
    driver.apply(spec)
    workloads_cluster.kubectl(
        "wait", "-n", namespace, "deployment/ingest", "--for=condition=Available", f"--timeout={TIMEOUT:.0f}s"
    )
    workloads_cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "pod",
        "-l",
        "app.kubernetes.io/instance=ingest",
        "--for=jsonpath={.status.phase}=Running",
        f"--timeout={TIMEOUT:.0f}s",
    )
    status = wait_for(lambda: driver.status(spec), lambda s: s.ready)
    assert status.exists and status.running and not status.failed and not status.succeeded
    assert status.restarts == 0
    assert status.message == "1/1 replicas available"


def test_job_completes_and_reports_succeeded(
    workloads_cluster: ClusterHandle, namespace: str, driver: KubernetesDriver
) -> None:
    spec = workload(namespace, "dataset", WorkloadKind.JOB)
    driver.apply(spec)
    workloads_cluster.kubectl(
        "wait", "-n", namespace, "job/dataset", "--for=condition=Complete", f"--timeout={TIMEOUT:.0f}s"
    )
    status = wait_for(lambda: driver.status(spec), lambda s: s.succeeded)
    assert status.exists and not status.failed and not status.running
    assert status.message == "completed"


@pytest.mark.parametrize(
    ("kind", "resource"), [(WorkloadKind.SERVICE, "deployment"), (WorkloadKind.JOB, "job")]
)
def test_apply_twice_changes_nothing(
    workloads_cluster: ClusterHandle,
    namespace: str,
    driver: KubernetesDriver,
    kind: WorkloadKind,
    resource: str,
) -> None:
    spec = workload(namespace, "twice", kind)
    driver.apply(spec)
    wait_for(lambda: driver.status(spec), lambda s: s.ready if kind is WorkloadKind.SERVICE else s.succeeded)
    before = get(workloads_cluster, namespace, f"{resource}/twice")
    driver.apply(spec)
    after = get(workloads_cluster, namespace, f"{resource}/twice", "--show-managed-fields")
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    managers = {entry["manager"] for entry in after["metadata"]["managedFields"]}
    assert FIELD_MANAGER in managers


def test_changed_spec_is_applied_in_place(
    workloads_cluster: ClusterHandle, namespace: str, driver: KubernetesDriver
) -> None:
    spec = workload(namespace, "change", WorkloadKind.SERVICE)
    driver.apply(spec)
    changed = spec.model_copy(update={"env": {"LOG_LEVEL": "debug"}})
    driver.apply(changed)
    deployment = get(workloads_cluster, namespace, "deployment/change")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "LOG_LEVEL", "value": "debug"} in env
    wait_for(lambda: driver.status(changed), lambda s: s.ready)


def test_deleting_the_owner_garbage_collects_the_children(
    workloads_cluster: ClusterHandle, namespace: str, driver: KubernetesDriver
) -> None:
    workloads_cluster.kubectl("create", "configmap", "owner", "-n", namespace, "--from-literal=a=b")
    owner_object = get(workloads_cluster, namespace, "configmap/owner")
    owner = Owner(api_version="v1", kind="ConfigMap", name="owner", uid=owner_object["metadata"]["uid"])
    service = workload(namespace, "owned-svc", WorkloadKind.SERVICE, owner)
    job = workload(namespace, "owned-job", WorkloadKind.JOB, owner)
    driver.apply(service)
    driver.apply(job)
    wait_for(lambda: driver.status(service), lambda s: s.ready)
    wait_for(lambda: driver.status(job), lambda s: s.succeeded)
    refs = get(workloads_cluster, namespace, "deployment/owned-svc")["metadata"]["ownerReferences"]
    assert refs == [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "owner",
            "uid": owner.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]

    workloads_cluster.kubectl("delete", "configmap", "owner", "-n", namespace)
    workloads_cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "deployment/owned-svc",
        "job/owned-job",
        "--for=delete",
        f"--timeout={TIMEOUT:.0f}s",
    )
    workloads_cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "pod",
        "-l",
        "app.kubernetes.io/part-of=tradeplane",
        "--for=delete",
        f"--timeout={TIMEOUT:.0f}s",
    )
    assert not driver.status(service).exists
    assert not driver.status(job).exists


def test_stored_pod_has_the_security_context(
    workloads_cluster: ClusterHandle, namespace: str, driver: KubernetesDriver
) -> None:
    spec = workload(namespace, "secure", WorkloadKind.SERVICE)
    driver.apply(spec)
    wait_for(lambda: driver.status(spec), lambda s: s.ready)
    (pod,) = pods(workloads_cluster, namespace, "secure")
    pod_spec = pod["spec"]
    assert pod_spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod_spec["containers"]
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod_spec["automountServiceAccountToken"] is False
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    secret_env = next(e for e in container["env"] if e["name"] == "BINGX_API_KEY")
    assert secret_env == {
        "name": "BINGX_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "bingx-paper", "key": "api-key"}},
    }
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tradeplane"


def test_job_with_a_claim_is_accepted_as_built(
    workloads_cluster: ClusterHandle, namespace: str, driver: KubernetesDriver
) -> None:
    """The API server validates the claim volume and mount; whether a pod starts depends on the
    cluster's storage (a claim may stay Pending without a provisioner), so it is not awaited."""
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "datasets"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    driver.core.create_namespaced_persistent_volume_claim(namespace, claim)
    mount = VolumeMount(name="datasets", claim_name="datasets", mount_path="/var/lib/tradeplane/datasets")
    plain = workload(namespace, "durable", WorkloadKind.JOB)
    spec = WorkloadSpec.model_validate({**plain.model_dump(), "volumes": (mount,)})
    driver.apply(spec)
    pod_spec = get(workloads_cluster, namespace, "job/durable")["spec"]["template"]["spec"]
    assert {"name": "datasets", "persistentVolumeClaim": {"claimName": "datasets"}} in pod_spec["volumes"]
    (container,) = pod_spec["containers"]
    assert {"name": "datasets", "mountPath": "/var/lib/tradeplane/datasets"} in container["volumeMounts"]
    assert driver.status(spec).exists


@pytest.mark.parametrize("kind", [WorkloadKind.SERVICE, WorkloadKind.JOB])
def test_delete_removes_the_workload_and_is_idempotent(
    workloads_cluster: ClusterHandle, namespace: str, driver: KubernetesDriver, kind: WorkloadKind
) -> None:
    spec = workload(namespace, "gone", kind)
    driver.apply(spec)
    wait_for(lambda: driver.status(spec), lambda s: s.ready if kind is WorkloadKind.SERVICE else s.succeeded)
    driver.delete(spec.ref)
    resource = "deployment/gone" if kind is WorkloadKind.SERVICE else "job/gone"
    workloads_cluster.kubectl("wait", "-n", namespace, resource, "--for=delete", f"--timeout={TIMEOUT:.0f}s")
    driver.delete(spec.ref)
    assert not driver.status(spec).exists
