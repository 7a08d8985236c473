"""Instrument's decider: its Venue, exchange metadata when due, and its ingestor.

Observes the Venue from kopf's index (no GET), reads the contract from the venue only when
``metadata_due`` says so (otherwise the stored snapshot is judged as it stands), and reads back the
ingestor's workload, lease, bars and gaps; everything else is ``reconcilers.instrument``'s. A fresh
read is stored by the engine first (a :class:`Recording`), so the status names the stored row.
"""

from __future__ import annotations

from collections.abc import Callable

from tradeplane.crds.annotations import RECONCILE_DUE_AT
from tradeplane.crds.common import format_time, parse_duration, parse_time
from tradeplane.crds.instrument import InstrumentSpec
from tradeplane.crds.venue import VenueSpec
from tradeplane.operator.engine import KindDecider, OperatorContext, Pass
from tradeplane.operator.indexes import Indexed, find, observe_all
from tradeplane.operator.ingest_observe import observe_ingest
from tradeplane.operator.venue_sync import VenueTarget, read_contract
from tradeplane.reconcilers.ingest import IngestVerdict, ingestor_workload, judge_ingest
from tradeplane.reconcilers.instrument import (
    SyncResult,
    metadata_due,
    reconcile_instrument,
    venue_lacks_tiers,
)
from tradeplane.reconcilers.plan import AnnotateObject, Decision, Effect, Plan, Recording
from tradeplane.reconcilers.references import references
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.venue import snapshots
from tradeplane.runtime.workloads.spec import WorkloadSpec


async def _ingest(
    step: Pass[InstrumentSpec], context: OperatorContext, venue: VenueSpec
) -> tuple[IngestVerdict | None, tuple[WorkloadSpec, ...]]:
    """The ingestor that must run, and what its data says (nothing without a workload driver)."""
    if context.workloads is None:
        return None, ()
    spec = step.spec
    workload = ingestor_workload(
        namespace=step.namespace,
        name=step.name,
        uid=step.uid,
        spec=spec,
        venue_name=spec.venue_ref.name,
        venue=venue,
        database_secret=context.database_secret,
    )
    key = MarketKey.of(step.namespace, spec.venue_ref.name, spec.symbol)
    intervals = spec.streams.klines.intervals
    observed = await observe_ingest(context.database, context.workloads, workload, key, intervals)
    return judge_ingest(observed, now=step.now), (workload,)


def _nudge(step: Pass[InstrumentSpec], venue: Indexed) -> tuple[Effect, ...]:
    if not venue_lacks_tiers(venue.spec, venue.status, step.spec.symbol):
        return ()
    return (AnnotateObject("venues", venue.name, {RECONCILE_DUE_AT: format_time(step.now)}),)


async def _stored(context: OperatorContext, target: VenueTarget, symbol: str) -> snapshots.Snapshot | None:
    return await snapshots.current(context.database, target.key("contract", symbol))


async def decide_instrument(step: Pass[InstrumentSpec], context: OperatorContext) -> Decision:
    spec = step.spec
    refs = references(spec)
    observed = observe_all(step, refs)
    venue = find(step, "venues", spec.venue_ref.name) if all(f.exists for f in observed.values()) else None
    if venue is None:
        refresh = parse_duration(VenueSpec().refresh.metadata)
        return reconcile_instrument(
            refs, observed, None, step.status, generation=step.generation, now=step.now, refresh=refresh
        )
    venue_spec = VenueSpec.model_validate(venue.spec)
    target = VenueTarget(step.namespace, venue.name, venue_spec)
    refresh = parse_duration(venue_spec.refresh.metadata)
    effects = _nudge(step, venue)

    async def planner(described: bool) -> Callable[[SyncResult], Plan]:
        """The reconciler's call, with the ingestor observed: it runs (and is worth reading back)
        only once the venue has described the contract."""
        ingest, workloads = await _ingest(step, context, venue_spec) if described else (None, ())

        def plan(sync: SyncResult) -> Plan:
            return reconcile_instrument(
                refs,
                observed,
                sync,
                step.status,
                refresh=refresh,
                ingest=ingest,
                workloads=workloads,
                effects=effects,
                generation=step.generation,
                now=step.now,
            )

        return plan

    due = metadata_due(
        step.status, generation=step.generation, now=step.now, refresh=refresh, requested=step.requested
    )
    if not due:
        scheduled = ((step.status or {}).get("metadata") or {}).get("nextFundingTime")
        current = await _stored(context, target, spec.symbol)
        sync = SyncResult(current, next_funding_time=parse_time(scheduled), fetched=False)
        return (await planner(current is not None))(sync)
    max_age = parse_duration(spec.metadata_max_age)
    reading = await read_contract(target, spec.symbol, max_age=max_age, session=context.venue_session)
    if reading.record is None:
        current = await _stored(context, target, spec.symbol)
        return (await planner(current is not None))(SyncResult(current, failure=reading.failure))
    key, plan = reading.record.key, await planner(True)
    return Recording(
        (reading.record,),
        lambda stored: plan(
            SyncResult(
                stored[key].current, created=stored[key].created, next_funding_time=reading.next_funding_time
            )
        ),
    )


INSTRUMENT = KindDecider(InstrumentSpec, decide_instrument)
