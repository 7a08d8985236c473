"""May an instrument be traded right now, judged from its newest contract snapshot. Fail closed.

The Instrument reconciler shows this verdict in status; an executor asks the same question of the
same stored snapshot before every order (``snapshots.contract_for_trading``), so what status says
and what execution does cannot disagree. No snapshot, an invalid newest version, a snapshot past its
``valid_until`` or a symbol the venue lists as offline all block; close-only allows reducing only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from tradeplane.runtime.venue.metadata import ContractRecord, ContractStatus
from tradeplane.runtime.venue.snapshot_record import Snapshot

MetadataState = Literal["Fresh", "Stale", "Invalid", "Missing"]

CONTRACT_STATUS = {
    ContractStatus.ONLINE: "Online",
    ContractStatus.CLOSE_ONLY: "CloseOnly",
    ContractStatus.PRE_ONLINE: "PreOnline",
    ContractStatus.OFFLINE: "Offline",
}


class Trading(StrEnum):
    OPEN = "Open"
    CLOSE_ONLY = "CloseOnly"
    BLOCKED = "Blocked"


@dataclass(frozen=True)
class Tradability:
    state: MetadataState
    trading: Trading
    reason: str
    message: str
    record: ContractRecord | None = None


class TradingBlocked(Exception):
    """The instrument may not be traded (in this direction) now; ``reason`` is the condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def contract_document(record: ContractRecord, funding_interval: timedelta | None) -> dict[str, Any]:
    """The normalised content of a contract snapshot: what its fingerprint is taken over.

    The funding interval is part of it (a schedule change is a metadata change); the next funding
    time is not (it moves every interval and says nothing new about the contract).
    """
    seconds = None if funding_interval is None else int(funding_interval.total_seconds())
    return {"contract": record.to_json(), "fundingIntervalSeconds": seconds}


def contract_of(snapshot: Snapshot) -> ContractRecord | None:
    """The contract record of a valid snapshot (``contract_document`` wrote it)."""
    if snapshot.problem is not None or snapshot.normalised is None:
        return None
    return ContractRecord.model_validate(snapshot.normalised["contract"])


def judge(snapshot: Snapshot | None, now: datetime) -> Tradability:
    if snapshot is None:
        return Tradability("Missing", Trading.BLOCKED, "MetadataMissing", "no contract metadata snapshot yet")
    record = contract_of(snapshot)
    if record is None:
        message = f"snapshot v{snapshot.version}: {snapshot.problem}; trading on this instrument is blocked"
        return Tradability("Invalid", Trading.BLOCKED, "MetadataInvalid", message)
    if snapshot.stale(now):
        message = f"snapshot v{snapshot.version} expired at {snapshot.valid_until.isoformat()}"
        return Tradability("Stale", Trading.BLOCKED, "MetadataStale", message, record)
    if record.can_open:
        trading = Trading.OPEN
    elif record.can_close:
        trading = Trading.CLOSE_ONLY
    else:
        message = f"the venue lists the symbol as {CONTRACT_STATUS[record.status]}; trading is blocked"
        return Tradability("Fresh", Trading.BLOCKED, "SymbolNotTradable", message, record)
    message = (
        f"snapshot v{snapshot.version} {snapshot.fingerprint} fresh until {snapshot.valid_until.isoformat()}"
    )
    if trading is Trading.CLOSE_ONLY:
        message += "; the venue allows closing positions only"
    return Tradability("Fresh", trading, "MetadataFresh", message, record)
