"""One reconcile pass, the same for every kind: observe, decide (pure), carry out, audit, write status.

A kind's decider (``venue.py``, ``instrument.py``, ...) observes with async reads and returns what
the pure reconciler decided; only the engine changes anything, in this order:

1. snapshot rows (:class:`RecordSnapshot`, when the decider read the venue): an upsert by content,
   whose result (row id, version, whether it is new) the reconciler's continuation turns into the
   plan. The rows come first because they are the decision's inputs;
2. the plan's effects in the order it lists them (:class:`ApplyWorkload`, :class:`StopWorkload`,
   :class:`AnnotateObject`);
3. audit records (idempotent per decision: the token is the chain head the decision was made from),
   then their Events (named after the record, so a repeat is AlreadyExists);
4. the status, last.

Every step is idempotent, so a crash anywhere re-runs the same pure decision from the same status
and lands on the same rows, workloads and records, never a duplicate. The status also says when
the object is due for another look (``reconcilers.requeue``): that is the only requeue path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import aiohttp
import kopf
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.crds.common import KindInfo
from tradeplane.operator.kube import KubeClient
from tradeplane.operator.metrics import AUDIT_RECORDS, RECONCILE_ERRORS, RECONCILE_SECONDS, RECONCILES
from tradeplane.reconcilers.conditions import Outcome, Progress
from tradeplane.reconcilers.kinds import status_with
from tradeplane.reconcilers.plan import (
    AnnotateObject,
    ApplyWorkload,
    Decision,
    Effect,
    Plan,
    StopWorkload,
)
from tradeplane.runtime.audit.kube import event_body, status_audit
from tradeplane.runtime.audit.record import ObjectRef, Transition
from tradeplane.runtime.audit.store import append
from tradeplane.runtime.venue import snapshots
from tradeplane.runtime.workloads.spec import WorkloadDriver

SpecT = TypeVar("SpecT", bound=BaseModel)


@dataclass
class OperatorContext:
    """What handlers share (kopf's operator-wide memo)."""

    kube: KubeClient
    database: AsyncEngine
    """PostgreSQL: the audit log, exchange snapshots, market data and dataset registry."""
    workloads: WorkloadDriver | None = None
    """Realises plans' workloads: Kubernetes Deployments/Jobs, or local processes (embedded)."""
    database_secret: str | None = None
    """In a cluster, the Secret whose ``url`` key workloads take DATABASE_URL from."""
    venue_session: aiohttp.ClientSession | None = None
    """One HTTP session for every venue read: connections (and TLS) outlive a pass."""


@dataclass(frozen=True)
class Pass(Generic[SpecT]):
    """The object of one pass, its spec parsed, with the clock fixed for the whole pass."""

    info: KindInfo
    body: dict[str, Any]
    spec: SpecT
    now: datetime
    indexes: Mapping[str, Any] = field(default_factory=dict)
    """kopf's in-memory indexes of every kind, by index id: references resolve without API calls."""
    requested: bool = False
    """Someone asked for this pass (``reconcile.tradeplane.io/requested-at`` changed): whatever is
    read on a schedule (exchange metadata) is read now."""

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def uid(self) -> str:
        return str(self.body["metadata"]["uid"])

    @property
    def generation(self) -> int | None:
        generation = self.body["metadata"].get("generation")
        return int(generation) if generation is not None else None

    @property
    def status(self) -> dict[str, Any] | None:
        status = self.body.get("status")
        return dict(status) if status else None


@dataclass(frozen=True)
class KindDecider(Generic[SpecT]):
    """How one kind is decided: its spec model, and observe + pure reconciler as one coroutine."""

    spec_type: type[SpecT]
    decide: Callable[[Pass[SpecT], OperatorContext], Awaitable[Decision]]


def _now() -> datetime:
    # metav1.Time has second precision; finer times would flap on every comparison.
    return datetime.now(UTC).replace(microsecond=0)


async def settle(decision: Decision, context: OperatorContext, now: datetime) -> Plan:
    """Store a :class:`Recording`'s snapshots and hand what was stored to its continuation."""
    if isinstance(decision, Plan):
        return decision
    stored = {}
    for wanted in decision.snapshots:
        stored[wanted.key] = await snapshots.record(
            context.database, wanted.key, wanted.observation, now=now, max_age=wanted.max_age
        )
    return decision.decide(stored)


async def carry_out(effects: tuple[Effect, ...], context: OperatorContext, namespace: str) -> None:
    """The plan's effects, in the order the plan lists them; each is idempotent."""
    for effect in effects:
        if isinstance(effect, AnnotateObject):
            await context.kube.annotate(effect.plural, namespace, effect.name, dict(effect.annotations))
            continue
        if context.workloads is None:
            raise RuntimeError("the plan needs workloads but the operator has no workload driver")
        if isinstance(effect, ApplyWorkload):
            await asyncio.to_thread(context.workloads.apply, effect.spec)
        elif isinstance(effect, StopWorkload):
            await asyncio.to_thread(context.workloads.delete, effect.ref)


async def _record(step: Pass[Any], plan: Plan, context: OperatorContext) -> dict[str, Any] | None:
    """Append the plan's transitions and post their Events; returns the new chain head, if any."""
    obj = ObjectRef(
        kind=step.info.kind,
        namespace=step.namespace,
        name=step.name,
        uid=step.uid,
        generation=step.generation or 0,
    )
    base = ((step.status or {}).get("audit") or {}).get("seq", 0)
    head = None
    for index, entry in enumerate(plan.audit):
        transition = Transition(
            object=obj,
            actor=entry.actor,
            from_state=entry.from_state,
            to_state=entry.to_state,
            reason=entry.reason,
            message=entry.message,
            evidence=dict(entry.evidence),
            token=f"{base}:{index}",
        )
        record = await append(context.database, transition)
        AUDIT_RECORDS.labels(step.info.kind).inc()
        await context.kube.post_event(step.namespace, event_body(record, step.body))
        head = status_audit(record)
    return head


def merge_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``.

    Status is written as a merge patch, which keeps any key it does not mention: a field the plan
    dropped (say the tick size of a snapshot that turned invalid) must be sent as null, or the
    stale value would stay in status for ever.
    """
    patch: dict[str, Any] = {key: None for key in (old or {}) if key not in new}
    for key, value in new.items():
        before = (old or {}).get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif value != before:
            patch[key] = value
    return patch


MAX_BACKOFF_SECONDS = 60.0


def backoff(retry: int) -> float:
    """1, 2, 4, ... seconds, capped: a flapping database is not hammered, a blip heals fast."""
    return min(2.0**retry, MAX_BACKOFF_SECONDS)


def _invalid(info: KindInfo, raw: dict[str, Any], error: ValidationError, patch: kopf.Patch) -> None:
    """The API server validated the spec, so this means an object this operator version cannot
    read; stall with the reason instead of crashing or retrying forever."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in ("spec", *first["loc"]))
    outcome = Outcome(Progress.STALLED, "InvalidSpec", f"{where}: {first['msg']}")
    generation = raw["metadata"].get("generation")
    patch.status.update(status_with(raw["status"], outcome, generation=generation, now=_now()))
    RECONCILES.labels(info.kind, "stalled").inc()


async def run_pass(
    info: KindInfo,
    body: kopf.Body,
    patch: kopf.Patch,
    context: OperatorContext,
    decider: KindDecider[Any],
    *,
    retry: int = 0,
    indexes: Mapping[str, Any] | None = None,
    requested: bool = False,
) -> None:
    """Reconcile one object: decide, carry the plan out, write the status (see the module doc)."""
    started = time.perf_counter()
    raw = {"apiVersion": body.get("apiVersion"), "kind": body.get("kind"), "metadata": dict(body.metadata)}
    raw.update({"spec": dict(body.spec), "status": dict(body.status) if body.status else None})
    try:
        try:
            spec = decider.spec_type.model_validate(raw["spec"])
        except ValidationError as exc:
            _invalid(info, raw, exc, patch)
            return
        step = Pass(info, raw, spec, _now(), indexes or {}, requested)
        plan = await settle(await decider.decide(step, context), context, step.now)
        await carry_out(plan.effects, context, step.namespace)
        status = dict(plan.status)
        head = await _record(step, plan, context)
        if head is not None:
            status["audit"] = head
        if status != step.status:
            patch.status.update(merge_patch(step.status, status))
        RECONCILES.labels(info.kind, "ok").inc()
    except Exception as exc:
        RECONCILE_ERRORS.labels(info.kind, type(exc).__name__).inc()
        raise kopf.TemporaryError(f"{type(exc).__name__}: {exc}", delay=backoff(retry)) from exc
    finally:
        RECONCILE_SECONDS.labels(info.kind).observe(time.perf_counter() - started)
