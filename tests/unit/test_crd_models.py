"""The pydantic models: they round-trip what Kubernetes stores and mirror the API server's key rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from integration.crd_examples import EXAMPLES, Invalid, example, mutated
from integration.test_crd_rejections import INVALID
from pydantic import ValidationError

from tradeplane.crds import featureset, instrument, riskpolicy, rollout, venue
from tradeplane.crds.common import (
    DURATION_PATTERN,
    CamelModel,
    Condition,
    Quantity,
    StatusBase,
    parse_duration,
)
from tradeplane.crds.registry import BY_KIND, KINDS

pytestmark = pytest.mark.unit

NOW = "2026-11-24T12:00:00Z"


def test_every_registered_kind_has_a_resource_model_and_an_example() -> None:
    assert set(BY_KIND) == set(EXAMPLES)
    for info in KINDS:
        assert info.resource.model_fields["kind"].default == info.kind
        assert info.resource.model_fields["spec"].annotation is info.spec


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_examples_round_trip_exactly(kind: str) -> None:
    obj = example(kind)
    parsed = BY_KIND[kind].resource.model_validate(obj)
    assert parsed.to_k8s() == obj
    # And again from the dumped form (idempotent).
    assert BY_KIND[kind].resource.model_validate(parsed.to_k8s()).to_k8s() == obj


@pytest.mark.parametrize("info", KINDS, ids=[i.kind for i in KINDS])
def test_spec_models_forbid_unknown_fields(info: Any) -> None:
    spec = example(info.kind)["spec"]
    spec["unexpected"] = 1
    with pytest.raises(ValidationError, match="unexpected"):
        info.spec.model_validate(spec)


PYDANTIC_CASES = [c for c in INVALID if c.pydantic]


@pytest.mark.parametrize("case", PYDANTIC_CASES, ids=[c.id for c in PYDANTIC_CASES])
def test_pydantic_rejects_what_the_api_server_rejects(case: Invalid) -> None:
    with pytest.raises(ValidationError) as raised:
        BY_KIND[case.kind].resource.model_validate(case.object())
    # Rules written as CEL are mirrored with the same message.
    if case.message.startswith("spec.") or "spec." in case.message:
        assert case.message in str(raised.value)


def test_venue_rules() -> None:
    with pytest.raises(ValidationError, match=r"spec\.credentials is required when spec\.mode is live"):
        venue.VenueSpec(mode="live", endpoints=venue.VenueEndpoints())
    live = venue.VenueSpec.model_validate({"mode": "live", "credentials": {"secretRef": {"name": "bingx"}}})
    assert live.credentials is not None and live.credentials.api_key_key == "apiKey"
    assert venue.VenueSpec().mode == "paper"
    with pytest.raises(ValidationError, match="between 10s and 120s"):
        venue.VenueSpec(dead_man_timeout="121s")
    fields = set(venue.VenueCredentials.model_fields)
    assert fields == {"secret_ref", "api_key_key", "secret_key_key"}


def test_rollout_step_rules() -> None:
    def spec(steps: list[dict[str, Any]]) -> dict[str, Any]:
        return {**example("Rollout")["spec"], "steps": steps}

    rollout.RolloutSpec.model_validate(
        spec([{"shadow": {"duration": "1h"}}, {"setWeight": 0}, {"setWeight": 0}])
    )
    rollout.RolloutSpec.model_validate(spec([{"pause": {}}]))
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{"setWeight": 50}, {"setWeight": 10}], "non-decreasing"),
        ([{"setWeight": 10}, {"shadow": {"duration": "1h"}}], "before the first setWeight"),
        ([{"setWeight": 10, "shadow": {"duration": "1h"}}], "exactly one of"),
        ([{}], "exactly one of"),
        ([{"setWeight": 101}], "less than or equal to 100"),
        ([], "at least 1 item"),
    ]
    for steps, message in cases:
        with pytest.raises(ValidationError, match=message):
            rollout.RolloutSpec.model_validate(spec(steps))


def test_risk_limits_are_decimals_compared_exactly() -> None:
    limits = riskpolicy.Limits.model_validate(
        {
            "perOrderNotional": "0.000000000001",
            "perInstrumentNotional": "0.000000000002",
            "portfolioGrossNotional": "999999999999999.999999999999",
        }
    )
    assert isinstance(limits.per_order_notional, Decimal)
    assert limits.per_order_notional < limits.per_instrument_notional
    dumped = limits.to_k8s()
    assert dumped["portfolioGrossNotional"] == "999999999999999.999999999999"
    with pytest.raises(ValidationError, match="perOrderNotional must not exceed"):
        riskpolicy.Limits.model_validate(
            {"perOrderNotional": "2.5", "perInstrumentNotional": "2.49", "portfolioGrossNotional": "10"}
        )


class Amount(CamelModel):
    amount: Quantity


@pytest.mark.parametrize("value", [1000.5, 1000, True, "1e3", "-1", "01", "1.", " 1", "1,000"])
def test_quantities_refuse_floats_numbers_and_non_plain_strings(value: object) -> None:
    with pytest.raises(ValidationError):
        Amount.model_validate({"amount": value})


@given(st.decimals(min_value=0, max_value=Decimal("1e14"), places=6, allow_nan=False, allow_infinity=False))
def test_quantities_round_trip_through_their_string_form(value: Decimal) -> None:
    text = format(value, "f")
    parsed = Amount.model_validate({"amount": text})
    assert parsed.amount == value
    assert Amount.model_validate(parsed.to_k8s()).amount == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("250ms", timedelta(milliseconds=250)),
        ("1.5h", timedelta(minutes=90)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "1d", "m5", "1 h", "-5s", "1h 30m", "PT5M"])
def test_parse_duration_refuses_non_go_syntax(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@given(st.integers(0, 500), st.integers(0, 59), st.integers(0, 59))
def test_duration_pattern_and_parser_agree(hours: int, minutes: int, seconds: int) -> None:
    import re  # noqa: PLC0415

    text = f"{hours}h{minutes}m{seconds}s"
    assert re.fullmatch(DURATION_PATTERN, text)
    assert parse_duration(text) == timedelta(hours=hours, minutes=minutes, seconds=seconds)


def test_condition_has_the_metav1_shape() -> None:
    condition = Condition.model_validate(
        {
            "type": "Ready",
            "status": "Unknown",
            "observedGeneration": 3,
            "lastTransitionTime": NOW,
            "reason": "VenueNotFound",
            "message": "waiting for Venue bingx-paper",
        }
    )
    assert condition.to_k8s()["lastTransitionTime"] == NOW
    with pytest.raises(ValidationError):
        Condition.model_validate({**condition.to_k8s(), "status": "Maybe"})
    with pytest.raises(ValidationError):
        Condition.model_validate({**condition.to_k8s(), "reason": "not a reason"})


@pytest.mark.parametrize("info", KINDS, ids=[i.kind for i in KINDS])
def test_status_round_trips_with_conditions_and_audit(info: Any) -> None:
    status = {
        "observedGeneration": 2,
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "Waiting",
                "message": "",
                "lastTransitionTime": NOW,
            },
            {
                "type": "Reconciling",
                "status": "True",
                "reason": "Progressing",
                "message": "x",
                "lastTransitionTime": NOW,
            },
        ],
        "audit": {"seq": 7, "headHash": "sha256:" + "0f" * 32},
    }
    parsed = info.status.model_validate(status)
    assert isinstance(parsed, StatusBase)
    assert parsed.to_k8s() == status
    empty = info.status.model_validate({})
    assert empty.to_k8s() == {}
    with pytest.raises(ValidationError):
        info.status.model_validate({**status, "audit": {"seq": 1, "headHash": "md5:00"}})


def test_kind_specific_status_fields() -> None:
    inst = instrument.InstrumentStatus.model_validate(
        {
            "metadata": {
                "version": 1,
                "snapshotId": 1,
                "fingerprint": "sha256:" + "aa" * 32,
                "fetchedTime": NOW,
                "validUntil": NOW,
                "pricePrecision": 2,
                "quantityPrecision": 4,
                "tickSize": "0.01",
                "stepSize": "0.0001",
                "minQuantity": "0.0001",
                "minNotional": "2",
                "makerFeeRate": "0.0002",
                "takerFeeRate": "0.0005",
            },
            "gaps": {"open": 1, "healed": 3},
            "ingest": {"lag": "1.2s"},
        }
    )
    assert inst.metadata is not None and inst.metadata.tick_size == Decimal("0.01")
    risk = riskpolicy.RiskPolicyStatus.model_validate(
        {
            "state": "REDUCING",
            "exposure": {"gross": "1200.5", "net": "-300"},
            "breakers": [{"name": "rejectRate", "state": "Tripped"}],
        }
    )
    assert risk.exposure is not None and risk.exposure.net == Decimal("-300")
    with pytest.raises(ValidationError):
        riskpolicy.RiskPolicyStatus.model_validate({"state": "PANIC"})
    ro = rollout.RolloutStatus.model_validate({"phase": "Paused", "canaryWeight": 5, "abort": True})
    assert ro.abort and ro.canary_weight == 5
    with pytest.raises(ValidationError):
        rollout.RolloutStatus.model_validate({"canaryWeight": 101})


def test_featureset_params_are_ints_or_strings() -> None:
    spec = example("FeatureSet")["spec"]
    parsed = featureset.FeatureSetSpec.model_validate(spec)
    assert parsed.features[2].params == {"k": "2"}
    assert mutated("FeatureSet", {"spec.window": 1})["spec"]["window"] == 1
    with pytest.raises(ValidationError):
        featureset.FeatureSetSpec.model_validate(
            {**spec, "features": [{"name": "x", "transform": "t", "params": {"a": 0.5}}]}
        )
