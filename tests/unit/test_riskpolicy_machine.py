"""The RiskPolicy kill switch obeys the state-machine laws for any breakers, requests and times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from harness.statemachine import assert_machine_laws, table_edges
from hypothesis import strategies as st
from integration.crd_examples import example

from tradeplane.crds.riskpolicy import BreakerState, RiskPolicySpec, RiskPolicyStatus, StateRequest
from tradeplane.reconcilers import riskpolicy

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SPEC = RiskPolicySpec.model_validate(example("RiskPolicy")["spec"])
ACTIONS = st.sampled_from(["REDUCING", "HALTED"])
BREAKER_NAMES = ["dailyLoss", "drawdown", "rejectRate", "staleData", "limits", "liquidation", "manual"]


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _spec(daily_loss: str, reject_rate: str, stale_data: str, cooldown: str) -> RiskPolicySpec:
    raw: dict[str, Any] = SPEC.to_k8s()
    breakers = raw["breakers"]
    breakers["dailyLoss"]["action"] = daily_loss
    breakers["rejectRate"]["action"] = reject_rate
    breakers["staleData"]["action"] = stale_data
    raw["killSwitch"]["resumeCooldown"] = cooldown
    return RiskPolicySpec.model_validate(raw)


SPECS = st.builds(_spec, ACTIONS, ACTIONS, ACTIONS, st.sampled_from(["1s", "15m", "1h"]))
BREAKERS = st.lists(
    st.builds(
        BreakerState,
        name=st.sampled_from(BREAKER_NAMES),
        state=st.sampled_from(["Ok", "Tripped"]),
    ),
    max_size=4,
    unique_by=lambda breaker: breaker.name,
)
REQUESTS = st.one_of(
    st.none(),
    st.builds(
        StateRequest,
        state=st.sampled_from(["HALTED", "ACTIVE"]),
        actor=st.sampled_from(["alice", "bob"]),
        reason=st.sampled_from(["", "desk closed"]),
        time=st.integers(-3600, 3600).map(_at),
    ),
)
STATUSES = st.builds(
    RiskPolicyStatus,
    state=st.sampled_from([None, "ACTIVE", "REDUCING", "HALTED"]),
    state_since=st.one_of(st.none(), st.integers(-3600, 0).map(_at)),
    state_reason=st.sampled_from([None, "", "breaker rejectRate tripped"]),
    requested=REQUESTS,
    breakers=BREAKERS,
)
TIMES = st.integers(0, 7200).map(_at)


def test_the_kill_switch_obeys_the_state_machine_laws_on_every_edge() -> None:
    reached = assert_machine_laws(
        riskpolicy.MACHINE,
        specs=SPECS,
        statuses=STATUSES,
        observations=st.just(riskpolicy.NOTHING_OBSERVED),
        times=TIMES,
        max_examples=600,
    )
    assert reached == table_edges(riskpolicy.MACHINE)


def test_a_tripped_breaker_at_acceptance_acts_in_the_same_pass() -> None:
    status = RiskPolicyStatus(breakers=[BreakerState(name="manual", state="Tripped")])
    plan = riskpolicy.reconcile(SPEC, status.to_k8s(), 1, T0)
    assert plan.status["state"] == "HALTED"
    assert [(a.from_state, a.to_state, a.reason) for a in plan.audit] == [
        ("", "ACTIVE", "Initialised"),
        ("ACTIVE", "HALTED", "BreakerTripped"),
    ]
    assert riskpolicy.reconcile(SPEC, plan.status, 1, T0).audit == ()
