"""The Go toolchain that builds the Kubernetes binaries from the Go module proxy.

No package registry ships kube-apiserver, so it is compiled locally. The one thing a user can get
wrong is the toolchain, so this module turns "no go" and "old go" into one actionable message.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from tradeplane.embedded.errors import EmbeddedError

_GO_VERSION = re.compile(r"go(\d+)\.(\d+)(?:\.(\d+))?")


class GoToolchainError(EmbeddedError):
    """Go is missing or too old to build the pinned Kubernetes release."""


@dataclass(frozen=True, order=True)
class GoVersion:
    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> GoVersion:
        match = _GO_VERSION.search(text)
        if match is None:
            raise ValueError(f"not a Go version: {text!r}")
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch or 0))

    def __str__(self) -> str:
        return f"go{self.major}.{self.minor}.{self.patch}"


def _install_hint(required: GoVersion, purpose: str) -> str:
    return (
        f"{purpose} needs Go >= {required.major}.{required.minor}. Install it (https://go.dev/dl/ or your "
        f"package manager), put `go` on PATH, and run the command again. To skip the build entirely, "
        f"point TRADEPLANE_KUBECONFIG at an existing cluster."
    )


def find_go(required: GoVersion, purpose: str) -> tuple[str, GoVersion]:
    """Locate ``go`` and check its version, or raise one message saying what to install."""
    go = shutil.which("go")
    if go is None:
        raise GoToolchainError(f"Go was not found on PATH. {_install_hint(required, purpose)}")
    try:
        out = subprocess.run(
            [go, "env", "GOVERSION"], capture_output=True, text=True, check=True, timeout=60
        ).stdout.strip()
        found = GoVersion.parse(out)
    except (subprocess.SubprocessError, OSError, ValueError) as exc:
        raise GoToolchainError(
            f"`{go} env GOVERSION` failed ({exc}). {_install_hint(required, purpose)}"
        ) from exc
    if found < required:
        raise GoToolchainError(f"Go {found} at {go} is too old. {_install_hint(required, purpose)}")
    return go, found
