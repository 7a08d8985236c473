"""A long-running background process of the embedded system (the operator, the venue simulator),
recorded like the control-plane components so ``tradeplane down`` stops exactly it and a second
``up`` reuses it while it is healthy."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from tradeplane.embedded.binaries import Reporter
from tradeplane.embedded.cluster import ComponentStatus
from tradeplane.embedded.components import LOOPBACK
from tradeplane.embedded.http import get_plain
from tradeplane.embedded.locking import exclusive_lock
from tradeplane.runtime.host import statefile
from tradeplane.runtime.host.processes import ProcessRecord, is_running, spawn, stop, wait_until


class BackgroundProcess:
    """One named process under ``root``, healthy when ``health_path`` on its port answers 200."""

    name: str
    health_path: str

    def __init__(self, root: Path, report: Reporter = print) -> None:
        self.root = root
        self.report = report

    @property
    def _state(self) -> Path:
        return self.root / "state.json"

    @property
    def _lock(self) -> Path:
        return self.root.parent / f".{self.root.name}.lock"

    def health_url(self, port: int) -> str:
        return f"http://{LOOPBACK}:{port}{self.health_path}"

    def load(self) -> tuple[ProcessRecord, int] | None:
        return statefile.read(self._state, lambda d: (ProcessRecord.from_json(d["process"]), int(d["port"])))

    def _healthy(self, port: int) -> bool:
        return get_plain(self.health_url(port)).status == 200

    def start(
        self, argv: Sequence[str], env: Mapping[str, str], port: int, *, timeout: float
    ) -> ProcessRecord:
        """Reuse the running process if it is healthy, else (re)start it and wait until it is."""
        self.root.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self._lock):
            loaded = self.load()
            if loaded is not None:
                record, known_port = loaded
                if is_running(record) and self._healthy(known_port):
                    return record
                stop([record])
            self.report(f"starting {self.name}")
            record = spawn(
                self.name, list(argv), self.root / f"{self.name}.log", env=dict(env), cwd=self.root
            )
            statefile.write(self._state, {"process": record.to_json(), "port": port})
            wait_until(lambda: self._healthy(port), record, timeout, "healthy")
            return record

    def down(self) -> list[str]:
        with exclusive_lock(self._lock):
            loaded = self.load()
            if loaded is None:
                return []
            stop([loaded[0]])
            shutil.rmtree(self.root, ignore_errors=True)
            return [self.name]

    def status(self) -> list[ComponentStatus]:
        loaded = self.load()
        if loaded is None:
            return []
        record, port = loaded
        running = is_running(record)
        healthy = running and self._healthy(port)
        return [ComponentStatus(self.name, record.pid, port, running, healthy, self.health_url(port))]
