"""The decider of kinds whose plane arrives in a later release (Model, ModelVersion, Rollout).

They resolve their references from kopf's indexes and say honestly that they wait for their plane
(``reconcilers.kinds.reconcile_pending_plane``). When a kind's plane arrives it gets a decider
module of its own (``model.py``, ``modelversion.py``, ``rollout.py``) and leaves this one.
"""

from __future__ import annotations

from pydantic import BaseModel

from tradeplane.crds.model import ModelSpec
from tradeplane.crds.modelversion import ModelVersionSpec
from tradeplane.crds.rollout import RolloutSpec
from tradeplane.operator.engine import KindDecider, OperatorContext, Pass
from tradeplane.operator.indexes import observe_all
from tradeplane.reconcilers.kinds import reconcile_pending_plane
from tradeplane.reconcilers.plan import Decision
from tradeplane.reconcilers.references import references


async def decide_pending_plane(step: Pass[BaseModel], _context: OperatorContext) -> Decision:
    refs = references(step.spec)
    return reconcile_pending_plane(
        step.info.kind, refs, observe_all(step, refs), step.status, generation=step.generation, now=step.now
    )


MODEL = KindDecider[BaseModel](ModelSpec, decide_pending_plane)
MODELVERSION = KindDecider[BaseModel](ModelVersionSpec, decide_pending_plane)
ROLLOUT = KindDecider[BaseModel](RolloutSpec, decide_pending_plane)
