"""Contract metadata normalisation: every BingX spelling accepted, every malformed field named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.venue.metadata import (
    ContractRecord,
    ContractStatus,
    FeeSchedule,
    MetadataInvalid,
    derive_funding_interval,
    fingerprint,
    normalise_commission,
    normalise_contract,
    normalise_tiers,
    select_contract,
)
from tradeplane.runtime.venue.sim.catalog import CATALOG

pytestmark = pytest.mark.unit

H = timedelta(hours=1)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def raw(listed: str = "XAUT-USDT", **overrides: Any) -> dict[str, Any]:
    record = dict(CATALOG[listed].contract)
    record.update(overrides)
    return record


def test_catalog_record_normalises_every_field() -> None:
    record = normalise_contract(raw())
    assert record.symbol == "XAUT-USDT"
    assert record.contract_id == "100"
    assert record.price_precision == 2
    assert record.quantity_precision == 4
    assert record.tick_size == Decimal("0.01")
    assert record.step_size == Decimal("0.0001")
    assert record.maker_fee_rate == Decimal("0.0002")
    assert record.taker_fee_rate == Decimal("0.0005")
    assert record.trade_min_quantity == Decimal("0.0001")
    assert record.trade_min_usdt == Decimal(2)
    assert record.max_long_leverage == 50
    assert record.status is ContractStatus.ONLINE
    assert record.api_state_open is True
    assert record.ensure_trigger is False
    assert record.trigger_fee_rate == Decimal("0.0002")
    assert record.launch_time == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)
    assert record.maintain_time is None
    assert record.off_time is None
    assert record.asset == "XAUT"
    assert record.currency == "USDT"
    assert record.can_open
    assert record.can_close


def test_string_and_number_spellings_are_the_same_record() -> None:
    numbers = normalise_contract(raw())
    strings = normalise_contract(
        raw(
            pricePrecision="2",
            quantityPrecision="4.0",
            makerFeeRate="0.00020",
            takerFeeRate=Decimal("5E-4"),
            tradeMinQuantity="0.00010",
            tradeMinUSDT="2.0",
            maxLongLeverage="50",
            maxShortLeverage=50,
            apiStateOpen=True,
            apiStateClose="TRUE",
            ensureTrigger="false",
            triggerFeeRate=0.0002,
            launchTime=str(CATALOG["XAUT-USDT"].contract["launchTime"]),
            feeRate="0.0005",
        )
    )
    assert numbers == strings
    assert fingerprint(numbers) == fingerprint(strings)


def test_fingerprint_changes_with_any_value_and_survives_json_round_trip() -> None:
    record = normalise_contract(raw())
    stored = json.loads(json.dumps(record.to_json()))
    restored = ContractRecord.model_validate(stored)
    assert restored == record
    assert fingerprint(restored) == fingerprint(record)
    assert isinstance(stored["maker_fee_rate"], str)
    assert stored["tick_size"] == "0.01"
    changed = normalise_contract(raw(takerFeeRate="0.0006"))
    assert fingerprint(changed) != fingerprint(record)
    assert fingerprint(record).startswith("sha256:")
    assert len(fingerprint(record)) == len("sha256:") + 64


@pytest.mark.parametrize(
    ("status", "open_", "close", "can_open", "can_close"),
    [
        (1, "true", "true", True, True),
        (1, "false", "true", False, True),
        (25, "true", "true", False, True),
        (5, "true", "true", False, False),
        (0, "true", "true", False, False),
        (1, "true", "false", True, False),
    ],
)
def test_status_gates_opening_and_closing(
    status: int, open_: str, close: str, can_open: bool, can_close: bool
) -> None:
    record = normalise_contract(raw(status=status, apiStateOpen=open_, apiStateClose=close))
    assert (record.can_open, record.can_close) == (can_open, can_close)


def test_zero_times_are_absent_and_nonzero_times_are_utc() -> None:
    record = normalise_contract(raw(maintainTime=1_700_000_000_000, offTime="0"))
    assert record.maintain_time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert record.off_time is None


def test_optional_leverage_may_be_absent() -> None:
    source = raw()
    del source["maxLongLeverage"]
    del source["maxShortLeverage"]
    record = normalise_contract(source)
    assert record.max_long_leverage is None
    assert record.max_short_leverage is None


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"pricePrecision": "abc"}, "pricePrecision", "not an integer ('abc')"),
        ({"pricePrecision": 2.5}, "pricePrecision", "not an integer"),
        ({"quantityPrecision": -1}, "quantityPrecision", "outside [0, 18]"),
        ({"pricePrecision": 19}, "pricePrecision", "outside [0, 18]"),
        ({"pricePrecision": None}, "pricePrecision", "missing"),
        ({"takerFeeRate": "NaN"}, "takerFeeRate", "not a finite number"),
        ({"takerFeeRate": "0.5"}, "takerFeeRate", "outside"),
        ({"makerFeeRate": "-0.2"}, "makerFeeRate", "outside"),
        ({"tradeMinQuantity": "-0.001"}, "tradeMinQuantity", "negative"),
        ({"tradeMinUSDT": "x"}, "tradeMinUSDT", "not a number"),
        ({"tradeMinUSDT": True}, "tradeMinUSDT", "not a number"),
        ({"symbol": "XAUTUSDT"}, "symbol", "not BASE-QUOTE"),
        ({"symbol": "xaut-usdt"}, "symbol", "not BASE-QUOTE"),
        ({"status": 7}, "status", "unknown status code 7"),
        ({"apiStateOpen": "yes"}, "apiStateOpen", "not a boolean"),
        ({"maxLongLeverage": 0}, "maxLongLeverage", "below 1"),
        ({"launchTime": -5}, "launchTime", "negative"),
        ({"asset": ""}, "asset", "missing"),
    ],
)
def test_malformed_fields_are_named(overrides: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(MetadataInvalid) as caught:
        normalise_contract(raw(**overrides))
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert fragment in str(caught.value)


def test_missing_required_field_is_named() -> None:
    source = raw()
    del source["tradeMinUSDT"]
    with pytest.raises(MetadataInvalid, match=r"^tradeMinUSDT: missing$"):
        normalise_contract(source)


def test_select_contract() -> None:
    listing = [raw("BTC-USDT"), raw("XAUT-USDT")]
    assert select_contract(listing, "XAUT-USDT")["asset"] == "XAUT"
    with pytest.raises(MetadataInvalid, match="not listed by the venue") as caught:
        select_contract(listing, "PAXG-USDT")
    assert caught.value.field == "symbol"
    with pytest.raises(MetadataInvalid, match="listed 2 times"):
        select_contract([*listing, raw("BTC-USDT")], "BTC-USDT")


def tier_rows() -> list[dict[str, Any]]:
    return [
        {
            "tier": tier.tier,
            "minPositionVal": str(tier.min_position_value),
            "maxPositionVal": str(tier.max_position_value),
            "maintMarginRatio": str(tier.maint_margin_ratio),
            "maintAmount": str(tier.maint_amount),
        }
        for tier in CATALOG["BTC-USDT"].tiers
    ]


def test_tiers_normalise_in_order() -> None:
    rows = tier_rows()
    tiers = normalise_tiers(reversed(rows))
    assert [t.tier for t in tiers] == [1, 2, 3, 4]
    assert tiers[1].min_position_value == Decimal(300_000)
    assert tiers[1].maint_margin_ratio == Decimal("0.005")
    # cum_2 = 300000 * (0.005 - 0.004) + 0 = 300
    assert tiers[1].maint_amount == Decimal(300)
    assert tiers[0].to_json()["maint_margin_ratio"] == "0.004"


@pytest.mark.parametrize(
    ("index", "key", "value", "field"),
    [
        (1, "minPositionVal", "299999", "minPositionVal"),
        (2, "maintMarginRatio", "0.003", "maintMarginRatio"),
        (0, "maxPositionVal", "0", "maxPositionVal"),
        (3, "tier", 7, "tier"),
        (0, "maintMarginRatio", "1.5", "maintMarginRatio"),
    ],
)
def test_broken_tiers_fail(index: int, key: str, value: Any, field: str) -> None:
    rows = tier_rows()
    rows[index][key] = value
    with pytest.raises(MetadataInvalid) as caught:
        normalise_tiers(rows)
    assert caught.value.field == field


def test_no_tiers_fail() -> None:
    with pytest.raises(MetadataInvalid):
        normalise_tiers([])


def test_commission_rate_payload() -> None:
    flat = normalise_commission({"takerCommissionRate": "0.0004", "makerCommissionRate": 0.0001})
    nested = normalise_commission(
        {"commission": {"takerCommissionRate": 0.0004, "makerCommissionRate": "0.00010"}}
    )
    assert (
        flat
        == nested
        == FeeSchedule(maker=Decimal("0.0001"), taker=Decimal("0.0004"), source="commissionRate")
    )
    assert flat.to_json() == {"maker": "0.0001", "taker": "0.0004", "source": "commissionRate"}
    with pytest.raises(MetadataInvalid, match="takerCommissionRate: missing"):
        normalise_commission({"makerCommissionRate": "0.0001"})
    defaults = FeeSchedule.from_contract(normalise_contract(raw()))
    assert (defaults.maker, defaults.taker, defaults.source) == (
        Decimal("0.0002"),
        Decimal("0.0005"),
        "contracts",
    )


def settlements(hours: list[int]) -> list[datetime]:
    return [T0 + h * H for h in hours]


@pytest.mark.parametrize(
    ("hours", "next_hour", "expected_hours"),
    [
        ([0, 8, 16, 24], None, 8),
        ([0, 8, 16, 24], 32, 8),
        ([0, 4, 8, 12], 16, 4),
        ([0, 4, 8, 16, 20, 24], 28, 4),  # one settlement missing in the middle
        ([0, 4, 8, 12, 20], 24, 4),  # the most recent settlement missing
        ([0, 4, 8, 12, 20, 28], 36, 8),  # schedule changed from 4 h to 8 h
        ([0, 4, 8, 12, 20], 28, 8),  # change seen once in history, confirmed by the schedule
        ([0, 8], 16, 8),
        ([0, 8], None, None),
        ([], None, None),
        ([0, 1, 3], 4, 1),  # short history: the most frequent spacing, the doubled one a multiple of it
        ([0, 4, 12], None, None),  # no spacing seen twice
        ([0, 8, 16], 20, None),  # schedule disagrees with the history
        ([0, 8, 16], 16, None),  # next settlement not after the last one
    ],
)
def test_funding_interval(hours: list[int], next_hour: int | None, expected_hours: int | None) -> None:
    next_time = None if next_hour is None else T0 + next_hour * H
    derived = derive_funding_interval(settlements(hours), next_time)
    assert derived == (None if expected_hours is None else expected_hours * H)


def test_funding_interval_ignores_order_duplicates_and_millisecond_jitter() -> None:
    times = [T0 + 16 * H, T0 + timedelta(milliseconds=3), T0 + 8 * H, T0 + 8 * H]
    assert derive_funding_interval(times, T0 + 24 * H + timedelta(milliseconds=1)) == 8 * H


@settings(max_examples=200, derandomize=True)
@given(
    interval_hours=st.sampled_from([1, 2, 4, 8]),
    count=st.integers(min_value=4, max_value=30),
    missing=st.integers(min_value=1, max_value=28),
)
def test_one_missing_settlement_never_changes_the_interval(
    interval_hours: int, count: int, missing: int
) -> None:
    hours = [k * interval_hours for k in range(count)]
    if missing < count - 1:
        del hours[missing]
    next_hour = count * interval_hours
    assert derive_funding_interval(settlements(hours), T0 + next_hour * H) == interval_hours * H
