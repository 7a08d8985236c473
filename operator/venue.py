"""Venue's decider: its credentials Secret, then what the account looks like at the exchange.

Observes (one Secret read, the venue's clock and account, and commission rates and margin tiers
when ``fees_due`` says so) and hands the rest to ``reconcilers.venue``. Fresh fee and tier reads
are stored by the engine first (a :class:`Recording`); the status then reports what was stored.
"""

from __future__ import annotations

from tradeplane.crds.common import parse_duration
from tradeplane.crds.venue import VenueSpec
from tradeplane.operator.engine import KindDecider, OperatorContext, Pass
from tradeplane.operator.indexes import symbols_on
from tradeplane.operator.venue_sync import VenueReading, VenueTarget, read_venue, stored_fees
from tradeplane.reconcilers.plan import Decision, Plan, Recording, Stored
from tradeplane.reconcilers.venue import VenueSync, credentials_outcome, fees_due, reconcile_venue


def _finish(step: Pass[VenueSpec], sync: VenueSync, *, signed: bool) -> Plan:
    return reconcile_venue(
        None,
        sync,
        step.status,
        signed=signed,
        generation=step.generation,
        now=step.now,
        refresh=parse_duration(step.spec.refresh.account),
    )


def _sync_from(reading: VenueReading, stored: Stored) -> VenueSync:
    """What the pass learned, with fee and tier snapshots as the engine stored them."""
    if reading.failure is not None:
        return VenueSync(failure=reading.failure, clock_skew_ms=reading.clock_skew_ms)
    recorded = {record.key: stored[record.key] for record in reading.fees}
    fees = next((r for k, r in recorded.items() if k.kind == "commission"), None)
    tiers = {k.subject: r for k, r in recorded.items() if k.kind == "margin_tiers"}
    return VenueSync(
        clock_skew_ms=reading.clock_skew_ms,
        fees=None if fees is None else fees.current,
        fees_created=fees is not None and fees.created,
        tiers={symbol: r.current for symbol, r in tiers.items()},
        tiers_created=frozenset(symbol for symbol, r in tiers.items() if r.created),
        account=reading.account,
    )


async def decide_venue(step: Pass[VenueSpec], context: OperatorContext) -> Decision:
    spec = step.spec
    named = check = credentials = None
    if spec.credentials is not None:
        secret = spec.credentials.secret_ref.name
        named = (secret, spec.credentials.api_key_key, spec.credentials.secret_key_key)
        check, credentials = await context.kube.secret(step.namespace, *named)
    blocked = credentials_outcome(named, check, spec.mode)
    signed = credentials is not None
    if blocked is not None:
        refresh = parse_duration(spec.refresh.account)
        return reconcile_venue(
            blocked,
            None,
            step.status,
            signed=False,
            generation=step.generation,
            now=step.now,
            refresh=refresh,
        )
    symbols = symbols_on(step, step.name)
    read_fees = fees_due(
        step.status,
        symbols,
        generation=step.generation,
        now=step.now,
        refresh=parse_duration(spec.refresh.fees),
    )
    target = VenueTarget(step.namespace, step.name, spec)
    reading = await read_venue(
        target, credentials, symbols, read_fees=read_fees, session=context.venue_session
    )
    if reading.fees:
        return Recording(
            reading.fees, lambda stored: _finish(step, _sync_from(reading, stored), signed=signed)
        )
    if reading.failure is not None or credentials is None:
        return _finish(step, _sync_from(reading, {}), signed=signed)
    fees, tiers = await stored_fees(context.database, target, symbols)
    sync = VenueSync(clock_skew_ms=reading.clock_skew_ms, fees=fees, tiers=tiers, account=reading.account)
    return _finish(step, sync, signed=signed)


VENUE = KindDecider(VenueSpec, decide_venue)
