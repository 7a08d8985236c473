"""The operator SIGKILLed at seeded random points while it records transitions: no duplicates, no gaps."""

from __future__ import annotations

import copy
import random
import signal
from pathlib import Path

import pytest
from harness.cluster import ClusterHandle
from harness.crds import create_all, get_object, patch_object
from harness.operator import Operator, wait_for
from harness.postgres import fetch
from integration.crd_examples import example

from tradeplane.runtime.audit import store
from tradeplane.runtime.audit.store import LogReport
from tradeplane.runtime.store.engine import create_engine, run_sync

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ROUNDS = 6


def _request(state: str, at: str) -> dict[str, object]:
    return {"status": {"requested": {"state": state, "actor": "chaos", "reason": "drill", "time": at}}}


def test_random_kills_converge_without_duplicate_or_missing_audit_records(
    operator: Operator, crds_installed: ClusterHandle, namespace: str, tmp_path: Path, migrated: str
) -> None:
    rng = random.Random(20261124)
    policy = copy.deepcopy(example("RiskPolicy"))
    policy["spec"].setdefault("killSwitch", {})["resumeCooldown"] = "1s"
    name = policy["metadata"]["name"]
    create_all(crds_installed, namespace, tmp_path, [policy])
    wait_for(crds_installed, namespace, "RiskPolicy", name, "Ready", "Active")

    state = "ACTIVE"
    for _ in range(ROUNDS):
        target = "HALTED" if state == "ACTIVE" else "ACTIVE"
        since = get_object(crds_installed, namespace, "RiskPolicy", name)["status"]["stateSince"]
        patch_object(
            crds_installed, namespace, "RiskPolicy", name, _request(target, since), "--subresource=status"
        )
        if rng.random() < 0.7:  # mostly: kill while the request is being processed, at whatever point
            operator.stop(signal.SIGKILL)
            operator.start()
        if target == "HALTED":
            wait_for(crds_installed, namespace, "RiskPolicy", name, "Stalled", "Halted")
        else:
            wait_for(crds_installed, namespace, "RiskPolicy", name, "Ready", "Active")
        if rng.random() < 0.5:  # sometimes: kill right after the transition was reported
            operator.stop(signal.SIGKILL)
            operator.start()
        state = target

    obj = get_object(crds_installed, namespace, "RiskPolicy", name)
    uid = obj["metadata"]["uid"]
    query = (
        f"SELECT seq, from_state, to_state FROM tradeplane.audit_log WHERE object_uid = '{uid}' ORDER BY seq"
    )
    rows = fetch(migrated, query)
    assert [r[0] for r in rows] == list(range(1, ROUNDS + 2))
    assert [(r[1], r[2]) for r in rows][1:] == [
        ("ACTIVE", "HALTED") if i % 2 == 0 else ("HALTED", "ACTIVE") for i in range(ROUNDS)
    ]
    assert obj["status"]["audit"]["seq"] == ROUNDS + 1

    async def chain() -> LogReport:
        engine = create_engine(migrated)
        async with engine.connect() as connection:
            records = await store.chain_for(connection, "RiskPolicy", namespace, name)
        await engine.dispose()
        return store.verify_records(records)

    report = run_sync(chain())
    assert report.records == ROUNDS + 1
    assert report.broken == []
