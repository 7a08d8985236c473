"""Workload drivers: one interface (:class:`WorkloadDriver`), realised by Kubernetes or local processes.

Reconcilers depend only on :mod:`tradeplane.runtime.workloads.spec`; the operator picks a driver
(Kubernetes in a cluster, local processes for the embedded default) and owns its lifetime.
"""

from tradeplane.runtime.workloads.spec import (
    Owner,
    Resources,
    RestartPolicy,
    SecretEnv,
    VolumeMount,
    WorkloadDriver,
    WorkloadKind,
    WorkloadSpec,
    WorkloadStatus,
)

__all__ = [
    "Owner",
    "Resources",
    "RestartPolicy",
    "SecretEnv",
    "VolumeMount",
    "WorkloadDriver",
    "WorkloadKind",
    "WorkloadSpec",
    "WorkloadStatus",
]
