"""What a workload is, independently of what realises it (a Deployment, a Job or a local process).

Reconcilers build a :class:`WorkloadSpec` from a custom resource and hand it to a driver; the spec is
validated here, once, so that both drivers can trust it and a bad name fails before any API call.
Secrets appear only as references (Secret name + key); a value never enters a spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import PurePosixPath
from typing import NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

DEFAULT_IMAGE = "ghcr.io/tradeplane/tradeplane:0.1.0"
MANAGER = "tradeplane"
SCRATCH_DIR = "/tmp"  # noqa: S108 - an emptyDir inside the pod, the only writable path
SCRATCH_VOLUME = "tmp"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_SUFFIX: dict[str | None, Decimal] = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate("kMGTPE")},
    **{s + "i": Decimal(1024) ** (i + 1) for i, s in enumerate("KMGTPE")},
}


def _dns_label(value: str, what: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise ValueError(
            f"{what} {value!r} is not a DNS-1123 label (lower-case alphanumerics and '-', "
            "starting and ending alphanumeric, at most 63 characters)"
        )
    return value


def _dns_subdomain(value: str, what: str) -> str:
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        raise ValueError(f"{what} {value!r} is not a DNS-1123 subdomain")
    return value


def quantity(value: str) -> Decimal:
    """A Kubernetes resource quantity as a number, so requests can be compared with limits."""
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a resource quantity (for example 250m, 1, 512Mi)")
    return Decimal(match.group(1)) * _SUFFIX[match.group(3)]


class WorkloadKind(StrEnum):
    SERVICE = "service"  # long-running: a Deployment, or a local child restarted always
    JOB = "job"  # runs to completion: a Job, or a local child restarted at most on failure


class RestartPolicy(StrEnum):
    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    NEVER = "never"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecretEnv(_Frozen):
    """One environment variable taken from one key of a Secret in the workload's namespace."""

    env: str
    secret: str
    key: str

    @field_validator("env")
    @classmethod
    def _env(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"environment variable name {value!r} is not a C identifier")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        return _dns_subdomain(value, "Secret name")

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if len(value) > 253 or not _SECRET_KEY.match(value):
            raise ValueError(f"Secret key {value!r} is not a valid data key")
        return value


class Resources(_Frozen):
    """Requests keep the scheduler honest; limits bound a runaway trainer. No CPU limit by default
    would risk noisy neighbours on a shared node, so a generous one is set."""

    requests: dict[str, str] = Field(default_factory=lambda: {"cpu": "100m", "memory": "128Mi"})
    limits: dict[str, str] = Field(default_factory=lambda: {"cpu": "1", "memory": "512Mi"})

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for name, value in [*self.requests.items(), *self.limits.items()]:
            try:
                quantity(value)
            except ValueError as exc:
                raise ValueError(f"resource {name}: {exc}") from None
        for name, request in self.requests.items():
            limit = self.limits.get(name)
            if limit is not None and quantity(request) > quantity(limit):
                raise ValueError(f"resource {name}: request {request} exceeds limit {limit}")
        return self


class VolumeMount(_Frozen):
    """A PersistentVolumeClaim mounted into a workload's pod: what a workload writes there outlives
    the pod, unlike the scratch emptyDir (the only other writable path under a read-only root).

    Only the Kubernetes driver realises it. A local child writes straight to the operator's own
    filesystem, which is already durable, so the local driver ignores the mount (and the path
    need not exist on the host); a workload that must write somewhere durable in both places takes
    the path as an argument, passed only when the mount is there.
    """

    name: str
    claim_name: str
    mount_path: str
    read_only: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value == SCRATCH_VOLUME:
            raise ValueError(f"volume name {value!r} is reserved for the scratch emptyDir")
        return _dns_label(value, "volume name")

    @field_validator("claim_name")
    @classmethod
    def _claim(cls, value: str) -> str:
        return _dns_subdomain(value, "PersistentVolumeClaim name")

    @field_validator("mount_path")
    @classmethod
    def _path(cls, value: str) -> str:
        path = PurePosixPath(value)
        if not path.is_absolute() or ".." in path.parts or str(path) != value or value == "/":
            raise ValueError(f"mount path {value!r} is not a normalised absolute path below /")
        scratch = PurePosixPath(SCRATCH_DIR)
        if path == scratch or scratch in path.parents:
            # a claim there would shadow (or sit inside) the scratch emptyDir that HOME points to
            raise ValueError(f"mount path {value!r} is over the scratch directory {SCRATCH_DIR}")
        return value


class Owner(_Frozen):
    """The custom resource a workload belongs to; deleting it garbage-collects the workload."""

    api_version: str = Field(min_length=1)
    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    uid: str = Field(min_length=1)


class WorkloadRef(NamedTuple):
    """What names a workload: enough to find and delete it without its whole spec."""

    namespace: str
    name: str
    kind: WorkloadKind


class WorkloadSpec(_Frozen):
    name: str
    namespace: str
    kind: WorkloadKind
    component: str
    command: tuple[str, ...] = Field(min_length=1)
    args: tuple[str, ...] = ()
    image: str = DEFAULT_IMAGE
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: tuple[SecretEnv, ...] = ()
    resources: Resources = Field(default_factory=Resources)
    labels: dict[str, str] = Field(default_factory=dict)
    owner: Owner | None = None
    restart_policy: RestartPolicy | None = None
    backoff_limit: int = Field(default=3, ge=0, le=100)
    ttl_seconds_after_finished: int | None = Field(default=86400, ge=0)
    service_account: str | None = None
    automount_service_account_token: bool = False
    scratch_size: str = "1Gi"
    volumes: tuple[VolumeMount, ...] = ()

    @property
    def ref(self) -> WorkloadRef:
        return WorkloadRef(self.namespace, self.name, self.kind)

    @field_validator("name", "namespace", "component")
    @classmethod
    def _names(cls, value: str, info: ValidationInfo) -> str:
        return _dns_label(value, info.field_name or "name")

    @field_validator("service_account")
    @classmethod
    def _service_account(cls, value: str | None) -> str | None:
        return None if value is None else _dns_subdomain(value, "service account")

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"environment variable name {name!r} is not a C identifier")
        return value

    @field_validator("labels")
    @classmethod
    def _extra_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, val in value.items():
            prefix, _, name = key.rpartition("/")
            if prefix.startswith("app.kubernetes.io"):
                raise ValueError(f"label {key!r} is reserved: tradeplane sets app.kubernetes.io/* itself")
            if (prefix and not _DNS1123_SUBDOMAIN.match(prefix)) or len(name) > 63:
                raise ValueError(f"label key {key!r} is invalid")
            if not _LABEL_NAME.match(name) or len(val) > 63 or not _LABEL_VALUE.match(val):
                raise ValueError(f"label {key}={val!r} is invalid")
        return value

    @field_validator("scratch_size")
    @classmethod
    def _scratch(cls, value: str) -> str:
        quantity(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WorkloadSpec:
        names = list(self.env) + [s.env for s in self.secret_env]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"environment variables set twice: {', '.join(duplicated)}")
        for what, values in (
            ("volume names", [v.name for v in self.volumes]),
            ("mount paths", [v.mount_path for v in self.volumes]),
        ):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"{what} used twice: {', '.join(twice)}")
        allowed = (
            {RestartPolicy.ALWAYS}
            if self.kind is WorkloadKind.SERVICE
            else {RestartPolicy.ON_FAILURE, RestartPolicy.NEVER}
        )
        if self.restart_policy is not None and self.restart_policy not in allowed:
            # Kubernetes has the same rule (Deployments restart always, Jobs never "always"), so
            # both drivers mean the same thing by a policy.
            raise ValueError(
                f"restart_policy {self.restart_policy.value!r} is not allowed for a {self.kind.value}; "
                f"use one of {', '.join(sorted(p.value for p in allowed))}"
            )
        return self

    @property
    def effective_restart_policy(self) -> RestartPolicy:
        if self.restart_policy is not None:
            return self.restart_policy
        return RestartPolicy.ALWAYS if self.kind is WorkloadKind.SERVICE else RestartPolicy.ON_FAILURE

    @property
    def argv(self) -> tuple[str, ...]:
        return (*self.command, *self.args)

    @property
    def selector_labels(self) -> dict[str, str]:
        """The immutable subset used as a Deployment selector: changing it would orphan pods."""
        return {
            "app.kubernetes.io/name": f"tradeplane-{self.component}",
            "app.kubernetes.io/instance": self.name,
        }

    @property
    def all_labels(self) -> dict[str, str]:
        return {
            **self.labels,
            **self.selector_labels,
            "app.kubernetes.io/component": self.component,
            "app.kubernetes.io/managed-by": MANAGER,
            "app.kubernetes.io/part-of": MANAGER,
        }


@dataclass(frozen=True)
class WorkloadStatus:
    """What a reconciler needs to set conditions; ``message`` never carries a secret value.

    ``ready``: a service is available (a job: a pod of it is running and ready). ``succeeded`` and
    ``failed`` are terminal for jobs; a service reports ``failed`` when it cannot make progress.
    """

    exists: bool
    ready: bool = False
    running: bool = False
    succeeded: bool = False
    failed: bool = False
    restarts: int = 0
    message: str = ""


class WorkloadDriver(Protocol):
    """Realises workloads; every method is idempotent so level-based reconcilers can call it always.

    Callers never ask which driver they hold: what differs between a cluster and one machine is
    said here (``runs_in_pods``, ``owns_cleanup``, ``failure_detail``).
    """

    @property
    def runs_in_pods(self) -> bool:
        """Whether a workload runs in a pod, whose own filesystem dies with it: anything it must
        keep (a dataset snapshot) then goes to a mounted claim (:class:`VolumeMount`). A local
        child writes to the operator's own, durable filesystem instead."""
        ...

    @property
    def owns_cleanup(self) -> bool:
        """Whether stopping an owner's workloads is the driver's job. A cluster garbage-collects
        them through their ownerReferences; local children have no owner but their supervisor."""
        ...

    def apply(self, spec: WorkloadSpec) -> None: ...

    def status(self, spec: WorkloadSpec) -> WorkloadStatus: ...

    def failure_detail(self, spec: WorkloadSpec) -> str | None:
        """Why a failed job failed, in the workload's own words (its last verdict line), when the
        driver can tell more than :attr:`WorkloadStatus.message`; never a secret value."""
        ...

    def delete(self, ref: WorkloadRef) -> None: ...

    def close(self) -> None:
        """Release what the driver holds (local children stop with their supervisor)."""
        ...
