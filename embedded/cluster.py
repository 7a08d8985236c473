"""The local Kubernetes control plane: ``up``, ``down`` and ``status`` over recorded processes.

State lives in ``<state dir>/cluster/state.json``: the ports and, per component, the process
record. ``up`` is idempotent: a healthy cluster is reused (and the workloads tier added to it when
asked), an unhealthy one is stopped and replaced. ``down`` signals only recorded process groups.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradeplane.embedded import binaries, components, pki
from tradeplane.embedded.binaries import CachedBundle, Reporter
from tradeplane.embedded.components import CORE, WORKLOADS, HealthProbe, Layout
from tradeplane.embedded.errors import EmbeddedError
from tradeplane.embedded.http import ApiClient
from tradeplane.embedded.kubeconfig import write as write_kubeconfig
from tradeplane.embedded.locking import exclusive_lock
from tradeplane.runtime.host import statefile
from tradeplane.runtime.host.paths import local_cluster_dir
from tradeplane.runtime.host.processes import (
    ComponentFailed,
    ProcessRecord,
    is_running,
    spawn,
    stop,
    wait_until,
)

START_ATTEMPTS = 3
DEFAULT_TIMEOUT_SECONDS = 60.0
ArgvBuilder = Callable[[CachedBundle, Layout, dict[str, int]], list[str]]


class PortConflict(ComponentFailed):
    """Another process took a port between choosing it and binding it; retried with new ports."""


def classify_failure(failure: ComponentFailed) -> ComponentFailed:
    """A bind race (free when chosen, taken when bound) is retried on new ports; others are final."""
    return PortConflict(str(failure)) if "address already in use" in str(failure) else failure


@dataclass
class ClusterState:
    ports: dict[str, int]
    processes: dict[str, ProcessRecord] = field(default_factory=dict)

    @property
    def server(self) -> str:
        return f"https://{components.LOOPBACK}:{self.ports['kube-apiserver']}"

    def to_json(self) -> dict[str, Any]:
        return {"ports": self.ports, "processes": {k: v.to_json() for k, v in self.processes.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterState:
        processes = {k: ProcessRecord.from_json(v) for k, v in data.get("processes", {}).items()}
        return cls(ports={k: int(v) for k, v in data["ports"].items()}, processes=processes)


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    port: int | None
    running: bool
    healthy: bool
    endpoint: str


def _builders() -> dict[str, tuple[str, ArgvBuilder]]:
    """Component -> (bundle it comes from, argv builder), in start order."""
    return {
        "etcd": ("etcd", components.etcd_argv),
        "kube-apiserver": ("kubernetes", components.apiserver_argv),
        "kube-controller-manager": ("kubernetes", components.controller_manager_argv),
        "kube-scheduler": ("kubernetes", components.scheduler_argv),
        "kwok": ("kwok", components.kwok_argv),
    }


class LocalCluster:
    """One local control plane rooted at ``<state dir>/cluster``."""

    def __init__(self, root: Path | None = None, report: Reporter = print) -> None:
        self.layout = Layout(root or local_cluster_dir())
        self.report = report

    @property
    def kubeconfig(self) -> Path:
        return self.layout.kubeconfig

    def load(self) -> ClusterState | None:
        return statefile.read(self.layout.state, ClusterState.from_json)

    def _save(self, state: ClusterState) -> None:
        statefile.write(self.layout.state, state.to_json())

    def _api(self, state: ClusterState) -> ApiClient:
        return ApiClient(state.server, self.layout.pki)

    def _probe(self, name: str, state: ClusterState) -> HealthProbe:
        return components.health_probe(name, state.ports, self._api(state))

    # -- up -----------------------------------------------------------------------------------

    def up(self, workloads: bool = False, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> ClusterState:
        """Bring the control plane (and optionally the workloads tier) up, reusing what is healthy."""
        with exclusive_lock(self.layout.root.parent / ".cluster.lock"):
            state = self.load()
            if state is not None and not self._core_healthy(state):
                self.report("the recorded cluster is not healthy; replacing it")
                self._teardown(state)
                state = None
            bundles = {"etcd", "kubernetes", *(["kwok"] if workloads else [])}
            cached = {
                b.name: binaries.ensure(b, self.report) for b in binaries.ALL_BUNDLES if b.name in bundles
            }
            if state is None:
                state = self._start_core(cached, timeout)
            if workloads and not all(self._is_healthy(n, state) for n in WORKLOADS):
                self._start_workloads(state, cached, timeout)
            return state

    def _core_healthy(self, state: ClusterState) -> bool:
        return all(self._is_healthy(name, state) for name in CORE)

    def _is_healthy(self, name: str, state: ClusterState) -> bool:
        record = state.processes.get(name)
        return record is not None and is_running(record) and self._probe(name, state).check()

    def _start(self, name: str, state: ClusterState, cached: dict[str, CachedBundle], timeout: float) -> None:
        bundle_name, builder = _builders()[name]
        argv = builder(cached[bundle_name], self.layout, state.ports)
        record = spawn(name, argv, self.layout.log(name), cwd=self.layout.root)
        state.processes[name] = record
        self._save(state)
        probe = self._probe(name, state)
        try:
            wait_until(probe.check, record, timeout, f"healthy at {probe.url}")
        except ComponentFailed as exc:
            raise classify_failure(exc) from exc

    def _start_core(self, cached: dict[str, CachedBundle], timeout: float) -> ClusterState:
        shutil.rmtree(self.layout.root, ignore_errors=True)
        self.layout.root.mkdir(parents=True)
        self.layout.root.chmod(0o700)
        pki.generate(self.layout.pki.directory)
        for attempt in range(1, START_ATTEMPTS + 1):
            state = ClusterState(ports=components.allocate_ports(components.PORT_NAMES))
            try:
                for name in CORE:
                    self.report(f"starting {name}")
                    self._start(name, state, cached, timeout)
                write_kubeconfig(self.layout.kubeconfig, state.server, self.layout.pki)
                self._wait_bootstrapped(state, timeout)
                return state
            except PortConflict:
                self._stop_records(list(state.processes.values()))
                shutil.rmtree(self.layout.etcd_data, ignore_errors=True)
                if attempt == START_ATTEMPTS:
                    raise
                self.report("a port was taken while starting; retrying on other ports")
            except BaseException:
                self._stop_records(list(state.processes.values()))
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_bootstrapped(self, state: ClusterState, timeout: float) -> None:
        """envtest waits for the default namespace: until it exists, events and namespaced writes fail."""
        api = self._api(state)
        wait_until(
            lambda: api.get("/api/v1/namespaces/default").status == 200,
            state.processes["kube-apiserver"],
            timeout,
            "serving the default namespace",
        )

    def _start_workloads(self, state: ClusterState, cached: dict[str, CachedBundle], timeout: float) -> None:
        stale = [state.processes.pop(n) for n in WORKLOADS if n in state.processes]
        self._stop_records(stale)
        missing = [n for n in WORKLOADS if n not in state.ports]
        if missing:
            state.ports.update(components.allocate_ports(missing))
        self.layout.kwok_config.write_text(components.kwok_stages(cached["kwok"]))
        for name in WORKLOADS:
            self.report(f"starting {name}")
            self._start(name, state, cached, timeout)
        api = self._api(state)
        if api.get(f"/api/v1/nodes/{components.FAKE_NODE}").status == 404:
            created = api.post("/api/v1/nodes", components.fake_node())
            if created.status not in (201, 409):
                raise EmbeddedError(f"could not create the fake node: HTTP {created.status} {created.body}")
        wait_until(
            lambda: components.node_is_ready(api.get(f"/api/v1/nodes/{components.FAKE_NODE}")),
            state.processes["kwok"],
            timeout,
            f"reporting node {components.FAKE_NODE} Ready",
        )

    # -- down / status ---------------------------------------------------------------------------

    def _stop_records(self, records: list[ProcessRecord]) -> None:
        order = [*reversed(WORKLOADS), *reversed(CORE)]
        waves = [[r for r in records if r.name not in CORE], [r for r in records if r.name in CORE]]
        for wave in waves:
            stop(sorted(wave, key=lambda r: order.index(r.name) if r.name in order else 0))

    def _teardown(self, state: ClusterState) -> None:
        self._stop_records(list(state.processes.values()))
        shutil.rmtree(self.layout.root, ignore_errors=True)

    def down(self) -> list[str]:
        """Stop exactly the recorded processes and remove the cluster's runtime state."""
        with exclusive_lock(self.layout.root.parent / ".cluster.lock"):
            state = self.load()
            if state is None:
                shutil.rmtree(self.layout.root, ignore_errors=True)
                return []
            names = list(state.processes)
            self._teardown(state)
            return names

    def status(self) -> list[ComponentStatus]:
        state = self.load()
        if state is None:
            return []
        rows = []
        for name, record in state.processes.items():
            running = is_running(record)
            probe = self._probe(name, state)
            healthy = running and probe.check()
            rows.append(ComponentStatus(name, record.pid, state.ports.get(name), running, healthy, probe.url))
        return rows
