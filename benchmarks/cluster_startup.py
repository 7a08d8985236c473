"""Local control plane start-up with cached binaries.

Reference: starting etcd alone to health, in the same process and run, so the reported ratios
(core plane / etcd, workloads tier / etcd) are comparable across machines. The acceptance bound
for the core plane is 60 s on 2 cores; the absolute figure is printed beside the ratio.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from tradeplane.embedded import binaries, components
from tradeplane.embedded.cluster import LocalCluster
from tradeplane.embedded.components import Layout
from tradeplane.embedded.http import get_plain
from tradeplane.runtime.host.processes import spawn, stop, wait_until

ROUNDS = 3


def _etcd_alone(root: Path) -> float:
    etcd = binaries.ensure(binaries.ETCD, report=lambda _m: None)
    layout = Layout(root)
    ports = components.allocate_ports(["etcd", "etcd-peer"])
    started = time.perf_counter()
    record = spawn("etcd", components.etcd_argv(etcd, layout, ports), layout.log("etcd"))
    url = f"http://127.0.0.1:{ports['etcd']}/health"
    wait_until(lambda: get_plain(url).status == 200, record, 60, "healthy")
    elapsed = time.perf_counter() - started
    stop([record])
    return elapsed


def _cluster(root: Path, workloads: bool) -> float:
    cluster = LocalCluster(root / "cluster", report=lambda _m: None)
    started = time.perf_counter()
    cluster.up(workloads=workloads)
    elapsed = time.perf_counter() - started
    cluster.down()
    return elapsed


def run() -> dict[str, float]:
    binaries.ensure_all(report=lambda _m: None)
    samples: dict[str, list[float]] = {"etcd": [], "core": [], "workloads": []}
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory(prefix="tradeplane-bench-") as tmp:
            samples["etcd"].append(_etcd_alone(Path(tmp) / "etcd"))
            samples["core"].append(_cluster(Path(tmp) / "core", workloads=False))
            samples["workloads"].append(_cluster(Path(tmp) / "workloads", workloads=True))
    median = {name: statistics.median(values) for name, values in samples.items()}
    result = {
        "etcd_seconds": median["etcd"],
        "core_seconds": median["core"],
        "workloads_seconds": median["workloads"],
        "core_over_etcd": median["core"] / median["etcd"],
        "workloads_over_etcd": median["workloads"] / median["etcd"],
    }
    print(f"cluster start-up (median of {ROUNDS}, cached binaries)")
    print(f"  reference etcd alone      {median['etcd']:7.2f} s")
    core, full = result["core_over_etcd"], result["workloads_over_etcd"]
    print(f"  core plane ready          {median['core']:7.2f} s  ({core:.1f}x reference; bound 60 s)")
    print(f"  with workloads tier ready {median['workloads']:7.2f} s  ({full:.1f}x reference)")
    return result
