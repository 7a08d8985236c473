"""The Instrument and Venue reconcilers judge stored snapshots and fetch failures, failing closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from unit.exchange.status_declared import declared

from tradeplane.crds.instrument import InstrumentStatus
from tradeplane.crds.venue import VenueStatus
from tradeplane.reconcilers.conditions import Outcome, Progress
from tradeplane.reconcilers.ingest import GapCounts, IngestObservation, judge_ingest
from tradeplane.reconcilers.instrument import (
    METADATA_READY,
    SyncResult,
    reconcile_instrument,
)
from tradeplane.reconcilers.references import Observed, Reference
from tradeplane.reconcilers.requeue import DUE_NOW, recheck_due
from tradeplane.reconcilers.venue import VenueSync, fees_due, reconcile_venue
from tradeplane.runtime.venue.canonical import sha256_fingerprint
from tradeplane.runtime.venue.metadata import normalise_contract
from tradeplane.runtime.venue.sim.catalog import CATALOG
from tradeplane.runtime.venue.snapshot_record import Snapshot, SnapshotKey
from tradeplane.runtime.venue.tradability import contract_document
from tradeplane.runtime.workloads.spec import WorkloadStatus

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
VENUE = Reference("Venue", "venues", "bingx")
FOUND = {VENUE: Observed(exists=True, ready=True)}
REFRESH = timedelta(hours=1)
KEY = SnapshotKey("ns", "bingx", "contract", "XAUT-USDT")


def _snapshot(
    version: int = 1, *, overrides: dict[str, Any] | None = None, problem: str | None = None
) -> Snapshot:
    if problem is not None:
        return Snapshot(7, KEY, version, None, None, problem, T0, T0, T0)
    raw = {**CATALOG["XAUT-USDT"].contract, **(overrides or {})}
    document = contract_document(normalise_contract(raw), timedelta(hours=8))
    return Snapshot(
        7, KEY, version, sha256_fingerprint(document), document, None, T0, T0, T0 + timedelta(hours=24)
    )


def _conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def _reconcile(sync: SyncResult | None, status: dict[str, Any] | None = None, now: datetime = T0) -> Any:
    plan = reconcile_instrument([VENUE], FOUND, sync, status, generation=1, now=now, refresh=REFRESH)
    declared(InstrumentStatus, plan.status)  # every key it writes is in the CRD, with its type
    return plan


def test_fresh_online_snapshot_opens_trading_and_shows_the_key_values() -> None:
    plan = _reconcile(
        SyncResult(snapshot=_snapshot(), created=True, next_funding_time=T0 + timedelta(hours=4))
    )
    metadata = plan.status["metadata"]
    assert metadata["state"] == "Fresh" and metadata["trading"] == "Open"
    # XAUT-USDT in the catalog: pricePrecision 2, quantityPrecision 4, min 0.0001 coin / 2 USDT
    assert (metadata["tickSize"], metadata["stepSize"]) == ("0.01", "0.0001")
    assert (metadata["minQuantity"], metadata["minNotional"]) == ("0.0001", "2")
    assert metadata["fundingInterval"] == "8h" and metadata["nextFundingTime"] == "2026-03-02T16:00:00Z"
    assert metadata["nextSyncTime"] == "2026-03-02T13:00:00Z"
    conditions = _conditions(plan.status)
    assert conditions[METADATA_READY] == ("True", "MetadataFresh")
    # Ready also needs the ingestor running with fresh bars: not Ready until then
    assert conditions["Ready"] == ("False", "IngestorPending")
    [entry] = plan.audit
    assert (entry.from_state, entry.to_state) == ("Missing", "v1:Fresh/Open")
    assert "sha256:" + entry.evidence["contract"] == metadata["fingerprint"]


def test_the_same_verdict_again_is_not_audited_again() -> None:
    first = _reconcile(SyncResult(snapshot=_snapshot(), created=True))
    second = _reconcile(SyncResult(snapshot=_snapshot()), status=first.status, now=T0 + timedelta(hours=1))
    assert second.audit == ()


def test_stale_snapshot_blocks_trading_and_the_transition_is_audited() -> None:
    fresh = _reconcile(SyncResult(snapshot=_snapshot()))
    failure = Outcome(Progress.PROGRESSING, "VenueUnreachable", "connection refused")
    later = T0 + timedelta(hours=25)
    stale = _reconcile(SyncResult(snapshot=_snapshot(), failure=failure), status=fresh.status, now=later)
    assert stale.status["metadata"]["state"] == "Stale" and stale.status["metadata"]["trading"] == "Blocked"
    assert _conditions(stale.status)["Ready"] == ("False", "MetadataStale")
    assert "connection refused" in stale.status["conditions"][-1]["message"]
    [entry] = stale.audit
    assert (entry.from_state, entry.to_state) == ("v1:Fresh/Open", "v1:Stale/Blocked")
    # a failed fetch is retried in seconds, not at the next hourly refresh
    assert stale.status["metadata"]["nextSyncTime"] == "2026-03-03T13:00:30Z"


def test_invalid_newest_version_stalls_names_the_field_and_shows_no_values() -> None:
    good = _reconcile(SyncResult(snapshot=_snapshot()))
    bad = _snapshot(2, problem="pricePrecision: not an integer ('abc')")
    plan = _reconcile(SyncResult(snapshot=bad, created=True), status=good.status)
    metadata = plan.status["metadata"]
    assert metadata["state"] == "Invalid" and metadata["trading"] == "Blocked"
    assert "tickSize" not in metadata and "fingerprint" not in metadata
    assert _conditions(plan.status)["Stalled"] == ("True", "MetadataInvalid")
    assert "pricePrecision" in metadata["problem"]
    assert plan.audit[0].to_state == "v2:Invalid/Blocked"


@pytest.mark.parametrize(
    ("overrides", "trading", "reason"),
    [
        ({"status": 25}, "CloseOnly", "MetadataFresh"),
        ({"apiStateOpen": "false"}, "CloseOnly", "MetadataFresh"),
        ({"status": 0}, "Blocked", "SymbolNotTradable"),
        ({"status": 5}, "Blocked", "SymbolNotTradable"),
        ({"status": 25, "apiStateClose": "false"}, "Blocked", "SymbolNotTradable"),
    ],
)
def test_symbol_status_is_respected(overrides: dict[str, Any], trading: str, reason: str) -> None:
    plan = _reconcile(SyncResult(snapshot=_snapshot(overrides=overrides)))
    assert plan.status["metadata"]["trading"] == trading
    assert _conditions(plan.status)[METADATA_READY][1] == reason


def test_no_snapshot_and_an_unreachable_venue() -> None:
    failure = Outcome(Progress.PROGRESSING, "VenueUnreachable", "timeout")
    plan = _reconcile(SyncResult(snapshot=None, failure=failure))
    assert "metadata" not in plan.status
    assert _conditions(plan.status)["Ready"] == ("False", "VenueUnreachable")
    assert recheck_due("Instrument", {}, plan.status) == DUE_NOW


def test_missing_venue_is_not_fetched() -> None:
    plan = reconcile_instrument(
        [VENUE], {VENUE: Observed(exists=False)}, None, None, generation=1, now=T0, refresh=REFRESH
    )
    assert _conditions(plan.status)["Ready"] == ("False", "VenueNotFound")


def test_next_sync_is_when_the_object_is_due() -> None:
    plan = _reconcile(SyncResult(snapshot=_snapshot()))
    assert recheck_due("Instrument", {}, plan.status) == T0 + REFRESH


def _fees(version: int, maker: str) -> Snapshot:
    normalised = {"maker": maker, "taker": "0.0005", "source": "commissionRate"}
    key = SnapshotKey("ns", "bingx", "commission", "account")
    return Snapshot(3, key, version, sha256_fingerprint(normalised), normalised, None, T0, T0, T0 + REFRESH)


def _venue(sync: VenueSync | None, status: dict[str, Any] | None = None, *, signed: bool = True) -> Any:
    plan = reconcile_venue(
        None, sync, status, signed=signed, generation=1, now=T0, refresh=timedelta(minutes=1)
    )
    declared(VenueStatus, plan.status)  # every key it writes is in the CRD, with its type
    return plan


def test_synced_venue_is_ready_and_fee_changes_are_audited() -> None:
    account = {"asset": "USDT", "equity": "10000", "positions": []}
    first = _venue(VenueSync(clock_skew_ms=3, fees=_fees(1, "0.0002"), fees_created=True, account=account))
    assert _conditions(first.status)["Ready"] == ("True", "Synced")
    assert first.status["fees"]["maker"] == "0.0002" and first.status["fees"]["version"] == 1
    assert first.status["connectivity"] == {"rest": "Connected", "clockSkewMs": 3}
    assert [(e.from_state, e.to_state) for e in first.audit] == [("fees:v0", "fees:v1")]
    second = _venue(VenueSync(fees=_fees(2, "0.00018"), fees_created=True, account=account), first.status)
    assert [(e.from_state, e.to_state) for e in second.audit] == [("fees:v1", "fees:v2")]
    unchanged = _venue(VenueSync(fees=_fees(2, "0.00018"), account=account), second.status)
    assert unchanged.audit == ()


def test_rejected_keys_stall_the_venue_and_keep_the_last_fees() -> None:
    good = _venue(
        VenueSync(fees=_fees(1, "0.0002"), account={"asset": "USDT", "equity": "1", "positions": []})
    )
    failure = Outcome(Progress.STALLED, "AuthenticationFailed", "AuthenticationError code=100413: bad key")
    plan = _venue(VenueSync(failure=failure), good.status)
    assert _conditions(plan.status)["Stalled"] == ("True", "AuthenticationFailed")
    assert plan.status["connectivity"]["rest"] == "Disconnected"
    assert plan.status["fees"]["maker"] == "0.0002"


def test_paper_venue_without_credentials_only_checks_connectivity() -> None:
    plan = _venue(VenueSync(clock_skew_ms=-2), signed=False)
    assert _conditions(plan.status)["Ready"] == ("True", "Connected")
    assert "fees" not in plan.status


def test_fees_and_tiers_are_reread_only_when_due() -> None:
    day = timedelta(hours=24)
    status = {
        "observedGeneration": 1,
        "fees": {"updatedTime": "2026-03-02T12:00:00Z"},
        "marginTiers": [{"symbol": "XAUT-USDT"}],
    }
    assert not fees_due(status, ["XAUT-USDT"], generation=1, now=T0 + timedelta(hours=23), refresh=day)
    assert fees_due(status, ["XAUT-USDT"], generation=1, now=T0 + day, refresh=day)
    assert fees_due(status, ["XAUT-USDT", "PAXG-USDT"], generation=1, now=T0, refresh=day), "a new symbol"
    assert fees_due(status, ["XAUT-USDT"], generation=2, now=T0, refresh=day), "the spec changed"
    assert fees_due(None, [], generation=1, now=T0, refresh=day), "never read"


def test_ready_needs_metadata_an_ingestor_with_its_lease_and_fresh_bars() -> None:
    running = WorkloadStatus(exists=True, ready=True, running=True)
    fresh = IngestObservation(running, "ingest-x", "host:1:a", {"1m": T0 - timedelta(minutes=1)}, GapCounts())
    verdict = judge_ingest(fresh, now=T0 + timedelta(seconds=10))
    plan = reconcile_instrument(
        [VENUE],
        FOUND,
        SyncResult(snapshot=_snapshot()),
        None,
        generation=1,
        now=T0,
        refresh=REFRESH,
        ingest=verdict,
    )
    conditions = _conditions(plan.status)
    assert conditions["Ready"] == ("True", "Ingesting")
    assert conditions["Ingesting"] == ("True", "Ingesting") and conditions["DataFresh"] == (
        "True",
        "DataFresh",
    )
    assert plan.status["ingest"]["leaseHolder"] == "host:1:a" and plan.status["gaps"] == {
        "open": 0,
        "healed": 0,
    }
    stopped = judge_ingest(IngestObservation(WorkloadStatus(exists=False), "ingest-x"), now=T0)
    plan = reconcile_instrument(
        [VENUE],
        FOUND,
        SyncResult(snapshot=_snapshot()),
        None,
        generation=1,
        now=T0,
        refresh=REFRESH,
        ingest=stopped,
    )
    assert _conditions(plan.status)["Ready"][1] == "IngestorNotRunning"
    assert recheck_due("Instrument", {}, plan.status) == T0 + timedelta(seconds=5), (
        "a starting ingestor is watched closely"
    )
