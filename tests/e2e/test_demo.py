"""What `make demo` and `make down` run, through the installed `tradeplane` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tradeplane.embedded.kubectl import readyz

pytestmark = pytest.mark.e2e

TRADEPLANE = str(Path(sys.executable).parent / "tradeplane")


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRADEPLANE, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def _processes_under(root: Path) -> list[psutil.Process]:
    return [
        proc
        for proc in psutil.process_iter(["cmdline"])
        if any(str(root) in part for part in proc.info["cmdline"] or [])
    ]


def test_up_returns_with_everything_running_and_down_stops_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TRADEPLANE_KUBECONFIG", "DATABASE_URL")}
    env["TRADEPLANE_HOME"] = str(tmp_path)
    try:
        started = _run("up", env=env)
        assert started.returncode == 0, started.stdout + started.stderr
        kubeconfig = tmp_path / "cluster" / "kubeconfig"
        assert f"export KUBECONFIG={kubeconfig}" in started.stdout
        assert "DATABASE_URL=postgresql+asyncpg://" in started.stdout
        # `up` has returned: what it started keeps running on its own
        assert readyz(kubeconfig) == "ok"
        assert len(_processes_under(tmp_path)) >= 6
        status = _run("status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "unhealthy" not in status.stdout and "stopped" not in status.stdout
    finally:
        stopped = _run("down", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert "kube-apiserver" in stopped.stdout and "postgres" in stopped.stdout
    assert _processes_under(tmp_path) == []
    assert _run("status", env=env).returncode == 1
