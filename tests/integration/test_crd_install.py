"""``tradeplane crds install``: server-side apply of the generated CRDs, idempotent, waits for Established."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness.cluster import ClusterHandle
from typer.testing import CliRunner

from tradeplane.crds.cli import FIELD_MANAGER, crds_app
from tradeplane.crds.registry import KINDS

pytestmark = pytest.mark.integration


def test_install_is_idempotent_and_leaves_every_crd_established(crds_installed: ClusterHandle) -> None:
    for _ in range(2):
        result = CliRunner().invoke(crds_app, ["install", "--kubeconfig", str(crds_installed.kubeconfig)])
        assert result.exit_code == 0, result.output
        assert f"{len(KINDS)} CRDs established in group tradeplane.io" in result.output
    for info in KINDS:
        shown = crds_installed.kubectl("get", "crd", info.crd_name, "-o", "json", "--show-managed-fields")
        crd = json.loads(shown.stdout)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions["Established"] == "True"
        assert conditions["NamesAccepted"] == "True"
        managers = {m["manager"] for m in crd["metadata"]["managedFields"] if m["operation"] == "Apply"}
        assert FIELD_MANAGER in managers  # server-side apply, not a client-side last-applied annotation
        assert "kubectl.kubernetes.io/last-applied-configuration" not in crd["metadata"].get(
            "annotations", {}
        )
    served = crds_installed.kubectl("api-resources", "--api-group=tradeplane.io", "-o", "name").stdout.split()
    assert sorted(served) == sorted(f"{i.plural}.tradeplane.io" for i in KINDS)


def test_install_with_a_missing_kubeconfig_is_one_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(crds_app, ["install", "--kubeconfig", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "does not exist" in result.output
