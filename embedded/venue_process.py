"""The venue simulator as a background process of the embedded system (``make demo``).

The sample Venue (``manifests/samples/venue.yaml``) points at ``127.0.0.1:18080`` and its Secret
holds simulator-only dummy keys; the simulator is started on that port with exactly the keys in
that Secret, read from the manifest (never written anywhere else), so the samples sync out of the
box. ``TRADEPLANE_VENUE_SIM_PORT`` picks another port (``0``: any free one); the system then points
the sample Venue there after applying it (the test suite does this, so it never collides with a
running ``make demo``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from tradeplane.embedded.background import BackgroundProcess
from tradeplane.embedded.binaries import Reporter
from tradeplane.embedded.components import LOOPBACK, allocate_ports
from tradeplane.embedded.errors import EmbeddedError
from tradeplane.runtime.host.paths import project_root, state_dir
from tradeplane.runtime.venue.credentials import API_KEY_ENV, SECRET_KEY_ENV, Credentials

NAME = "venue-simulator"
SAMPLE_PORT = 18080
PORT_ENV = "TRADEPLANE_VENUE_SIM_PORT"
SAMPLE_SEED = 7
SAMPLE_SECRET = Path("manifests") / "samples" / "venue-credentials.yaml"


def sample_credentials(root: Path | None = None) -> Credentials:
    """The dummy key pair of the sample Secret, which the sample Venue signs with."""
    path = (root or project_root()) / SAMPLE_SECRET
    try:
        data = yaml.safe_load(path.read_text())["stringData"]
        return Credentials(str(data["apiKey"]), str(data["secretKey"]))
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as error:
        raise EmbeddedError(f"cannot read the sample venue credentials from {path}: {error}") from None


class LocalVenueSimulator(BackgroundProcess):
    name = NAME
    health_path = "/openApi/swap/v2/server/time"

    def __init__(self, root: Path | None = None, report: Reporter = print) -> None:
        super().__init__(root or state_dir() / "venue-sim", report)

    def chosen_port(self) -> int:
        """The running simulator's port, else the configured one (a free one for ``0``)."""
        if (loaded := self.load()) is not None:
            return loaded[1]
        wanted = int(os.environ.get(PORT_ENV, SAMPLE_PORT))
        free = allocate_ports(["venue"], {"venue": wanted} if wanted else None)["venue"]
        if wanted and free != wanted:
            raise EmbeddedError(
                f"port {wanted} on {LOOPBACK} is in use; the sample Venue expects the venue simulator there "
                f"(stop what holds it, or set {PORT_ENV}=0 to use any free port)"
            )
        return free

    def up(self, timeout: float = 60.0) -> int:
        """Start (or keep) the simulator; returns its port."""
        port = self.chosen_port()
        credentials = sample_credentials()
        argv = [
            sys.executable, "-m", "tradeplane.cli", "venue-sim",
            "--host", LOOPBACK, "--port", str(port), "--seed", str(SAMPLE_SEED),
        ]  # fmt: skip
        # the keys travel in the environment, never in argv (visible to every user in ps)
        env = {**os.environ, API_KEY_ENV: credentials.api_key, SECRET_KEY_ENV: credentials.secret_key}
        self.start(argv, env, port, timeout=timeout)
        return port
