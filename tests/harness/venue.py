"""The venue simulator as a real child process (``tradeplane venue-sim``), as the operator meets it.

Each test gets its own simulator on a free port: tests that serve malformed metadata change the
simulator's state, and a fresh one with a fixed seed always starts from the same market.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from tradeplane.runtime.venue.credentials import API_KEY_ENV, SECRET_KEY_ENV
from tradeplane.runtime.venue.sim.cli import READY

TRADEPLANE = str(Path(sys.executable).parent / "tradeplane")


@dataclass
class SimulatorProcess:
    process: subprocess.Popen[str]
    rest_url: str
    ws_url: str
    api_key: str
    api_secret: str
    log: Path

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The simulator's run-time control API (``/sim/...``): faults, contract overrides, state."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.rest_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _drain(stream: IO[str], log: Path) -> None:
    """Keep reading the simulator's output so a full pipe never blocks it."""
    with log.open("a") as out:
        for line in stream:
            out.write(line)


def start_simulator(log: Path, *, seed: int = 7, port: int = 0) -> SimulatorProcess:
    """Start ``tradeplane venue-sim`` and return once it has printed its ready line."""
    api_key = f"sim-key-{secrets.token_hex(4)}"
    api_secret = f"sim-secret-{secrets.token_hex(16)}"
    env = {**os.environ, API_KEY_ENV: api_key, SECRET_KEY_ENV: api_secret}
    argv = [TRADEPLANE, "venue-sim", "--port", str(port), "--seed", str(seed)]
    with log.open("ab") as errors:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:  # ends when the process exits without becoming ready
        seen.append(line)
        if line.startswith(READY):
            break
    else:
        process.wait(timeout=30)
        output = "".join(seen)[-2000:]
        raise RuntimeError(f"venue-sim did not start: {output}; log: {log.read_text()[-2000:]}")
    threading.Thread(target=_drain, args=(process.stdout, log), daemon=True).start()
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    return SimulatorProcess(process, fields["rest"], fields["ws"], api_key, api_secret, log)


@pytest.fixture
def venue_sim(tmp_path: Path) -> Iterator[SimulatorProcess]:
    simulator = start_simulator(tmp_path / "venue-sim.log")
    yield simulator
    simulator.stop()
