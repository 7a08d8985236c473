"""kopf handlers: thin glue from watch events to ``engine.run_pass``.

Every kind is reconciled level-based on create, update and resume; objects whose verdict can change
without any event of theirs (a reference or Secret not there yet, a resume cooldown) are listed in a
``<plural>_due`` index, and the operator's resync sweep (``resync.py``) nudges them when due. So an
object converges when what it depends on appears, without anyone editing it, and without a timer
(and its finalizer) on every object. Handlers only observe and call the pure reconcilers.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from typing import Any

import kopf

from tradeplane.crds.common import GROUP, VERSION, KindInfo, format_time, parse_duration
from tradeplane.crds.instrument import InstrumentSpec
from tradeplane.crds.registry import BY_KIND, KINDS
from tradeplane.crds.riskpolicy import RiskPolicySpec
from tradeplane.crds.venue import VenueSpec
from tradeplane.operator.engine import Decider, OperatorContext, Pass, run_pass
from tradeplane.operator.featureset import decide_featureset
from tradeplane.operator.ingest_observe import observe_ingest
from tradeplane.operator.resync import REQUESTED_AT, due_index_id
from tradeplane.operator.venue_sync import VenueTarget, sync_instrument, sync_venue
from tradeplane.reconcilers import riskpolicy
from tradeplane.reconcilers.conditions import raw_ready
from tradeplane.reconcilers.ingest import ingestor_workload, judge_ingest, workload_name
from tradeplane.reconcilers.instrument import reconcile_instrument
from tradeplane.reconcilers.kinds import reconcile_pending_plane
from tradeplane.reconcilers.plan import Plan
from tradeplane.reconcilers.references import Observed, Reference, references
from tradeplane.reconcilers.requeue import recheck_due
from tradeplane.reconcilers.venue import credentials_outcome, fees_due, reconcile_venue
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.workloads.local import LocalProcessDriver
from tradeplane.runtime.workloads.spec import WorkloadKind, WorkloadRef, WorkloadSpec

RESYNC_SECONDS = float(os.environ.get("TRADEPLANE_RESYNC_SECONDS", "30"))


def index_id(plural: str) -> str:
    return f"{plural}_index"


async def _readiness(
    namespace: str | None, name: str, status: kopf.Status, **_: Any
) -> dict[tuple[str | None, str], bool]:
    """Index entry of any tradeplane object: (namespace, name) -> whether it is Ready."""
    ready = raw_ready(status)
    return {(namespace, name): ready is not None and ready.get("status") == "True"}


async def _due(
    namespace: str | None, name: str, body: kopf.Body, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[tuple[str | None, str, str], datetime]:
    """Index entry of an object due for another look (see ``reconcilers.requeue``)."""
    due = recheck_due(str(body.get("kind")), spec, status)
    return {} if due is None else {(namespace, BY_KIND[str(body.get("kind"))].plural, name): due}


def observe(step: Pass, ref: Reference) -> Observed:
    index = step.indexes[index_id(ref.plural)]
    key = (step.namespace, ref.name)
    if key not in index:
        return Observed(exists=False)
    return Observed(exists=True, ready=any(index[key]))


async def _pending_plane(step: Pass, _context: OperatorContext) -> Plan:
    spec = getattr(step.resource, "spec")  # noqa: B009 - every Resource subclass declares spec
    refs = references(spec)
    observed = {ref: observe(step, ref) for ref in refs}
    return reconcile_pending_plane(
        step.info.kind, refs, observed, step.status, generation=step.generation, now=step.now
    )


SYMBOLS_INDEX = "instrument_symbols"


async def _instrument_symbol(
    namespace: str | None, spec: kopf.Spec, **_: Any
) -> dict[tuple[str | None, str], str]:
    """Index of Instrument symbols by (namespace, Venue name): which tiers a Venue must keep."""
    venue = (spec.get("venueRef") or {}).get("name")
    symbol = spec.get("symbol")
    return {(namespace, str(venue)): str(symbol)} if venue and symbol else {}


async def _venue(step: Pass, context: OperatorContext) -> Plan:
    spec: VenueSpec = getattr(step.resource, "spec")  # noqa: B009
    refresh = parse_duration(spec.refresh.account)
    named = None
    check = None
    if spec.credentials is not None:
        secret = spec.credentials.secret_ref.name
        named = (secret, spec.credentials.api_key_key, spec.credentials.secret_key_key)
        check = await context.kube.secret_keys(step.namespace, secret)
    blocked = credentials_outcome(named, check, spec.mode)
    plan_args: dict[str, Any] = {"generation": step.generation, "now": step.now, "refresh": refresh}
    if blocked is not None:
        return reconcile_venue(blocked, None, step.status, signed=False, **plan_args)
    credentials = None
    if named is not None:
        credentials = await context.kube.credentials(step.namespace, *named)
    name = str(step.body["metadata"]["name"])
    symbols = step.indexes.get(SYMBOLS_INDEX, {}).get((step.namespace, name), [])
    target = VenueTarget(step.namespace, name, spec)
    read_fees = fees_due(
        step.status,
        symbols,
        generation=step.generation,
        now=step.now,
        refresh=parse_duration(spec.refresh.fees),
    )
    sync = await sync_venue(context.audit, target, credentials, symbols, now=step.now, read_fees=read_fees)
    return reconcile_venue(None, sync, step.status, signed=credentials is not None, **plan_args)


async def _venue_keeps_tiers_of(
    context: OperatorContext, step: Pass, venue: dict[str, Any], symbol: str
) -> None:
    """A Venue reads margin tiers for the symbols traded on it; a new Instrument asks it to now.

    Without the nudge the new symbol's tiers would wait for the Venue's next scheduled read.
    """
    if not (venue.get("spec") or {}).get("credentials"):
        return
    synced = {row.get("symbol") for row in (venue.get("status") or {}).get("marginTiers") or []}
    if symbol not in synced:
        stamp = format_time(step.now)
        await context.kube.annotate(
            "venues", step.namespace, venue["metadata"]["name"], {REQUESTED_AT: stamp}
        )


async def _instrument(step: Pass, context: OperatorContext) -> Plan:
    spec: InstrumentSpec = getattr(step.resource, "spec")  # noqa: B009
    refs = references(spec)
    observed = {ref: observe(step, ref) for ref in refs}
    plan_args: dict[str, Any] = {"generation": step.generation, "now": step.now}
    venue = None
    if all(found.exists for found in observed.values()):
        venue = await context.kube.get_custom("venues", step.namespace, spec.venue_ref.name)
    if venue is None:
        refresh = parse_duration(VenueSpec().refresh.metadata)
        return reconcile_instrument(refs, observed, None, step.status, refresh=refresh, **plan_args)
    venue_spec = VenueSpec.model_validate(venue.get("spec") or {})
    target = VenueTarget(step.namespace, spec.venue_ref.name, venue_spec)
    max_age = parse_duration(spec.metadata_max_age)
    sync = await sync_instrument(context.audit, target, spec.symbol, now=step.now, max_age=max_age)
    await _venue_keeps_tiers_of(context, step, venue, spec.symbol)
    refresh = parse_duration(venue_spec.refresh.metadata)
    ingest = None
    workloads: tuple[WorkloadSpec, ...] = ()
    if context.workloads is not None:
        metadata = step.body["metadata"]
        workload = ingestor_workload(
            namespace=step.namespace,
            name=str(metadata["name"]),
            uid=str(metadata["uid"]),
            spec=spec,
            venue_name=spec.venue_ref.name,
            venue=venue_spec,
            database_secret=context.database_secret,
        )
        workloads = (workload,)
        key = MarketKey.of(step.namespace, spec.venue_ref.name, spec.symbol)
        intervals = spec.streams.klines.intervals
        observed_ingest = await observe_ingest(context.audit, context.workloads, workload, key, intervals)
        ingest = judge_ingest(observed_ingest, now=step.now)
    return reconcile_instrument(
        refs, observed, sync, step.status, refresh=refresh, ingest=ingest, workloads=workloads, **plan_args
    )


async def _featureset(step: Pass, context: OperatorContext) -> Plan:
    refs = references(getattr(step.resource, "spec"))  # noqa: B009
    return await decide_featureset(step, context, {ref: observe(step, ref) for ref in refs})


async def _riskpolicy(step: Pass, _context: OperatorContext) -> Plan:
    spec: RiskPolicySpec = getattr(step.resource, "spec")  # noqa: B009
    return riskpolicy.reconcile(spec, step.status, step.generation, step.now)


DECIDERS: dict[str, Decider] = {
    "Venue": _venue,
    "Instrument": _instrument,
    "FeatureSet": _featureset,
    "Model": _pending_plane,
    "ModelVersion": _pending_plane,
    "Rollout": _pending_plane,
    "RiskPolicy": _riskpolicy,
}


def _register(info: KindInfo) -> None:
    decide = DECIDERS[info.kind]

    async def reconcile(body: kopf.Body, patch: kopf.Patch, memo: Any, retry: int = 0, **kwargs: Any) -> None:
        context: OperatorContext = memo.context
        indexes = {
            key: value for key, value in kwargs.items() if key.endswith("_index") or key == SYMBOLS_INDEX
        }
        await run_pass(info, body, patch, context, decide, retry=retry, indexes=indexes)

    reconcile.__name__ = f"reconcile_{info.singular}"
    for decorator in (
        kopf.on.create(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.update(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.resume(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.update(GROUP, VERSION, info.plural, id="status-request", field="status.requested"),
    ):
        decorator(reconcile)


kopf.index(GROUP, VERSION, "instruments", id=SYMBOLS_INDEX)(_instrument_symbol)


@kopf.on.event(GROUP, VERSION, "instruments")
async def stop_ingestor(event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    """Local ingestors have no owner to be garbage-collected with; a cluster's Deployment does.

    The watch event, not ``on.delete``: Instruments carry no finalizer (a deletion never waits for
    the operator), so kopf sees them only once gone, and runs no deletion handler for that. An
    ingestor the operator missed stopping is stopped by the next driver that starts it.
    """
    context: OperatorContext = memo.context
    if event["type"] != "DELETED" or not isinstance(context.workloads, LocalProcessDriver):
        return
    metadata = event["object"]["metadata"]
    ref = WorkloadRef(str(metadata["namespace"]), workload_name(str(metadata["name"])), WorkloadKind.SERVICE)
    await asyncio.to_thread(context.workloads.delete, ref)


for _info in KINDS:
    kopf.index(GROUP, VERSION, _info.plural, id=index_id(_info.plural))(_readiness)
    kopf.index(GROUP, VERSION, _info.plural, id=due_index_id(_info.plural))(_due)
    _register(_info)

assert set(DECIDERS) == set(BY_KIND), "every served kind needs a decider"
