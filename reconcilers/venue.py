"""Venue: credentials by reference, then what the account looks like at the exchange.

The operator reads the Secret (keys only here: values never reach a reconciler), asks the venue for
its clock, the account's commission rates, the maintenance-margin tiers of every symbol an
Instrument trades on it, and the balance and positions; fee and tier changes are stored as
versioned snapshots. This reconciler turns what was found into status, conditions and audit
records. A venue that cannot be reached or rejects the keys is never reported Ready.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tradeplane.crds.common import format_time, parse_time
from tradeplane.reconcilers.conditions import Outcome, Progress
from tradeplane.reconcilers.kinds import SecretCheck, status_with
from tradeplane.reconcilers.plan import AuditEntry, Plan
from tradeplane.runtime.venue.snapshot_record import Snapshot

RETRY_AFTER_FAILURE = timedelta(seconds=30)


@dataclass(frozen=True)
class VenueSync:
    """What one pass learned from the venue; ``failure`` set means the rest may be partial."""

    failure: Outcome | None = None
    clock_skew_ms: int | None = None
    fees: Snapshot | None = None
    fees_created: bool = False
    tiers: Mapping[str, Snapshot] = field(default_factory=dict)
    tiers_created: frozenset[str] = frozenset()
    account: Mapping[str, Any] | None = None
    """``status.account`` in camelCase (equity, availableMargin, unrealizedPnl, positions)."""


def credentials_outcome(
    credentials: tuple[str, str, str] | None, secret: SecretCheck | None, mode: str
) -> Outcome | None:
    """Why the venue cannot be asked yet, or None when it can (``credentials`` = secret, key names)."""
    if credentials is None:
        if mode == "live":
            return Outcome(
                Progress.STALLED, "CredentialsRequired", "a live Venue needs spec.credentials.secretRef"
            )
        return None
    name, api_key, secret_key = credentials
    if secret is None or not secret.exists:
        return Outcome(
            Progress.PROGRESSING,
            "SecretNotFound",
            f"Secret {name!r} does not exist in this namespace; waiting for it",
        )
    if missing := sorted({api_key, secret_key} - secret.keys):
        return Outcome(
            Progress.STALLED,
            "SecretKeyMissing",
            f"Secret {name!r} has no key {', '.join(repr(k) for k in missing)} (spec.credentials)",
        )
    return None


def fees_due(
    status: Mapping[str, Any] | None,
    symbols: Iterable[str],
    *,
    generation: int | None,
    now: datetime,
    refresh: timedelta,
) -> bool:
    """Whether commission rates and margin tiers must be read again in this pass.

    They change rarely (``spec.refresh.fees``, a day by default), while balances are read every
    pass; they are also re-read when the spec changed or the set of traded symbols did.
    """
    status = status or {}
    updated = parse_time((status.get("fees") or {}).get("updatedTime"))
    known = {row.get("symbol") for row in status.get("marginTiers") or []}
    return (
        updated is None
        or updated + refresh <= now
        or status.get("observedGeneration") != generation
        or known != set(symbols)
    )


def _fees(snapshot: Snapshot | None) -> dict[str, Any] | None:
    if snapshot is None or snapshot.normalised is None or snapshot.fingerprint is None:
        return None
    return {
        "maker": snapshot.normalised["maker"],
        "taker": snapshot.normalised["taker"],
        "source": snapshot.normalised["source"],
        "updatedTime": format_time(snapshot.confirmed_at),
        "version": snapshot.version,
        "fingerprint": snapshot.fingerprint,
    }


def _tiers(tiers: Mapping[str, Snapshot]) -> list[dict[str, Any]]:
    rows = []
    for symbol, snapshot in sorted(tiers.items()):
        table = (snapshot.normalised or {}).get("tiers") or []
        if snapshot.fingerprint is None or not table:
            continue
        rows.append(
            {
                "symbol": symbol,
                "version": snapshot.version,
                "fingerprint": snapshot.fingerprint,
                "tiers": len(table),
                "firstTierRatio": table[0]["maint_margin_ratio"],
            }
        )
    return rows


def _audit(sync: VenueSync, previous: Mapping[str, Any] | None) -> tuple[AuditEntry, ...]:
    entries: list[AuditEntry] = []
    before = (previous or {}).get("fees") or {}
    if sync.fees_created and sync.fees is not None and sync.fees.fingerprint is not None:
        entries.append(
            AuditEntry(
                f"fees:v{before.get('version', 0)}",
                f"fees:v{sync.fees.version}",
                "FeesChanged",
                f"commission rates maker {sync.fees.normalised and sync.fees.normalised['maker']} "
                f"taker {sync.fees.normalised and sync.fees.normalised['taker']}",
                evidence={"commission": sync.fees.fingerprint.removeprefix("sha256:")},
            )
        )
    for symbol in sorted(sync.tiers_created):
        snapshot = sync.tiers[symbol]
        entries.append(
            AuditEntry(
                f"marginTiers:{symbol}:v{snapshot.version - 1}",
                f"marginTiers:{symbol}:v{snapshot.version}",
                "MarginTiersChanged",
                f"maintenance-margin tiers of {symbol} (snapshot {snapshot.id}): "
                f"{snapshot.problem or snapshot.fingerprint}",
                evidence={"marginTiers": snapshot.fingerprint.removeprefix("sha256:")}
                if snapshot.fingerprint
                else {},
            )
        )
    return tuple(entries)


def _ready(sync: VenueSync, signed: bool) -> Outcome:
    skew = f", clock skew {sync.clock_skew_ms} ms" if sync.clock_skew_ms is not None else ""
    if not signed:
        return Outcome(
            Progress.READY,
            "Connected",
            f"venue reachable{skew}; no credentials, so account fees and balances are not synced "
            "(paper trading uses the contract default fees)",
        )
    fees = sync.fees.normalised if sync.fees is not None and sync.fees.normalised is not None else {}
    equity = (sync.account or {}).get("equity")
    return Outcome(
        Progress.READY,
        "Synced",
        f"fees maker {fees.get('maker')} taker {fees.get('taker')}, equity {equity} USDT{skew}",
    )


def reconcile_venue(
    blocked: Outcome | None,
    sync: VenueSync | None,
    status: Mapping[str, Any] | None,
    *,
    signed: bool,
    generation: int | None,
    now: datetime,
    refresh: timedelta,
) -> Plan:
    """``blocked``: why the venue was not asked (credentials); ``sync``: what asking it found."""
    if blocked is not None or sync is None:
        outcome = blocked or Outcome(Progress.PROGRESSING, "NotSynced", "the venue has not been asked yet")
        return Plan(status=status_with(status, outcome, generation=generation, now=now))
    outcome = sync.failure or _ready(sync, signed)
    retry = RETRY_AFTER_FAILURE if sync.failure is not None else refresh
    connectivity: dict[str, Any] = {"rest": "Disconnected" if sync.failure is not None else "Connected"}
    if sync.clock_skew_ms is not None:
        connectivity["rest"] = connectivity["rest"] if sync.failure is None else "Degraded"
        connectivity["clockSkewMs"] = sync.clock_skew_ms
    if sync.failure is not None:
        connectivity["lastError"] = sync.failure.message[:1024]
    fields: dict[str, Any] = {"connectivity": connectivity, "nextSyncTime": format_time(now + retry)}
    if sync.failure is None:
        fields["lastSyncTime"] = format_time(now)
    if (fees := _fees(sync.fees)) is not None:
        fields["fees"] = fees
    if sync.tiers:
        fields["marginTiers"] = _tiers(sync.tiers)
    if sync.account is not None:
        fields["account"] = dict(sync.account)
    result = status_with(status, outcome, generation=generation, now=now, **fields)
    return Plan(status=result, audit=_audit(sync, status))
