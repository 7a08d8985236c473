"""RiskPolicy's decider: the kill-switch state machine needs nothing but the object itself."""

from __future__ import annotations

from tradeplane.crds.riskpolicy import RiskPolicySpec
from tradeplane.operator.engine import KindDecider, OperatorContext, Pass
from tradeplane.reconcilers import riskpolicy
from tradeplane.reconcilers.plan import Decision


async def decide_riskpolicy(step: Pass[RiskPolicySpec], _context: OperatorContext) -> Decision:
    return riskpolicy.reconcile(step.spec, step.status, step.generation, step.now)


RISKPOLICY = KindDecider(RiskPolicySpec, decide_riskpolicy)
