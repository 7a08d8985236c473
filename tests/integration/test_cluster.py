"""The local control plane as a user meets it: kubectl against a real apiserver, etcd and controllers."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import psutil
import pytest
from harness.cluster import ClusterHandle

from tradeplane.embedded import binaries, components
from tradeplane.embedded.cluster import LocalCluster, PortConflict, classify_failure
from tradeplane.embedded.components import Layout
from tradeplane.runtime.host.processes import ComponentFailed, spawn, wait_until

pytestmark = pytest.mark.integration


def test_core_plane_serves_kubectl(cluster: ClusterHandle) -> None:
    assert cluster.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    namespaces = json.loads(cluster.kubectl("get", "ns", "-o", "json").stdout)
    assert {"default", "kube-system"} <= {item["metadata"]["name"] for item in namespaces["items"]}
    resources = cluster.kubectl("api-resources", "-o", "name").stdout.split()
    assert {"deployments.apps", "jobs.batch", "customresourcedefinitions.apiextensions.k8s.io"} <= set(
        resources
    )


def test_version_is_the_pinned_release(cluster: ClusterHandle) -> None:
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == "v1.36.4"
    assert version["clientVersion"]["minor"] == version["serverVersion"]["minor"]


def test_every_component_listens_on_loopback_only(cluster: ClusterHandle) -> None:
    assert cluster.local is not None
    state = cluster.local.load()
    assert state is not None
    pids = {record.pid for record in state.processes.values()}
    listening = [
        conn
        for conn in psutil.net_connections(kind="tcp")
        if conn.pid in pids and conn.status == psutil.CONN_LISTEN
    ]
    assert listening, "the control plane should be listening"
    assert {conn.laddr.ip for conn in listening} == {"127.0.0.1"}


@pytest.mark.workloads
def test_deployment_reaches_a_running_pod(workloads_cluster: ClusterHandle, namespace: str) -> None:
    k = workloads_cluster.kubectl
    k("-n", namespace, "create", "deployment", "web", "--image=registry.invalid/web:1", "--replicas=2")
    k("-n", namespace, "wait", "--for=condition=Available", "deployment/web", "--timeout=90s")
    pods = json.loads(k("-n", namespace, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    assert len(pods) == 2
    assert {pod["status"]["phase"] for pod in pods} == {"Running"}
    assert {pod["spec"]["nodeName"] for pod in pods} == {components.FAKE_NODE}


@pytest.mark.workloads
def test_job_completes(workloads_cluster: ClusterHandle, namespace: str) -> None:
    k = workloads_cluster.kubectl
    k("-n", namespace, "create", "job", "once", "--image=registry.invalid/job:1", "--", "true")
    k("-n", namespace, "wait", "--for=condition=Complete", "job/once", "--timeout=90s")
    job = json.loads(k("-n", namespace, "get", "job", "once", "-o", "json").stdout)
    assert job["status"]["succeeded"] == 1


@pytest.mark.workloads
def test_deleting_an_owner_garbage_collects_its_children(
    workloads_cluster: ClusterHandle, namespace: str
) -> None:
    k = workloads_cluster.kubectl
    k("-n", namespace, "create", "deployment", "owner", "--image=registry.invalid/web:1")
    k("-n", namespace, "wait", "--for=condition=Available", "deployment/owner", "--timeout=90s")
    replicasets = k("-n", namespace, "get", "rs", "-l", "app=owner", "-o", "name").stdout.split()
    assert len(replicasets) == 1
    k("-n", namespace, "delete", "deployment", "owner", "--cascade=background")
    # `kubectl wait --for=delete` watches; the garbage collector must remove both generations.
    k("-n", namespace, "wait", "--for=delete", replicasets[0], "--timeout=90s")
    k("-n", namespace, "wait", "--for=delete", "pod", "-l", "app=owner", "--timeout=90s")
    assert k("-n", namespace, "get", "rs,pods", "-l", "app=owner", "-o", "name").stdout.strip() == ""


@pytest.mark.workloads
def test_namespace_deletion_completes(workloads_cluster: ClusterHandle) -> None:
    k = workloads_cluster.kubectl
    k("create", "namespace", "doomed")
    k("-n", "doomed", "create", "configmap", "x", "--from-literal=a=b")
    k("delete", "namespace", "doomed", "--timeout=90s")
    assert k("get", "namespace", "doomed", check=False).returncode != 0


@pytest.mark.workloads
def test_second_up_reuses_the_running_cluster(workloads_cluster: ClusterHandle) -> None:
    assert workloads_cluster.local is not None
    before = workloads_cluster.local.load()
    workloads_cluster.local.up(workloads=True)
    after = workloads_cluster.local.load()
    assert before is not None and after is not None
    assert {n: r.pid for n, r in before.processes.items()} == {n: r.pid for n, r in after.processes.items()}


def _our_processes(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_down_leaves_no_process_behind(tmp_path: Path) -> None:
    root = tmp_path / "cluster"
    local = LocalCluster(root, report=lambda _m: None)
    state = local.up(workloads=True)
    pids = [record.pid for record in state.processes.values()]
    assert len(pids) == 5
    assert all(psutil.pid_exists(pid) for pid in pids)
    stopped = local.down()
    assert sorted(stopped) == sorted(state.processes)
    assert not [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert _our_processes(str(root)) == []
    assert not root.exists()
    assert local.down() == []


def test_taken_preferred_port_falls_back_to_a_free_one() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = components.allocate_ports(components.PORT_NAMES, preferred={"kube-apiserver": taken})
    assert ports["kube-apiserver"] != taken
    assert len(set(ports.values())) == len(components.PORT_NAMES)


def test_a_component_that_dies_during_up_reports_its_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # etcd reads ETCD_* variables as flags, so this makes the real etcd refuse to start.
    monkeypatch.setenv("ETCD_SNAPSHOT_COUNT", "lots")
    root = tmp_path / "cluster"
    local = LocalCluster(root, report=lambda _m: None)
    with pytest.raises(ComponentFailed) as failure:
        local.up(timeout=30)
    message = str(failure.value)
    assert "etcd exited before it was healthy" in message
    assert "for ETCD_SNAPSHOT_COUNT: parse error" in message
    assert _our_processes(str(root)) == []


def test_port_conflict_is_recognised_from_the_component_log(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    etcd = binaries.ensure(binaries.ETCD)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        ports = {"etcd": squatter.getsockname()[1], **components.allocate_ports(["etcd-peer"])}
        record = spawn("etcd", components.etcd_argv(etcd, layout, ports), layout.log("etcd"))
        with pytest.raises(ComponentFailed) as failure:
            wait_until(lambda: False, record, timeout=30, what="healthy")
    assert isinstance(classify_failure(failure.value), PortConflict)
    assert not isinstance(classify_failure(ComponentFailed("etcd exited: disk full")), PortConflict)
