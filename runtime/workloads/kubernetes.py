"""Workloads as Kubernetes objects: pure builders, and a driver that server-side applies them.

The builders are pure so the exact manifest can be unit-tested and shown (``--dry-run``-style)
without a cluster. Server-side apply with one field manager makes ``apply`` idempotent and lets a
human's ``kubectl scale`` or a policy controller's mutations coexist with ours on other fields.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tradeplane.runtime.kubeapi import api_client as kube_api_client
from tradeplane.runtime.workloads.spec import (
    SCRATCH_DIR,
    SCRATCH_VOLUME,
    RestartPolicy,
    WorkloadDriver,
    WorkloadKind,
    WorkloadRef,
    WorkloadSpec,
    WorkloadStatus,
)
from tradeplane.runtime.workloads.verdict import last_verdict

FIELD_MANAGER = "tradeplane-operator"
APPLY_PATCH = "application/apply-patch+yaml"
NONROOT_ID = 65532  # the distroless "nonroot" user; the image needs no passwd entry for it
_JOB_RESTART = {RestartPolicy.ON_FAILURE: "OnFailure", RestartPolicy.NEVER: "Never"}


def _metadata(spec: WorkloadSpec) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": spec.name, "namespace": spec.namespace, "labels": spec.all_labels}
    if spec.owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": spec.owner.api_version,
                "kind": spec.owner.kind,
                "name": spec.owner.name,
                "uid": spec.owner.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return meta


def _env(spec: WorkloadSpec) -> list[dict[str, Any]]:
    """Plain values inline; secrets only as ``secretKeyRef`` so the value never leaves the Secret."""
    env: list[dict[str, Any]] = []
    if "HOME" not in spec.env and all(s.env != "HOME" for s in spec.secret_env):
        env.append({"name": "HOME", "value": SCRATCH_DIR})  # the root filesystem is read-only
    env += [{"name": name, "value": value} for name, value in sorted(spec.env.items())]
    env += [
        {"name": ref.env, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}}
        for ref in spec.secret_env
    ]
    return env


def _claims(spec: WorkloadSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The spec's PersistentVolumeClaims as (container mounts, pod volumes). The claim itself is not
    created here: it outlives every workload that mounts it, so it belongs to the installation.
    ``readOnly`` goes on the mount and on the volume source alike, so neither is read-write alone."""
    mounts: list[dict[str, Any]] = []
    claims: list[dict[str, Any]] = []
    for volume in spec.volumes:
        read_only = {"readOnly": True} if volume.read_only else {}
        mounts.append({"name": volume.name, "mountPath": volume.mount_path, **read_only})
        claims.append(
            {"name": volume.name, "persistentVolumeClaim": {"claimName": volume.claim_name, **read_only}}
        )
    return mounts, claims


def _pod_template(spec: WorkloadSpec, restart_policy: str) -> dict[str, Any]:
    mounts, claims = _claims(spec)
    container: dict[str, Any] = {
        "name": spec.component,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": list(spec.command),
        "env": _env(spec),
        "resources": {"requests": dict(spec.resources.requests), "limits": dict(spec.resources.limits)},
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        # a failed container's log tail becomes its termination message: the workload's verdict
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": SCRATCH_VOLUME, "mountPath": SCRATCH_DIR}, *mounts],
    }
    if spec.args:
        container["args"] = list(spec.args)
    pod: dict[str, Any] = {
        "restartPolicy": restart_policy,
        "automountServiceAccountToken": spec.automount_service_account_token,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": NONROOT_ID,
            "runAsGroup": NONROOT_ID,
            "fsGroup": NONROOT_ID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": SCRATCH_VOLUME, "emptyDir": {"sizeLimit": spec.scratch_size}}, *claims],
    }
    if spec.service_account:
        pod["serviceAccountName"] = spec.service_account
    return {"metadata": {"labels": spec.all_labels}, "spec": pod}


def build_deployment(spec: WorkloadSpec) -> dict[str, Any]:
    """One replica with Recreate: our services (ingestor, executor) are singletons, and a rolling
    update would briefly run two executors against one account."""
    if spec.kind is not WorkloadKind.SERVICE:
        raise ValueError(f"{spec.name} is a {spec.kind.value}, not a service")
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": spec.selector_labels},
            "strategy": {"type": "Recreate"},
            "template": _pod_template(spec, "Always"),
        },
    }


def build_job(spec: WorkloadSpec) -> dict[str, Any]:
    """The selector is left to the Job controller (it adds a unique controller-uid label)."""
    if spec.kind is not WorkloadKind.JOB:
        raise ValueError(f"{spec.name} is a {spec.kind.value}, not a job")
    job_spec: dict[str, Any] = {
        "backoffLimit": spec.backoff_limit,
        "completions": 1,
        "parallelism": 1,
        "template": _pod_template(spec, _JOB_RESTART[spec.effective_restart_policy]),
    }
    if spec.ttl_seconds_after_finished is not None:
        job_spec["ttlSecondsAfterFinished"] = spec.ttl_seconds_after_finished
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": _metadata(spec), "spec": job_spec}


def build(spec: WorkloadSpec) -> dict[str, Any]:
    return build_deployment(spec) if spec.kind is WorkloadKind.SERVICE else build_job(spec)


def _true(conditions: list[Any] | None, kind: str) -> Any | None:
    """The condition of type ``kind`` when its status is True."""
    for cond in conditions or []:
        if cond.type == kind and cond.status == "True":
            return cond
    return None


def deployment_status(deployment: client.V1Deployment, restarts: int) -> WorkloadStatus:
    """Ready only once the controller has seen the current generation and every replica is updated
    and available, so a just-changed spec never reads as ready on the old pods."""
    status = deployment.status or client.V1DeploymentStatus()
    spec = deployment.spec
    wanted = spec.replicas if spec is not None and spec.replicas is not None else 1
    generation = (deployment.metadata and deployment.metadata.generation) or 0
    observed = (status.observed_generation or 0) >= generation
    available = status.available_replicas or 0
    ready = observed and available >= wanted and (status.updated_replicas or 0) >= wanted
    stuck = next(
        (
            c
            for c in status.conditions or []
            if c.type == "Progressing" and c.status == "False" and c.reason == "ProgressDeadlineExceeded"
        ),
        None,
    )
    failure = _true(status.conditions, "ReplicaFailure") or stuck
    if ready:
        message = f"{available}/{wanted} replicas available"
    elif failure is not None:
        message = f"{failure.reason}: {failure.message}"
    else:
        message = f"{available}/{wanted} replicas available, waiting"
    return WorkloadStatus(
        exists=True,
        ready=ready,
        running=(status.ready_replicas or 0) > 0,
        failed=failure is not None,
        restarts=restarts,
        message=message,
    )


def job_status(job: client.V1Job, restarts: int) -> WorkloadStatus:
    """Terminal state comes only from the Complete/Failed conditions the Job controller sets."""
    status = job.status or client.V1JobStatus()
    complete = _true(status.conditions, "Complete")
    failed = _true(status.conditions, "Failed")
    if complete is not None:
        message = "completed"
    elif failed is not None:
        message = f"{failed.reason}: {failed.message}"
    else:
        message = f"{status.active or 0} active, {status.failed or 0} failed"
    return WorkloadStatus(
        exists=True,
        ready=(status.ready or 0) > 0,
        running=(status.active or 0) > 0,
        succeeded=complete is not None,
        failed=failed is not None,
        restarts=(status.failed or 0) + restarts,
        message=message,
    )


def _created(pod: client.V1Pod) -> str:
    return str((pod.metadata and pod.metadata.creation_timestamp) or "")


class KubernetesDriver:
    """Realises workloads as Deployments and Jobs through the API server.

    API errors propagate as :class:`ApiException` so the operator can tell a retryable 5xx or
    conflict from a permanent 422 (for example a Job whose template changed: Job templates are
    immutable, so the owner must delete the old run first).
    """

    def __init__(
        self,
        kubeconfig: Path | None = None,
        api_client: client.ApiClient | None = None,
        field_manager: str = FIELD_MANAGER,
    ) -> None:
        self._owns_client = api_client is None
        if api_client is None:
            api_client = kube_api_client(kubeconfig)
        self.api_client = api_client
        self.field_manager = field_manager
        self.apps = client.AppsV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)

    @property
    def runs_in_pods(self) -> bool:
        return True

    @property
    def owns_cleanup(self) -> bool:
        return False  # ownerReferences: the garbage collector removes an owner's workloads

    def close(self) -> None:
        """Close the API client if this driver created it; a shared one belongs to its creator."""
        if self._owns_client:
            self.api_client.close()  # type: ignore[no-untyped-call]

    def apply(self, spec: WorkloadSpec) -> None:
        patch: Callable[..., Any] = (
            self.apps.patch_namespaced_deployment
            if spec.kind is WorkloadKind.SERVICE
            else self.batch.patch_namespaced_job
        )
        patch(
            spec.name,
            spec.namespace,
            build(spec),
            field_manager=self.field_manager,
            force=True,
            _content_type=APPLY_PATCH,
        )

    def status(self, spec: WorkloadSpec) -> WorkloadStatus:
        try:
            if spec.kind is WorkloadKind.SERVICE:
                deployment = self.apps.read_namespaced_deployment(spec.name, spec.namespace)
                return deployment_status(deployment, self._restarts(spec))
            job = self.batch.read_namespaced_job(spec.name, spec.namespace)
            return job_status(job, self._restarts(spec))
        except ApiException as exc:
            if exc.status == 404:
                kind = "Deployment" if spec.kind is WorkloadKind.SERVICE else "Job"
                return WorkloadStatus(exists=False, message=f"{kind} {spec.namespace}/{spec.name} not found")
            raise

    def failure_detail(self, spec: WorkloadSpec) -> str | None:
        """The failed pod's termination message (its log tail, see the pod template), else the
        Job's Failed condition message."""
        try:
            job = self.batch.read_namespaced_job(spec.name, spec.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        failed = _true((job.status or client.V1JobStatus()).conditions, "Failed")
        selector = ",".join(f"{k}={v}" for k, v in sorted(spec.selector_labels.items()))
        pods = self.core.list_namespaced_pod(spec.namespace, label_selector=selector).items
        for pod in sorted(pods, key=_created, reverse=True):
            for container in (pod.status.container_statuses if pod.status else None) or []:
                terminated = container.state.terminated if container.state else None
                if terminated is not None and terminated.exit_code and terminated.message:
                    return last_verdict(terminated.message)
        return None if failed is None else f"{failed.reason}: {failed.message}"

    def delete(self, ref: WorkloadRef) -> None:
        """Background propagation: return at once, the garbage collector removes the pods."""
        remove: Callable[..., Any] = (
            self.apps.delete_namespaced_deployment
            if ref.kind is WorkloadKind.SERVICE
            else self.batch.delete_namespaced_job
        )
        try:
            remove(ref.name, ref.namespace, propagation_policy="Background")
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _restarts(self, spec: WorkloadSpec) -> int:
        selector = ",".join(f"{k}={v}" for k, v in sorted(spec.selector_labels.items()))
        pods = self.core.list_namespaced_pod(spec.namespace, label_selector=selector)
        return sum(
            cs.restart_count or 0
            for pod in pods.items
            for cs in ((pod.status.container_statuses if pod.status else None) or [])
        )


if TYPE_CHECKING:  # mypy proves the driver meets the interface reconcilers are written against
    _CONFORMS: type[WorkloadDriver] = KubernetesDriver
