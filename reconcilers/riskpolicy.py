"""The RiskPolicy kill switch: one explicit state machine, ACTIVE -> REDUCING -> HALTED and back.

Inputs are all in the object: breaker states reported by executors in ``status.breakers`` and a
manual request written by ``tradeplane halt|resume`` in ``status.requested`` (the status
subresource, so a GitOps sync of the manifest cannot undo it). Rules, in priority order:

- no state yet -> ACTIVE;
- a manual halt newer than the current state, or a tripped breaker whose action is HALTED -> HALTED;
- a tripped breaker whose action is REDUCING while ACTIVE -> REDUCING (no risk-increasing orders);
- REDUCING with no tripped breaker -> ACTIVE (reducing heals by itself);
- HALTED leaves only on a manual resume newer than the halt, after ``killSwitch.resumeCooldown``,
  with no HALTED breaker still tripped; it resumes to REDUCING if a REDUCING breaker is tripped.

The moves are :data:`TABLE`, applied by the shared state machine (``statemachine.py``): every
transition is audited once with its actor. A resume held back by the cooldown is no transition: the
policy stays HALTED and says when the cooldown ends. ACTIVE is Ready, REDUCING is Progressing and
HALTED is Stalled (a person must act), which is what kstatus, Flux and Argo CD show.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tradeplane.crds.common import parse_duration
from tradeplane.crds.riskpolicy import (
    BreakerState,
    RiskPolicySpec,
    RiskPolicyStatus,
    StateRequest,
    TradingState,
)
from tradeplane.reconcilers.conditions import Outcome, Progress
from tradeplane.reconcilers.kinds import status_with
from tradeplane.reconcilers.plan import Plan
from tradeplane.reconcilers.statemachine import StateFields, StateMachine, Transition

# Breakers without an action in the spec: limit and liquidation breaches only stop risk from
# growing; a manual breaker is an operator's halt.
_FIXED_ACTIONS: dict[str, TradingState] = {
    "limits": "REDUCING",
    "liquidation": "REDUCING",
    "manual": "HALTED",
}

TABLE: Mapping[TradingState | None, frozenset[TradingState]] = {
    None: frozenset({"ACTIVE"}),
    "ACTIVE": frozenset({"REDUCING", "HALTED"}),
    "REDUCING": frozenset({"ACTIVE", "HALTED"}),
    "HALTED": frozenset({"ACTIVE", "REDUCING"}),
}
CHAINED: frozenset[tuple[TradingState, TradingState]] = frozenset(
    {("ACTIVE", "REDUCING"), ("ACTIVE", "HALTED")}
)
"""A breaker already tripped when the policy is first accepted acts in that same pass."""

NOTHING_OBSERVED = None
"""Executors report breakers and exposure into status; the kill switch observes nothing else."""


def breaker_actions(spec: RiskPolicySpec) -> dict[str, TradingState]:
    actions = dict(_FIXED_ACTIONS)
    breakers = spec.breakers
    if breakers.daily_loss is not None:
        actions["dailyLoss"] = breakers.daily_loss.action
    if breakers.drawdown is not None:
        actions["drawdown"] = breakers.drawdown.action
    actions["rejectRate"] = breakers.reject_rate.action
    actions["staleData"] = breakers.stale_data.action
    return actions


def _tripped(
    breakers: list[BreakerState], actions: Mapping[str, TradingState], action: TradingState
) -> list[str]:
    return sorted(b.name for b in breakers if b.state == "Tripped" and actions.get(b.name) == action)


def _fresh_request(status: RiskPolicyStatus) -> StateRequest | None:
    """The manual request, if it was made after the current state was entered (older ones are spent)."""
    request, since = status.requested, status.state_since
    if request is not None and (since is None or request.time >= since):
        return request
    return None


def resume_cooldown_end(spec: RiskPolicySpec, status: RiskPolicyStatus, now: datetime) -> datetime | None:
    """When the cooldown ends that holds back a fresh resume request; None if nothing waits for it."""
    request = _fresh_request(status)
    if status.state != "HALTED" or request is None or request.state != "ACTIVE":
        return None
    if _tripped(status.breakers, breaker_actions(spec), "HALTED") or status.state_since is None:
        return None
    end = status.state_since + parse_duration(spec.kill_switch.resume_cooldown)
    return end if now < end else None


def decide(  # noqa: PLR0911 - one return per rule keeps it readable as the list above
    spec: RiskPolicySpec, status: RiskPolicyStatus, _observed: None, now: datetime
) -> Transition[TradingState] | None:
    """The transition to make now, or None to stay; pure, so a restart decides the same again."""
    current = status.state
    if current is None:
        return Transition("ACTIVE", "Initialised", "policy accepted; trading allowed within limits")
    actions = breaker_actions(spec)
    halting = _tripped(status.breakers, actions, "HALTED")
    reducing = _tripped(status.breakers, actions, "REDUCING")
    request = _fresh_request(status)

    if current != "HALTED":
        if request is not None and request.state == "HALTED":
            return Transition("HALTED", "ManualHalt", request.reason or "halted by request", request.actor)
        if halting:
            return Transition("HALTED", "BreakerTripped", f"breaker {', '.join(halting)} tripped")
        if current == "ACTIVE" and reducing:
            return Transition("REDUCING", "BreakerTripped", f"breaker {', '.join(reducing)} tripped")
        if current == "REDUCING" and not reducing:
            return Transition("ACTIVE", "BreakersCleared", "no breaker is tripped any more")
        return None

    if request is None or request.state != "ACTIVE" or halting:
        return None
    if resume_cooldown_end(spec, status, now) is not None:
        return None
    target: TradingState = "REDUCING" if reducing else "ACTIVE"
    return Transition(target, "ManualResume", request.reason or "resumed by request", request.actor)


def _state_of(status: RiskPolicyStatus) -> TradingState | None:
    return status.state


MACHINE: StateMachine[RiskPolicySpec, RiskPolicyStatus, None, TradingState] = StateMachine(
    name="RiskPolicy kill switch",
    table=TABLE,
    decide=decide,
    read=_state_of,
    write=StateFields(state="state", since="state_since", reason="state_reason").write,
    chained=CHAINED,
)


def _outcome(state: TradingState, message: str) -> Outcome:
    if state == "ACTIVE":
        return Outcome(Progress.READY, "Active", message)
    if state == "REDUCING":
        return Outcome(Progress.PROGRESSING, "Reducing", message)
    return Outcome(Progress.STALLED, "Halted", message)


def reconcile(
    spec: RiskPolicySpec, raw_status: Mapping[str, Any] | None, generation: int | None, now: datetime
) -> Plan:
    status = RiskPolicyStatus.model_validate(raw_status or {})
    step = MACHINE.run(spec, status, NOTHING_OBSERVED, now)
    state: TradingState = step.status.state or "ACTIVE"
    # a resume waiting out its cooldown is brought back by the due index (reconcilers.requeue)
    cooldown_end = resume_cooldown_end(spec, step.status, now)
    if not step.audit:
        message = status.state_reason or ""
        if cooldown_end is not None:
            message = f"resume requested; the kill-switch cooldown ends at {cooldown_end.isoformat()}"
        plan_status = status_with(raw_status, _outcome(state, message), generation=generation, now=now)
        return Plan(status=plan_status)

    written = step.status.to_k8s()
    fields = {key: written[key] for key in ("state", "stateReason", "stateSince")}
    outcome = _outcome(state, step.status.state_reason or "")
    plan_status = status_with(raw_status, outcome, generation=generation, now=now, **fields)
    return Plan(status=plan_status, audit=step.audit)
