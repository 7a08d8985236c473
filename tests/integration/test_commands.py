"""halt / resume / promote / abort survive a GitOps re-apply and name the real actor."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from harness.cluster import ClusterHandle
from harness.crds import create_all, get_object
from harness.operator import Operator, wait_for
from harness.postgres import fetch
from integration.crd_examples import example
from typer.testing import CliRunner

from tradeplane.cli import app
from tradeplane.crds.annotations import LAST_COMMAND

pytestmark = pytest.mark.integration


def _gitops_apply(cluster: ClusterHandle, namespace: str, tmp_path: Path, obj: dict[str, Any]) -> None:
    manifest = tmp_path / f"{obj['kind']}.json"
    manifest.write_text(json.dumps(obj))
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=argocd-controller",
                    "-n", namespace, "-f", str(manifest))  # fmt: skip


def _invoke(cluster: ClusterHandle, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--kubeconfig", str(cluster.kubeconfig)])
    assert result.exit_code == 0, result.output
    return result.output


def test_abort_and_promote_live_in_status_and_survive_a_reapply(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    rollout = example("Rollout")
    name = rollout["metadata"]["name"]
    create_all(crds_installed, namespace, tmp_path, [rollout])

    output = _invoke(crds_installed, "abort", name, "-n", namespace, "--reason", "bad fills")
    assert "abort requested by admin" in output
    _invoke(crds_installed, "promote", name, "-n", namespace, "--full")
    _gitops_apply(crds_installed, namespace, tmp_path, rollout)

    after = get_object(crds_installed, namespace, "Rollout", name)
    assert after["status"]["abort"] is True
    assert after["status"]["promoteFull"] is True
    note = json.loads(after["metadata"]["annotations"][LAST_COMMAND])
    assert (note["command"], note["actor"]) == ("promote-full", "admin")
    assert after["spec"] == get_object(crds_installed, namespace, "Rollout", name)["spec"]


def test_halt_via_the_kubectl_plugin_is_audited_with_the_actor(
    operator: Operator,
    crds_installed: ClusterHandle,
    namespace: str,
    tmp_path: Path,
    migrated: str,
) -> None:
    policy = copy.deepcopy(example("RiskPolicy"))
    policy["spec"].setdefault("killSwitch", {})["resumeCooldown"] = "1s"
    name = policy["metadata"]["name"]
    create_all(crds_installed, namespace, tmp_path, [policy])
    wait_for(crds_installed, namespace, "RiskPolicy", name, "Ready", "Active")

    plugin = str(Path(sys.executable).parent / "kubectl-tradeplane")
    kubeconfig = str(crds_installed.kubeconfig)
    halt = [plugin, "halt", name, "-n", namespace, "--reason", "drill", "--kubeconfig", kubeconfig]
    subprocess.run(halt, check=True, capture_output=True, text=True)
    _gitops_apply(crds_installed, namespace, tmp_path, policy)
    wait_for(crds_installed, namespace, "RiskPolicy", name, "Stalled", "Halted")
    _gitops_apply(crds_installed, namespace, tmp_path, policy)
    assert get_object(crds_installed, namespace, "RiskPolicy", name)["status"]["state"] == "HALTED"

    _invoke(crds_installed, "resume", name, "-n", namespace)
    wait_for(crds_installed, namespace, "RiskPolicy", name, "Ready", "Active")
    uid = get_object(crds_installed, namespace, "RiskPolicy", name)["metadata"]["uid"]
    rows = fetch(
        migrated,
        f"SELECT to_state, actor, reason FROM tradeplane.audit_log WHERE object_uid = '{uid}' ORDER BY seq",
    )
    assert [tuple(r) for r in rows][1:] == [
        ("HALTED", "admin", "ManualHalt"),
        ("ACTIVE", "admin", "ManualResume"),
    ]


def test_commands_on_a_missing_object_fail_clearly(crds_installed: ClusterHandle, namespace: str) -> None:
    result = CliRunner().invoke(
        app, ["halt", "nope", "-n", namespace, "--kubeconfig", str(crds_installed.kubeconfig)]
    )
    assert result.exit_code == 1
    assert "not found" in result.output
