"""The Nautilus instrument carries the snapshot's numbers, and no literal ones hide on the cost path."""

from __future__ import annotations

import ast
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.objects import Currency, Money, Price, Quantity

from tradeplane.runtime.venue.metadata import ContractRecord, FeeSchedule, fingerprint, normalise_contract
from tradeplane.runtime.venue.nautilus_instrument import perpetual_from_snapshot
from tradeplane.runtime.venue.sim.catalog import CATALOG

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
TS = 1_700_000_000_000_000_000


def build(record: ContractRecord, fees: FeeSchedule | None = None):  # type: ignore[no-untyped-def]
    return perpetual_from_snapshot(
        record,
        fees or FeeSchedule.from_contract(record),
        ts_event_ns=TS,
        margin_init=Decimal("0.02"),
        margin_maint=Decimal("0.005"),
    )


@pytest.mark.parametrize(
    ("symbol", "tick", "step", "base"),
    [("XAUT-USDT", "0.01", "0.0001", "XAUT"), ("BTC-USDT", "0.1", "0.0001", "BTC")],
)
def test_values_round_trip_from_the_record(symbol: str, tick: str, step: str, base: str) -> None:
    record = normalise_contract(CATALOG[symbol].contract)
    fees = FeeSchedule(maker=Decimal("0.00015"), taker=Decimal("0.00045"), source="commissionRate")
    instrument = build(record, fees)
    assert instrument.id == InstrumentId.from_str(f"{symbol}-PERP.BINGX")
    assert instrument.raw_symbol.value == symbol
    assert instrument.base_currency.code == base
    assert instrument.quote_currency.code == "USDT"
    assert instrument.settlement_currency.code == "USDT"
    assert instrument.is_inverse is False
    assert instrument.price_precision == CATALOG[symbol].price_precision
    assert instrument.size_precision == CATALOG[symbol].quantity_precision
    assert instrument.price_increment.as_decimal() == Decimal(tick)
    assert instrument.size_increment.as_decimal() == Decimal(step)
    assert instrument.min_quantity.as_decimal() == Decimal(str(CATALOG[symbol].contract["tradeMinQuantity"]))
    assert instrument.min_notional == Money(
        Decimal(str(CATALOG[symbol].contract["tradeMinUSDT"])), Currency.from_str("USDT")
    )
    assert (instrument.maker_fee, instrument.taker_fee) == (Decimal("0.00015"), Decimal("0.00045"))
    assert (instrument.margin_init, instrument.margin_maint) == (Decimal("0.02"), Decimal("0.005"))
    assert instrument.ts_event == instrument.ts_init == TS
    assert instrument.info["contract_fingerprint"] == fingerprint(record)
    assert ContractRecord.model_validate(instrument.info["bingx_contract"]) == record


def test_unknown_base_asset_is_registered_and_minimum_raised_to_the_grid() -> None:
    raw = {
        **CATALOG["XAUT-USDT"].contract,
        "symbol": "ZZGOLD-USDT",
        "asset": "ZZGOLD",
        "quantityPrecision": 3,
        "tradeMinQuantity": "0.0015",
    }
    record = normalise_contract(raw)
    assert Currency.from_str("ZZGOLD", strict=True) is None or Currency.from_str("ZZGOLD").precision == 3
    instrument = build(record)
    assert instrument.base_currency == Currency.from_str("ZZGOLD", strict=True)
    assert instrument.min_quantity == Quantity(Decimal("0.002"), 3)
    assert instrument.make_price(Decimal("4000.129")) == Price(Decimal("4000.13"), 2)


GUARDED = ("quantize.py", "costs.py", "costs_funding.py", "nautilus_instrument.py")
NAUTILUS_VALUE_TYPES = {"Price", "Quantity", "Money", "CryptoPerpetual", "PerpetualContract"}
FEE_ARGUMENTS = {
    "maker_fee",
    "taker_fee",
    "maker_fee_rate",
    "taker_fee_rate",
    "price_precision",
    "size_precision",
}
FEE_RATE_CEILING = Decimal("0.01")


def _call_name(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")


def _is_numeric_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp):
        return _is_numeric_literal(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_numeric_literal(node.left) or _is_numeric_literal(node.right)
    if isinstance(node, ast.Call) and _call_name(node) == "Decimal":
        return any(_is_numeric_literal(argument) for argument in node.args)
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return False
    if isinstance(node.value, int | float):
        return True
    try:
        Decimal(str(node.value))
    except InvalidOperation:
        return False
    return True


def literal_violations(source: str) -> list[str]:
    """Literal numbers passed to Nautilus value constructors, and fee-rate-sized literals anywhere."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append(f"line {node.lineno}: float literal {node.value!r}")
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name in NAUTILUS_VALUE_TYPES:
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
            found.extend(
                f"line {node.lineno}: literal passed to {name}" for a in arguments if _is_numeric_literal(a)
            )
        found.extend(
            f"line {node.lineno}: literal {keyword.arg}"
            for keyword in node.keywords
            if keyword.arg in FEE_ARGUMENTS and _is_numeric_literal(keyword.value)
        )
        if name == "Decimal" and node.args and isinstance(node.args[0], ast.Constant):
            try:
                value = abs(Decimal(str(node.args[0].value)))
            except InvalidOperation:
                continue
            if 0 < value < FEE_RATE_CEILING:
                found.append(f"line {node.lineno}: fee-rate-sized literal Decimal({node.args[0].value!r})")
    return found


def guarded_sources() -> list[Path]:
    paths = [ROOT / "runtime" / "venue" / name for name in GUARDED]
    paths.extend(sorted((ROOT / "runtime" / "execution").rglob("*.py")))
    paths.extend(sorted((ROOT / "runtime" / "learning").rglob("*backtest*.py")))
    return paths


@pytest.mark.parametrize("path", guarded_sources(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_literal_precision_increment_or_fee(path: Path) -> None:
    assert literal_violations(path.read_text()) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "Price(Decimal('0.01'), 2)",
        "Quantity(value, precision=4)",
        "CryptoPerpetual(price_precision=2)",
        "make(maker_fee=Decimal('0.0002'))",
        "rate = Decimal('0.0005')",
        "rate = 0.0005",
        "Money(2, usdt)",
    ],
)
def test_guard_catches_literals(snippet: str) -> None:
    assert literal_violations(snippet)


def test_guard_accepts_snapshot_values() -> None:
    assert (
        literal_violations("Price(record.tick_size, record.price_precision)\nx = Decimal(0) + Decimal(2)")
        == []
    )
