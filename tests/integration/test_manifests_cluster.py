"""manifests/ against the real API server: the samples pass every CRD rule, and the dev overlay
installs an operator Deployment whose pod runs (kwok) with exactly the RBAC it declares.

The CRDs are shared by the whole session (``crds_installed``), so the overlay is applied without
its CustomResourceDefinition documents and cleanup never deletes them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.cluster import ClusterHandle

pytestmark = [pytest.mark.integration, pytest.mark.workloads]

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
SYSTEM = "tradeplane-system"
OPERATOR = "tradeplane-operator"
SERVICE_ACCOUNT = f"system:serviceaccount:{SYSTEM}:{OPERATOR}"
FIELD_MANAGER = "tradeplane-tests"
TIMEOUT = "120s"


def test_samples_pass_server_side_validation_in_any_namespace(
    crds_installed: ClusterHandle, namespace: str
) -> None:
    result = crds_installed.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        f"--field-manager={FIELD_MANAGER}",
        "-n",
        namespace,
        "-k",
        str(MANIFESTS / "samples"),
        "-o",
        "yaml",
        check=False,
    )
    assert result.returncode == 0, result.stderr
    applied = yaml.safe_load(result.stdout)
    objects = applied["items"] if applied.get("kind") == "List" else [applied]
    assert sorted(o["kind"] for o in objects) == sorted(
        ["Secret", "Venue", "Instrument", "FeatureSet", "Model", "Rollout", "RiskPolicy"]
    )
    assert {o["metadata"]["namespace"] for o in objects} == {namespace}
    # Defaults were applied by the API server's schema (the dry run returns the stored form).
    venue = next(o for o in objects if o["kind"] == "Venue")
    assert venue["spec"]["mode"] == "paper"
    risk = next(o for o in objects if o["kind"] == "RiskPolicy")
    assert risk["spec"]["limits"]["portfolioGrossNotional"] == "10000"


def _overlay_without_crds(cluster: ClusterHandle, tmp_path: Path, overlay: str) -> Path:
    rendered = cluster.kubectl("kustomize", str(MANIFESTS / "overlays" / overlay)).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    kept = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
    assert len(kept) == len(docs) - 7, "the overlay should carry the seven CRDs"
    path = tmp_path / f"{overlay}-without-crds.yaml"
    path.write_text(yaml.safe_dump_all(kept))
    return path


@pytest.fixture
def dev_overlay(
    workloads_cluster: ClusterHandle, crds_installed: ClusterHandle, tmp_path: Path
) -> Iterator[Path]:
    path = _overlay_without_crds(workloads_cluster, tmp_path, "dev")
    workloads_cluster.kubectl("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", str(path))
    try:
        yield path
    finally:
        workloads_cluster.kubectl(
            "delete", "-f", str(path), "--wait=false", "--ignore-not-found", check=False
        )  # fmt: skip


def can_i(cluster: ClusterHandle, *request: str, namespace: str = "default") -> bool:
    result = cluster.kubectl(
        "auth", "can-i", *request, f"--as={SERVICE_ACCOUNT}", "-n", namespace, check=False
    )
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), f"kubectl auth can-i {' '.join(request)}: {result.stderr}"
    return answer == "yes"


def test_dev_overlay_runs_the_operator_with_exactly_its_rbac(
    workloads_cluster: ClusterHandle, dev_overlay: Path
) -> None:
    cluster = workloads_cluster
    cluster.kubectl(
        "wait", "-n", SYSTEM, f"deployment/{OPERATOR}", "--for=condition=Available", f"--timeout={TIMEOUT}"
    )  # fmt: skip
    selector = "app.kubernetes.io/name=tradeplane,app.kubernetes.io/component=operator"
    running = "--for=jsonpath={.status.phase}=Running"
    cluster.kubectl("wait", "-n", SYSTEM, "pods", "-l", selector, running, f"--timeout={TIMEOUT}")
    pods: list[dict[str, Any]] = yaml.safe_load(
        cluster.kubectl("get", "-n", SYSTEM, "pods", "-l", selector, "-o", "yaml").stdout
    )["items"]
    assert len(pods) == 1
    pod = pods[0]["spec"]
    # Admitted under the namespace's "restricted" Pod Security level, as written.
    assert pod["serviceAccountName"] == OPERATOR
    assert pod["securityContext"]["runAsUser"] == 65532
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["imagePullPolicy"] == "IfNotPresent"
    # The operator talks to the API server, so its pod asks for the token (the local control plane
    # runs without the ServiceAccount admission plugin, so the volume itself is not injected here).
    assert pod["automountServiceAccountToken"] is True
    secret = cluster.kubectl("get", "-n", SYSTEM, "secret", "tradeplane-database", "-o", "name").stdout
    assert secret.strip() == "secret/tradeplane-database"
    # The whole overlays, CRDs included, as `kubectl apply -k` sends them: accepted as they stand
    # (a server dry run, so the shared CRDs are not touched).
    for overlay in ("dev", "prod"):
        dry_run = cluster.kubectl(
            "apply", "-k", str(MANIFESTS / "overlays" / overlay), "--dry-run=server", check=False
        )  # fmt: skip
        assert dry_run.returncode == 0, f"overlays/{overlay}: {dry_run.stderr}"
        assert f"deployment.apps/{OPERATOR}" in dry_run.stdout

    # The RBAC authorizer learns of a new binding through its informers; the first expected "yes"
    # is polled (bounded), every other answer is read once after it.
    deadline = time.monotonic() + 30
    while not can_i(cluster, "patch", "instruments.tradeplane.io", "--subresource=status"):
        assert time.monotonic() < deadline, "the operator's ClusterRoleBinding never took effect"

    allowed = [
        ("patch", "instruments.tradeplane.io", "--subresource=status"),
        ("update", "rollouts.tradeplane.io", "--subresource=status"),
        ("watch", "riskpolicies.tradeplane.io"),
        ("patch", "venues.tradeplane.io"),
        ("create", "modelversions.tradeplane.io"),
        ("create", "jobs.batch"),
        ("delete", "deployments.apps"),
        ("get", "secrets"),
        ("create", "events"),
        ("patch", "events.events.k8s.io"),
        ("list", "namespaces"),
        ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
    ]
    denied = [
        ("list", "secrets"),
        ("watch", "secrets"),
        ("update", "secrets"),
        ("create", "secrets"),
        ("delete", "customresourcedefinitions.apiextensions.k8s.io"),
        ("create", "instruments.tradeplane.io"),
        ("update", "venues.tradeplane.io"),
        ("delete", "riskpolicies.tradeplane.io"),
        ("create", "pods"),
        ("get", "configmaps"),
        ("update", "deployments.apps"),
        ("patch", "namespaces"),
    ]
    assert [r for r in allowed if not can_i(cluster, *r)] == []
    assert [r for r in denied if can_i(cluster, *r)] == []
    # Cluster-wide: the same answers in another namespace.
    assert can_i(cluster, "get", "secrets", namespace="kube-system")
    assert not can_i(cluster, "list", "secrets", namespace="kube-system")
