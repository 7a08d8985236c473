"""The operator as a background process of the embedded system (``make demo``), recorded like the
control-plane components so ``tradeplane down`` stops exactly it.

On a real cluster the operator is a Deployment (``manifests/``); here there is no kubelet, so it
runs beside the apiserver on the same machine, serving every namespace, with workloads as local
processes.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tradeplane.embedded import statefile
from tradeplane.embedded.binaries import Reporter
from tradeplane.embedded.cluster import ComponentStatus
from tradeplane.embedded.components import LOOPBACK, allocate_ports
from tradeplane.embedded.http import get_plain
from tradeplane.embedded.locking import exclusive_lock
from tradeplane.embedded.paths import state_dir
from tradeplane.embedded.processes import ProcessRecord, is_running, spawn, stop, wait_until

NAME = "tradeplane-operator"
DEMO_RESYNC_SECONDS = "5"


class LocalOperator:
    def __init__(self, root: Path | None = None, report: Reporter = print) -> None:
        self.root = root or state_dir() / "operator"
        self.report = report

    @property
    def _state(self) -> Path:
        return self.root / "state.json"

    def load(self) -> tuple[ProcessRecord, int] | None:
        return statefile.read(self._state, lambda d: (ProcessRecord.from_json(d["process"]), int(d["port"])))

    def _healthy(self, port: int) -> bool:
        return get_plain(f"http://{LOOPBACK}:{port}/healthz").status == 200

    def up(self, kubeconfig: Path, database_url: str, timeout: float = 60.0) -> ProcessRecord:
        self.root.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.root.parent / ".operator.lock"):
            loaded = self.load()
            if loaded is not None:
                record, port = loaded
                if is_running(record) and self._healthy(port):
                    return record
                stop([record])
            ports = allocate_ports(["liveness", "metrics"])
            argv = [
                sys.executable, "-m", "tradeplane.runtime.cli", "operator", "--all-namespaces",
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
            self.report("starting the operator")
            record = spawn(NAME, argv, self.root / "operator.log", env=env, cwd=self.root)
            statefile.write(self._state, {"process": record.to_json(), "port": ports["liveness"]})
            wait_until(lambda: self._healthy(ports["liveness"]), record, timeout, "healthy")
            return record

    def down(self) -> list[str]:
        with exclusive_lock(self.root.parent / ".operator.lock"):
            loaded = self.load()
            if loaded is None:
                return []
            stop([loaded[0]])
            shutil.rmtree(self.root, ignore_errors=True)
            return [NAME]

    def status(self) -> list[ComponentStatus]:
        loaded = self.load()
        if loaded is None:
            return []
        record, port = loaded
        running = is_running(record)
        healthy = running and self._healthy(port)
        return [
            ComponentStatus(NAME, record.pid, port, running, healthy, f"http://{LOOPBACK}:{port}/healthz")
        ]
