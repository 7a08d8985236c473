"""One reconcile pass, the same for every kind: observe, decide (pure), audit, announce, write status.

Order matters for restart safety. Audit records are appended first (idempotent per decision: the
token is the chain head the decision was made from), then their Events (named after the record, so a
repeat is AlreadyExists), and the status last. A crash anywhere re-runs the same pure decision from
the same status and lands on the same records, never a duplicate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from tradeplane.crds.common import KindInfo, Resource
from tradeplane.operator.kube import KubeClient
from tradeplane.operator.metrics import AUDIT_RECORDS, RECONCILE_ERRORS, RECONCILE_SECONDS, RECONCILES
from tradeplane.reconcilers.conditions import Outcome, Progress
from tradeplane.reconcilers.kinds import status_with
from tradeplane.reconcilers.plan import Plan
from tradeplane.runtime.audit.kube import event_body, status_audit
from tradeplane.runtime.audit.record import ObjectRef, Transition
from tradeplane.runtime.audit.store import append
from tradeplane.runtime.workloads.spec import WorkloadDriver


@dataclass
class OperatorContext:
    """What handlers share (kopf's operator-wide memo)."""

    kube: KubeClient
    audit: AsyncEngine
    workloads: WorkloadDriver | None = None
    """Realises plans' workloads: Kubernetes Deployments/Jobs, or local processes (embedded)."""
    database_secret: str | None = None
    """In a cluster, the Secret whose ``url`` key workloads take DATABASE_URL from."""


@dataclass(frozen=True)
class Pass:
    """The object of one pass, parsed, with the clock fixed for the whole pass."""

    info: KindInfo
    body: dict[str, Any]
    resource: Resource
    now: datetime
    indexes: Mapping[str, Any] = field(default_factory=dict)
    """kopf's in-memory indexes of every kind, by index id: references resolve without API calls."""

    @property
    def namespace(self) -> str:
        return str(self.body["metadata"]["namespace"])

    @property
    def generation(self) -> int | None:
        generation = self.body["metadata"].get("generation")
        return int(generation) if generation is not None else None

    @property
    def status(self) -> dict[str, Any] | None:
        status = self.body.get("status")
        return dict(status) if status else None


Decider = Callable[[Pass, OperatorContext], Awaitable[Plan]]


def _now() -> datetime:
    # metav1.Time has second precision; finer times would flap on every comparison.
    return datetime.now(UTC).replace(microsecond=0)


async def _record(step: Pass, plan: Plan, context: OperatorContext) -> dict[str, Any] | None:
    """Append the plan's transitions and post their Events; returns the new chain head, if any."""
    metadata = step.body["metadata"]
    obj = ObjectRef(
        kind=step.info.kind,
        namespace=step.namespace,
        name=metadata["name"],
        uid=metadata["uid"],
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
        record = await append(context.audit, transition)
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


async def run_pass(
    info: KindInfo,
    body: kopf.Body,
    patch: kopf.Patch,
    context: OperatorContext,
    decide: Decider,
    *,
    retry: int = 0,
    indexes: Mapping[str, Any] | None = None,
) -> float | None:
    """Reconcile one object; returns the delay after which the plan wants another look."""
    started = time.perf_counter()
    raw = {"apiVersion": body.get("apiVersion"), "kind": body.get("kind"), "metadata": dict(body.metadata)}
    raw.update({"spec": dict(body.spec), "status": dict(body.status) if body.status else None})
    try:
        try:
            resource = info.resource.model_validate(raw)
        except ValidationError as exc:
            # The API server validated the spec, so this means an object this operator version
            # cannot read; stall with the reason instead of crashing or retrying forever.
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            outcome = Outcome(Progress.STALLED, "InvalidSpec", f"{where}: {first['msg']}")
            generation = body.metadata.get("generation")
            patch.status.update(status_with(raw["status"], outcome, generation=generation, now=_now()))
            RECONCILES.labels(info.kind, "stalled").inc()
            return None
        step = Pass(info, raw, resource, _now(), indexes or {})
        plan = await decide(step, context)
        status = dict(plan.status)
        if plan.workloads:
            if context.workloads is None:
                raise RuntimeError("the plan needs workloads but the operator has no workload driver")
            for workload in plan.workloads:
                await asyncio.to_thread(context.workloads.apply, workload)
        head = await _record(step, plan, context)
        if head is not None:
            status["audit"] = head
        if status != step.status:
            patch.status.update(merge_patch(step.status, status))
        RECONCILES.labels(info.kind, "ok").inc()
        return plan.requeue_after
    except Exception as exc:
        RECONCILE_ERRORS.labels(info.kind, type(exc).__name__).inc()
        raise kopf.TemporaryError(f"{type(exc).__name__}: {exc}", delay=backoff(retry)) from exc
    finally:
        RECONCILE_SECONDS.labels(info.kind).observe(time.perf_counter() - started)
