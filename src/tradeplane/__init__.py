"""tradeplane: a Kubernetes-native control plane for reinforcement-learning trading on BingX perpetuals.

The import package maps onto the repository's top-level folders (``operator/``, ``crds/``,
``reconcilers/``, ``runtime/``, ``embedded/``) through the links beside this file, so the
folders stay the architecture while ``import operator`` still gives the standard library.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tradeplane")
except PackageNotFoundError:  # pragma: no cover - only when run from an uninstalled tree
    __version__ = "0.0.0"
