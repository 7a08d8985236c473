"""The whole embedded system on one machine, as ``make demo`` runs it: ``up``, ``down``, ``status``.

Today that is the local control plane and PostgreSQL, then the samples in ``manifests/samples/``;
the operator, the venue simulator and MLflow join here as the planes arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tradeplane.embedded.binaries import Reporter
from tradeplane.embedded.cluster import ComponentStatus, LocalCluster
from tradeplane.embedded.kubectl import kubectl, readyz
from tradeplane.embedded.paths import project_root
from tradeplane.embedded.postgres import EmbeddedPostgres

SAMPLES_DIR = Path("manifests") / "samples"


def sample_manifests(root: Path | None = None) -> list[Path]:
    folder = (root or project_root()) / SAMPLES_DIR
    return (
        sorted(p for p in folder.glob("*.yaml") if p.name != "kustomization.yaml") if folder.is_dir() else []
    )


def apply_samples(kubeconfig: Path, report: Reporter, root: Path | None = None) -> list[Path]:
    """Apply the samples server-side; with none yet, say so rather than pretend."""
    manifests = sample_manifests(root)
    if not manifests:
        report(f"no samples in {SAMPLES_DIR}/ yet; nothing to apply")
        return []
    folder = manifests[0].parent
    target = ["-k", str(folder)] if (folder / "kustomization.yaml").is_file() else ["-f", str(folder)]
    kubectl(["apply", "--server-side", *target], kubeconfig)
    report(f"applied {len(manifests)} sample manifest(s) from {SAMPLES_DIR}/")
    return manifests


@dataclass(frozen=True)
class SystemStatus:
    cluster: list[ComponentStatus]
    database: list[ComponentStatus]
    kubeconfig: Path
    database_url: str | None

    @property
    def healthy(self) -> bool:
        rows = [*self.cluster, *self.database]
        return bool(self.cluster) and bool(self.database) and all(r.healthy for r in rows)


class EmbeddedSystem:
    def __init__(self, report: Reporter = print) -> None:
        self.report = report
        self.cluster = LocalCluster(report=report)
        self.postgres = EmbeddedPostgres(report=report)

    def up(self, workloads: bool = True, timeout: float = 60.0) -> SystemStatus:
        self.cluster.up(workloads=workloads, timeout=timeout)
        self.postgres.up(timeout=timeout)
        apply_samples(self.cluster.kubeconfig, self.report)
        if readyz(self.cluster.kubeconfig) != "ok":
            self.report("warning: the apiserver's /readyz is not ok after start")
        return self.status()

    def down(self) -> list[str]:
        """Stop what ``up`` started, dependents first: the database, then the control plane."""
        return [*self.postgres.down(), *self.cluster.down()]

    def status(self) -> SystemStatus:
        database = self.postgres.status()
        url = self.postgres.url(masked=True) if database else None
        return SystemStatus(self.cluster.status(), database, self.cluster.kubeconfig, url)
