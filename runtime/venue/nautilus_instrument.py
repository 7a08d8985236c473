"""A nautilus_trader ``CryptoPerpetual`` built from the same snapshot the live path quantizes with.

Backtests only mean something if Nautilus rounds, rejects and charges exactly as the venue does, so
every precision, increment, minimum and fee here comes from the normalised contract record and the
fee schedule; the instrument's ``info`` carries the record and its fingerprint for lineage.

``nautilus_trader`` is the optional ``learning`` extra and is imported inside the functions, so
importing the venue plane (the operator does) never loads it.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

from tradeplane.runtime.venue.metadata import ContractRecord, FeeSchedule, fingerprint

if TYPE_CHECKING:
    from nautilus_trader.model.identifiers import InstrumentId
    from nautilus_trader.model.instruments import CryptoPerpetual
    from nautilus_trader.model.objects import Currency

VENUE_CODE = "BINGX"
INSTRUMENT_SUFFIX = "-PERP"


def instrument_id_for(symbol: str) -> InstrumentId:
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue  # noqa: PLC0415 - optional extra

    return InstrumentId(Symbol(f"{symbol}{INSTRUMENT_SUFFIX}"), Venue(VENUE_CODE))


def currency_for(code: str, *, precision: int) -> Currency:
    """The registered currency, or a new crypto currency registered at ``precision`` (e.g. XAUT)."""
    from nautilus_trader.model.enums import CurrencyType  # noqa: PLC0415 - optional extra
    from nautilus_trader.model.objects import Currency  # noqa: PLC0415 - optional extra

    known = Currency.from_str(code, strict=True)
    if known is not None:
        return known
    currency = Currency(code, precision, 0, code, CurrencyType.CRYPTO)
    Currency.register(currency, overwrite=False)
    return currency


def perpetual_from_snapshot(
    record: ContractRecord,
    fees: FeeSchedule,
    *,
    ts_event_ns: int,
    margin_init: Decimal | None,
    margin_maint: Decimal | None,
    ts_init_ns: int | None = None,
) -> CryptoPerpetual:
    """The venue's contract as Nautilus sees it; the minimum quantity is raised to the step grid so
    Nautilus never accepts a quantity the venue would reject."""
    from nautilus_trader.model.identifiers import Symbol  # noqa: PLC0415 - optional extra
    from nautilus_trader.model.instruments import CryptoPerpetual  # noqa: PLC0415 - optional extra
    from nautilus_trader.model.objects import Money, Price, Quantity  # noqa: PLC0415 - optional extra

    quote_code = record.symbol.rsplit("-", 1)[1]
    quote = currency_for(quote_code, precision=record.price_precision)
    settlement = currency_for(record.currency, precision=record.price_precision)
    base = currency_for(record.asset, precision=record.quantity_precision)
    min_quantity = record.trade_min_quantity.quantize(record.step_size, rounding=ROUND_CEILING)
    return CryptoPerpetual(
        instrument_id=instrument_id_for(record.symbol),
        raw_symbol=Symbol(record.symbol),
        base_currency=base,
        quote_currency=quote,
        settlement_currency=settlement,
        is_inverse=False,
        price_precision=record.price_precision,
        size_precision=record.quantity_precision,
        price_increment=Price(record.tick_size, record.price_precision),
        size_increment=Quantity(record.step_size, record.quantity_precision),
        ts_event=ts_event_ns,
        ts_init=ts_event_ns if ts_init_ns is None else ts_init_ns,
        min_quantity=Quantity(min_quantity, record.quantity_precision) if min_quantity else None,
        min_notional=Money(record.trade_min_usdt, quote) if record.trade_min_usdt else None,
        margin_init=margin_init,
        margin_maint=margin_maint,
        maker_fee=fees.maker,
        taker_fee=fees.taker,
        info={
            "bingx_contract": record.to_json(),
            "contract_fingerprint": fingerprint(record),
            "fees": fees.to_json(),
        },
    )
