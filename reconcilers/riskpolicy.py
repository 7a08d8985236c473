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

Every transition is audited with its actor; ACTIVE is Ready, REDUCING is Progressing and HALTED is
Stalled (a person must act), which is what kstatus, Flux and Argo CD show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tradeplane.crds.common import parse_duration
from tradeplane.crds.riskpolicy import BreakerState, RiskPolicySpec, RiskPolicyStatus, TradingState
from tradeplane.reconcilers.conditions import Outcome, Progress
from tradeplane.reconcilers.kinds import status_with
from tradeplane.reconcilers.plan import AuditEntry, Plan

OPERATOR = "tradeplane-operator"
# Breakers without an action in the spec: limit and liquidation breaches only stop risk from
# growing; a manual breaker is an operator's halt.
_FIXED_ACTIONS: dict[str, TradingState] = {
    "limits": "REDUCING",
    "liquidation": "REDUCING",
    "manual": "HALTED",
}


@dataclass(frozen=True)
class Decision:
    state: TradingState
    reason: str
    message: str
    actor: str = OPERATOR


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


def decide(  # noqa: PLR0911 - one return per rule keeps it readable as the table above
    spec: RiskPolicySpec, status: RiskPolicyStatus, now: datetime
) -> Decision | None:
    """The transition to make now, or None to stay; pure, so a restart decides the same again."""
    current = status.state
    if current is None:
        return Decision("ACTIVE", "Initialised", "policy accepted; trading allowed within limits")
    actions = breaker_actions(spec)
    halting = _tripped(status.breakers, actions, "HALTED")
    reducing = _tripped(status.breakers, actions, "REDUCING")
    since = status.state_since
    request = status.requested
    fresh = request is not None and (since is None or request.time >= since)

    if current != "HALTED":
        if fresh and request is not None and request.state == "HALTED":
            return Decision("HALTED", "ManualHalt", request.reason or "halted by request", request.actor)
        if halting:
            return Decision("HALTED", "BreakerTripped", f"breaker {', '.join(halting)} tripped")
        if current == "ACTIVE" and reducing:
            return Decision("REDUCING", "BreakerTripped", f"breaker {', '.join(reducing)} tripped")
        if current == "REDUCING" and not reducing:
            return Decision("ACTIVE", "BreakersCleared", "no breaker is tripped any more")
        return None

    if not (fresh and request is not None and request.state == "ACTIVE"):
        return None
    if halting:
        return None
    cooldown = parse_duration(spec.kill_switch.resume_cooldown)
    if since is not None and now < since + cooldown:
        # the due index (reconcilers.requeue) brings the policy back when the cooldown ends
        return Decision("HALTED", "ResumeCooldown", "", request.actor)
    target: TradingState = "REDUCING" if reducing else "ACTIVE"
    return Decision(target, "ManualResume", request.reason or "resumed by request", request.actor)


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
    decision = decide(spec, status, now)
    if decision is None or decision.state == status.state:
        state: TradingState = status.state or "ACTIVE"
        message = status.state_reason or ""
        if decision is not None and decision.reason == "ResumeCooldown" and status.state_since is not None:
            until = status.state_since + parse_duration(spec.kill_switch.resume_cooldown)
            message = f"resume requested; the kill-switch cooldown ends at {until.isoformat()}"
        plan_status = status_with(raw_status, _outcome(state, message), generation=generation, now=now)
        return Plan(status=plan_status)

    entry = AuditEntry(
        from_state=status.state or "",
        to_state=decision.state,
        reason=decision.reason,
        message=decision.message,
        actor=decision.actor,
    )
    fields = {"state": decision.state, "stateReason": decision.message, "stateSince": now.isoformat()}
    outcome = _outcome(decision.state, decision.message)
    plan_status = status_with(raw_status, outcome, generation=generation, now=now, **fields)
    return Plan(status=plan_status, audit=(entry,))
