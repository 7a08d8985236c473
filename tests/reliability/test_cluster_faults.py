"""Faults around the local control plane: a killed component, concurrent starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tradeplane.embedded.cluster import LocalCluster
from tradeplane.runtime.kubectl import readyz

pytestmark = pytest.mark.reliability


def test_a_killed_apiserver_is_reported_and_up_replaces_the_cluster(tmp_path: Path) -> None:
    local = LocalCluster(tmp_path / "cluster", report=lambda _m: None)
    try:
        first = local.up()
        apiserver = first.processes["kube-apiserver"]
        os.kill(apiserver.pid, signal.SIGKILL)
        psutil.Process(apiserver.pid).wait(timeout=30)

        rows = {row.name: row for row in local.status()}
        assert rows["kube-apiserver"].running is False
        assert rows["kube-apiserver"].healthy is False
        assert rows["etcd"].healthy is True

        second = local.up()
        assert second.processes["kube-apiserver"].pid != apiserver.pid
        assert not psutil.pid_exists(first.processes["etcd"].pid)  # the old plane is gone, not leaked
        assert readyz(local.kubeconfig) == "ok"
    finally:
        local.down()


def test_concurrent_ups_start_one_cluster(tmp_path: Path) -> None:
    env = {**os.environ, "TRADEPLANE_HOME": str(tmp_path)}
    env.pop("TRADEPLANE_KUBECONFIG", None)
    script = "from tradeplane.embedded.cluster import LocalCluster; LocalCluster(report=lambda m: None).up()"
    starters = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for starter in starters:
            _, err = starter.communicate(timeout=180)
            assert starter.returncode == 0, err
        etcds = [
            p
            for p in psutil.process_iter(["cmdline"])
            if p.info["cmdline"]
            and p.info["cmdline"][0].endswith("/etcd")
            and str(tmp_path) in " ".join(p.info["cmdline"])
        ]
        assert len(etcds) == 1
        assert readyz(tmp_path / "cluster" / "kubeconfig") == "ok"
    finally:
        LocalCluster(tmp_path / "cluster", report=lambda _m: None).down()
