"""What the operator asks the venue during a reconcile pass: reads only.

The answers become :class:`RecordSnapshot` effects that the engine stores (``operator/engine.py``);
judging them is the pure reconcilers' job. A malformed payload is never thrown away: it becomes an
invalid snapshot version (raw record kept, problem named, counted in a metric), so the newest
version says what the venue serves and trading on it fails closed. Network trouble is not a
metadata change: it is reported with the snapshot stored earlier, which goes stale on its own
schedule.

A pass never sleeps on the venue: the client makes one attempt per request, and a failed read is
tried again through the requeue path (a venue failure is due at the next sweep, a stored snapshot
is re-read ``RETRY_AFTER_FAILURE`` later). Retrying inside the pass would hold the object's verdict
back by the whole backoff while the verdict (unreachable) is already known.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.crds.common import parse_duration
from tradeplane.crds.venue import VenueSpec
from tradeplane.operator.metrics import VENUE_PAYLOAD_INVALID, VENUE_REQUEST_FAILURES
from tradeplane.reconcilers.conditions import Outcome, Progress
from tradeplane.reconcilers.plan import RecordSnapshot
from tradeplane.runtime.millis import from_ms
from tradeplane.runtime.venue import snapshots
from tradeplane.runtime.venue.canonical import canonical_decimal, sha256_fingerprint
from tradeplane.runtime.venue.client import BingXClient
from tradeplane.runtime.venue.credentials import Credentials
from tradeplane.runtime.venue.errors import (
    AuthenticationError,
    BusinessReject,
    PayloadError,
    RateLimited,
    TimestampRejected,
    VenueError,
)
from tradeplane.runtime.venue.metadata import (
    MetadataInvalid,
    derive_funding_interval,
    normalise_commission,
    normalise_contract,
    normalise_tiers,
    select_contract,
)
from tradeplane.runtime.venue.rest import RetryPolicy
from tradeplane.runtime.venue.snapshots import Observation, SnapshotKey
from tradeplane.runtime.venue.tradability import contract_document

logger = logging.getLogger(__name__)
REQUEST_TIMEOUT_S = 5.0
ONE_ATTEMPT = RetryPolicy(attempts=1)
FUNDING_HISTORY_ROWS = 12
"""Enough settlements to see the schedule twice over even at 1 h funding, few enough to be cheap."""


@dataclass(frozen=True)
class VenueTarget:
    """Where a Venue is and how to talk to it, from its spec (credentials resolved by the caller)."""

    namespace: str
    name: str
    spec: VenueSpec

    def client(
        self, credentials: Credentials | None = None, session: aiohttp.ClientSession | None = None
    ) -> BingXClient:
        """A client of this venue; on the operator's shared ``session`` when given (connections,
        TLS included, are then reused across passes instead of opened for each)."""
        recv_window_ms = int(parse_duration(self.spec.recv_window).total_seconds() * 1000)
        return BingXClient(
            self.spec.endpoints.rest,
            credentials=credentials,
            session=session,
            recv_window_ms=recv_window_ms,
            timeout_s=REQUEST_TIMEOUT_S,
            retry=ONE_ATTEMPT,
        )

    def key(self, kind: snapshots.SnapshotKind, subject: str) -> SnapshotKey:
        return SnapshotKey(self.namespace, self.name, kind, subject)


def failure_outcome(error: BaseException) -> Outcome:
    """A venue failure as a condition. Messages come from our typed errors, which never carry keys."""
    if isinstance(error, TimestampRejected):
        reason, progress = "ClockSkew", Progress.PROGRESSING
    elif isinstance(error, AuthenticationError):
        reason, progress = "AuthenticationFailed", Progress.STALLED
    elif isinstance(error, RateLimited):
        reason, progress = "VenueRateLimited", Progress.PROGRESSING
    elif isinstance(error, PayloadError):
        reason, progress = "VenuePayloadInvalid", Progress.PROGRESSING
    else:
        reason, progress = "VenueUnreachable", Progress.PROGRESSING
    VENUE_REQUEST_FAILURES.labels(reason).inc()
    detail = str(error) or type(error).__name__
    return Outcome(progress, reason, detail[:900])


TRANSIENT = (VenueError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


async def _contract_observation(client: BingXClient, symbol: str) -> tuple[Observation, datetime | None]:
    """The contract record plus the derived funding interval, or the problem with the payload."""
    try:
        records = await client.contracts(symbol)
    except BusinessReject as refused:
        # the venue answered, and its answer is that it has no such contract
        problem = f"symbol: {symbol} is not listed by the venue (code {refused.code}: {refused.msg})"
        return Observation(raw={"code": refused.code, "msg": refused.msg}, problem=problem), None
    try:
        raw = select_contract(records, symbol)
    except MetadataInvalid as problem:
        return Observation(raw=records, problem=str(problem)), None
    try:
        record = normalise_contract(raw)
    except MetadataInvalid as problem:
        VENUE_PAYLOAD_INVALID.labels("contract").inc()
        logger.warning("invalid contract metadata for %s: %s", symbol, problem)
        return Observation(raw=raw, problem=str(problem)), None
    history = await client.funding_rate_history(symbol, limit=FUNDING_HISTORY_ROWS)
    premium = await client.premium_index(symbol)
    next_funding = from_ms(premium.next_funding_time_ms) if premium.next_funding_time_ms else None
    interval = derive_funding_interval([from_ms(row.funding_time_ms) for row in history], next_funding)
    document = contract_document(record, interval)
    observation = Observation(raw=raw, normalised=document, fingerprint=sha256_fingerprint(document))
    return observation, next_funding


@dataclass(frozen=True)
class ContractReading:
    """The contract as read now (to be stored), or why it could not be read."""

    record: RecordSnapshot | None = None
    next_funding_time: datetime | None = None
    failure: Outcome | None = None


async def read_contract(
    target: VenueTarget, symbol: str, *, max_age: timedelta, session: aiohttp.ClientSession | None = None
) -> ContractReading:
    try:
        async with target.client(session=session) as client:
            observation, next_funding = await _contract_observation(client, symbol)
    except TRANSIENT as error:
        return ContractReading(failure=failure_outcome(error))
    record = RecordSnapshot(target.key("contract", symbol), observation, max_age)
    return ContractReading(record=record, next_funding_time=next_funding)


def _dump(payload: Any) -> Any:
    return payload.model_dump(by_alias=True, mode="python")


def _observe(raw: Any, normalise: Any, key: SnapshotKey, max_age: timedelta) -> RecordSnapshot:
    try:
        normalised = normalise(raw)
    except MetadataInvalid as problem:
        VENUE_PAYLOAD_INVALID.labels(key.kind).inc()
        logger.warning("invalid %s payload for %s: %s", key.kind, key.subject, problem)
        observation = Observation(raw=raw, problem=str(problem))
    else:
        observation = Observation(raw=raw, normalised=normalised, fingerprint=sha256_fingerprint(normalised))
    return RecordSnapshot(key, observation, max_age)


def _account(balances: Iterable[Any], positions: Iterable[Any]) -> dict[str, Any] | None:
    usdt = next((b for b in balances if b.asset == "USDT"), None)
    if usdt is None:
        return None
    rows = []
    for position in positions:
        if not position.position_amt:
            continue
        side = {"LONG": "long", "SHORT": "short"}.get(position.position_side.upper(), "both")
        row = {
            "symbol": position.symbol,
            "side": side,
            "quantity": canonical_decimal(position.position_amt),
            "entryPrice": canonical_decimal(position.avg_price),
            "markPrice": None if position.mark_price is None else canonical_decimal(position.mark_price),
            "unrealizedPnl": (
                None if position.unrealized_profit is None else canonical_decimal(position.unrealized_profit)
            ),
            "leverage": position.leverage,
        }
        rows.append({k: v for k, v in row.items() if v is not None})
    return {
        "asset": "USDT",
        "equity": canonical_decimal(usdt.equity),
        "availableMargin": canonical_decimal(usdt.available_margin),
        "unrealizedPnl": canonical_decimal(usdt.unrealized_profit),
        "positions": rows,
    }


async def stored_fees(
    engine: AsyncEngine, target: VenueTarget, symbols: Iterable[str]
) -> tuple[snapshots.Snapshot | None, dict[str, snapshots.Snapshot]]:
    """The commission rates and margin tiers stored earlier (passes where they are not due)."""
    fees = await snapshots.current(engine, target.key("commission", "account"))
    tiers = {}
    for symbol in sorted(set(symbols)):
        if (found := await snapshots.current(engine, target.key("margin_tiers", symbol))) is not None:
            tiers[symbol] = found
    return fees, tiers


@dataclass(frozen=True)
class VenueReading:
    """What one pass read from the venue; ``failure`` set means the rest may be partial."""

    failure: Outcome | None = None
    clock_skew_ms: int | None = None
    fees: tuple[RecordSnapshot, ...] = ()
    """Commission rates first, then the margin tiers of each traded symbol (when they were due)."""
    account: dict[str, Any] | None = None


async def read_venue(
    target: VenueTarget,
    credentials: Credentials | None,
    symbols: Iterable[str],
    *,
    read_fees: bool,
    session: aiohttp.ClientSession | None = None,
) -> VenueReading:
    """Clock skew always; with credentials the balance and positions, and (when ``read_fees``) the
    commission rates and the margin tiers of every traded symbol."""
    max_age = parse_duration(target.spec.refresh.fees) * 2
    clock_skew: int | None = None
    fees: list[RecordSnapshot] = []
    try:
        async with target.client(credentials, session) as client:
            clock_skew = await client.sync_clock()
            if credentials is None:
                return VenueReading(clock_skew_ms=clock_skew)
            if read_fees:
                commission = _dump(await client.commission_rate())
                fees.append(
                    _observe(
                        commission,
                        lambda raw: normalise_commission(raw).to_json(),
                        target.key("commission", "account"),
                        max_age,
                    )
                )
                for symbol in sorted(set(symbols)):
                    rows = [_dump(row) for row in await client.maint_margin_ratio(symbol)]
                    fees.append(
                        _observe(
                            rows,
                            lambda raw: {"tiers": [t.to_json() for t in normalise_tiers(raw)]},
                            target.key("margin_tiers", symbol),
                            max_age,
                        )
                    )
            account = _account(await client.balance(), await client.positions())
    except TRANSIENT as error:
        # what was read before the failure is still stored: it is what the venue served
        return VenueReading(failure=failure_outcome(error), clock_skew_ms=clock_skew, fees=tuple(fees))
    return VenueReading(clock_skew_ms=clock_skew, fees=tuple(fees), account=account)
