"""kopf registration: which handler and which index answers which kind. No decisions here.

Every kind is reconciled level-based on create, update and resume by ``engine.run_pass`` with the
kind's decider (one module per kind: ``venue.py``, ``instrument.py``, ``featureset.py``,
``riskpolicy.py``, ``pending.py``). Objects whose verdict can change without any event of theirs
(a reference or Secret not there yet, a resume cooldown, a schedule) carry a due time in their
``<plural>_index`` entry, and the operator's resync sweep (``resync.py``) nudges them when due. So an
object converges when what it depends on appears, without anyone editing it, and without a timer
(and its finalizer) on every object.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import kopf

from tradeplane.crds.annotations import RECONCILE_REQUESTED_AT
from tradeplane.crds.common import GROUP, VERSION, KindInfo
from tradeplane.crds.registry import BY_KIND, KINDS
from tradeplane.operator.engine import KindDecider, OperatorContext, carry_out, run_pass
from tradeplane.operator.featureset import FEATURESET
from tradeplane.operator.indexes import index_id, is_index, summary
from tradeplane.operator.instrument import INSTRUMENT
from tradeplane.operator.pending import MODEL, MODELVERSION, ROLLOUT
from tradeplane.operator.riskpolicy import RISKPOLICY
from tradeplane.operator.venue import VENUE
from tradeplane.reconcilers.ingest import workload_name
from tradeplane.reconcilers.plan import StopWorkload
from tradeplane.runtime.workloads.spec import WorkloadKind, WorkloadRef

RESYNC_SECONDS = float(os.environ.get("TRADEPLANE_RESYNC_SECONDS", "30"))

DECIDERS: dict[str, KindDecider[Any]] = {
    "Venue": VENUE,
    "Instrument": INSTRUMENT,
    "FeatureSet": FEATURESET,
    "Model": MODEL,
    "ModelVersion": MODELVERSION,
    "Rollout": ROLLOUT,
    "RiskPolicy": RISKPOLICY,
}


def requested(diff: Iterable[Any] | None) -> bool:
    """Whether this change set ``reconcile.tradeplane.io/requested-at`` (a person's request)."""
    for _op, field, _old, new in diff or ():
        path = tuple(field)
        if path == ("metadata", "annotations", RECONCILE_REQUESTED_AT):
            return True
        if path in {("metadata",), ("metadata", "annotations")} and RECONCILE_REQUESTED_AT in str(new or ""):
            return True
    return False


def _register(info: KindInfo) -> None:
    decider = DECIDERS[info.kind]

    async def reconcile(
        body: kopf.Body, patch: kopf.Patch, memo: Any, retry: int = 0, diff: Any = None, **kwargs: Any
    ) -> None:
        context: OperatorContext = memo.context
        indexes = {key: value for key, value in kwargs.items() if is_index(key)}
        asked = requested(diff)
        await run_pass(info, body, patch, context, decider, retry=retry, indexes=indexes, requested=asked)

    reconcile.__name__ = f"reconcile_{info.singular}"
    for decorator in (
        kopf.on.create(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.update(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.resume(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.update(GROUP, VERSION, info.plural, id="status-request", field="status.requested"),
    ):
        decorator(reconcile)


@kopf.on.event(GROUP, VERSION, "instruments")
async def stop_ingestor(event: kopf.RawEvent, memo: Any, **_: Any) -> None:
    """Local ingestors have no owner to be garbage-collected with; a cluster's Deployment does.

    The watch event, not ``on.delete``: Instruments carry no finalizer (a deletion never waits for
    the operator), so kopf sees them only once gone, and runs no deletion handler for that. An
    ingestor the operator missed stopping is stopped by the next driver that starts it.
    """
    context: OperatorContext = memo.context
    if event["type"] != "DELETED" or context.workloads is None or not context.workloads.owns_cleanup:
        return
    metadata = event["object"]["metadata"]
    namespace = str(metadata["namespace"])
    ref = WorkloadRef(namespace, workload_name(str(metadata["name"])), WorkloadKind.SERVICE)
    await carry_out((StopWorkload(ref),), context, namespace)


for _info in KINDS:
    kopf.index(GROUP, VERSION, _info.plural, id=index_id(_info.plural))(summary)
    _register(_info)

assert set(DECIDERS) == set(BY_KIND), "every served kind needs a decider"
