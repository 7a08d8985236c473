"""Instrument: decide from the current metadata snapshot whether the contract may be traded.

The operator fetches ``/quote/contracts`` (plus funding history) and stores every version in
PostgreSQL; this reconciler only judges what was stored and what the fetch ran into. It fails
closed: no snapshot, an invalid newest version, a snapshot past its ``valid_until`` or a symbol
that is offline all make trading ``Blocked`` with a reason naming the problem. Every new snapshot
version and every change of that verdict is an audit record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tradeplane.crds.common import Condition, format_duration, format_time, parse_time
from tradeplane.reconcilers.conditions import ConditionStatus, Outcome, Progress, set_condition
from tradeplane.reconcilers.ingest import DATA_FRESH, INGESTING, IngestVerdict
from tradeplane.reconcilers.kinds import conditions_of, status_with
from tradeplane.reconcilers.plan import AuditEntry, Effect, Plan, applying
from tradeplane.reconcilers.references import Observed, Reference, missing_references
from tradeplane.runtime.venue import tradability
from tradeplane.runtime.venue.snapshot_record import Snapshot
from tradeplane.runtime.venue.tradability import Trading
from tradeplane.runtime.workloads.spec import WorkloadSpec

METADATA_READY = "MetadataReady"
RETRY_AFTER_FAILURE = timedelta(seconds=30)
"""How soon a failed fetch is tried again (the venue being down is not a reason to wait an hour)."""


@dataclass(frozen=True)
class SyncResult:
    """What this pass learned: the newest stored snapshot (if any) and how the fetch went."""

    snapshot: Snapshot | None
    created: bool = False
    """A new version was stored during this pass."""
    failure: Outcome | None = None
    """Why the venue could not be read (the snapshot then is the one stored earlier)."""
    next_funding_time: datetime | None = None
    fetched: bool = True
    """The venue was asked in this pass; otherwise the stored snapshot is judged as it stands and
    the next read stays as scheduled."""


def metadata_due(
    status: Mapping[str, Any] | None,
    *,
    generation: int | None,
    now: datetime,
    refresh: timedelta,
    requested: bool = False,
) -> bool:
    """Whether the contract must be read from the venue in this pass.

    Metadata changes rarely, so it is read on the schedule ``status.metadata.nextSyncTime`` keeps
    (the Venue's ``spec.refresh.metadata``; ``RETRY_AFTER_FAILURE`` after a failed read), when the
    spec changed, when nothing was read yet, when the Venue's refresh shrank below the time still
    to wait, and when someone asked (``requested``). Between reads a pass judges the stored
    snapshot, whose validity still runs out on time.
    """
    status = status or {}
    metadata = status.get("metadata") or {}
    next_sync = parse_time(metadata.get("nextSyncTime"))
    return (
        requested
        or status.get("observedGeneration") != generation
        or next_sync is None
        or next_sync <= now
        or next_sync - now > refresh
    )


def venue_lacks_tiers(venue_spec: Mapping[str, Any], venue_status: Mapping[str, Any], symbol: str) -> bool:
    """Whether the Venue should be asked to read this symbol's margin tiers now.

    A Venue reads margin tiers for the symbols traded on it; without a nudge a new symbol's tiers
    would wait for the Venue's next scheduled read. An unsigned Venue reads no tiers at all.
    """
    if not venue_spec.get("credentials"):
        return False
    return symbol not in {row.get("symbol") for row in venue_status.get("marginTiers") or []}


@dataclass(frozen=True)
class Verdict:
    state: str
    trading: str
    outcome: Outcome


_PROGRESS = {"MetadataFresh": Progress.READY, "MetadataInvalid": Progress.STALLED}


def judge(sync: SyncResult, now: datetime) -> Verdict:
    """The shared tradability verdict as conditions; a failed fetch with nothing stored says why."""
    if sync.snapshot is None and sync.failure is not None:
        return Verdict("Missing", Trading.BLOCKED, sync.failure)
    found = tradability.judge(sync.snapshot, now)
    message = found.message
    if found.state == "Stale" and sync.failure is not None:
        message += f"; last fetch: {sync.failure.message}"
    if found.state in {"Stale", "Invalid"} and "blocked" not in message:
        message += "; trading on this instrument is blocked"
    progress = _PROGRESS.get(found.reason, Progress.PROGRESSING)
    return Verdict(found.state, found.trading, Outcome(progress, found.reason, message))


def metadata_status(
    sync: SyncResult, verdict: Verdict, *, now: datetime, refresh: timedelta
) -> dict[str, Any] | None:
    """``status.metadata``: the snapshot's key values in the CRD's camelCase shape."""
    snapshot = sync.snapshot
    if snapshot is None:
        return None
    retry = RETRY_AFTER_FAILURE if sync.failure is not None else refresh
    next_sync = min(now + retry, snapshot.valid_until) if snapshot.valid_until > now else now + retry
    status: dict[str, Any] = {
        "version": snapshot.version,
        "snapshotId": snapshot.id,
        "state": verdict.state,
        "trading": verdict.trading,
        "fetchedTime": format_time(snapshot.fetched_at),
        "confirmedTime": format_time(snapshot.confirmed_at),
        "validUntil": format_time(snapshot.valid_until),
        "nextSyncTime": format_time(next_sync),
    }
    record = tradability.contract_of(snapshot)
    if record is None or snapshot.normalised is None:
        status["problem"] = snapshot.problem
        return status
    values = record.to_json()
    status.update(
        {
            "fingerprint": snapshot.fingerprint,
            "contractId": record.contract_id,
            "pricePrecision": record.price_precision,
            "quantityPrecision": record.quantity_precision,
            "tickSize": values["tick_size"],
            "stepSize": values["step_size"],
            "minQuantity": values["trade_min_quantity"],
            "minNotional": values["trade_min_usdt"],
            "makerFeeRate": values["maker_fee_rate"],
            "takerFeeRate": values["taker_fee_rate"],
            "maxLongLeverage": record.max_long_leverage,
            "maxShortLeverage": record.max_short_leverage,
            "contractStatus": tradability.CONTRACT_STATUS[record.status],
            "apiStateOpen": record.api_state_open,
            "apiStateClose": record.api_state_close,
        }
    )
    interval = snapshot.normalised.get("fundingIntervalSeconds")
    if isinstance(interval, int):
        status["fundingInterval"] = format_duration(timedelta(seconds=interval))
    if sync.next_funding_time is not None:
        status["nextFundingTime"] = format_time(sync.next_funding_time)
    return {key: value for key, value in status.items() if value is not None}


def _state_label(metadata: Mapping[str, Any] | None) -> str:
    if not metadata:
        return "Missing"
    return f"v{metadata.get('version')}:{metadata.get('state')}/{metadata.get('trading')}"


def _audit(
    previous: Mapping[str, Any] | None, current: Mapping[str, Any] | None, verdict: Verdict
) -> tuple[AuditEntry, ...]:
    before, after = _state_label(previous), _state_label(current)
    if before == after or current is None:
        return ()
    # evidence holds digests only (the chain's rule); the snapshot's row id and validity go in the message
    fingerprint = current.get("fingerprint")
    evidence = {"contract": fingerprint.removeprefix("sha256:")} if isinstance(fingerprint, str) else {}
    message = f"snapshot {current.get('snapshotId')} v{current.get('version')}: {verdict.outcome.message}"
    return (AuditEntry(before, after, verdict.outcome.reason, message, evidence=evidence),)


def _overall(verdict: Verdict, ingest: IngestVerdict | None) -> Outcome:
    """Ready needs fresh metadata, a running ingestor holding its lease, and fresh, gap-free bars."""
    if verdict.outcome.progress is not Progress.READY:
        return verdict.outcome
    if ingest is None:
        return Outcome(Progress.PROGRESSING, "IngestorPending", "the ingestor workload is being created")
    for status, reason, message in (ingest.ingesting, ingest.fresh):
        if status != "True":
            return Outcome(Progress.PROGRESSING, reason, message)
    return Outcome(
        Progress.READY,
        "Ingesting",
        f"metadata {verdict.trading.lower()}; {ingest.fresh[2]}; {ingest.ingesting[2]}",
    )


def reconcile_instrument(
    refs: list[Reference],
    observed: Mapping[Reference, Observed],
    sync: SyncResult | None,
    status: Mapping[str, Any] | None,
    *,
    generation: int | None,
    now: datetime,
    refresh: timedelta,
    ingest: IngestVerdict | None = None,
    workloads: tuple[WorkloadSpec, ...] = (),
    effects: tuple[Effect, ...] = (),
) -> Plan:
    """``sync`` is None when the venue could not even be asked (its reference is missing);
    ``ingest`` is what the ingestor's data says, ``workloads`` the ingestor that must run and
    ``effects`` what else the pass must do (a nudge of the Venue).

    The ingestor starts once the venue has described the contract (a snapshot is stored, valid or
    not): before that the venue has never answered, so an ingestor could only retry connecting,
    and the pass that stores the first snapshot starts it.
    """
    missing = missing_references(refs, observed)
    if missing is not None or sync is None:
        outcome = missing or Outcome(Progress.PROGRESSING, "VenueNotFound", "the Venue is not readable")
        return Plan(status=status_with(status, outcome, generation=generation, now=now))
    verdict = judge(sync, now)
    metadata = metadata_status(sync, verdict, now=now, refresh=refresh)
    previous = (status or {}).get("metadata")
    scheduled = (previous or {}).get("nextSyncTime")
    if metadata is not None and not sync.fetched and scheduled:
        metadata["nextSyncTime"] = scheduled  # not read now: the schedule stands
    fields: dict[str, Any] = {"metadata": metadata}
    if ingest is not None:
        fields["ingest"] = {**ingest.ingest, "nextCheckTime": format_time(ingest.next_check)}
        fields["gaps"] = ingest.gaps
    result = status_with(status, _overall(verdict, ingest), generation=generation, now=now, **fields)
    conditions: list[Condition] = conditions_of(result)
    ready: ConditionStatus = "True" if verdict.outcome.progress is Progress.READY else "False"
    extra: list[tuple[str, ConditionStatus, str, str]] = [
        (METADATA_READY, ready, verdict.outcome.reason, verdict.outcome.message)
    ]
    if ingest is not None:
        extra += [(INGESTING, *ingest.ingesting), (DATA_FRESH, *ingest.fresh)]
    for condition_type, condition_status, reason, message in extra:
        conditions = set_condition(
            conditions, condition_type, condition_status, reason, message, generation=generation, now=now
        )
    result["conditions"] = [c.to_k8s() for c in conditions]
    if metadata is None:
        result.pop("metadata", None)
    running = applying(workloads) if sync.snapshot is not None else ()
    return Plan(status=result, audit=_audit(previous, metadata, verdict), effects=(*running, *effects))
