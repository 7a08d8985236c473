"""Positions and wallet together: fills and funding booked into both, the margin figures derived
from both (used, frozen, available, maintenance, liquidation price, risk rate), and the BingX
views of them (``v3/user/balance``, ``v2/user/positions``, ``ACCOUNT_UPDATE``).

Margin model (one-way or hedge, isolated or cross): the wallet holds everything booked (realised
PnL, fees, funding), isolated positions set part of it aside; a cross position uses mark notional
over leverage. ``equity = balance + unrealizedProfit`` and
``availableMargin = balance + cross unrealised - usedMargin - freezedMargin`` (floored at 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from tradeplane.runtime.venue.sim.accounts import Account, IncomeType, MarginType
from tradeplane.runtime.venue.sim.catalog import ContractSpec
from tradeplane.runtime.venue.sim.orders import (
    POSITION_ID_BASE,
    SETTLE_ASSET,
    IdSequence,
    Order,
    side_sign,
    text,
)
from tradeplane.runtime.venue.sim.positions import Position, liquidation_price, maintenance_margin
from tradeplane.runtime.venue.sim.views import FundingSettlement, MarketView
from tradeplane.runtime.venue.wire import OrderSide, OrderType, PositionSide

PositionKey = tuple[str, PositionSide]


class Portfolio:
    def __init__(self, *, catalog: Mapping[str, ContractSpec], market: MarketView, account: Account) -> None:
        self._catalog = catalog
        self._market = market
        self.account = account
        self._positions: dict[PositionKey, Position] = {}
        self._position_ids = IdSequence(POSITION_ID_BASE)

    # ---- positions

    def held(self) -> Iterator[Position]:
        return (position for position in self._positions.values() if position.amount != 0)

    def get(self, symbol: str, position_side: PositionSide) -> Position | None:
        position = self._positions.get((symbol, position_side))
        return position if position is not None and position.amount != 0 else None

    def _position(self, symbol: str, position_side: PositionSide) -> Position:
        position = self._positions.get((symbol, position_side))
        if position is None or position.amount == 0:
            settings = self.account.symbol(symbol)
            leverage = (
                settings.short_leverage if position_side is PositionSide.SHORT else settings.long_leverage
            )
            position = Position(
                position_id=self._position_ids(),
                symbol=symbol,
                position_side=position_side,
                isolated=settings.margin_type is MarginType.ISOLATED,
                leverage=leverage,
            )
            self._positions[(symbol, position_side)] = position
        return position

    def closable(self, *, symbol: str, side: OrderSide, position_side: PositionSide) -> Decimal:
        """How much of ``side`` would reduce the position rather than open one."""
        position = self.get(symbol, position_side)
        if position is None or position.sign == side_sign(side):
            return Decimal(0)
        return position.size

    def leverage_for(self, *, symbol: str, side: OrderSide, position_side: PositionSide) -> int:
        settings = self.account.symbol(symbol)
        if position_side is PositionSide.BOTH:
            return settings.long_leverage if side is OrderSide.BUY else settings.short_leverage
        return settings.long_leverage if position_side is PositionSide.LONG else settings.short_leverage

    def settle_fill(
        self,
        *,
        symbol: str,
        side: OrderSide,
        position_side: PositionSide,
        quantity: Decimal,
        price: Decimal,
        fee_rate: Decimal,
        trade_id: int,
        now_ms: int,
    ) -> tuple[Decimal, Decimal]:
        """Books a fill into position and wallet; returns (commission paid, realised PnL)."""
        position = self._position(symbol, position_side)
        realised = position.apply(delta=quantity * side_sign(side), price=price)
        position.update_time_ms = now_ms
        commission = quantity * price * fee_rate
        self.account.book(
            symbol=symbol,
            income_type=IncomeType.REALIZED_PNL,
            amount=realised,
            time_ms=now_ms,
            trade_id=trade_id,
        )
        self.account.book(
            symbol=symbol,
            income_type=IncomeType.TRADING_FEE,
            amount=-commission,
            time_ms=now_ms,
            trade_id=trade_id,
        )
        return commission, realised

    def settle_funding(self, settlement: FundingSettlement) -> list[Position]:
        """F = -s*|Q|*mark*rate for every position open at the settlement; returns those charged."""
        charged = []
        for position in list(self.held()):
            if position.symbol != settlement.symbol:
                continue
            amount = -position.sign * position.size * settlement.mark_price * settlement.rate
            self.account.book(
                symbol=position.symbol,
                income_type=IncomeType.FUNDING_FEE,
                amount=amount,
                time_ms=settlement.time_ms,
            )
            if position.isolated:
                position.isolated_margin += amount
            charged.append(position)
        return charged

    # ---- margin figures

    def mark(self, symbol: str) -> Decimal:
        return self._market.mark_price(symbol)

    def maintenance(self, position: Position) -> Decimal:
        return maintenance_margin(
            self._catalog[position.symbol].tiers, position.notional(self.mark(position.symbol))
        )

    def used_margin(self) -> Decimal:
        return sum((position.margin(self.mark(position.symbol)) for position in self.held()), Decimal(0))

    def isolated_total(self) -> Decimal:
        return sum((position.isolated_margin for position in self.held() if position.isolated), Decimal(0))

    def unrealised(self, *, cross_only: bool = False) -> Decimal:
        return sum(
            (
                position.unrealised(self.mark(position.symbol))
                for position in self.held()
                if not (cross_only and position.isolated)
            ),
            Decimal(0),
        )

    def order_margin(self, order: Order) -> Decimal:
        """Initial margin an open order would take on for the part that opens exposure."""
        if order.reduce_only or order.type is not OrderType.LIMIT or order.price is None:
            return Decimal(0)
        opening = max(
            order.remaining
            - self.closable(symbol=order.symbol, side=order.side, position_side=order.position_side),
            Decimal(0),
        )
        leverage = self.leverage_for(symbol=order.symbol, side=order.side, position_side=order.position_side)
        return opening * order.price / leverage

    def frozen_margin(self, orders: Iterable[Order]) -> Decimal:
        return sum((self.order_margin(order) for order in orders if order.is_open), Decimal(0))

    def available(self, orders: Iterable[Order]) -> Decimal:
        free = (
            self.account.wallet
            + self.unrealised(cross_only=True)
            - self.used_margin()
            - self.frozen_margin(orders)
        )
        return max(free, Decimal(0))

    def liquidation_price(self, position: Position) -> Decimal:
        if position.isolated:
            wallet, other_maintenance, other_unrealised = position.isolated_margin, Decimal(0), Decimal(0)
        else:
            others = [other for other in self.held() if not other.isolated and other is not position]
            wallet = self.account.wallet - self.isolated_total()
            other_maintenance = sum((self.maintenance(other) for other in others), Decimal(0))
            other_unrealised = sum(
                (other.unrealised(self.mark(other.symbol)) for other in others), Decimal(0)
            )
        return liquidation_price(
            sign=position.sign,
            size=position.size,
            entry_price=position.entry_price,
            wallet=wallet,
            tiers=self._catalog[position.symbol].tiers,
            other_maintenance=other_maintenance,
            other_unrealised=other_unrealised,
        )

    def risk_rate(self, position: Position) -> Decimal:
        """Maintenance margin over margin balance; 1 or more means liquidation."""
        mark = self.mark(position.symbol)
        if position.isolated:
            balance = position.isolated_margin + position.unrealised(mark)
            maintenance = self.maintenance(position)
        else:
            balance = self.account.wallet - self.isolated_total() + self.unrealised(cross_only=True)
            maintenance = sum(
                (self.maintenance(other) for other in self.held() if not other.isolated), Decimal(0)
            )
        return maintenance / balance if balance > 0 else Decimal(1)

    # ---- views

    def position_view(self, position: Position) -> dict[str, Any]:
        mark = self.mark(position.symbol)
        margin = position.margin(mark)
        unrealised = position.unrealised(mark)
        initial = position.size * position.entry_price / position.leverage
        return {
            "symbol": position.symbol,
            "positionId": str(position.position_id),
            "positionSide": position.position_side.value,
            "isolated": position.isolated,
            "positionAmt": text(
                position.size if position.position_side is not PositionSide.BOTH else position.amount
            ),
            "availableAmt": text(position.size),
            "unrealizedProfit": text(unrealised),
            "realisedProfit": text(position.realised_profit),
            "initialMargin": text(initial),
            "margin": text(margin),
            "avgPrice": text(position.entry_price),
            "markPrice": text(mark),
            "liquidationPrice": text(self.liquidation_price(position)),
            "leverage": position.leverage,
            "positionValue": text(position.notional(mark)),
            "riskRate": text(self.risk_rate(position)),
            "maxMarginReduction": "0",
            "pnlRatio": text(unrealised / initial if initial else Decimal(0)),
            "updateTime": position.update_time_ms,
            "currency": SETTLE_ASSET,
        }

    def balance_view(self, orders: Iterable[Order]) -> dict[str, Any]:
        open_orders = list(orders)
        unrealised = self.unrealised()
        return {
            "userId": "1",
            "asset": SETTLE_ASSET,
            "balance": text(self.account.wallet),
            "equity": text(self.account.wallet + unrealised),
            "unrealizedProfit": text(unrealised),
            "realisedProfit": text(self.account.realised_profit),
            "availableMargin": text(self.available(open_orders)),
            "usedMargin": text(self.used_margin()),
            "freezedMargin": text(self.frozen_margin(open_orders)),
            "shortUid": "1",
        }

    def account_update(
        self, *, reason: str, now_ms: int, change: Decimal, positions: Iterable[Position]
    ) -> dict[str, Any]:
        """ACCOUNT_UPDATE with the wallet and the given positions (pushed only when something moved)."""
        wallet = self.account.wallet
        rows = []
        for position in positions:
            rows.append(
                {
                    "s": position.symbol,
                    "pa": text(position.amount),
                    "ep": text(position.entry_price),
                    "up": text(position.unrealised(self.mark(position.symbol))),
                    "mt": "isolated" if position.isolated else "cross",
                    "iw": text(position.isolated_margin if position.isolated else Decimal(0)),
                    "ps": position.position_side.value,
                }
            )
        balances = [
            {
                "a": SETTLE_ASSET,
                "wb": text(wallet),
                "cw": text(wallet - self.isolated_total()),
                "bc": text(change),
            }
        ]
        return {"e": "ACCOUNT_UPDATE", "E": now_ms, "T": now_ms, "a": {"m": reason, "B": balances, "P": rows}}
