"""The tradeplane CRDs, installed once per session on the session cluster, and kubectl helpers.

Installation is a server-side apply of the committed YAML (what users and GitOps install) through
the same code as ``tradeplane crds install``, which waits until every CRD is Established and the
group is served by discovery (``kubectl api-resources --api-group=tradeplane.io``), so no test races
the API server. The helpers act as a user would: JSON manifests on disk, ``kubectl create/get/patch``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.cluster import ClusterHandle
from tradeplane.crds.cli import install
from tradeplane.crds.registry import BY_KIND


@pytest.fixture(scope="session")
def crds_installed(cluster: ClusterHandle) -> ClusterHandle:
    install(cluster.kubeconfig, timeout=60.0, field_manager="tradeplane-tests")
    return cluster


def resource(kind: str) -> str:
    """The fully qualified resource name (never ambiguous with, e.g., Argo Rollouts)."""
    return f"{BY_KIND[kind].plural}.tradeplane.io"


def create(
    cluster: ClusterHandle, namespace: str, tmp_path: Path, obj: dict[str, Any], *extra: str
) -> subprocess.CompletedProcess[str]:
    """``kubectl create -f`` of ``obj``; the caller checks the result (rejections are expected)."""
    path = tmp_path / f"{obj['kind']}-{obj['metadata']['name']}.json"
    path.write_text(json.dumps(obj))
    return cluster.kubectl("create", "-n", namespace, *extra, "-f", str(path), check=False)


def create_all(cluster: ClusterHandle, namespace: str, tmp_path: Path, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        result = create(cluster, namespace, tmp_path, obj)
        assert result.returncode == 0, f"{obj['kind']} {obj['metadata']['name']} rejected: {result.stderr}"


def get_object(cluster: ClusterHandle, namespace: str, kind: str, name: str) -> dict[str, Any]:
    result = cluster.kubectl("get", "-n", namespace, resource(kind), name, "-o", "json")
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def patch_object(
    cluster: ClusterHandle, namespace: str, kind: str, name: str, patch: dict[str, Any], *extra: str
) -> subprocess.CompletedProcess[str]:
    """A merge patch; pass ``--subresource=status`` in ``extra`` to write status."""
    return cluster.kubectl(
        "patch", "-n", namespace, resource(kind), name, "--type=merge", "-p", json.dumps(patch), *extra,
        check=False,
    )  # fmt: skip
