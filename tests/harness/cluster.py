"""The real control plane for the whole test session, and per-test namespaces.

One local cluster per session (the workloads tier is added the first time a test asks for it).
With ``TRADEPLANE_KUBECONFIG`` set, the tests use that existing cluster instead. Failures to
start are errors, never skips: the real-cluster tests must run in CI.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tradeplane.embedded.cluster import LocalCluster
from tradeplane.embedded.kubectl import external_kubeconfig, kubectl


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
    root = Path(tempfile.mkdtemp(prefix="tradeplane-cluster-"))
    local = LocalCluster(root / "cluster", report=lambda _message: None)

    def stop() -> None:
        local.down()
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    local.up(workloads=False)
    yield ClusterHandle(local.kubeconfig, local)
    stop()
    atexit.unregister(stop)


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
