"""kopf handlers: thin glue from watch events to ``engine.run_pass``.

Every kind is reconciled level-based on create, update and resume; objects whose verdict can change
without any event of theirs (a reference or Secret not there yet, a resume cooldown) are listed in a
``<plural>_due`` index, and the operator's resync sweep (``resync.py``) nudges them when due. So an
object converges when what it depends on appears, without anyone editing it, and without a timer
(and its finalizer) on every object. Handlers only observe and call the pure reconcilers.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import kopf

from tradeplane.crds.common import GROUP, VERSION, KindInfo
from tradeplane.crds.registry import BY_KIND, KINDS
from tradeplane.crds.riskpolicy import RiskPolicySpec
from tradeplane.crds.venue import VenueSpec
from tradeplane.operator.engine import Decider, OperatorContext, Pass, run_pass
from tradeplane.operator.resync import due_index_id
from tradeplane.reconcilers import riskpolicy
from tradeplane.reconcilers.conditions import raw_ready
from tradeplane.reconcilers.kinds import reconcile_pending_plane, reconcile_venue
from tradeplane.reconcilers.plan import Plan
from tradeplane.reconcilers.references import Observed, Reference, references
from tradeplane.reconcilers.requeue import recheck_due

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


async def _venue(step: Pass, context: OperatorContext) -> Plan:
    spec: VenueSpec = getattr(step.resource, "spec")  # noqa: B009
    credentials = None
    check = None
    if spec.credentials is not None:
        secret = spec.credentials.secret_ref.name
        credentials = (secret, spec.credentials.api_key_key, spec.credentials.secret_key_key)
        check = await context.kube.secret_keys(step.namespace, secret)
    return reconcile_venue(
        credentials, check, spec.mode, step.status, generation=step.generation, now=step.now
    )


async def _riskpolicy(step: Pass, _context: OperatorContext) -> Plan:
    spec: RiskPolicySpec = getattr(step.resource, "spec")  # noqa: B009
    return riskpolicy.reconcile(spec, step.status, step.generation, step.now)


DECIDERS: dict[str, Decider] = {
    "Venue": _venue,
    "Instrument": _pending_plane,
    "FeatureSet": _pending_plane,
    "Model": _pending_plane,
    "ModelVersion": _pending_plane,
    "Rollout": _pending_plane,
    "RiskPolicy": _riskpolicy,
}


def _register(info: KindInfo) -> None:
    decide = DECIDERS[info.kind]

    async def reconcile(body: kopf.Body, patch: kopf.Patch, memo: Any, retry: int = 0, **kwargs: Any) -> None:
        context: OperatorContext = memo.context
        indexes = {key: value for key, value in kwargs.items() if key.endswith("_index")}
        await run_pass(info, body, patch, context, decide, retry=retry, indexes=indexes)

    reconcile.__name__ = f"reconcile_{info.singular}"
    for decorator in (
        kopf.on.create(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.update(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.resume(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.update(GROUP, VERSION, info.plural, id="status-request", field="status.requested"),
    ):
        decorator(reconcile)


for _info in KINDS:
    kopf.index(GROUP, VERSION, _info.plural, id=index_id(_info.plural))(_readiness)
    kopf.index(GROUP, VERSION, _info.plural, id=due_index_id(_info.plural))(_due)
    _register(_info)

assert set(DECIDERS) == set(BY_KIND), "every served kind needs a decider"
