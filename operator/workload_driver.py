"""Which workload driver the operator uses: Deployments and Jobs in a cluster, supervised local
processes in the embedded default (there is no kubelet there to run a pod)."""

from __future__ import annotations

import base64
import os

from kubernetes import client

from tradeplane.runtime.host.paths import state_dir
from tradeplane.runtime.workloads.kubernetes import KubernetesDriver
from tradeplane.runtime.workloads.local import LocalProcessDriver
from tradeplane.runtime.workloads.spec import WorkloadDriver

DRIVER_ENV = "TRADEPLANE_WORKLOAD_DRIVER"
DATABASE_SECRET_ENV = "TRADEPLANE_DATABASE_SECRET"  # noqa: S105 - names of a variable and a Secret
DEFAULT_DATABASE_SECRET = "tradeplane-database"  # noqa: S105


class UnknownDriver(ValueError):
    pass


def chosen_driver() -> str:
    """``kubernetes`` inside a cluster, ``local`` elsewhere, unless TRADEPLANE_WORKLOAD_DRIVER says."""
    chosen = os.environ.get(DRIVER_ENV) or (
        "kubernetes" if os.environ.get("KUBERNETES_SERVICE_HOST") else "local"
    )
    if chosen not in {"kubernetes", "local"}:
        raise UnknownDriver(f"{DRIVER_ENV} must be 'kubernetes' or 'local', not {chosen!r}")
    return chosen


def workload_driver(api: client.ApiClient) -> tuple[WorkloadDriver, str | None]:
    """The driver and, for Kubernetes, the Secret workloads read DATABASE_URL from."""
    if chosen_driver() == "kubernetes":
        return KubernetesDriver(api_client=api), os.environ.get(DATABASE_SECRET_ENV, DEFAULT_DATABASE_SECRET)
    core = client.CoreV1Api(api)

    def secret_value(namespace: str, name: str, key: str) -> str:
        secret = core.read_namespaced_secret(name, namespace)
        return base64.b64decode((secret.data or {})[key]).decode()

    # local children inherit the operator's environment (DATABASE_URL, KUBECONFIG, TRADEPLANE_HOME)
    return LocalProcessDriver(secret_value, state_dir() / "workloads"), None
