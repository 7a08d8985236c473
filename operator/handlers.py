"""kopf handlers: thin glue from watch events and resync timers to ``engine.run_pass``.

Every kind is reconciled level-based: on create, update and resume, and again on a timer, so an
object converges when something it depends on changes (a Venue appearing, a Secret created) without
anyone editing it. Handlers only observe and call the pure reconcilers.
"""

from __future__ import annotations

import os
from typing import Any

import kopf

from tradeplane.crds.common import GROUP, VERSION, KindInfo
from tradeplane.crds.registry import BY_KIND, KINDS
from tradeplane.crds.riskpolicy import RiskPolicySpec
from tradeplane.crds.venue import VenueSpec
from tradeplane.operator.engine import Decider, OperatorContext, Pass, run_pass
from tradeplane.reconcilers import riskpolicy
from tradeplane.reconcilers.kinds import reconcile_pending_plane, reconcile_venue
from tradeplane.reconcilers.plan import Plan
from tradeplane.reconcilers.references import references

RESYNC_SECONDS = float(os.environ.get("TRADEPLANE_RESYNC_SECONDS", "30"))


async def _pending_plane(step: Pass, context: OperatorContext) -> Plan:
    spec = getattr(step.resource, "spec")  # noqa: B009 - every Resource subclass declares spec
    refs = references(spec)
    observed = {ref: await context.kube.observe(step.namespace, ref) for ref in refs}
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

    async def reconcile(body: kopf.Body, patch: kopf.Patch, memo: Any, retry: int = 0, **_: Any) -> None:
        context: OperatorContext = memo.context
        await run_pass(info, body, patch, context, decide, retry=retry)

    reconcile.__name__ = f"reconcile_{info.singular}"
    for decorator in (
        kopf.on.create(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.update(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.resume(GROUP, VERSION, info.plural, id="reconcile"),
        kopf.on.update(GROUP, VERSION, info.plural, id="status-request", field="status.requested"),
        kopf.timer(
            GROUP, VERSION, info.plural, id="resync", interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS
        ),
    ):
        decorator(reconcile)


for _info in KINDS:
    _register(_info)

assert set(DECIDERS) == set(BY_KIND), "every served kind needs a decider"
