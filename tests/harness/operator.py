"""The operator as a real child process serving one test namespace, against a migrated database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from harness.cluster import ClusterHandle
from harness.crds import resource
from tradeplane.runtime.store.migrate import upgrade

TRADEPLANE = str(Path(sys.executable).parent / "tradeplane")


class Operator:
    """`tradeplane operator` as a real child process serving one namespace."""

    def __init__(
        self,
        cluster: ClusterHandle,
        namespace: str,
        database_url: str,
        log: Path,
        ports: tuple[int, int] = (0, 0),
    ) -> None:
        self.env = {
            **os.environ,
            "KUBECONFIG": str(cluster.kubeconfig),
            "DATABASE_URL": database_url,
            "TRADEPLANE_RESYNC_SECONDS": "1",
            # local workloads (ingestors) keep their state and logs beside this operator's log
            "TRADEPLANE_HOME": str(log.parent / "operator-home"),
            "TRADEPLANE_WORKLOAD_DRIVER": "local",
        }
        self.args = [
            TRADEPLANE,
            "operator",
            "-n",
            namespace,
            "--liveness-port",
            str(ports[0]),
            "--metrics-port",
            str(ports[1]),
        ]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)
        self.process = None


@pytest.fixture
def migrated(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
async def engine(migrated: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated database; NullPool: every connect() is a separate server connection,
    as the concurrency tests need."""
    created = create_async_engine(migrated, poolclass=NullPool)
    try:
        yield created
    finally:
        await created.dispose()


@pytest.fixture
def operator(
    crds_installed: ClusterHandle, namespace: str, migrated: str, tmp_path: Path
) -> Iterator[Operator]:
    running = Operator(crds_installed, namespace, migrated, tmp_path / "operator.log")
    running.start()
    yield running
    running.stop()


def wait_for(
    cluster: ClusterHandle, namespace: str, kind: str, name: str, condition: str, reason: str
) -> None:
    jsonpath = f'jsonpath={{.status.conditions[?(@.type=="{condition}")].reason}}={reason}'
    cluster.kubectl(
        "wait", "-n", namespace, f"{resource(kind)}/{name}", f"--for={jsonpath}", "--timeout=60s", timeout=90
    )
