"""The Argo CD health checks are generated: committed .lua files and argocd-cm.yaml equal regeneration.

Their behaviour is tested in test_argocd_health.py; here only that the one template in crds/health.py
is the single source, and that ``generate --check`` notices a hand edit of any generated copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tradeplane.crds import generate, health
from tradeplane.crds.cli import crds_app
from tradeplane.crds.registry import KINDS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "manifests" / "gitops" / "argocd"
ALL_KINDS = [info.kind for info in KINDS]


@pytest.fixture
def argocd_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary copy of the committed tree the generator writes, so nothing in the repo changes."""
    crds = tmp_path / "crds"
    shutil.copytree(generate.GENERATED_DIR, crds / "generated")
    shutil.copy2(generate.KUSTOMIZATION, crds / "kustomization.yaml")
    argocd = tmp_path / "manifests" / "gitops" / "argocd"
    shutil.copytree(ARGOCD, argocd)
    monkeypatch.setattr(generate, "CRDS_DIR", crds)
    monkeypatch.setattr(generate, "GENERATED_DIR", crds / "generated")
    monkeypatch.setattr(generate, "KUSTOMIZATION", crds / "kustomization.yaml")
    monkeypatch.setattr(generate, "ARGOCD_DIR", argocd)
    assert generate.stale_files() == []
    return argocd


def test_committed_lua_files_equal_regeneration() -> None:
    assert generate.ARGOCD_DIR == ARGOCD
    for kind in ALL_KINDS:
        committed = (ARGOCD / "health" / f"{kind}.lua").read_text()
        assert committed == health.script(kind), f"{kind}: run `python -m tradeplane.crds.generate`"
    assert sorted(p.stem for p in (ARGOCD / "health").glob("*.lua")) == sorted(ALL_KINDS)


def test_committed_argocd_cm_equals_regeneration() -> None:
    assert (ARGOCD / "argocd-cm.yaml").read_text() == health.argocd_cm()


def test_generator_covers_every_health_file() -> None:
    expected = generate.rendered()
    assert {ARGOCD / "health" / f"{kind}.lua" for kind in ALL_KINDS} | {ARGOCD / "argocd-cm.yaml"} <= set(
        expected
    )
    assert [p for p in generate.stale_files() if p.is_relative_to(ARGOCD)] == []


def test_argocd_cm_parses_to_the_scripts_byte_for_byte() -> None:
    configmap = yaml.safe_load(health.argocd_cm())
    assert configmap["data"] == {f"{health.HEALTH_KEY}{kind}": health.script(kind) for kind in ALL_KINDS}
    assert list(configmap["data"]) == [f"{health.HEALTH_KEY}{kind}" for kind in ALL_KINDS]


def test_one_template_only_kind_rules_differ() -> None:
    scripts = health.scripts()
    assert set(health.KIND_RULES) == {"Rollout", "RiskPolicy"}
    # With the kind's own rules taken out and its name masked, every script is the same text.
    common = {
        (body.replace(health.KIND_RULES[kind] + "\n", "", 1) if kind in health.KIND_RULES else body).replace(
            kind, "KIND"
        )
        for kind, body in scripts.items()
    }
    assert len(common) == 1
    for kind, rules in health.KIND_RULES.items():
        assert scripts[kind].count(rules) == 1, kind
    for kind, body in scripts.items():
        assert "generate" in body.splitlines()[1] and "do not edit" in body.splitlines()[1], kind


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(KeyError):
        health.script("Widget")


def test_check_detects_an_edited_lua_file(argocd_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = argocd_copy / "health" / "Rollout.lua"
    target.write_text(target.read_text().replace('"Suspended"', '"Healthy"'))
    capsys.readouterr()
    assert generate.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "Rollout.lua" in err and "argocd-cm.yaml" not in err
    assert generate.stale_files() == [target]
    assert generate.main([]) == 0
    assert target.read_text() == health.script("Rollout")
    assert generate.main(["--check"]) == 0


def test_check_detects_an_edited_argocd_cm_and_missing_or_extra_scripts(argocd_copy: Path) -> None:
    configmap = argocd_copy / "argocd-cm.yaml"
    configmap.write_text(configmap.read_text().replace("Trading HALTED", "Trading halted"))
    missing = argocd_copy / "health" / "Venue.lua"
    missing.unlink()
    extra = argocd_copy / "health" / "Widget.lua"
    extra.write_text("return {status = 'Healthy', message = ''}\n")
    assert set(generate.stale_files()) == {configmap, missing, extra}
    assert set(generate.write()) == {configmap, missing, extra}
    assert not extra.exists()
    assert missing.read_text() == health.script("Venue")
    assert configmap.read_text() == health.argocd_cm()
    assert generate.stale_files() == []


def test_cli_check_reports_an_edited_lua_file(argocd_copy: Path) -> None:
    target = argocd_copy / "health" / "RiskPolicy.lua"
    target.write_text(target.read_text() + "-- local edit\n")
    result = CliRunner().invoke(crds_app, ["generate", "--check"])
    assert result.exit_code == 1, result.output
    assert "RiskPolicy.lua" in result.output


def test_module_check_passes_on_the_committed_tree() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tradeplane.crds.generate", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
