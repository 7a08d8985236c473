"""The real control plane for the whole test session, and per-test namespaces.

One local cluster per session (the workloads tier is added the first time a test asks for it).
With ``TRADEPLANE_KUBECONFIG`` set, the tests use that existing cluster instead. Failures to
start are errors, never skips: the real-cluster tests must run in CI.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.scratch import scratch_service
from tradeplane.embedded.cluster import LocalCluster
from tradeplane.runtime.kubectl import external_kubeconfig, kubectl


@dataclass
class ClusterHandle:
    kubeconfig: Path
    local: LocalCluster | None

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        return kubectl(list(args), self.kubeconfig, timeout=timeout, check=check)

    def ensure_workloads(self) -> None:
        if self.local is not None:
            self.local.up(workloads=True)


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterHandle]:
    existing = external_kubeconfig()
    if existing is not None:
        yield ClusterHandle(existing, None)
        return
    with scratch_service(
        "tradeplane-cluster-",
        lambda root: LocalCluster(root / "cluster", report=lambda _m: None),
        LocalCluster.down,
    ) as local:
        local.up(workloads=False)
        yield ClusterHandle(local.kubeconfig, local)


@pytest.fixture(scope="session")
def workloads_cluster(cluster: ClusterHandle) -> ClusterHandle:
    cluster.ensure_workloads()
    return cluster


@pytest.fixture
def namespace(cluster: ClusterHandle) -> Iterator[str]:
    """A fresh namespace per test, so tests never see each other's objects."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
