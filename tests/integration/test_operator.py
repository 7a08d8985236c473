"""The operator process against the real apiserver and PostgreSQL: references, credentials, kill switch."""

from __future__ import annotations

import copy
import json
import signal
from pathlib import Path
from typing import Any

import pytest
from harness.cluster import ClusterHandle
from harness.crds import create_all, get_object, patch_object, resource
from harness.operator import Operator, wait_for
from harness.postgres import fetch
from harness.venue import SimulatorProcess
from integration.crd_examples import example

from tradeplane.embedded.components import allocate_ports
from tradeplane.embedded.http import get_plain

pytestmark = pytest.mark.integration

SECRET_VALUE = "simulator-secret-value-0123456789"


def condition(obj: dict[str, Any], condition_type: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == condition_type)


def secret(cluster: ClusterHandle, namespace: str, keys: dict[str, str]) -> None:
    literals = [f"--from-literal={k}={v}" for k, v in keys.items()]
    cluster.kubectl("create", "secret", "generic", "bingx-api", "-n", namespace, *literals)


def on_simulator(kind: str, sim: SimulatorProcess) -> dict[str, Any]:
    obj = example(kind)
    if kind == "Venue":
        obj["spec"]["endpoints"] = {"rest": sim.rest_url, "websocket": sim.ws_url}
    return obj


def test_instrument_waits_for_its_venue_and_converges_when_it_appears(
    operator: Operator,
    crds_installed: ClusterHandle,
    namespace: str,
    tmp_path: Path,
    venue_sim: SimulatorProcess,
) -> None:
    create_all(crds_installed, namespace, tmp_path, [example("Instrument")])
    wait_for(crds_installed, namespace, "Instrument", "xaut-usdt", "Ready", "VenueNotFound")
    waiting = get_object(crds_installed, namespace, "Instrument", "xaut-usdt")
    assert condition(waiting, "Ready")["status"] == "False"
    assert condition(waiting, "Reconciling")["status"] == "True"
    assert "bingx-paper" in condition(waiting, "Ready")["message"]

    # no edit of the Instrument; its Venue's Secret is not there, but contract metadata is public
    create_all(crds_installed, namespace, tmp_path, [on_simulator("Venue", venue_sim)])
    wait_for(crds_installed, namespace, "Instrument", "xaut-usdt", "MetadataReady", "MetadataFresh")
    # the operator starts the ingestor; Ready once it holds its lease and every interval has fresh bars
    wait_for(crds_installed, namespace, "Instrument", "xaut-usdt", "Ready", "Ingesting")
    converged = get_object(crds_installed, namespace, "Instrument", "xaut-usdt")
    assert converged["status"]["observedGeneration"] == converged["metadata"]["generation"]
    # no finalizer: deleting an object never waits for the operator to be up
    assert "finalizers" not in converged["metadata"]
    assert condition(converged, "Stalled")["status"] == "False"


def test_venue_credentials_are_checked_then_used_and_never_copied(
    operator: Operator,
    crds_installed: ClusterHandle,
    namespace: str,
    tmp_path: Path,
    venue_sim: SimulatorProcess,
) -> None:
    create_all(crds_installed, namespace, tmp_path, [on_simulator("Venue", venue_sim)])
    wait_for(crds_installed, namespace, "Venue", "bingx-paper", "Ready", "SecretNotFound")
    secret(crds_installed, namespace, {"apiKey": venue_sim.api_key, "wrongName": venue_sim.api_secret})
    wait_for(crds_installed, namespace, "Venue", "bingx-paper", "Stalled", "SecretKeyMissing")
    stalled = get_object(crds_installed, namespace, "Venue", "bingx-paper")
    assert "'secretKey'" in condition(stalled, "Stalled")["message"]

    # a wrong secret key: the venue rejects the signature, and the Venue stalls saying so
    crds_installed.kubectl("delete", "secret", "bingx-api", "-n", namespace)
    secret(crds_installed, namespace, {"apiKey": venue_sim.api_key, "secretKey": SECRET_VALUE})
    wait_for(crds_installed, namespace, "Venue", "bingx-paper", "Stalled", "AuthenticationFailed")
    assert (
        "100001"
        in condition(get_object(crds_installed, namespace, "Venue", "bingx-paper"), "Stalled")["message"]
    )

    crds_installed.kubectl("delete", "secret", "bingx-api", "-n", namespace)
    secret(crds_installed, namespace, {"apiKey": venue_sim.api_key, "secretKey": venue_sim.api_secret})
    wait_for(crds_installed, namespace, "Venue", "bingx-paper", "Ready", "Synced")

    venue = json.dumps(get_object(crds_installed, namespace, "Venue", "bingx-paper"))
    events = crds_installed.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    operator.stop()
    for text in (venue, events, operator.log.read_text()):
        assert SECRET_VALUE not in text
        assert venue_sim.api_secret not in text
        assert venue_sim.api_key not in text


def _halt_request(state: str, actor: str, at: str) -> dict[str, Any]:
    return {"status": {"requested": {"state": state, "actor": actor, "reason": "test", "time": at}}}


def test_kill_switch_transitions_are_audited_and_survive_a_spec_reapply(
    operator: Operator, crds_installed: ClusterHandle, namespace: str, tmp_path: Path, migrated: str
) -> None:
    policy = copy.deepcopy(example("RiskPolicy"))
    policy["spec"].setdefault("killSwitch", {})["resumeCooldown"] = "1s"
    create_all(crds_installed, namespace, tmp_path, [policy])
    name = policy["metadata"]["name"]
    wait_for(crds_installed, namespace, "RiskPolicy", name, "Ready", "Active")

    now = get_object(crds_installed, namespace, "RiskPolicy", name)["status"]["stateSince"]
    patch_object(
        crds_installed,
        namespace,
        "RiskPolicy",
        name,
        _halt_request("HALTED", "alice", now),
        "--subresource=status",
    )
    wait_for(crds_installed, namespace, "RiskPolicy", name, "Stalled", "Halted")
    halted = get_object(crds_installed, namespace, "RiskPolicy", name)
    assert halted["status"]["state"] == "HALTED"
    assert halted["status"]["audit"]["seq"] == 2

    # a GitOps sync re-applies the original manifest: the halt lives in status and stays
    manifest = tmp_path / "policy.json"
    manifest.write_text(json.dumps(policy))
    crds_installed.kubectl(
        "apply", "--server-side", "--field-manager=gitops", "-n", namespace, "-f", str(manifest)
    )
    assert get_object(crds_installed, namespace, "RiskPolicy", name)["status"]["state"] == "HALTED"

    later = get_object(crds_installed, namespace, "RiskPolicy", name)["status"]["stateSince"]
    patch_object(
        crds_installed,
        namespace,
        "RiskPolicy",
        name,
        _halt_request("ACTIVE", "bob", later),
        "--subresource=status",
    )
    wait_for(crds_installed, namespace, "RiskPolicy", name, "Ready", "Active")
    resumed = get_object(crds_installed, namespace, "RiskPolicy", name)
    uid = resumed["metadata"]["uid"]

    rows = fetch(
        migrated,
        "SELECT seq, from_state, to_state, reason, actor FROM tradeplane.audit_log"
        f" WHERE object_uid = '{uid}' ORDER BY seq",
    )
    assert [tuple(r) for r in rows] == [
        (1, "", "ACTIVE", "Initialised", "tradeplane-operator"),
        (2, "ACTIVE", "HALTED", "ManualHalt", "alice"),
        (3, "HALTED", "ACTIVE", "ManualResume", "bob"),
    ]
    assert resumed["status"]["audit"]["seq"] == 3
    head = fetch(migrated, f"SELECT hash FROM tradeplane.audit_log WHERE object_uid = '{uid}' AND seq = 3")[
        0
    ][0]
    assert resumed["status"]["audit"]["headHash"] == f"sha256:{head}"
    events = json.loads(crds_installed.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)[
        "items"
    ]
    hashes = {e["metadata"].get("annotations", {}).get("tradeplane.io/audit-hash") for e in events}
    assert head in hashes


def test_restarts_never_duplicate_audit_records(
    operator: Operator, crds_installed: ClusterHandle, namespace: str, tmp_path: Path, migrated: str
) -> None:
    policy = example("RiskPolicy")
    name = policy["metadata"]["name"]
    create_all(crds_installed, namespace, tmp_path, [policy])
    wait_for(crds_installed, namespace, "RiskPolicy", name, "Ready", "Active")
    for _ in range(3):
        operator.stop(signal.SIGKILL)
        operator.start()
        generation = get_object(crds_installed, namespace, "RiskPolicy", name)["metadata"]["generation"]
        observed = "--for=jsonpath={.status.observedGeneration}=" + str(generation)
        target = f"{resource('RiskPolicy')}/{name}"
        crds_installed.kubectl("wait", "-n", namespace, target, observed, "--timeout=60s")
    uid = get_object(crds_installed, namespace, "RiskPolicy", name)["metadata"]["uid"]
    rows = fetch(migrated, f"SELECT seq FROM tradeplane.audit_log WHERE object_uid = '{uid}'")
    assert [r[0] for r in rows] == [1]


def test_an_object_the_operator_cannot_read_is_stalled_and_the_rest_proceed(
    operator: Operator, crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    # Equal as doubles (what CEL compares), but per order > per instrument as Decimal: the API
    # server accepts it and the operator's models do not.
    bad = copy.deepcopy(example("RiskPolicy"))
    bad["metadata"]["name"] = "too-precise"
    limits = bad["spec"]["limits"]
    limits.update(
        perOrderNotional="100000000000000.000000000002",
        perInstrumentNotional="100000000000000.000000000001",
        perExposureGroupNotional={"gold": "100000000000000.000000000003"},
        portfolioGrossNotional="100000000000000.000000000003",
        portfolioNetNotional="1000",
    )
    good = example("RiskPolicy")
    create_all(crds_installed, namespace, tmp_path, [bad, good])
    wait_for(crds_installed, namespace, "RiskPolicy", "too-precise", "Stalled", "InvalidSpec")
    wait_for(crds_installed, namespace, "RiskPolicy", good["metadata"]["name"], "Ready", "Active")
    stalled = get_object(crds_installed, namespace, "RiskPolicy", "too-precise")
    assert "perOrderNotional" in condition(stalled, "Stalled")["message"]
    assert operator.process is not None and operator.process.poll() is None


def test_health_and_metrics_endpoints(
    crds_installed: ClusterHandle, namespace: str, migrated: str, tmp_path: Path
) -> None:
    ports = allocate_ports(["liveness", "metrics"])
    served = Operator(
        crds_installed, namespace, migrated, tmp_path / "op.log", (ports["liveness"], ports["metrics"])
    )
    served.start()
    try:
        create_all(crds_installed, namespace, tmp_path, [example("RiskPolicy")])
        wait_for(crds_installed, namespace, "RiskPolicy", "default", "Ready", "Active")
        assert get_plain(f"http://127.0.0.1:{ports['liveness']}/healthz").status == 200
        metrics = get_plain(f"http://127.0.0.1:{ports['metrics']}/metrics").body
        assert 'tradeplane_reconciles_total{kind="RiskPolicy",result="ok"}' in metrics
        assert 'tradeplane_audit_records_total{kind="RiskPolicy"} 1.0' in metrics
        assert "tradeplane_reconcile_duration_seconds_bucket" in metrics
    finally:
        served.stop()
