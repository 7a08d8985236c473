"""Run every benchmark and report ratios against a reference measured in the same process.

Absolute seconds depend on the machine; the ratios are what to compare across runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks import cluster_startup, features, ingest, quantize, reconcile

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    results = {
        "cluster_startup": cluster_startup.run(),
        "reconcile": reconcile.run(),
        "quantize": quantize.run(),
        "ingest": ingest.run(),
        "features": features.run(),
    }
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
