"""Pure reconcilers: kstatus conditions, references, Venue credentials, RiskPolicy kill switch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from integration.crd_examples import example

from tradeplane.crds.riskpolicy import RiskPolicySpec, RiskPolicyStatus
from tradeplane.crds.rollout import RolloutSpec
from tradeplane.reconcilers import riskpolicy
from tradeplane.reconcilers.conditions import (
    READY,
    RECONCILING,
    STALLED,
    Outcome,
    Progress,
    apply_outcome,
    find,
    first_sight,
    is_true,
    same_conditions,
)
from tradeplane.reconcilers.kinds import SecretCheck, conditions_of, reconcile_pending_plane
from tradeplane.reconcilers.references import Observed, Reference, references
from tradeplane.reconcilers.requeue import DUE_NOW, recheck_due
from tradeplane.reconcilers.riskpolicy import NOTHING_OBSERVED
from tradeplane.reconcilers.venue import credentials_outcome

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def example_spec(kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = example(kind)["spec"]
    return spec


def _conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in conditions_of(status)}


def test_first_sight_stamps_reconciling_and_unknown_once() -> None:
    stamped = first_sight([], generation=1, now=T0)
    assert {c.type: c.status for c in stamped} == {READY: "Unknown", RECONCILING: "True"}
    assert first_sight(stamped, generation=2, now=T0 + timedelta(seconds=5)) == stamped


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        (Progress.READY, {READY: "True", RECONCILING: "False", STALLED: "False"}),
        (Progress.PROGRESSING, {READY: "False", RECONCILING: "True", STALLED: "False"}),
        (Progress.STALLED, {READY: "False", RECONCILING: "False", STALLED: "True"}),
    ],
)
def test_each_outcome_is_one_kstatus_verdict(progress: Progress, expected: dict[str, str]) -> None:
    result = apply_outcome([], Outcome(progress, "Because", "why"), generation=3, now=T0)
    assert {c.type: c.status for c in result} == expected
    assert {c.observed_generation for c in result} == {3}


def test_transition_time_moves_only_when_the_status_changes() -> None:
    first = apply_outcome([], Outcome(Progress.PROGRESSING, "A", "a"), generation=1, now=T0)
    later = T0 + timedelta(minutes=1)
    same = apply_outcome(first, Outcome(Progress.PROGRESSING, "B", "b"), generation=1, now=later)
    assert find(same, READY).last_transition_time == T0  # type: ignore[union-attr]
    assert find(same, READY).reason == "B"  # type: ignore[union-attr]
    flipped = apply_outcome(same, Outcome(Progress.READY, "C", "c"), generation=1, now=later)
    assert find(flipped, READY).last_transition_time == later  # type: ignore[union-attr]
    assert is_true(flipped, READY) and not is_true(flipped, STALLED)
    assert same_conditions(flipped, list(reversed(flipped)))


def test_references_cover_every_ref_field_in_a_stable_order() -> None:
    spec = RolloutSpec.model_validate(example_spec("Rollout"))
    kinds = [ref.kind for ref in references(spec)]
    assert kinds == sorted(kinds)
    assert {"Instrument", "Venue", "Model", "RiskPolicy"} <= set(kinds)


def test_a_missing_reference_is_progressing_and_named() -> None:
    refs = [Reference("Venue", "venues", "v"), Reference("Model", "models", "m")]
    observed = {refs[1]: Observed(exists=True)}
    plan = reconcile_pending_plane("Rollout", refs, observed, None, generation=1, now=T0)
    assert _conditions(plan.status)[READY] == ("False", "VenueNotFound")
    assert _conditions(plan.status)[RECONCILING] == ("True", "VenueNotFound")
    resolved = reconcile_pending_plane(
        "Rollout", refs, {ref: Observed(exists=True) for ref in refs}, plan.status, generation=1, now=T0
    )
    assert _conditions(resolved.status)[READY] == ("False", "WaitingForPlane")
    assert resolved.status["observedGeneration"] == 1


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (SecretCheck(exists=False), ("SecretNotFound", "PROGRESSING")),
        (SecretCheck(exists=True, keys=frozenset({"apiKey"})), ("SecretKeyMissing", "STALLED")),
    ],
)
def test_venue_credentials(secret: SecretCheck, expected: tuple[str, str]) -> None:
    outcome = credentials_outcome(("api", "apiKey", "secretKey"), secret, "live")
    assert outcome is not None and (outcome.reason, outcome.progress.name) == expected


def test_venue_with_both_keys_may_be_asked() -> None:
    both = SecretCheck(exists=True, keys=frozenset({"apiKey", "secretKey"}))
    assert credentials_outcome(("api", "apiKey", "secretKey"), both, "live") is None


def test_live_venue_without_credentials_is_stalled_paper_is_not() -> None:
    live = credentials_outcome(None, None, "live")
    assert live is not None and (live.reason, live.progress.name) == ("CredentialsRequired", "STALLED")
    assert credentials_outcome(None, None, "paper") is None


# ---- RiskPolicy kill switch ------------------------------------------------------------------

SPEC = RiskPolicySpec.model_validate(example_spec("RiskPolicy"))


def _status(**fields: Any) -> RiskPolicyStatus:
    return RiskPolicyStatus.model_validate(fields)


def _request(state: str, at: datetime, actor: str = "alice") -> dict[str, Any]:
    return {"state": state, "actor": actor, "reason": "", "time": at.isoformat()}


def _tripped(name: str) -> dict[str, Any]:
    return {"name": name, "state": "Tripped"}


def test_new_policy_becomes_active_and_is_audited() -> None:
    plan = riskpolicy.reconcile(SPEC, None, 1, T0)
    assert plan.status["state"] == "ACTIVE"
    assert [(a.from_state, a.to_state, a.reason) for a in plan.audit] == [("", "ACTIVE", "Initialised")]
    again = riskpolicy.reconcile(SPEC, plan.status, 1, T0 + timedelta(seconds=30))
    assert again.audit == ()
    assert again.status["stateSince"] == plan.status["stateSince"]


def test_manual_halt_records_the_actor_and_stalls() -> None:
    active = riskpolicy.reconcile(SPEC, None, 1, T0).status
    active["requested"] = _request("HALTED", T0 + timedelta(seconds=1))
    plan = riskpolicy.reconcile(SPEC, active, 1, T0 + timedelta(seconds=2))
    assert plan.status["state"] == "HALTED"
    assert plan.audit[0].actor == "alice" and plan.audit[0].reason == "ManualHalt"
    assert _conditions(plan.status)[STALLED] == ("True", "Halted")


def test_a_request_older_than_the_current_state_is_ignored() -> None:
    status = _status(
        state="ACTIVE", stateSince=T0.isoformat(), requested=_request("HALTED", T0 - timedelta(hours=1))
    )
    assert riskpolicy.decide(SPEC, status, NOTHING_OBSERVED, T0 + timedelta(seconds=1)) is None


def test_reducing_breaker_reduces_and_heals() -> None:
    status = _status(state="ACTIVE", stateSince=T0.isoformat(), breakers=[_tripped("rejectRate")])
    decision = riskpolicy.decide(SPEC, status, NOTHING_OBSERVED, T0)
    assert decision is not None and decision.to == "REDUCING"
    healed = _status(
        state="REDUCING", stateSince=T0.isoformat(), breakers=[{"name": "rejectRate", "state": "Ok"}]
    )
    back = riskpolicy.decide(SPEC, healed, NOTHING_OBSERVED, T0)
    assert back is not None and (back.to, back.reason) == ("ACTIVE", "BreakersCleared")


def test_halting_breaker_halts_from_reducing() -> None:
    status = _status(state="REDUCING", stateSince=T0.isoformat(), breakers=[_tripped("manual")])
    decision = riskpolicy.decide(SPEC, status, NOTHING_OBSERVED, T0)
    assert decision is not None and (decision.to, decision.reason) == ("HALTED", "BreakerTripped")


def test_resume_waits_for_the_cooldown_then_resumes() -> None:
    cooldown = riskpolicy.parse_duration(SPEC.kill_switch.resume_cooldown)
    halted = {"state": "HALTED", "stateSince": T0.isoformat(), "requested": _request("ACTIVE", T0, "bob")}
    early = riskpolicy.reconcile(SPEC, halted, 1, T0 + cooldown / 2)
    assert early.status["state"] == "HALTED" and early.audit == ()
    # looked at again exactly when the cooldown ends, through the one requeue path (the due index)
    assert recheck_due("RiskPolicy", SPEC.model_dump(by_alias=True), early.status) == T0 + cooldown
    assert "cooldown ends" in find(conditions_of(early.status), STALLED).message  # type: ignore[union-attr]
    resumed = riskpolicy.reconcile(SPEC, halted, 1, T0 + cooldown)
    assert resumed.status["state"] == "ACTIVE"
    assert (resumed.audit[0].actor, resumed.audit[0].reason) == ("bob", "ManualResume")


def test_resume_is_refused_while_a_halting_breaker_is_tripped() -> None:
    status = _status(
        state="HALTED",
        stateSince=T0.isoformat(),
        requested=_request("ACTIVE", T0),
        breakers=[_tripped("manual")],
    )
    assert riskpolicy.decide(SPEC, status, NOTHING_OBSERVED, T0 + timedelta(days=1)) is None


def test_resume_lands_in_reducing_when_a_reducing_breaker_is_tripped() -> None:
    status = _status(
        state="HALTED",
        stateSince=T0.isoformat(),
        requested=_request("ACTIVE", T0),
        breakers=[_tripped("limits")],
    )
    decision = riskpolicy.decide(SPEC, status, NOTHING_OBSERVED, T0 + timedelta(days=1))
    assert decision is not None and decision.to == "REDUCING"


BREAKERS = st.lists(
    st.builds(
        lambda name, tripped: {"name": name, "state": "Tripped" if tripped else "Ok"},
        st.sampled_from(
            ["dailyLoss", "drawdown", "rejectRate", "staleData", "limits", "liquidation", "manual"]
        ),
        st.booleans(),
    ),
    max_size=4,
    unique_by=lambda b: b["name"],
)


@settings(derandomize=True, max_examples=300)
@given(
    st.sampled_from(["ACTIVE", "REDUCING", "HALTED"]),
    BREAKERS,
    st.sampled_from([None, "HALTED", "ACTIVE"]),
    st.integers(-3600, 3600),
    st.integers(0, 7200),
)
def test_kill_switch_laws(
    state: str, breakers: list[dict[str, Any]], request: str | None, age: int, wait: int
) -> None:
    requested = _request(request, T0 + timedelta(seconds=age)) if request else None
    status = _status(state=state, stateSince=T0.isoformat(), breakers=breakers, requested=requested)
    decision = riskpolicy.decide(SPEC, status, NOTHING_OBSERVED, T0 + timedelta(seconds=wait))
    if decision is None or decision.to == state:
        return
    # HALTED is left only by a fresh manual resume, never automatically
    if state == "HALTED":
        assert request == "ACTIVE" and age >= 0 and decision.reason == "ManualResume"
    # nothing ever moves to a less restrictive state while a halting breaker is tripped
    halting = {name for name, action in riskpolicy.breaker_actions(SPEC).items() if action == "HALTED"}
    if any(b["state"] == "Tripped" and b["name"] in halting for b in breakers):
        assert decision.to == "HALTED"


# ---- when to look again -----------------------------------------------------------------------


def _with_ready_reason(reason: str) -> dict[str, Any]:
    return {"conditions": [{"type": "Ready", "status": "False", "reason": reason, "message": ""}]}


@pytest.mark.parametrize(
    ("reason", "due"),
    [
        ("VenueNotFound", True),
        ("SecretNotFound", True),
        ("SecretKeyMissing", True),
        ("WaitingForPlane", False),
    ],
)
def test_waiting_on_something_unwatched_or_absent_is_due_now(reason: str, due: bool) -> None:
    result = recheck_due("Instrument", {}, _with_ready_reason(reason))
    assert (result == DUE_NOW) is due
    assert recheck_due("Instrument", {}, None) is None


def test_a_pending_resume_is_due_when_the_cooldown_ends() -> None:
    status = {"state": "HALTED", "stateSince": T0.isoformat(), "requested": _request("ACTIVE", T0)}
    spec = {"killSwitch": {"resumeCooldown": "10m"}}
    assert recheck_due("RiskPolicy", spec, status) == T0 + timedelta(minutes=10)
    stale = {**status, "requested": _request("ACTIVE", T0 - timedelta(seconds=1))}
    assert recheck_due("RiskPolicy", spec, stale) is None
    assert recheck_due("RiskPolicy", spec, {**status, "state": "ACTIVE"}) is None
    assert recheck_due("RiskPolicy", {}, {**status, "stateSince": "not a time"}) is None
