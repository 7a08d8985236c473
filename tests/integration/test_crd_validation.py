"""The generated CRDs against a real kube-apiserver: acceptance, immutability, defaults, status.

Complete valid objects are accepted and stored unchanged, immutability rules hold on update, the API
server's defaults equal the pydantic models' defaults, and status is only writable through /status.
Rejections are in test_crd_rejections.py, kubectl presentation in test_crd_kubectl.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness.cluster import ClusterHandle
from harness.crds import create, get_object, patch_object
from integration.crd_examples import EXAMPLES, example

from tradeplane.crds.registry import BY_KIND

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_complete_valid_object_is_accepted_and_stored_unchanged(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path, kind: str
) -> None:
    obj = example(kind)
    result = create(crds_installed, namespace, tmp_path, obj)
    assert result.returncode == 0, result.stderr
    stored = get_object(crds_installed, namespace, kind, obj["metadata"]["name"])
    # Every field is set in the examples, so nothing is pruned and no default is added.
    assert stored["spec"] == obj["spec"]
    # What the API server stores is readable by the pydantic models.
    BY_KIND[kind].resource.model_validate(stored)


def test_modelversion_spec_is_immutable(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    obj = example("ModelVersion")
    assert create(crds_installed, namespace, tmp_path, obj).returncode == 0
    name = obj["metadata"]["name"]
    for patch in (
        {"spec": {"version": 2}},
        {"spec": {"artifact": {"digest": "sha256:" + "ef" * 32}}},
        {"spec": {"lineage": {"seeds": [1]}}},
    ):
        result = patch_object(crds_installed, namespace, "ModelVersion", name, patch)
        assert result.returncode != 0, patch
        assert "spec: Invalid value" in result.stderr
        assert "spec is immutable" in result.stderr
    # Metadata and status stay writable: only the lineage is frozen.
    labelled = patch_object(
        crds_installed, namespace, "ModelVersion", name, {"metadata": {"labels": {"stage": "x"}}}
    )
    assert labelled.returncode == 0, labelled.stderr
    staged = patch_object(
        crds_installed,
        namespace,
        "ModelVersion",
        name,
        {"status": {"stage": "Evaluating"}},
        "--subresource=status",
    )
    assert staged.returncode == 0, staged.stderr
    stored = get_object(crds_installed, namespace, "ModelVersion", name)
    assert stored["spec"] == obj["spec"]
    assert stored["status"]["stage"] == "Evaluating"


def test_featureset_features_are_immutable_but_other_fields_are_not(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    obj = example("FeatureSet")
    assert create(crds_installed, namespace, tmp_path, obj).returncode == 0
    name = obj["metadata"]["name"]
    reordered = [obj["spec"]["features"][1], obj["spec"]["features"][0], obj["spec"]["features"][2]]
    for features in (reordered, obj["spec"]["features"][:2], [{**obj["spec"]["features"][0], "params": {}}]):
        result = patch_object(crds_installed, namespace, "FeatureSet", name, {"spec": {"features": features}})
        assert result.returncode != 0, features
        assert "spec.features: Invalid value" in result.stderr
        assert "spec.features is immutable after creation" in result.stderr
    allowed = patch_object(crds_installed, namespace, "FeatureSet", name, {"spec": {"window": 128}})
    assert allowed.returncode == 0, allowed.stderr
    stored = get_object(crds_installed, namespace, "FeatureSet", name)
    assert stored["spec"]["features"] == obj["spec"]["features"]
    assert stored["spec"]["window"] == 128


MINIMAL: dict[str, dict[str, Any]] = {
    "Venue": {},
    "Instrument": {"venueRef": {"name": "v"}, "symbol": "PAXG-USDT"},
    "FeatureSet": {
        "instrumentRefs": [{"name": "i"}],
        "baseInterval": "5m",
        "features": [{"name": "ret", "transform": "log_return"}],
    },
    "Model": {"instrumentRef": {"name": "i"}, "featureSetRef": {"name": "f"}, "venueRef": {"name": "v"}},
    "ModelVersion": example("ModelVersion")["spec"],
    "Rollout": {
        "instrumentRef": {"name": "i"},
        "venueRef": {"name": "v"},
        "modelRef": {"name": "m"},
        "riskPolicyRef": {"name": "r"},
        "capital": {"budget": "250.5"},
        "steps": [{"setWeight": 10}, {"pause": {}}, {"setWeight": 100}],
    },
    "RiskPolicy": {
        "limits": {
            "perOrderNotional": "100",
            "perInstrumentNotional": "500",
            "portfolioGrossNotional": "1000",
        }
    },
}


@pytest.mark.parametrize("kind", list(MINIMAL))
def test_api_server_defaults_equal_the_pydantic_defaults(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path, kind: str
) -> None:
    obj = {
        "apiVersion": "tradeplane.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "minimal"},
        "spec": MINIMAL[kind],
    }
    result = create(crds_installed, namespace, tmp_path, obj)
    assert result.returncode == 0, result.stderr
    stored = get_object(crds_installed, namespace, kind, "minimal")["spec"]
    expected = BY_KIND[kind].spec.model_validate(MINIMAL[kind]).to_k8s()
    assert stored == expected
    assert stored != MINIMAL[kind] or kind == "ModelVersion"  # defaults were really applied


def test_specific_defaults(crds_installed: ClusterHandle, namespace: str, tmp_path: Path) -> None:
    for kind in ("Venue", "Instrument", "RiskPolicy"):
        obj = {"apiVersion": "tradeplane.io/v1alpha1", "kind": kind, "metadata": {"name": "d"}}
        assert create(crds_installed, namespace, tmp_path, {**obj, "spec": MINIMAL[kind]}).returncode == 0
    venue_spec = get_object(crds_installed, namespace, "Venue", "d")["spec"]
    assert venue_spec["mode"] == "paper"  # fail safe: never live by default
    assert venue_spec["deadManTimeout"] == "30s"
    assert venue_spec["refresh"] == {"metadata": "1h", "fees": "24h", "account": "1m"}
    assert "credentials" not in venue_spec
    inst = get_object(crds_installed, namespace, "Instrument", "d")["spec"]
    assert inst["streams"]["klines"]["intervals"] == ["1m"]
    assert inst["streams"]["depth"] == {"enabled": False, "levels": 20, "incremental": True}
    risk = get_object(crds_installed, namespace, "RiskPolicy", "d")["spec"]
    assert risk["limits"]["maxLeverage"] == 3
    assert risk["breakers"]["rejectRate"]["action"] == "REDUCING"
    assert risk["killSwitch"] == {"flatten": False, "resumeCooldown": "15m"}


def test_status_is_ignored_on_the_main_endpoint(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    obj = example("RiskPolicy")
    obj["status"] = {"state": "HALTED", "observedGeneration": 1}
    assert create(crds_installed, namespace, tmp_path, obj).returncode == 0
    assert "status" not in get_object(crds_installed, namespace, "RiskPolicy", "default")
    # A patch of status through the main endpoint is accepted but changes nothing...
    patch_object(crds_installed, namespace, "RiskPolicy", "default", {"status": {"state": "HALTED"}})
    assert "status" not in get_object(crds_installed, namespace, "RiskPolicy", "default")
    # ...while /status writes it without bumping the generation (GitOps-safe commands rely on this).
    before = get_object(crds_installed, namespace, "RiskPolicy", "default")["metadata"]["generation"]
    result = patch_object(
        crds_installed,
        namespace,
        "RiskPolicy",
        "default",
        {"status": {"state": "HALTED"}},
        "--subresource=status",
    )
    assert result.returncode == 0, result.stderr
    stored = get_object(crds_installed, namespace, "RiskPolicy", "default")
    assert stored["status"]["state"] == "HALTED"
    assert stored["metadata"]["generation"] == before
    # And /status ignores spec changes.
    patch_object(
        crds_installed,
        namespace,
        "RiskPolicy",
        "default",
        {"spec": {"limits": {"maxLeverage": 9}}},
        "--subresource=status",
    )
    assert (
        get_object(crds_installed, namespace, "RiskPolicy", "default")["spec"]["limits"]["maxLeverage"] == 3
    )


def test_status_schema_is_validated_too(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    assert create(crds_installed, namespace, tmp_path, example("RiskPolicy")).returncode == 0
    bad = {"status": {"state": "PANIC"}}
    result = patch_object(crds_installed, namespace, "RiskPolicy", "default", bad, "--subresource=status")
    assert result.returncode != 0
    assert "status.state" in result.stderr and "Unsupported value" in result.stderr
    duplicate = {
        "type": "Ready",
        "status": "True",
        "reason": "Ok",
        "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    result = patch_object(
        crds_installed,
        namespace,
        "RiskPolicy",
        "default",
        {"status": {"conditions": [duplicate, duplicate]}},
        "--subresource=status",
    )
    assert result.returncode != 0
    assert "status.conditions[1]" in result.stderr and "Duplicate value" in result.stderr
