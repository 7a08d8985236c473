"""Where tradeplane keeps its state on this machine, and its build cache.

Runtime state (cluster PKI, etcd data, logs, PostgreSQL data) lives under ``.tradeplane/`` in the
project directory so that ``make down`` and ``git clean`` reason about one place; it is gitignored.
Built binaries are expensive and independent of any checkout, so they live in the user cache,
shared by every clone on the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "TRADEPLANE_HOME"
CACHE_DIR_ENV = "TRADEPLANE_CACHE_DIR"


def project_root() -> Path:
    """The checkout this package runs from, or the working directory when installed elsewhere."""
    here = Path(__file__).resolve().parents[2]
    if (here / "pyproject.toml").is_file():
        return here
    return Path.cwd()


def state_dir() -> Path:
    """Runtime state of the embedded system; ``TRADEPLANE_HOME`` moves it (tests use a temp dir)."""
    configured = os.environ.get(STATE_DIR_ENV)
    return Path(configured).resolve() if configured else project_root() / ".tradeplane"


def local_cluster_dir() -> Path:
    """Files of the local control plane; commands find its kubeconfig here without starting it."""
    return state_dir() / "cluster"


def local_kubeconfig() -> Path:
    """The kubeconfig the local control plane writes when it starts."""
    return local_cluster_dir() / "kubeconfig"


def cache_dir() -> Path:
    """Version-keyed build cache outside any checkout, so a fresh clone never rebuilds."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "tradeplane"
