"""Where state lives: the commands that find the local cluster without importing the embedded system
must agree with the cluster that writes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeplane.embedded.cluster import LocalCluster
from tradeplane.runtime.host.paths import STATE_DIR_ENV, local_kubeconfig, project_root, state_dir

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_the_project_root_is_the_checkout_wherever_the_command_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert project_root() == ROOT


def test_state_lives_in_the_checkout_unless_moved(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    assert state_dir() == ROOT / ".tradeplane"
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path))
    assert state_dir() == tmp_path.resolve()


def test_the_local_kubeconfig_is_the_one_the_local_cluster_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path))
    assert local_kubeconfig() == LocalCluster(report=lambda _m: None).kubeconfig
    assert local_kubeconfig().is_relative_to(tmp_path.resolve())
