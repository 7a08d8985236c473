"""Apply-to-reconciled latency of the operator against a no-op kopf operator, same API server, same run.

N objects (default 200) are copies of ``manifests/samples`` (every kind, references intact), applied
in one server-side apply as a GitOps sync would. An object counts as reconciled when
``status.observedGeneration`` equals its generation (its conditions are then the operator's verdict;
most kinds are honestly not Ready yet because their planes are not built). Latency is measured from
the start of the apply. The reference is ``benchmarks/noop_operator.py`` in a second namespace.
Prints one final JSON line: p50, p99 and total for both, the ratios, and ``target_met`` (every
ratio <= 1.5 at N = 200; p99 should also stay under 2 s).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, watch

from tradeplane.crds.cli import install as install_crds
from tradeplane.crds.common import GROUP, VERSION
from tradeplane.crds.registry import KINDS
from tradeplane.embedded.cluster import LocalCluster
from tradeplane.embedded.postgres import EmbeddedPostgres
from tradeplane.runtime.host.paths import project_root
from tradeplane.runtime.kubeapi import api_client
from tradeplane.runtime.kubectl import kubectl
from tradeplane.runtime.store.migrate import upgrade

SAMPLES = project_root() / "manifests" / "samples"
# longest first, so "bingx-paper" does not rewrite inside "bingx-paper-credentials"
NAMES = ("bingx-paper-credentials", "bingx-paper", "xaut-usdt", "gold-1m", "gold-ppo", "paper-gold")
DEADLINE_SECONDS = 300.0


def objects(n: int) -> list[dict[str, Any]]:
    """``n`` custom objects (plus their Secrets) as copies of the sample set, renamed per copy."""
    template = [doc for path in sorted(SAMPLES.glob("*.yaml")) if path.name != "kustomization.yaml"
                for doc in yaml.safe_load_all(path.read_text()) if doc]  # fmt: skip
    result: list[dict[str, Any]] = []
    copy = 0
    while sum(1 for d in result if d["apiVersion"].startswith(GROUP)) < n:
        text = json.dumps(template)
        for name in NAMES:
            text = text.replace(f'"{name}"', f'"{name}-{copy}"')
        result.extend(json.loads(text))
        copy += 1
    extra = sum(1 for d in result if d["apiVersion"].startswith(GROUP)) - n
    for _ in range(extra):  # trim whole objects from the last copy, keeping every Secret
        index = max(i for i, d in enumerate(result) if d["apiVersion"].startswith(GROUP))
        result.pop(index)
    return result


def _create_all(
    kubeconfig: Path, namespace: str, docs: list[dict[str, Any]], created: dict[Any, float]
) -> None:
    api = api_client(kubeconfig)
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    for doc in docs:
        if doc["apiVersion"].startswith(GROUP):
            plural = next(info.plural for info in KINDS if info.kind == doc["kind"])
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, doc)
            created[(plural, doc["metadata"]["name"])] = time.perf_counter()
        else:
            core.create_namespaced_secret(namespace, doc)


def _watch(kubeconfig: Path, namespace: str, plural: str, wanted: set[Any], done: dict[Any, float]) -> None:
    """Record when each object is first seen reconciled (a watch, not polling: no load of its own)."""
    api = client.CustomObjectsApi(api_client(kubeconfig))
    stream = watch.Watch()
    expected = {key for key in wanted if key[0] == plural}
    if not expected:
        return
    for event in stream.stream(
        api.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        plural,
        timeout_seconds=int(DEADLINE_SECONDS),
    ):
        item = event["object"]
        key = (plural, item["metadata"]["name"])
        status = item.get("status") or {}
        if key not in done and status.get("observedGeneration") == item["metadata"]["generation"]:
            done[key] = time.perf_counter()
        if expected <= done.keys():
            stream.stop()


def measure(kubeconfig: Path, namespace: str, docs: list[dict[str, Any]]) -> dict[str, float]:
    """Per object: from its create returning to the first sight of it reconciled."""
    plural_of = {info.kind: info.plural for info in KINDS}
    wanted = {
        (plural_of[d["kind"]], d["metadata"]["name"]) for d in docs if d["apiVersion"].startswith(GROUP)
    }
    created: dict[Any, float] = {}
    done: dict[Any, float] = {}
    watchers = [
        threading.Thread(target=_watch, args=(kubeconfig, namespace, info.plural, wanted, done), daemon=True)
        for info in KINDS
    ]
    for watcher in watchers:
        watcher.start()
    started = time.perf_counter()
    _create_all(kubeconfig, namespace, docs, created)
    for watcher in watchers:
        watcher.join(timeout=DEADLINE_SECONDS)
    missing = wanted - done.keys()
    if missing:
        raise RuntimeError(f"{len(missing)} objects not reconciled in {DEADLINE_SECONDS:.0f}s")
    latencies = sorted(done[key] - created[key] for key in wanted)
    return {
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "total": max(done.values()) - started,
    }


def _operator(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


ROUNDS = 3
TARGET_RATIO = 1.5
"""p50, p99 and total each within this factor of the no-op operator's."""


def _median_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key in ("p50", "p99", "total")}


def run(n: int = 200, rounds: int = ROUNDS) -> dict[str, Any]:
    """Medians over ``rounds`` rounds, each in fresh namespaces, alternating which operator goes first
    (a single p99 of 200 samples is the second-largest latency: too noisy to compare alone)."""
    with tempfile.TemporaryDirectory(prefix="tradeplane-bench-reconcile-") as tmp:
        root = Path(tmp)
        cluster = LocalCluster(root / "cluster", report=lambda _m: None)
        postgres = EmbeddedPostgres(root / "postgres", report=lambda _m: None)
        procs: list[subprocess.Popen[bytes]] = []
        samples: dict[str, list[dict[str, float]]] = {"tradeplane": [], "noop": []}
        try:
            cluster.up()
            postgres.up()
            upgrade(postgres.url())
            install_crds(cluster.kubeconfig)
            env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "DATABASE_URL": postgres.url()}
            spaces = {name: [f"bench-{name}-{i}" for i in range(rounds)] for name in samples}
            for namespace in (ns for names in spaces.values() for ns in names):
                kubectl(["create", "namespace", namespace], cluster.kubeconfig)
            serve = [arg for ns in spaces["tradeplane"] for arg in ("-n", ns)]
            ports = ["--liveness-port", "0", "--metrics-port", "0"]
            ours = [sys.executable, "-m", "tradeplane.cli", "operator", *serve, *ports]
            procs.append(_operator(ours, env, root / "operator.log"))
            noop = str(Path(__file__).with_name("noop_operator.py"))
            watched = [arg for ns in spaces["noop"] for arg in ("-n", ns)]
            procs.append(_operator([sys.executable, "-m", "kopf", "run", "--standalone", *watched, noop], env,
                                   root / "noop.log"))  # fmt: skip
            docs = objects(n)
            for i in range(rounds):
                order = ["noop", "tradeplane"] if i % 2 == 0 else ["tradeplane", "noop"]
                for name in order:
                    samples[name].append(measure(cluster.kubeconfig, spaces[name][i], docs))
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=60)
            postgres.down()
            cluster.down()
    ours_median, reference = _median_of(samples["tradeplane"]), _median_of(samples["noop"])
    result = {
        "n": n,
        "rounds": rounds,
        "tradeplane": ours_median,
        "noop": reference,
        "ratio_p50": ours_median["p50"] / reference["p50"],
        "ratio_p99": ours_median["p99"] / reference["p99"],
        "ratio_total": ours_median["total"] / reference["total"],
    }
    result["target_met"] = all(result[f"ratio_{key}"] <= TARGET_RATIO for key in ("p50", "p99", "total"))
    print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
