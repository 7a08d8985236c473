"""What `make demo` and `make down` run, through the installed `tradeplane` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from harness.argo import ArgoLua, health_script

from tradeplane.runtime.kubectl import kubectl, readyz

pytestmark = pytest.mark.e2e

TRADEPLANE = str(Path(sys.executable).parent / "tradeplane")


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRADEPLANE, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def _processes_under(root: Path) -> list[psutil.Process]:
    """Processes with ``root`` in their command line or working directory (the Python services)."""
    return [
        proc
        for proc in psutil.process_iter(["cmdline", "cwd"])
        if any(str(root) in part for part in [*(proc.info["cmdline"] or []), proc.info["cwd"] or ""])
    ]


def _ready_reasons(kubeconfig: Path) -> dict[str, tuple[str, str]]:
    listed = kubectl(["get", "tradeplane", "-A", "-o", "json"], kubeconfig)
    result = {}
    for item in json.loads(listed.stdout)["items"]:
        ready = next(c for c in item["status"]["conditions"] if c["type"] == "Ready")
        result[f"{item['kind']}/{item['metadata']['name']}"] = (ready["status"], ready["reason"])
    return result


def test_up_returns_with_everything_running_and_down_stops_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TRADEPLANE_KUBECONFIG", "DATABASE_URL")}
    env["TRADEPLANE_HOME"] = str(tmp_path)
    env["TRADEPLANE_VENUE_SIM_PORT"] = "0"  # never collide with a running `make demo` on 18080
    try:
        started = _run("up", env=env)
        assert started.returncode == 0, started.stdout + started.stderr
        kubeconfig = tmp_path / "cluster" / "kubeconfig"
        assert f"export KUBECONFIG={kubeconfig}" in started.stdout
        assert "DATABASE_URL=postgresql+asyncpg://" in started.stdout
        # `up` has returned: what it started keeps running on its own
        assert readyz(kubeconfig) == "ok"
        names = {proc.name() for proc in _processes_under(tmp_path)}
        assert {"etcd", "kube-apiserver", "postgres"} <= names and len(_processes_under(tmp_path)) >= 8
        status = _run("status", env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "unhealthy" not in status.stdout and "stopped" not in status.stdout
        assert "tradeplane-operator" in status.stdout and "venue-simulator" in status.stdout
        # the operator started the sample Instrument's ingestor: Ready once it holds its lease and
        # has fresh, gap-free bars; `kubectl get instruments` shows lag and gap counts
        ready = '--for=jsonpath={.status.conditions[?(@.type=="Ready")].reason}=Ingesting'
        wait = ["wait", "instruments/xaut-usdt", "-n", "default", ready, "--timeout=120s"]
        kubectl(wait, kubeconfig, timeout=150)
        listed_instruments = kubectl(["get", "instruments", "-A"], kubeconfig).stdout
        header, row = listed_instruments.splitlines()[:2]
        assert "LAG" in header and "GAPS" in header and "Open" in row
        # every sample was reconciled with an honest condition: the Venue synced with the simulator,
        # the FeatureSet has a snapshot built from the ingested bars, the RiskPolicy is active, the
        # others wait for planes that arrive later
        assert _ready_reasons(kubeconfig) == {
            "Venue/bingx-paper": ("True", "Synced"),
            "Instrument/xaut-usdt": ("True", "Ingesting"),
            "FeatureSet/gold-1m": ("True", "SnapshotReady"),
            "Model/gold-ppo": ("False", "WaitingForPlane"),
            "Rollout/gold-ppo": ("False", "WaitingForPlane"),
            "RiskPolicy/paper-gold": ("True", "Active"),
        }
        # the Argo CD health scripts on the real reconciled objects agree with the conditions
        argo = ArgoLua()
        listed = json.loads(kubectl(["get", "tradeplane", "-A", "-o", "json"], kubeconfig).stdout)["items"]
        health = {}
        for obj in listed:
            verdict, _message = argo.health(health_script(obj["kind"]), obj["kind"], obj)
            health[f"{obj['kind']}/{obj['metadata']['name']}"] = verdict
        assert health.pop("RiskPolicy/paper-gold") == "Healthy"
        assert health.pop("Venue/bingx-paper") == "Healthy"
        assert health.pop("Instrument/xaut-usdt") == "Healthy"
        assert health.pop("FeatureSet/gold-1m") == "Healthy"
        assert set(health.values()) == {"Progressing"}
        # the sample Instrument carries its metadata snapshot, shown by `kubectl get -o wide`
        wide = kubectl(["get", "instruments", "-A", "-o", "wide"], kubeconfig).stdout
        header, row = wide.splitlines()[:2]
        assert "SNAPSHOT" in header and "FINGERPRINT" in header and "sha256:" in row and "Fresh" in row
        # `up` waited for the sample FeatureSet's first snapshot: its contract fingerprint, the
        # snapshot's content hash and rows, and the Parquet file named by that hash
        featureset = json.loads(
            kubectl(["get", "featuresets", "gold-1m", "-n", "default", "-o", "json"], kubeconfig).stdout
        )["status"]
        latest = featureset["latestSnapshot"]
        assert featureset["fingerprint"].startswith("sha256:") and latest["rows"] > 0 and latest["gapFree"]
        assert featureset["build"]["mode"] == "production"
        assert (tmp_path / "datasets" / f"{latest['hash'].removeprefix('sha256:')}.parquet").is_file()
        wide = kubectl(["get", "featuresets", "-A", "-o", "wide"], kubeconfig).stdout
        header, row = wide.splitlines()[:2]
        assert "FINGERPRINT" in header and "SNAPSHOT" in header and "ROWS" in header
        assert featureset["fingerprint"] in row and latest["hash"] in row and f" {latest['rows']} " in row
        # kill switch, contract metadata, fees and margin tiers, the feature contract and its first
        # snapshot: every transition in a verified chain
        audit = _run("audit", "verify", env=env)
        assert audit.returncode == 0 and audit.stdout.startswith("OK ("), audit.stdout
        assert "in 4 chains)" in audit.stdout.splitlines()[0], audit.stdout
    finally:
        stopped = _run("down", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert "kube-apiserver" in stopped.stdout and "postgres" in stopped.stdout
    assert "tradeplane-operator" in stopped.stdout and "venue-simulator" in stopped.stdout
    assert _processes_under(tmp_path) == []
    assert _run("status", env=env).returncode == 1
