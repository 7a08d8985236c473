"""Metadata sync end to end: the operator process, the real apiserver and PostgreSQL, and the venue
simulator as a child process. Apply a Venue and an Instrument -> a snapshot in the database and in
status; malformed contracts payloads -> MetadataInvalid naming the problem, never used for trading."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from harness.cluster import ClusterHandle
from harness.crds import create_all, get_object, patch_object, resource
from harness.operator import Operator, wait_for
from harness.venue import SimulatorProcess
from integration.crd_examples import example
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tradeplane.runtime.venue import snapshots
from tradeplane.runtime.venue.snapshot_record import Snapshot, SnapshotKey

pytestmark = pytest.mark.integration

RECONCILE_REQUESTED_AT = "reconcile.tradeplane.io/requested-at"


def condition(obj: dict[str, Any], condition_type: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == condition_type)


def venue_on(sim: SimulatorProcess) -> dict[str, Any]:
    venue = example("Venue")
    venue["spec"]["endpoints"] = {"rest": sim.rest_url, "websocket": sim.ws_url}
    return venue


def instrument(name: str, symbol: str) -> dict[str, Any]:
    obj = example("Instrument")
    obj["metadata"]["name"] = name
    obj["spec"]["symbol"] = symbol
    return obj


def credentials(cluster: ClusterHandle, namespace: str, sim: SimulatorProcess) -> None:
    cluster.kubectl(
        "create", "secret", "generic", "bingx-api", "-n", namespace,
        f"--from-literal=apiKey={sim.api_key}", f"--from-literal=secretKey={sim.api_secret}",
    )  # fmt: skip


def nudge(cluster: ClusterHandle, namespace: str, kind: str, name: str, stamp: str) -> None:
    """Ask for a reconcile now, the way the resync sweep does (instead of waiting for nextSyncTime)."""
    result = patch_object(
        cluster, namespace, kind, name, {"metadata": {"annotations": {RECONCILE_REQUESTED_AT: stamp}}}
    )
    assert result.returncode == 0, result.stderr


def stored(database_url: str, key: SnapshotKey) -> list[Snapshot]:
    async def read() -> list[Snapshot]:
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            return await snapshots.history(engine, key)
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.fixture
def synced(
    operator: Operator,
    crds_installed: ClusterHandle,
    namespace: str,
    tmp_path: Path,
    venue_sim: SimulatorProcess,
) -> Iterator[SimulatorProcess]:
    credentials(crds_installed, namespace, venue_sim)
    create_all(
        crds_installed, namespace, tmp_path, [venue_on(venue_sim), instrument("xaut-usdt", "XAUT-USDT")]
    )
    wait_for(crds_installed, namespace, "Instrument", "xaut-usdt", "MetadataReady", "MetadataFresh")
    yield venue_sim


def test_apply_venue_and_instrument_gives_a_snapshot_in_the_database_and_in_status(
    synced: SimulatorProcess, crds_installed: ClusterHandle, namespace: str, operator: Operator
) -> None:
    obj = get_object(crds_installed, namespace, "Instrument", "xaut-usdt")
    metadata = obj["status"]["metadata"]
    # the simulator lists XAUT-USDT: pricePrecision 2, quantityPrecision 4, 0.0001 coin, 2 USDT, 8 h funding
    assert (metadata["tickSize"], metadata["stepSize"]) == ("0.01", "0.0001")
    assert (metadata["minQuantity"], metadata["minNotional"]) == ("0.0001", "2")
    assert (metadata["makerFeeRate"], metadata["takerFeeRate"]) == ("0.0002", "0.0005")
    assert metadata["fundingInterval"] == "8h" and metadata["nextFundingTime"].endswith(
        ("00:00:00Z", "08:00:00Z", "16:00:00Z")
    )
    assert (metadata["state"], metadata["trading"], metadata["version"]) == ("Fresh", "Open", 1)
    # Ready also needs the ingestor (started by the operator) to hold its lease and have fresh bars
    wait_for(crds_installed, namespace, "Instrument", "xaut-usdt", "Ready", "Ingesting")

    [snapshot] = stored(
        operator.env["DATABASE_URL"], SnapshotKey(namespace, "bingx-paper", "contract", "XAUT-USDT")
    )
    assert (snapshot.id, snapshot.fingerprint) == (metadata["snapshotId"], metadata["fingerprint"])
    assert snapshot.normalised is not None
    assert snapshot.normalised["contract"]["price_precision"] == 2
    assert snapshot.normalised["fundingIntervalSeconds"] == 8 * 3600

    # the change was audited: the object's chain head is in status
    assert obj["status"]["audit"]["seq"] >= 1

    wide = crds_installed.kubectl("get", resource("Instrument"), "-n", namespace, "-o", "wide").stdout
    header, row = wide.splitlines()[:2]
    for column in (
        "SNAPSHOT",
        "FINGERPRINT",
        "TICK",
        "STEP",
        "MIN-QTY",
        "MIN-NOTIONAL",
        "FUNDING",
        "TRADING",
    ):
        assert column in header
    assert metadata["fingerprint"] in row and " 0.01 " in f" {row} " and " 8h" in row

    # the Venue synced the account's fees and the traded symbol's margin tiers with the Secret's keys
    wait_for(crds_installed, namespace, "Venue", "bingx-paper", "Ready", "Synced")
    venue = get_object(crds_installed, namespace, "Venue", "bingx-paper")["status"]
    assert (venue["fees"]["maker"], venue["fees"]["taker"], venue["fees"]["source"]) == (
        "0.0002", "0.0005", "commissionRate"
    )  # fmt: skip
    assert [(t["symbol"], t["tiers"], t["firstTierRatio"]) for t in venue["marginTiers"]] == [
        ("XAUT-USDT", 3, "0.005")
    ]
    assert venue["account"]["equity"] == "10000"
    text = json.dumps(venue) + crds_installed.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    assert synced.api_secret not in text and synced.api_secret not in operator.log.read_text()

    # deleting the Instrument stops its ingestor (a local process has no garbage collector)
    [state] = Path(operator.env["TRADEPLANE_HOME"]).rglob(f"{namespace}.ingest-xaut-usdt.json")
    ingestor = psutil.Process(json.loads(state.read_text())["process"]["pid"])
    assert ingestor.is_running()
    deleted = crds_installed.kubectl("delete", resource("Instrument"), "xaut-usdt", "-n", namespace)
    assert deleted.returncode == 0, deleted.stderr
    ingestor.wait(timeout=60)


@pytest.mark.parametrize(
    ("override", "reason", "named"),
    [
        ({"pricePrecision": "abc"}, "MetadataInvalid", "pricePrecision"),
        ({"tradeMinQuantity": None}, "MetadataInvalid", "tradeMinQuantity"),
        ({"quantityPrecision": -4}, "MetadataInvalid", "quantityPrecision"),
        ({"status": 0}, "SymbolNotTradable", "Offline"),
    ],
    ids=["non-numeric-precision", "missing-field", "negative-step", "symbol-offline"],
)
def test_bad_metadata_blocks_trading_and_names_the_problem(
    synced: SimulatorProcess,
    crds_installed: ClusterHandle,
    namespace: str,
    operator: Operator,
    override: dict[str, Any],
    reason: str,
    named: str,
) -> None:
    synced.control("POST", "/sim/contracts/XAUT-USDT", override)
    nudge(crds_installed, namespace, "Instrument", "xaut-usdt", "bad-metadata")
    wait_for(crds_installed, namespace, "Instrument", "xaut-usdt", "MetadataReady", reason)
    obj = get_object(crds_installed, namespace, "Instrument", "xaut-usdt")
    assert obj["status"]["metadata"]["trading"] == "Blocked"
    assert named in condition(obj, "MetadataReady")["message"]
    history = stored(
        operator.env["DATABASE_URL"], SnapshotKey(namespace, "bingx-paper", "contract", "XAUT-USDT")
    )
    assert [s.version for s in history] == [1, 2], "every change is a new version"
    if reason == "MetadataInvalid":
        assert history[-1].problem is not None and named in history[-1].problem
        assert history[-1].fingerprint is None and "tickSize" not in obj["status"]["metadata"]
    # the venue heals: the newest version is valid again, and trading reopens
    synced.control(
        "POST",
        "/sim/contracts/XAUT-USDT",
        {"pricePrecision": 2, "quantityPrecision": 4, "tradeMinQuantity": "0.0001", "status": 1},
    )
    nudge(crds_installed, namespace, "Instrument", "xaut-usdt", "healed")
    wait_for(crds_installed, namespace, "Instrument", "xaut-usdt", "MetadataReady", "MetadataFresh")


def test_unknown_symbol_is_invalid_metadata(
    synced: SimulatorProcess, crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    create_all(crds_installed, namespace, tmp_path, [instrument("nope-usdt", "NOPE-USDT")])
    wait_for(crds_installed, namespace, "Instrument", "nope-usdt", "MetadataReady", "MetadataInvalid")
    obj = get_object(crds_installed, namespace, "Instrument", "nope-usdt")
    assert "NOPE-USDT" in condition(obj, "MetadataReady")["message"]
    assert condition(obj, "Stalled")["status"] == "True"


def test_unreachable_venue_keeps_the_snapshot_until_it_goes_stale(
    synced: SimulatorProcess, crds_installed: ClusterHandle, namespace: str
) -> None:
    before = get_object(crds_installed, namespace, "Instrument", "xaut-usdt")["status"]["metadata"]
    synced.stop()
    for kind, name in (("Venue", "bingx-paper"), ("Instrument", "xaut-usdt")):
        nudge(crds_installed, namespace, kind, name, "venue-gone")
    wait_for(crds_installed, namespace, "Venue", "bingx-paper", "Ready", "VenueUnreachable")
    venue = get_object(crds_installed, namespace, "Venue", "bingx-paper")
    assert venue["status"]["connectivity"]["rest"] == "Disconnected"
    assert condition(venue, "Reconciling")["status"] == "True"
    assert "cannot connect" in condition(venue, "Ready")["message"]
    obj = get_object(crds_installed, namespace, "Instrument", "xaut-usdt")
    # within validUntil the stored snapshot stays the current one: no new version, still Fresh
    assert obj["status"]["metadata"]["state"] == "Fresh"
    assert obj["status"]["metadata"]["version"] == before["version"]
