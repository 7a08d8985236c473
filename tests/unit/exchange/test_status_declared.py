"""Instrument and Venue statuses as the reconcilers write them are what the CRD declares, key for key.

The reconciler tests check each status through ``declared`` too; here are the shapes they do not
reach (ingest with open gaps, margin tiers, open positions, failures with a skewed clock) and proof
that the check fails on drift.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from unit.exchange.status_declared import declared

from tradeplane.crds.instrument import InstrumentStatus
from tradeplane.crds.venue import VenueStatus
from tradeplane.operator.venue_sync import _account
from tradeplane.reconcilers.conditions import Outcome, Progress
from tradeplane.reconcilers.ingest import GapCounts, IngestObservation, judge_ingest
from tradeplane.reconcilers.instrument import SyncResult, reconcile_instrument
from tradeplane.reconcilers.references import Observed, Reference
from tradeplane.reconcilers.venue import VenueSync, reconcile_venue
from tradeplane.runtime.venue.canonical import sha256_fingerprint
from tradeplane.runtime.venue.metadata import normalise_contract, normalise_tiers
from tradeplane.runtime.venue.payloads import Balance, Position
from tradeplane.runtime.venue.sim.catalog import CATALOG
from tradeplane.runtime.venue.snapshots import Snapshot, SnapshotKey
from tradeplane.runtime.venue.tradability import contract_document
from tradeplane.runtime.workloads.spec import WorkloadStatus

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
VENUE = Reference("Venue", "venues", "bingx")
REFRESH = timedelta(hours=1)


def _contract(problem: str | None = None) -> Snapshot:
    key = SnapshotKey("ns", "bingx", "contract", "XAUT-USDT")
    if problem is not None:
        return Snapshot(7, key, 2, None, None, problem, T0, T0, T0)
    document = contract_document(normalise_contract(CATALOG["XAUT-USDT"].contract), timedelta(hours=8))
    return Snapshot(7, key, 1, sha256_fingerprint(document), document, None, T0, T0, T0 + timedelta(days=1))


def _instrument(sync: SyncResult | None, observed: IngestObservation | None = None) -> dict[str, Any]:
    verdict = None if observed is None else judge_ingest(observed, now=T0)
    found = {VENUE: Observed(exists=sync is not None, ready=sync is not None)}
    plan = reconcile_instrument(
        [VENUE], found, sync, None, generation=3, now=T0, refresh=REFRESH, ingest=verdict
    )
    return plan.status


RUNNING = WorkloadStatus(exists=True, ready=True, running=True)
GAPPED = GapCounts(
    open=2,
    healed=40,
    unhealable=1,
    oldest_open=("markPrice", "", T0 - timedelta(hours=2), T0 - timedelta(hours=1)),
    last_healed=T0 - timedelta(minutes=5),
)
INSTRUMENT_STATUSES = {
    "fresh, ingesting with open gaps": _instrument(
        SyncResult(_contract(), created=True, next_funding_time=T0 + timedelta(hours=4)),
        IngestObservation(
            RUNNING, "ingest-x", "host:1:a", {"1m": T0 - timedelta(minutes=2), "1h": None}, GAPPED
        ),
    ),
    "fresh, ingestor stopped": _instrument(
        SyncResult(_contract()), IngestObservation(WorkloadStatus(exists=False), "ingest-x")
    ),
    "invalid newest version": _instrument(
        SyncResult(_contract("pricePrecision: not an integer"), created=True)
    ),
    "venue unreachable, nothing stored": _instrument(
        SyncResult(None, failure=Outcome(Progress.PROGRESSING, "VenueUnreachable", "timeout"))
    ),
    "venue missing": _instrument(None),
}


@pytest.mark.parametrize("status", INSTRUMENT_STATUSES.values(), ids=INSTRUMENT_STATUSES.keys())
def test_every_instrument_status_is_declared(status: dict[str, Any]) -> None:
    parsed = declared(InstrumentStatus, status)
    assert parsed.observed_generation == 3


def test_the_gapped_instrument_status_carries_every_ingest_and_gap_field() -> None:
    status = declared(InstrumentStatus, INSTRUMENT_STATUSES["fresh, ingesting with open gaps"])
    assert status.gaps is not None and status.gaps.oldest_open is not None
    assert (status.gaps.oldest_open.source, status.gaps.oldest_open.interval) == ("markPrice", "-")
    assert status.gaps.last_healed_time == T0 - timedelta(minutes=5)
    assert status.ingest is not None and [s.stream for s in status.ingest.streams] == ["kline_1h", "kline_1m"]
    assert status.metadata is not None and status.metadata.next_funding_time == T0 + timedelta(hours=4)


def _fees() -> Snapshot:
    normalised = {"maker": "0.0002", "taker": "0.0005", "source": "commissionRate"}
    key = SnapshotKey("ns", "bingx", "commission", "account")
    return Snapshot(3, key, 2, sha256_fingerprint(normalised), normalised, None, T0, T0, T0 + REFRESH)


def _tiers() -> Snapshot:
    rows = [
        {"tier": 1, "minPositionVal": "0", "maxPositionVal": "50000", "maintMarginRatio": "0.004",
         "maintAmount": "0"},
        {"tier": 2, "minPositionVal": "50000", "maxPositionVal": "200000", "maintMarginRatio": "0.01",
         "maintAmount": "300"},
    ]  # fmt: skip
    normalised = {"tiers": [tier.to_json() for tier in normalise_tiers(rows)]}
    key = SnapshotKey("ns", "bingx", "margin_tiers", "XAUT-USDT")
    return Snapshot(4, key, 1, sha256_fingerprint(normalised), normalised, None, T0, T0, T0 + REFRESH)


def _balance(equity: str, unrealized: str) -> Balance:
    return Balance.model_validate(
        {"asset": "USDT", "balance": equity, "equity": equity, "unrealizedProfit": unrealized,
         "realisedProfit": "0", "availableMargin": equity, "usedMargin": "0", "freezedMargin": "0"}
    )  # fmt: skip


def _position(side: str, amount: str, unrealized: str | None) -> Position:
    return Position.model_validate(
        {"symbol": "XAUT-USDT", "positionSide": side, "positionAmt": amount, "avgPrice": "2650.20",
         "markPrice": "2651.0", "leverage": 5, "unrealizedProfit": unrealized}
    )  # fmt: skip


def _venue(sync: VenueSync | None, blocked: Outcome | None = None, *, signed: bool = True) -> dict[str, Any]:
    plan = reconcile_venue(blocked, sync, None, signed=signed, generation=2, now=T0, refresh=REFRESH)
    return plan.status


ACCOUNT = _account(
    [_balance("10000.00000000", "0.00000000")],
    [_position("LONG", "0.5000", "0.40000000"), _position("SHORT", "0.0000001", None)],
)
VENUE_STATUSES = {
    "synced with fees, tiers and positions": _venue(
        VenueSync(
            clock_skew_ms=-4,
            fees=_fees(),
            fees_created=True,
            tiers={"XAUT-USDT": _tiers()},
            tiers_created=frozenset({"XAUT-USDT"}),
            account=ACCOUNT,
        )
    ),
    "keys rejected, clock read": _venue(
        VenueSync(failure=Outcome(Progress.STALLED, "AuthenticationFailed", "x" * 5000), clock_skew_ms=12)
    ),
    "unreachable": _venue(VenueSync(failure=Outcome(Progress.PROGRESSING, "VenueUnreachable", "timeout"))),
    "paper, no credentials": _venue(VenueSync(clock_skew_ms=1), signed=False),
    "secret missing": _venue(None, Outcome(Progress.PROGRESSING, "SecretNotFound", "waiting")),
    "not asked yet": _venue(None),
}


@pytest.mark.parametrize("status", VENUE_STATUSES.values(), ids=VENUE_STATUSES.keys())
def test_every_venue_status_is_declared(status: dict[str, Any]) -> None:
    parsed = declared(VenueStatus, status)
    assert parsed.observed_generation == 2


def test_the_synced_venue_status_carries_fees_tiers_and_positions_as_decimals() -> None:
    status = declared(VenueStatus, VENUE_STATUSES["synced with fees, tiers and positions"])
    assert status.fees is not None and status.fees.maker == Decimal("0.0002") and status.fees.version == 2
    [tier] = status.margin_tiers
    assert (tier.symbol, tier.tiers, tier.first_tier_ratio) == ("XAUT-USDT", 2, Decimal("0.004"))
    assert status.account is not None and status.account.unrealized_pnl == 0
    assert [(p.side, p.quantity) for p in status.account.positions] == [
        ("long", Decimal("0.5")),
        ("short", Decimal("0.0000001")),
    ]
    assert status.connectivity is not None and status.connectivity.clock_skew_ms == -4


def test_a_failed_sync_keeps_its_error_within_the_declared_length() -> None:
    status = declared(VenueStatus, VENUE_STATUSES["keys rejected, clock read"])
    assert status.connectivity is not None and status.connectivity.rest == "Degraded"
    assert status.connectivity.last_error == "x" * 1024


@pytest.mark.parametrize(
    ("change", "drifted"),
    [
        (lambda s: {**s, "lastFetch": "2026-03-02T12:00:00Z"}, "lastFetch"),
        (lambda s: {**s, "metadata": {**s["metadata"], "tickSize": 0.01}}, "tickSize"),
        (lambda s: {**s, "metadata": {**s["metadata"], "pricePrecision": "2"}}, "pricePrecision"),
        (lambda s: {**s, "gaps": {**s["gaps"], "unhealable": 1}}, "unhealable"),
    ],
    ids=["undeclared key", "decimal as a number", "integer as a string", "undeclared nested key"],
)
def test_a_drifted_status_is_refused_naming_the_field(change: Any, drifted: str) -> None:
    status = change(INSTRUMENT_STATUSES["fresh, ingesting with open gaps"])
    with pytest.raises(ValidationError, match=drifted):
        declared(InstrumentStatus, status)
