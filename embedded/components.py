"""Command lines and health probes of each control-plane component (pure builders).

Flags follow controller-runtime's envtest, plus ``--advertise-address=127.0.0.1`` and
``--endpoint-reconciler-type=none`` so the apiserver never depends on the host's default route.
Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tradeplane.embedded.binaries import CachedBundle
from tradeplane.embedded.http import ApiClient, Response, get_insecure, get_plain
from tradeplane.embedded.pki import ClusterPKI

LOOPBACK = "127.0.0.1"
SERVICE_CIDR = "10.0.0.0/24"
POD_CIDR = "10.0.1.0/24"
FAKE_NODE = "kwok-node-0"
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KCM_CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "job-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
)
CORE = ("etcd", "kube-apiserver")
WORKLOADS = ("kube-controller-manager", "kube-scheduler", "kwok")
PORT_NAMES = ("etcd", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


def allocate_ports(names: Iterable[str], preferred: dict[str, int] | None = None) -> dict[str, int]:
    """Distinct free loopback ports; a preferred port is used only when it is free right now.

    Probed with SO_REUSEADDR, as etcd, the Kubernetes components and postgres bind: connections a
    previous run left in TIME_WAIT do not block them, so they must not move a preferred port either.
    """
    preferred = preferred or {}
    held: list[socket.socket] = []
    ports: dict[str, int] = {}
    try:
        for name in names:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            held.append(sock)
            wanted = preferred.get(name, 0)
            try:
                sock.bind((LOOPBACK, wanted))
            except OSError:
                sock.bind((LOOPBACK, 0))
            ports[name] = sock.getsockname()[1]
    finally:
        for sock in held:
            sock.close()
    return ports


@dataclass(frozen=True)
class Layout:
    """Files of one local cluster under its state directory."""

    root: Path

    @property
    def pki(self) -> ClusterPKI:
        return ClusterPKI(self.root / "pki")

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def kwok_config(self) -> Path:
        return self.root / "kwok-stages.yaml"

    def log(self, component: str) -> Path:
        return self.root / "logs" / f"{component}.log"

    def certs(self, component: str) -> Path:
        return self.root / "serving" / component


def etcd_argv(bins: CachedBundle, layout: Layout, ports: dict[str, int]) -> list[str]:
    client = f"http://{LOOPBACK}:{ports['etcd']}"
    peer = f"http://{LOOPBACK}:{ports['etcd-peer']}"
    return [
        str(bins.path("etcd")),
        "--name=default",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver_argv(bins: CachedBundle, layout: Layout, ports: dict[str, int]) -> list[str]:
    pki = layout.pki
    return [
        str(bins.path("kube-apiserver")),
        f"--etcd-servers=http://{LOOPBACK}:{ports['etcd']}",
        f"--bind-address={LOOPBACK}",
        f"--advertise-address={LOOPBACK}",
        f"--secure-port={ports['kube-apiserver']}",
        "--endpoint-reconciler-type=none",
        f"--cert-dir={layout.certs('kube-apiserver')}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={pki.service_account_pub}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        # No kubelet ever mounts tokens here; without ServiceAccount, pods do not wait on the
        # serviceaccount controller. TaintNodesByCondition would taint the fake node not-ready,
        # a taint only the node-lifecycle controller (left out: kwok nodes have no kubelet) lifts.
        "--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
        "--profiling=false",
    ]


def _controller_flags(layout: Layout, component: str, port: int) -> list[str]:
    # No delegated authentication/authorization kubeconfigs: only /healthz is served to us, and it
    # is always allowed; delegation would demand a requestheader CA this cluster does not need.
    return [
        f"--kubeconfig={layout.kubeconfig}",
        "--leader-elect=false",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={port}",
        f"--cert-dir={layout.certs(component)}",
        "--profiling=false",
    ]


def controller_manager_argv(bins: CachedBundle, layout: Layout, ports: dict[str, int]) -> list[str]:
    return [
        str(bins.path("kube-controller-manager")),
        *_controller_flags(layout, "kube-controller-manager", ports["kube-controller-manager"]),
        f"--controllers={','.join(KCM_CONTROLLERS)}",
        "--use-service-account-credentials=false",
        "--kube-api-qps=200",
        "--kube-api-burst=400",
    ]


def scheduler_argv(bins: CachedBundle, layout: Layout, ports: dict[str, int]) -> list[str]:
    return [
        str(bins.path("kube-scheduler")),
        *_controller_flags(layout, "kube-scheduler", ports["kube-scheduler"]),
    ]


def kwok_stages(bins: CachedBundle) -> str:
    """kwok needs stages when run on its own; these come from the same kwok release we built."""
    documents = [bins.path(name).read_text().strip() for name in sorted(bins.bundle.module_files.values())]
    return "\n---\n".join(documents) + "\n"


def kwok_argv(bins: CachedBundle, layout: Layout, ports: dict[str, int]) -> list[str]:
    return [
        str(bins.path("kwok")),
        f"--kubeconfig={layout.kubeconfig}",
        f"--config={layout.kwok_config}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
        f"--cidr={POD_CIDR}",
        "--node-ip=10.0.1.1",
        "--node-lease-duration-seconds=40",
        f"--server-address={LOOPBACK}:{ports['kwok']}",
    ]


def fake_node() -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": FAKE_NODE,
            "annotations": {FAKE_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"type": "kwok", "kubernetes.io/hostname": FAKE_NODE, "kubernetes.io/os": "linux"},
        },
        "spec": {"providerID": f"kwok://{FAKE_NODE}"},
    }


def node_is_ready(response: Response) -> bool:
    if response.status != 200:
        return False
    conditions = response.json().get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


@dataclass(frozen=True)
class HealthProbe:
    """How to ask a running component whether it is healthy."""

    url: str
    check: Callable[[], bool]


def health_probe(component: str, ports: dict[str, int], api: ApiClient | None) -> HealthProbe:
    port = ports[component]
    if component == "etcd":
        url = f"http://{LOOPBACK}:{port}/health"
        return HealthProbe(url, lambda: '"health":"true"' in get_plain(url).body.replace(" ", ""))
    if component == "kube-apiserver":
        assert api is not None
        return HealthProbe(f"{api.server}/readyz", lambda: api.readyz().status == 200)
    if component == "kwok":
        url = f"http://{LOOPBACK}:{port}/healthz"
        return HealthProbe(url, lambda: get_plain(url).status == 200)
    url = f"https://{LOOPBACK}:{port}/healthz"
    return HealthProbe(url, lambda: get_insecure(url).status == 200)
