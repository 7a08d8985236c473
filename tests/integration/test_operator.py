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
from integration.crd_examples import example

pytestmark = pytest.mark.integration

SECRET_VALUE = "simulator-secret-value-0123456789"


def condition(obj: dict[str, Any], condition_type: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == condition_type)


def secret(cluster: ClusterHandle, namespace: str, keys: dict[str, str]) -> None:
    literals = [f"--from-literal={k}={v}" for k, v in keys.items()]
    cluster.kubectl("create", "secret", "generic", "bingx-api", "-n", namespace, *literals)


def test_instrument_waits_for_its_venue_and_converges_when_it_appears(
    operator: Operator, crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    create_all(crds_installed, namespace, tmp_path, [example("Instrument")])
    wait_for(crds_installed, namespace, "Instrument", "xaut-usdt", "Ready", "VenueNotFound")
    waiting = get_object(crds_installed, namespace, "Instrument", "xaut-usdt")
    assert condition(waiting, "Ready")["status"] == "False"
    assert condition(waiting, "Reconciling")["status"] == "True"
    assert "bingx-paper" in condition(waiting, "Ready")["message"]

    create_all(crds_installed, namespace, tmp_path, [example("Venue")])  # no edit of the Instrument
    wait_for(crds_installed, namespace, "Instrument", "xaut-usdt", "Ready", "WaitingForPlane")
    converged = get_object(crds_installed, namespace, "Instrument", "xaut-usdt")
    assert converged["status"]["observedGeneration"] == converged["metadata"]["generation"]
    assert condition(converged, "Stalled")["status"] == "False"


def test_venue_credentials_are_checked_by_presence_and_never_copied(
    operator: Operator, crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    create_all(crds_installed, namespace, tmp_path, [example("Venue")])
    wait_for(crds_installed, namespace, "Venue", "bingx-paper", "Ready", "SecretNotFound")
    secret(crds_installed, namespace, {"apiKey": "simulator-key", "wrongName": SECRET_VALUE})
    wait_for(crds_installed, namespace, "Venue", "bingx-paper", "Stalled", "SecretKeyMissing")
    stalled = get_object(crds_installed, namespace, "Venue", "bingx-paper")
    assert "'secretKey'" in condition(stalled, "Stalled")["message"]

    crds_installed.kubectl("delete", "secret", "bingx-api", "-n", namespace)
    secret(crds_installed, namespace, {"apiKey": "simulator-key", "secretKey": SECRET_VALUE})
    wait_for(crds_installed, namespace, "Venue", "bingx-paper", "Ready", "WaitingForPlane")

    venue = json.dumps(get_object(crds_installed, namespace, "Venue", "bingx-paper"))
    events = crds_installed.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    operator.stop()
    for text in (venue, events, operator.log.read_text()):
        assert SECRET_VALUE not in text
        assert "simulator-key" not in text


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
