"""Where a build writes its snapshot: the datasets claim when the Job is a pod (a read-only root and a
/tmp that dies with it), the builder's own default under $TRADEPLANE_HOME when it is a local child."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from unit.featureset.builders import inputs

from tradeplane.operator.featureset import builds_in_pods
from tradeplane.reconcilers.dataset_build import DATASET_CLAIM, DATASET_DIR
from tradeplane.reconcilers.featureset import reconcile_featureset
from tradeplane.runtime.workloads.kubernetes import KubernetesDriver, build_job
from tradeplane.runtime.workloads.local import LocalProcessDriver
from tradeplane.runtime.workloads.spec import VolumeMount, WorkloadSpec

pytestmark = pytest.mark.unit


def config_of(job: WorkloadSpec) -> dict[str, Any]:
    """The build's configuration, the Job's one argument after ``build-dataset --config``."""
    assert job.args[:2] == ("build-dataset", "--config") and len(job.args) == 3
    document: dict[str, Any] = json.loads(job.args[2])
    return document


def build_job_of(*, in_pods: bool) -> WorkloadSpec:
    plan = reconcile_featureset(
        inputs(
            now=datetime(2026, 11, 24, 12, tzinfo=UTC),
            database_secret="tradeplane-database" if in_pods else None,
            in_pods=in_pods,
        )
    )
    (job,) = plan.workloads
    return job


def test_a_pod_build_mounts_the_datasets_claim_and_writes_there() -> None:
    job = build_job_of(in_pods=True)
    assert job.volumes == (
        VolumeMount(name="datasets", claim_name="tradeplane-datasets", mount_path=DATASET_DIR),
    )
    assert config_of(job)["output"] == DATASET_DIR
    pod = build_job(job)["spec"]["template"]["spec"]
    assert {"name": "datasets", "persistentVolumeClaim": {"claimName": DATASET_CLAIM}} in pod["volumes"]
    (container,) = pod["containers"]
    assert {"name": "datasets", "mountPath": DATASET_DIR} in container["volumeMounts"]


def test_a_local_build_keeps_the_builders_default_directory() -> None:
    job = build_job_of(in_pods=False)
    assert job.volumes == () and config_of(job)["output"] is None
    pod_job = build_job_of(in_pods=True)
    # the same build otherwise: only where it writes differs
    assert config_of(job) == config_of(pod_job) | {"output": None}


def test_only_the_kubernetes_driver_builds_in_pods(tmp_path: Path) -> None:
    cluster = KubernetesDriver(api_client=client.ApiClient())
    try:
        assert builds_in_pods(cluster)
    finally:
        cluster.close()
    with LocalProcessDriver(state_root=tmp_path) as local:
        assert not builds_in_pods(local)
    assert not builds_in_pods(None)
