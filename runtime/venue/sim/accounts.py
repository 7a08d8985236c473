"""The simulated account: wallet, per-symbol settings (leverage, margin type), position mode,
commission rates and the income ledger.

The wallet balance moves only through ``book`` so every change has an income record with a
transaction id, and ``balance = initial + realisedProfit`` holds by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradeplane.runtime.venue.sim.catalog import ContractSpec
from tradeplane.runtime.venue.sim.orders import SETTLE_ASSET, TRANSACTION_ID_BASE, IdSequence, text

DEFAULT_LEVERAGE = 10


class IncomeType(StrEnum):
    REALIZED_PNL = "REALIZED_PNL"
    TRADING_FEE = "TRADING_FEE"
    FUNDING_FEE = "FUNDING_FEE"
    INSURANCE_CLEAR = "INSURANCE_CLEAR"


class MarginType(StrEnum):
    ISOLATED = "ISOLATED"
    CROSSED = "CROSSED"


@dataclass(frozen=True)
class Income:
    symbol: str
    income_type: IncomeType
    amount: Decimal
    time_ms: int
    transaction_id: int
    trade_id: int | None
    info: str

    def view(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "incomeType": self.income_type.value,
            "income": text(self.amount),
            "asset": SETTLE_ASSET,
            "info": self.info,
            "time": self.time_ms,
            "tranId": self.transaction_id,
            "tradeId": "" if self.trade_id is None else self.trade_id,
        }


@dataclass
class SymbolSettings:
    long_leverage: int = DEFAULT_LEVERAGE
    short_leverage: int = DEFAULT_LEVERAGE
    margin_type: MarginType = MarginType.CROSSED


@dataclass
class Account:
    initial_balance: Decimal
    maker_rate: Decimal
    taker_rate: Decimal
    wallet: Decimal = Decimal(0)
    dual_side: bool = False
    settings: dict[str, SymbolSettings] = field(default_factory=dict)
    incomes: list[Income] = field(default_factory=list)
    _transaction_ids: IdSequence = field(default_factory=lambda: IdSequence(TRANSACTION_ID_BASE))

    @classmethod
    def open(cls, *, catalog: Mapping[str, ContractSpec], initial_balance: Decimal) -> Account:
        """Commission rates default to the first contract's published maker/taker rates, as an account
        without a fee tier pays them."""
        first = next(iter(catalog.values()))
        return cls(
            initial_balance=initial_balance,
            maker_rate=Decimal(str(first.contract["makerFeeRate"])),
            taker_rate=Decimal(str(first.contract["takerFeeRate"])),
            wallet=initial_balance,
        )

    def symbol(self, symbol: str) -> SymbolSettings:
        return self.settings.setdefault(symbol, SymbolSettings())

    @property
    def realised_profit(self) -> Decimal:
        return self.wallet - self.initial_balance

    def book(
        self,
        *,
        symbol: str,
        income_type: IncomeType,
        amount: Decimal,
        time_ms: int,
        trade_id: int | None = None,
    ) -> None:
        if amount == 0 and income_type is not IncomeType.INSURANCE_CLEAR:
            return  # a liquidation is recorded even when nothing was left to clear
        self.wallet += amount
        self.incomes.append(
            Income(symbol, income_type, amount, time_ms, self._transaction_ids(), trade_id, income_type.value)
        )

    def income_history(
        self,
        *,
        symbol: str | None = None,
        income_type: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
    ) -> list[Income]:
        rows = [
            row
            for row in self.incomes
            if (symbol is None or row.symbol == symbol)
            and (income_type is None or row.income_type.value == income_type)
            and (start_ms is None or row.time_ms >= start_ms)
            and (end_ms is None or row.time_ms <= end_ms)
        ]
        return rows[-limit:]
