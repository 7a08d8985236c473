"""`tradeplane cluster ...` as a user types it (in-process, against real components)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness.cluster import ClusterHandle
from typer.testing import CliRunner

from tradeplane.cli import app
from tradeplane.embedded.components import allocate_ports

pytestmark = pytest.mark.integration


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRADEPLANE_HOME", str(tmp_path))
    monkeypatch.delenv("TRADEPLANE_KUBECONFIG", raising=False)
    return tmp_path


def test_up_status_down(runner: CliRunner, home: Path) -> None:
    try:
        started = runner.invoke(app, ["cluster", "up"])
        assert started.exit_code == 0, started.output
        kubeconfig = home / "cluster" / "kubeconfig"
        assert f"export KUBECONFIG={kubeconfig}" in started.output
        assert "kube-apiserver" in started.output and "healthy" in started.output

        status = runner.invoke(app, ["cluster", "status"])
        assert status.exit_code == 0, status.output
        assert "etcd" in status.output and "stopped" not in status.output

        printed = runner.invoke(app, ["cluster", "kubeconfig"])
        assert printed.output.strip() == f"export KUBECONFIG={kubeconfig}"
    finally:
        stopped = runner.invoke(app, ["cluster", "down"])
    assert stopped.exit_code == 0
    assert "stopped: etcd, kube-apiserver" in stopped.output
    assert not (home / "cluster").exists()

    after = runner.invoke(app, ["cluster", "status"])
    assert after.exit_code == 1
    assert "no local control plane is running" in after.output
    assert "no local control plane was running" in runner.invoke(app, ["cluster", "down"]).output


def test_existing_cluster_is_used_and_never_stopped(
    runner: CliRunner, home: Path, cluster: ClusterHandle
) -> None:
    option = ["--kubeconfig", str(cluster.kubeconfig)]
    for command in ("up", "status"):
        result = runner.invoke(app, ["cluster", command, *option])
        assert result.exit_code == 0, result.output
        assert "/readyz: ok" in result.output
    down = runner.invoke(app, ["cluster", "down", *option])
    assert "never stops clusters it did not start" in down.output
    assert cluster.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    assert not (home / "cluster").exists()


def test_existing_cluster_from_the_environment(
    runner: CliRunner, home: Path, cluster: ClusterHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEPLANE_KUBECONFIG", str(cluster.kubeconfig))
    result = runner.invoke(app, ["cluster", "status"])
    assert result.exit_code == 0, result.output
    assert str(cluster.kubeconfig) in result.output.replace("\n", "")


def test_unreachable_existing_cluster_fails_status(
    runner: CliRunner, home: Path, cluster: ClusterHandle
) -> None:
    nobody = allocate_ports(["nobody"])["nobody"]  # free now: nothing listens there
    dead = home / "dead-kubeconfig"
    dead.write_text(
        re.sub(
            r"server: https://127.0.0.1:\d+",
            f"server: https://127.0.0.1:{nobody}",
            cluster.kubeconfig.read_text(),
        )
    )
    result = runner.invoke(app, ["cluster", "status", "--kubeconfig", str(dead)])
    assert result.exit_code == 1


def test_missing_kubeconfig_is_a_clear_error(runner: CliRunner, home: Path) -> None:
    result = runner.invoke(app, ["cluster", "up", "--kubeconfig", str(home / "nope")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_build_reports_each_cached_bundle(runner: CliRunner) -> None:
    result = runner.invoke(app, ["cluster", "build"])
    assert result.exit_code == 0, result.output
    for name in ("etcd v3.6.8", "kubernetes v1.36.4", "kwok v0.8.0"):
        assert name in result.output


def test_version(runner: CliRunner) -> None:
    assert runner.invoke(app, ["version"]).output.strip() == "0.1.0"
