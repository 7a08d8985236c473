"""The Deployment and Job manifests as built from a spec, and the spec's own validation."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from tradeplane.runtime.workloads import (
    Owner,
    Resources,
    RestartPolicy,
    SecretEnv,
    VolumeMount,
    WorkloadKind,
    WorkloadSpec,
)
from tradeplane.runtime.workloads.kubernetes import build, build_deployment, build_job
from tradeplane.runtime.workloads.local import local_argv
from tradeplane.runtime.workloads.spec import quantity

pytestmark = pytest.mark.unit

OWNER = Owner(api_version="tradeplane.io/v1alpha1", kind="Instrument", name="xaut-usdt", uid="0f1e-uid")
SECRET_VALUE = "s3cr3t-never-in-a-manifest"


def spec(**overrides: Any) -> WorkloadSpec:
    values: dict[str, Any] = {
        "name": "ingest-xaut-usdt",
        "namespace": "trading",
        "kind": WorkloadKind.SERVICE,
        "component": "ingestor",
        "command": ("tradeplane", "ingest"),
        "args": ("--instrument", "xaut-usdt"),
        "env": {"LOG_LEVEL": "info"},
        "secret_env": (SecretEnv(env="BINGX_API_KEY", secret="bingx-paper", key="api-key"),),
        "owner": OWNER,
        "labels": {"tradeplane.io/instrument": "xaut-usdt"},
    }
    values.update(overrides)
    return WorkloadSpec(**values)


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    containers = manifest["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_deployment_labels_and_selector_match() -> None:
    manifest = build_deployment(spec())
    selector = manifest["spec"]["selector"]["matchLabels"]
    pod_labels = manifest["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert selector == {
        "app.kubernetes.io/name": "tradeplane-ingestor",
        "app.kubernetes.io/instance": "ingest-xaut-usdt",
    }
    expected = {
        "app.kubernetes.io/name": "tradeplane-ingestor",
        "app.kubernetes.io/instance": "ingest-xaut-usdt",
        "app.kubernetes.io/component": "ingestor",
        "app.kubernetes.io/managed-by": "tradeplane",
        "app.kubernetes.io/part-of": "tradeplane",
        "tradeplane.io/instrument": "xaut-usdt",
    }
    assert manifest["metadata"]["labels"] == expected
    assert pod_labels == expected
    assert manifest["metadata"]["name"] == "ingest-xaut-usdt"
    assert manifest["metadata"]["namespace"] == "trading"


@pytest.mark.parametrize("kind", [WorkloadKind.SERVICE, WorkloadKind.JOB])
def test_owner_reference_is_the_controller(kind: WorkloadKind) -> None:
    manifest = build(spec(kind=kind))
    assert manifest["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "tradeplane.io/v1alpha1",
            "kind": "Instrument",
            "name": "xaut-usdt",
            "uid": "0f1e-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_no_owner_means_no_owner_references() -> None:
    assert "ownerReferences" not in build(spec(owner=None))["metadata"]


@pytest.mark.parametrize("kind", [WorkloadKind.SERVICE, WorkloadKind.JOB])
def test_security_context_is_restricted(kind: WorkloadKind) -> None:
    manifest = build(spec(kind=kind))
    pod = manifest["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container(manifest)["securityContext"] == {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
    assert container(manifest)["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]


DATASETS = VolumeMount(name="datasets", claim_name="tradeplane-datasets", mount_path="/var/lib/tp/datasets")


@pytest.mark.parametrize("kind", [WorkloadKind.SERVICE, WorkloadKind.JOB])
def test_claims_are_mounted_after_the_scratch_dir(kind: WorkloadKind) -> None:
    reader = VolumeMount(name="models", claim_name="models.v1", mount_path="/models", read_only=True)
    manifest = build(spec(kind=kind, volumes=(DATASETS, reader)))
    assert manifest["spec"]["template"]["spec"]["volumes"] == [
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "datasets", "persistentVolumeClaim": {"claimName": "tradeplane-datasets"}},
        {"name": "models", "persistentVolumeClaim": {"claimName": "models.v1", "readOnly": True}},
    ]
    assert container(manifest)["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "datasets", "mountPath": "/var/lib/tp/datasets"},
        {"name": "models", "mountPath": "/models", "readOnly": True},
    ]
    assert container(manifest)["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Data"}, "DNS-1123 label"),
        ({"name": "tmp"}, "reserved for the scratch"),
        ({"claim_name": "Bad_Claim"}, "DNS-1123 subdomain"),
        ({"mount_path": "data"}, "normalised absolute path"),
        ({"mount_path": "/"}, "normalised absolute path"),
        ({"mount_path": "/data/../etc"}, "normalised absolute path"),
        ({"mount_path": "/data/"}, "normalised absolute path"),
        ({"mount_path": "/tmp"}, "over the scratch directory"),
        ({"mount_path": "/tmp/datasets"}, "over the scratch directory"),
    ],
)
def test_invalid_volume_mounts_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        VolumeMount(**{**DATASETS.model_dump(), **overrides})


def test_a_path_merely_starting_like_tmp_is_not_the_scratch_dir() -> None:
    assert VolumeMount(name="d", claim_name="c", mount_path="/tmpdata").mount_path == "/tmpdata"


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (DATASETS.model_copy(update={"mount_path": "/other"}), "volume names used twice: datasets"),
        (DATASETS.model_copy(update={"name": "other"}), "mount paths used twice: /var/lib/tp/datasets"),
    ],
)
def test_volume_names_and_paths_are_unique(second: VolumeMount, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(volumes=(DATASETS, second))


def test_service_account_token_only_when_asked() -> None:
    pod = build(spec(service_account="trader", automount_service_account_token=True))["spec"]["template"]
    assert pod["spec"]["serviceAccountName"] == "trader"
    assert pod["spec"]["automountServiceAccountToken"] is True


def test_secret_env_is_a_reference_never_a_value() -> None:
    manifest = build(spec())
    env = {item["name"]: item for item in container(manifest)["env"]}
    assert env["BINGX_API_KEY"] == {
        "name": "BINGX_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "bingx-paper", "key": "api-key"}},
    }
    assert "value" not in env["BINGX_API_KEY"]
    assert env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "info"}
    assert env["HOME"] == {"name": "HOME", "value": "/tmp"}
    assert SECRET_VALUE not in json.dumps(manifest)


def test_home_is_not_overridden_when_given() -> None:
    env = container(build(spec(env={"HOME": "/data"})))["env"]
    assert [item for item in env if item["name"] == "HOME"] == [{"name": "HOME", "value": "/data"}]


def test_command_args_and_image() -> None:
    c = container(build(spec(image="registry.local/tp:1")))
    assert c["command"] == ["tradeplane", "ingest"]
    assert c["args"] == ["--instrument", "xaut-usdt"]
    assert c["image"] == "registry.local/tp:1"
    assert "args" not in container(build(spec(args=())))


def test_default_resources_have_requests_and_limits() -> None:
    assert container(build(spec()))["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    custom = Resources(requests={"cpu": "2", "memory": "4Gi"}, limits={"cpu": "4", "memory": "8Gi"})
    assert container(build(spec(resources=custom)))["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}


def test_deployment_is_a_recreated_singleton() -> None:
    manifest = build_deployment(spec())
    assert manifest["apiVersion"] == "apps/v1"
    assert manifest["kind"] == "Deployment"
    assert manifest["spec"]["replicas"] == 1
    assert manifest["spec"]["strategy"] == {"type": "Recreate"}
    assert manifest["spec"]["template"]["spec"]["restartPolicy"] == "Always"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(None, "OnFailure"), (RestartPolicy.ON_FAILURE, "OnFailure"), (RestartPolicy.NEVER, "Never")],
)
def test_job_backoff_ttl_and_restart_policy(policy: RestartPolicy | None, expected: str) -> None:
    manifest = build_job(spec(kind=WorkloadKind.JOB, backoff_limit=5, restart_policy=policy))
    assert manifest["apiVersion"] == "batch/v1"
    assert manifest["kind"] == "Job"
    assert manifest["spec"]["backoffLimit"] == 5
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 86400
    assert manifest["spec"]["template"]["spec"]["restartPolicy"] == expected
    assert "selector" not in manifest["spec"]


def test_job_without_ttl_is_kept() -> None:
    manifest = build_job(spec(kind=WorkloadKind.JOB, ttl_seconds_after_finished=None))
    assert "ttlSecondsAfterFinished" not in manifest["spec"]


def test_builders_refuse_the_other_kind() -> None:
    with pytest.raises(ValueError, match="not a job"):
        build_job(spec())
    with pytest.raises(ValueError, match="not a service"):
        build_deployment(spec(kind=WorkloadKind.JOB))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Ingest"),
        ("name", "ingest_xaut"),
        ("name", "-ingest"),
        ("name", "ingest-"),
        ("name", "a" * 64),
        ("name", ""),
        ("namespace", "Trading"),
        ("namespace", "trading.prod"),
        ("component", "Ingestor"),
    ],
)
def test_names_must_be_dns1123_labels(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match="DNS-1123 label"):
        spec(**{field: value})


def test_longest_valid_name_is_accepted() -> None:
    assert spec(name="a" * 63).name == "a" * 63


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"command": ()}, "at least 1 item"),
        ({"env": {"1BAD": "x"}}, "not a C identifier"),
        ({"env": {"BINGX_API_KEY": "plain"}}, "set twice: BINGX_API_KEY"),
        ({"secret_env": ({"env": "A", "secret": "Bad_Name", "key": "k"},)}, "DNS-1123 subdomain"),
        ({"labels": {"app.kubernetes.io/name": "x"}}, "reserved"),
        ({"labels": {"ok": "not valid!"}}, "is invalid"),
        ({"kind": WorkloadKind.JOB, "restart_policy": RestartPolicy.ALWAYS}, "not allowed for a job"),
        ({"restart_policy": RestartPolicy.NEVER}, "not allowed for a service"),
        ({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}, "exceeds limit"),
        ({"resources": {"requests": {"memory": "lots"}}}, "not a resource quantity"),
        ({"backoff_limit": -1}, "greater than or equal to 0"),
        ({"owner": {"api_version": "v1", "kind": "ConfigMap", "name": "x", "uid": ""}}, "at least 1"),
        ({"unknown": 1}, "Extra inputs"),
    ],
)
def test_invalid_specs_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(**overrides)


def test_secret_key_and_env_name_validation() -> None:
    with pytest.raises(ValidationError, match="not a valid data key"):
        SecretEnv(env="A", secret="s", key="bad key")
    with pytest.raises(ValidationError, match="not a C identifier"):
        SecretEnv(env="A-B", secret="s", key="k")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("250m", "0.25"), ("1", "1"), ("1.5", "1.5"), ("1Ki", "1024"), ("2M", "2000000"), ("1Gi", "1073741824")],
)
def test_quantities_compare_by_value(text: str, expected: str) -> None:
    assert str(quantity(text).normalize()) == str(quantity(expected).normalize())


def test_effective_restart_policy_follows_kind() -> None:
    assert spec().effective_restart_policy is RestartPolicy.ALWAYS
    assert spec(kind=WorkloadKind.JOB).effective_restart_policy is RestartPolicy.ON_FAILURE


def test_local_argv_runs_tradeplane_with_this_interpreter() -> None:
    assert local_argv(("tradeplane", "ingest")) == [sys.executable, "-m", "tradeplane.cli", "ingest"]
    assert local_argv(("/bin/true", "x")) == ["/bin/true", "x"]
