"""The Argo CD health scripts, run as Argo CD runs them, against status objects as the operator writes them.

Argo CD (util/lua) runs a health script in gopher-lua, a Lua 5.1 VM, with only the base, table,
package and a reduced os library opened (no string library, so no ``s:find``), and the object as
the global ``obj``; the script's chunk returns ``{status = ..., message = ...}``. Here the script
is loaded with ``loadstring`` into an environment holding just those globals, in lupa's Lua 5.1,
with string methods switched off. Objects are built from the pydantic status models in crds/.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.argo import ArgoLua
from integration.crd_examples import example
from lupa import lua51

from tradeplane.crds.common import Condition, StatusBase
from tradeplane.crds.registry import BY_KIND, KINDS
from tradeplane.crds.riskpolicy import BreakerState, RiskPolicyStatus
from tradeplane.crds.rollout import PauseCondition, RolloutStatus

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "manifests" / "gitops" / "argocd"
HEALTH_KEY = "resource.customizations.health.tradeplane.io_"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GENERATION = 3
WAITING = f"Waiting for the tradeplane operator to observe generation {GENERATION}"


@pytest.fixture(scope="module")
def argo() -> ArgoLua:
    return ArgoLua()


def script(kind: str) -> str:
    return (ARGOCD / "health" / f"{kind}.lua").read_text()


def condition(kind: str, status: str, reason: str, message: str, generation: int = GENERATION) -> Condition:
    return Condition(
        type=kind,
        status=status,  # type: ignore[arg-type]
        observed_generation=generation,
        last_transition_time=NOW,
        reason=reason,
        message=message,
    )


def outcome(progress: str, reason: str, message: str, generation: int = GENERATION) -> list[Condition]:
    """The consistent Ready / Reconciling / Stalled triple the operator writes for one outcome."""
    verdict = {
        "Ready": "True" if progress == "ready" else "False",
        "Reconciling": "True" if progress == "progressing" else "False",
        "Stalled": "True" if progress == "stalled" else "False",
    }
    return [condition(t, s, reason, message, generation) for t, s in verdict.items()]


def first_sight(generation: int | None = None) -> list[Condition]:
    """Ready=Unknown and Reconciling=True, stamped before the operator has judged the object."""
    note = "not reconciled yet"
    return [
        Condition(
            type=t,
            status=s,  # type: ignore[arg-type]
            observed_generation=generation,
            last_transition_time=NOW,
            reason="Reconciling",
            message=note,
        )
        for t, s in (("Ready", "Unknown"), ("Reconciling", "True"))
    ]


def resource(kind: str, status: StatusBase | None, generation: int = GENERATION) -> dict[str, Any]:
    """A whole object as the API server returns it, validated through the kind's pydantic model."""
    body = example(kind)
    body["metadata"].update(namespace="trading", uid="3f1c0a4e-0000-4000-8000-000000000001")
    body["metadata"]["generation"] = generation
    if status is not None:
        body["status"] = status.to_k8s()
    return BY_KIND[kind].resource.model_validate(body).to_k8s()


def status_of(kind: str, **fields: Any) -> StatusBase:
    return BY_KIND[kind].status(**fields)


ALL_KINDS = [info.kind for info in KINDS]


# ---- the files ---------------------------------------------------------------------------------


def test_argocd_cm_has_one_script_per_kind_identical_to_the_lua_files() -> None:
    configmap = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    assert (configmap["kind"], configmap["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    data = configmap["data"]
    assert set(data) == {f"{HEALTH_KEY}{kind}" for kind in ALL_KINDS}
    for kind in ALL_KINDS:
        assert data[f"{HEALTH_KEY}{kind}"].encode() == (ARGOCD / "health" / f"{kind}.lua").read_bytes(), kind
    assert sorted(p.stem for p in (ARGOCD / "health").glob("*.lua")) == sorted(ALL_KINDS)


def test_the_sandbox_is_as_bare_as_argo_cds(argo: ArgoLua) -> None:
    obj = resource("Venue", None)
    for body in ('return {status = string.upper("x")}', 'return {status = ("x"):upper()}'):
        with pytest.raises(lua51.LuaError):
            argo.health(body, "probe", obj)
    missing = argo.health(
        'return {status = "Healthy", message = type(io) .. type(string) .. type(debug)}', "probe", obj
    )
    assert missing == ("Healthy", "nilnilnil")


# ---- the generic kstatus semantics, for every kind ----------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_no_status_is_progressing(argo: ArgoLua, kind: str) -> None:
    status, message = argo.health(script(kind), kind, resource(kind, None))
    assert status == "Progressing"
    assert "observe" in message


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_first_sight_stamp_is_progressing(argo: ArgoLua, kind: str) -> None:
    # observedGeneration absent, -1 ("born" unobserved), or current with Reconciling=True.
    for observed, stamped in ((None, None), (-1, GENERATION), (GENERATION, GENERATION)):
        obj = resource(kind, status_of(kind, observed_generation=observed, conditions=first_sight(stamped)))
        status, message = argo.health(script(kind), kind, obj)
        assert status == "Progressing", observed
        assert message == ("not reconciled yet" if observed == GENERATION else WAITING), observed


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_lagging_observed_generation_is_progressing_even_when_ready(argo: ArgoLua, kind: str) -> None:
    ready = outcome("ready", "Reconciled", "all good", generation=GENERATION - 1)
    obj = resource(kind, status_of(kind, observed_generation=GENERATION - 1, conditions=ready))
    status, message = argo.health(script(kind), kind, obj)
    assert (status, message) == ("Progressing", WAITING)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_reconciling_is_progressing_with_its_message(argo: ArgoLua, kind: str) -> None:
    conditions = outcome("progressing", "VenueNotFound", "Venue bingx-paper not found; waiting for it")
    obj = resource(kind, status_of(kind, observed_generation=GENERATION, conditions=conditions))
    assert argo.health(script(kind), kind, obj) == (
        "Progressing",
        "Venue bingx-paper not found; waiting for it",
    )


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_ready_true_is_healthy(argo: ArgoLua, kind: str) -> None:
    conditions = outcome("ready", "Reconciled", f"{kind} is ready")
    obj = resource(kind, status_of(kind, observed_generation=GENERATION, conditions=conditions))
    assert argo.health(script(kind), kind, obj) == ("Healthy", f"{kind} is ready")


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_stalled_is_degraded_with_its_message(argo: ArgoLua, kind: str) -> None:
    message = "Secret bingx-api has no key secretKey"
    conditions = outcome("stalled", "InvalidCredentials", message)
    obj = resource(kind, status_of(kind, observed_generation=GENERATION, conditions=conditions))
    assert argo.health(script(kind), kind, obj) == ("Degraded", message)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_stalled_without_message_names_its_reason(argo: ArgoLua, kind: str) -> None:
    conditions = outcome("stalled", "InvalidCredentials", "")
    obj = resource(kind, status_of(kind, observed_generation=GENERATION, conditions=conditions))
    assert argo.health(script(kind), kind, obj) == ("Degraded", "InvalidCredentials")


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_ready_false_without_reconciling_is_progressing_with_the_ready_message(
    argo: ArgoLua, kind: str
) -> None:
    conditions = [
        condition("Ready", "False", "DependencyNotReady", "Instrument xaut-usdt is not Ready"),
        condition("Reconciling", "False", "DependencyNotReady", "Instrument xaut-usdt is not Ready"),
        condition("Stalled", "False", "DependencyNotReady", ""),
    ]
    obj = resource(kind, status_of(kind, observed_generation=GENERATION, conditions=conditions))
    assert argo.health(script(kind), kind, obj) == ("Progressing", "Instrument xaut-usdt is not Ready")


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_no_conditions_or_a_stale_ready_condition_is_progressing(argo: ArgoLua, kind: str) -> None:
    bare = resource(kind, status_of(kind, observed_generation=GENERATION))
    assert argo.health(script(kind), kind, bare) == ("Progressing", "Waiting for the Ready condition")
    stale = outcome("ready", "Reconciled", "ready", generation=GENERATION - 1)
    obj = resource(kind, status_of(kind, observed_generation=GENERATION, conditions=stale))
    assert argo.health(script(kind), kind, obj) == (
        "Progressing",
        "Ready condition is from an earlier generation",
    )


# ---- Rollout -----------------------------------------------------------------------------------

ROLLOUT = "Rollout"


def rollout(phase: str, message: str | None, progress: str = "progressing", **fields: Any) -> dict[str, Any]:
    status = RolloutStatus(
        observed_generation=GENERATION,
        conditions=outcome(progress, "RolloutStep", message or "step"),
        phase=phase,  # type: ignore[arg-type]
        message=message,
        current_step_index=4,
        canary_weight=5,
        stable_version="gold-ppo-v1",
        canary_version="gold-ppo-v2",
        **fields,
    )
    return resource(ROLLOUT, status)


def test_paused_rollout_is_suspended(argo: ArgoLua) -> None:
    gate = [PauseCondition(reason="ManualGate", start_time=NOW)]
    obj = rollout("Paused", "waiting for `tradeplane promote` at step 4", pause_conditions=gate)
    assert argo.health(script(ROLLOUT), ROLLOUT, obj) == (
        "Suspended",
        "waiting for `tradeplane promote` at step 4",
    )
    assert argo.health(script(ROLLOUT), ROLLOUT, rollout("Paused", None)) == ("Suspended", "Rollout paused")


@pytest.mark.parametrize("phase", ["Aborted", "Degraded"])
def test_aborted_or_degraded_rollout_is_degraded(argo: ArgoLua, phase: str) -> None:
    obj = rollout(phase, "analysis shadowSharpe failed: -0.8 < -0.5", abort=True)
    assert argo.health(script(ROLLOUT), ROLLOUT, obj) == (
        "Degraded",
        "analysis shadowSharpe failed: -0.8 < -0.5",
    )
    assert argo.health(script(ROLLOUT), ROLLOUT, rollout(phase, None)) == ("Degraded", f"Rollout {phase}")


def test_rollout_phases_under_way_follow_the_conditions(argo: ArgoLua) -> None:
    assert argo.health(script(ROLLOUT), ROLLOUT, rollout("Shadow", "shadow 1h of 4h"))[0] == "Progressing"
    assert argo.health(script(ROLLOUT), ROLLOUT, rollout("Progressing", "weight 5%"))[0] == "Progressing"
    promoted = rollout("Promoted", "gold-ppo-v2 is the champion", progress="ready")
    assert argo.health(script(ROLLOUT), ROLLOUT, promoted) == ("Healthy", "gold-ppo-v2 is the champion")


def test_stalled_and_unobserved_win_over_the_rollout_phase(argo: ArgoLua) -> None:
    stalled = rollout("Paused", "progress deadline 1h exceeded", progress="stalled")
    assert argo.health(script(ROLLOUT), ROLLOUT, stalled) == ("Degraded", "progress deadline 1h exceeded")
    paused = RolloutStatus(observed_generation=GENERATION - 1, phase="Paused", message="paused")
    assert argo.health(script(ROLLOUT), ROLLOUT, resource(ROLLOUT, paused))[0] == "Progressing"


# ---- RiskPolicy --------------------------------------------------------------------------------

RISK = "RiskPolicy"


def risk_policy(state: str, reason: str | None, progress: str = "ready") -> dict[str, Any]:
    status = RiskPolicyStatus(
        observed_generation=GENERATION,
        conditions=outcome(progress, "Enforced", "limits enforced"),
        state=state,  # type: ignore[arg-type]
        state_reason=reason,
        state_since=NOW,
        breakers=[BreakerState(name="dailyLoss", state="Tripped" if state == "HALTED" else "Ok", since=NOW)],
    )
    return resource(RISK, status)


def test_halted_risk_policy_is_degraded_even_if_ready(argo: ArgoLua) -> None:
    obj = risk_policy("HALTED", "dailyLoss breaker tripped: -612.40 < -500")
    assert argo.health(script(RISK), RISK, obj) == (
        "Degraded",
        "Trading HALTED: dailyLoss breaker tripped: -612.40 < -500",
    )
    assert argo.health(script(RISK), RISK, risk_policy("HALTED", None)) == (
        "Degraded",
        "Trading HALTED: kill switch engaged",
    )


def test_reducing_risk_policy_is_progressing(argo: ArgoLua) -> None:
    obj = risk_policy("REDUCING", "rejectRate 0.31 > 0.2")
    assert argo.health(script(RISK), RISK, obj) == ("Progressing", "Trading REDUCING: rejectRate 0.31 > 0.2")


def test_active_ready_risk_policy_is_healthy(argo: ArgoLua) -> None:
    assert argo.health(script(RISK), RISK, risk_policy("ACTIVE", None)) == ("Healthy", "limits enforced")


@pytest.mark.parametrize("kind", [k for k in ALL_KINDS if k not in (ROLLOUT, RISK)])
def test_other_kinds_ignore_rollout_and_risk_fields(argo: ArgoLua, kind: str) -> None:
    # The kind-specific branches live only in their own scripts.
    assert "HALTED" not in script(kind) and "Paused" not in script(kind)
