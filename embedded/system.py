"""The whole embedded system on one machine, as ``make demo`` runs it: ``up``, ``down``, ``status``.

``up``: the local control plane, PostgreSQL (migrated), the CRDs, the operator in the background,
then the samples in ``manifests/samples/``, waiting until the operator has reconciled every sample
(observedGeneration caught up) so the printed status is the real one, and until each sample
FeatureSet shows a dataset snapshot built from the ingested simulator data. The venue simulator runs
beside them on the port the sample Venue names. MLflow joins here as its plane arrives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tradeplane.crds.cli import install as install_crds
from tradeplane.embedded.binaries import Reporter
from tradeplane.embedded.cluster import ComponentStatus, LocalCluster
from tradeplane.embedded.components import LOOPBACK
from tradeplane.embedded.operator_process import LocalOperator
from tradeplane.embedded.postgres import EmbeddedPostgres
from tradeplane.embedded.venue_process import SAMPLE_PORT, LocalVenueSimulator
from tradeplane.runtime.host.paths import project_root, state_dir
from tradeplane.runtime.kubectl import kubectl, readyz
from tradeplane.runtime.store.migrate import upgrade
from tradeplane.runtime.workloads.local import stop_recorded_workloads

SAMPLES_DIR = Path("manifests") / "samples"


def sample_manifests(root: Path | None = None) -> list[Path]:
    folder = (root or project_root()) / SAMPLES_DIR
    return (
        sorted(p for p in folder.glob("*.yaml") if p.name != "kustomization.yaml") if folder.is_dir() else []
    )


def _target(manifests: list[Path]) -> list[str]:
    folder = manifests[0].parent
    return ["-k", str(folder)] if (folder / "kustomization.yaml").is_file() else ["-f", str(folder)]


def apply_samples(kubeconfig: Path, report: Reporter, root: Path | None = None) -> list[Path]:
    """Apply the samples server-side; with none, say so rather than pretend."""
    manifests = sample_manifests(root)
    if not manifests:
        report(f"no samples in {SAMPLES_DIR}/ yet; nothing to apply")
        return []
    apply = ["apply", "--server-side", "--force-conflicts", "--field-manager=tradeplane-demo"]
    kubectl([*apply, *_target(manifests)], kubeconfig)
    report(f"applied {len(manifests)} sample manifest(s) from {SAMPLES_DIR}/")
    return manifests


def point_sample_venues(kubeconfig: Path, manifests: list[Path], port: int) -> list[str]:
    """Re-point the sample Venues at the simulator when it runs on another port than theirs."""
    if not manifests or port == SAMPLE_PORT:
        return []
    listed = json.loads(kubectl(["get", "-o", "json", *_target(manifests)], kubeconfig).stdout).get(
        "items", []
    )
    moved = []
    for item in listed:
        if item.get("kind") != "Venue" or f":{SAMPLE_PORT}" not in item["spec"]["endpoints"]["rest"]:
            continue
        endpoints = {"rest": f"http://{LOOPBACK}:{port}", "websocket": f"ws://{LOOPBACK}:{port}/swap-market"}
        patch = {
            "apiVersion": item["apiVersion"],
            "kind": "Venue",
            "metadata": {"name": item["metadata"]["name"], "namespace": item["metadata"]["namespace"]},
            "spec": {"endpoints": endpoints},
        }
        # its own field manager, so the sample manager's next apply does not take the fields back
        kubectl(
            [
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager=tradeplane-demo-venue",
                "-f",
                "-",
            ],
            kubeconfig,
            stdin=json.dumps(patch),
        )
        moved.append(item["metadata"]["name"])
    return moved


def wait_reconciled(kubeconfig: Path, manifests: list[Path], timeout: float) -> list[str]:
    """Wait until the operator has acted on every sample object; returns the objects waited for."""
    if not manifests:
        return []
    listed = kubectl(["get", "-o", "json", *_target(manifests)], kubeconfig)
    items = json.loads(listed.stdout).get("items", [])
    waited = []
    for item in items:
        group = item["apiVersion"].split("/")[0]
        if group != "tradeplane.io":
            continue
        name = f"{item['kind'].lower()}.{group}/{item['metadata']['name']}"
        generation = item["metadata"].get("generation", 1)
        kubectl(
            ["wait", "-n", item["metadata"].get("namespace", "default"), name,
             f"--for=jsonpath={{.status.observedGeneration}}={generation}", f"--timeout={int(timeout)}s"],
            kubeconfig, timeout=timeout + 30,
        )  # fmt: skip
        waited.append(name)
    return waited


SNAPSHOT_TIMEOUT = 600.0
"""The first dataset snapshot waits for the Instrument to be Ready (metadata, lease, fresh bars),
then for one build; a failed build is retried after a few minutes (``dataset_build.RETRY_FAILED``)."""


def wait_materialised(kubeconfig: Path, manifests: list[Path], report: Reporter, timeout: float) -> list[str]:
    """Wait until every sample FeatureSet shows a snapshot built from ingested data; the demo then
    shows the feature plane working end to end. A FeatureSet that cannot get one is reported with
    its Ready condition (the system is up either way: it says honestly why there is no snapshot)."""
    if not manifests:
        return []
    listed = json.loads(kubectl(["get", "-o", "json", *_target(manifests)], kubeconfig).stdout)
    materialised = []
    for item in listed.get("items", []):
        if item["kind"] != "FeatureSet":
            continue
        namespace, name = item["metadata"].get("namespace", "default"), item["metadata"]["name"]
        waited = kubectl(
            ["wait", "-n", namespace, f"featuresets.tradeplane.io/{name}",
             "--for=jsonpath={.status.latestSnapshot.hash}", f"--timeout={int(timeout)}s"],
            kubeconfig, timeout=timeout + 30, check=False,
        )  # fmt: skip
        if waited.returncode == 0:
            materialised.append(name)
            continue
        reason = kubectl(
            ["get", "-n", namespace, f"featuresets.tradeplane.io/{name}",
             "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].message}'],
            kubeconfig, check=False,
        )  # fmt: skip
        report(f"warning: FeatureSet {namespace}/{name} has no dataset snapshot yet: {reason.stdout.strip()}")
    if materialised:
        wide = kubectl(["get", "featuresets.tradeplane.io", "-A", "-o", "wide"], kubeconfig, check=False)
        report(wide.stdout.rstrip())
    return materialised


@dataclass(frozen=True)
class SystemStatus:
    cluster: list[ComponentStatus]
    database: list[ComponentStatus]
    operator: list[ComponentStatus]
    kubeconfig: Path
    database_url: str | None
    venue: list[ComponentStatus]

    @property
    def healthy(self) -> bool:
        rows = [*self.cluster, *self.database, *self.operator, *self.venue]
        return (
            bool(self.cluster)
            and bool(self.database)
            and bool(self.operator)
            and bool(self.venue)
            and all(r.healthy for r in rows)
        )


class EmbeddedSystem:
    def __init__(self, report: Reporter = print) -> None:
        self.report = report
        self.cluster = LocalCluster(report=report)
        self.postgres = EmbeddedPostgres(report=report)
        self.operator = LocalOperator(report=report)
        self.venue = LocalVenueSimulator(report=report)

    def up(self, workloads: bool = True, timeout: float = 60.0) -> SystemStatus:
        self.cluster.up(workloads=workloads, timeout=timeout)
        self.postgres.up(timeout=timeout)
        database_url = self.postgres.url()
        upgrade(database_url)
        install_crds(self.cluster.kubeconfig, timeout=timeout, report=self.report)
        venue_port = self.venue.up(timeout=timeout)
        self.operator.up(self.cluster.kubeconfig, database_url, timeout=timeout)
        samples = apply_samples(self.cluster.kubeconfig, self.report)
        point_sample_venues(self.cluster.kubeconfig, samples, venue_port)
        wait_reconciled(self.cluster.kubeconfig, samples, timeout)
        wait_materialised(self.cluster.kubeconfig, samples, self.report, max(timeout, SNAPSHOT_TIMEOUT))
        if readyz(self.cluster.kubeconfig) != "ok":
            self.report("warning: the apiserver's /readyz is not ok after start")
        return self.status()

    def down(self) -> list[str]:
        """Stop what ``up`` started, dependents first: operator, simulator, database, control plane."""
        operator = self.operator.down()
        workloads = stop_recorded_workloads(state_dir() / "workloads")
        return [*operator, *workloads, *self.venue.down(), *self.postgres.down(), *self.cluster.down()]

    def status(self) -> SystemStatus:
        database = self.postgres.status()
        url = self.postgres.url(masked=True) if database else None
        return SystemStatus(
            self.cluster.status(),
            database,
            self.operator.status(),
            self.cluster.kubeconfig,
            url,
            self.venue.status(),
        )
