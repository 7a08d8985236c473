"""The operator as a background process of the embedded system (``make demo``).

On a real cluster the operator is a Deployment (``manifests/``); here there is no kubelet, so it
runs beside the apiserver on the same machine, serving every namespace, with workloads as local
processes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tradeplane.embedded.background import BackgroundProcess
from tradeplane.embedded.binaries import Reporter
from tradeplane.embedded.components import LOOPBACK, allocate_ports
from tradeplane.runtime.host.paths import state_dir
from tradeplane.runtime.host.processes import ProcessRecord

NAME = "tradeplane-operator"
DEMO_RESYNC_SECONDS = "5"


class LocalOperator(BackgroundProcess):
    name = NAME
    health_path = "/healthz"

    def __init__(self, root: Path | None = None, report: Reporter = print) -> None:
        super().__init__(root or state_dir() / "operator", report)

    def up(self, kubeconfig: Path, database_url: str, timeout: float = 60.0) -> ProcessRecord:
        ports = allocate_ports(["liveness", "metrics"])
        argv = [
            sys.executable, "-m", "tradeplane.cli", "operator", "--all-namespaces",
            "--liveness-port", str(ports["liveness"]), "--metrics-port", str(ports["metrics"]),
            "--bind-address", LOOPBACK,
        ]  # fmt: skip
        # The database URL (with its password) travels in the environment only, never in argv.
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "DATABASE_URL": database_url,
            "TRADEPLANE_RESYNC_SECONDS": DEMO_RESYNC_SECONDS,
        }
        return self.start(argv, env, ports["liveness"], timeout=timeout)
