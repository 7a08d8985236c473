"""The simulator's matching engine: order entry with BingX's validation and error codes, matching
against the synthetic book, and the per-step work of ``on_tick`` (resting orders, triggers,
funding, liquidation, the cancelAllAfter dead-man switch).

Matching rules: the book does not react to our orders. A marketable order walks the opposite side
level by level at level prices and pays taker; a resting limit order fills at its own price, as
maker, against whatever opposite liquidity crosses it at a step, each level's quantity shared by
resting orders in time priority within that step.

Liquidation rule: when the mark crosses a position's liquidation price the whole position is closed
by a LIQUIDATION order at that mark without a trading fee. An isolated position loses exactly its
margin: the PnL at the mark (never below minus the margin; the insurance fund takes any deficit)
plus the rest of the margin as INSURANCE_CLEAR. A cross position pays its maintenance margin, at
most what the cross wallet still holds, as INSURANCE_CLEAR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from tradeplane.runtime.venue.sim.accounts import Account, IncomeType
from tradeplane.runtime.venue.sim.catalog import ContractSpec
from tradeplane.runtime.venue.sim.order_checks import (
    NOT_TRADABLE,
    check_position_side,
    check_shape,
    check_size,
    check_tradable,
    normalise_client_order_id,
    truncate,
)
from tradeplane.runtime.venue.sim.orders import (
    ORDER_ID_BASE,
    TRADE_ID_BASE,
    TRIGGER_TYPES,
    Fill,
    IdSequence,
    Order,
    side_sign,
)
from tradeplane.runtime.venue.sim.portfolio import Portfolio
from tradeplane.runtime.venue.sim.positions import Position
from tradeplane.runtime.venue.sim.protocol import SimError
from tradeplane.runtime.venue.sim.views import ClockView, Level, MarketView
from tradeplane.runtime.venue.wire import (
    Liquidity,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    TimeInForce,
)

BOOK_DEPTH = 1000
DUPLICATE_CLIENT_ID = 101481
CANCEL_TOO_SOON = 109201
ALREADY_FINISHED = 80018
NOT_FOUND = 80016
POST_ONLY_CROSSES = 101215
REDUCE_ONLY_OPENS = 101290
INSUFFICIENT_MARGIN = 101204
CANCEL_REPEAT_WINDOW_MS = 1000


def _closing_side(position_side: PositionSide) -> OrderSide:
    return OrderSide.SELL if position_side is PositionSide.LONG else OrderSide.BUY


class Exchange:
    def __init__(
        self,
        *,
        catalog: Mapping[str, ContractSpec],
        market: MarketView,
        clock: ClockView,
        initial_balance: Decimal,
        publish: Callable[[dict[str, Any]], None],
    ) -> None:
        self.catalog = catalog
        self.market = market
        self.clock = clock
        self.publish = publish
        self.account = Account.open(catalog=catalog, initial_balance=initial_balance)
        self.portfolio = Portfolio(catalog=catalog, market=market, account=self.account)
        self.orders: dict[int, Order] = {}
        self._client_ids: dict[str, int] = {}
        self._order_ids = IdSequence(ORDER_ID_BASE)
        self._trade_ids = IdSequence(TRADE_ID_BASE)
        self._funding_after = clock.now_ms()
        self.cancel_deadline_ms: int | None = None

    # ---- lookups

    def spec(self, symbol: str) -> ContractSpec:
        spec = self.catalog.get(symbol)
        if spec is None:
            raise SimError(NOT_TRADABLE, f"symbol {symbol} is not tradable")
        return spec

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)]

    def find(self, *, symbol: str, order_id: int | None = None, client_order_id: str | None = None) -> Order:
        if order_id is None and client_order_id is not None:
            order_id = self._client_ids.get(client_order_id.lower())
        order = self.orders.get(order_id) if order_id is not None else None
        if order is None or order.symbol != symbol:
            raise SimError(NOT_FOUND, "order not exist")
        return order

    # ---- order entry

    def place_order(
        self,
        *,
        symbol: str,
        side: OrderSide,
        position_side: PositionSide,
        order_type: OrderType,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False,
        close_position: bool = False,
        client_order_id: str | None = None,
        working_type: str = "MARK_PRICE",
        test: bool = False,
    ) -> Order:
        """Validates as BingX does (in its order), then fills what is marketable; ``test`` stops
        after validation and changes nothing."""
        now = self.clock.now_ms()
        self._settle_funding(now)
        spec = self.spec(symbol)
        check_shape(
            order_type=order_type, quantity=quantity, price=price, stop_price=stop_price,
            close_position=close_position,
        )  # fmt: skip
        hedge = self.account.dual_side
        check_position_side(position_side=position_side, hedge=hedge, reduce_only=reduce_only)
        client_order_id = normalise_client_order_id(client_order_id)
        if client_order_id is not None and client_order_id in self._client_ids:
            raise SimError(DUPLICATE_CLIENT_ID, "clientOrderID repeated")
        price = truncate(price, spec.price_precision) if price is not None else None
        stop_price = truncate(stop_price, spec.price_precision) if stop_price is not None else None
        qty = truncate(quantity, spec.quantity_precision) if quantity is not None else Decimal(0)
        book = self.market.book(symbol, BOOK_DEPTH)
        opposite = book.asks if side is OrderSide.BUY else book.bids
        reference = (
            price if price is not None else opposite[0][0] if opposite else self.market.mark_price(symbol)
        )
        if not close_position:
            check_size(spec, quantity=qty, reference_price=reference)
        closable = self.portfolio.closable(symbol=symbol, side=side, position_side=position_side)
        closing = hedge and side is _closing_side(position_side)
        if order_type not in TRIGGER_TYPES and (reduce_only or closing) and qty > closable:
            raise SimError(REDUCE_ONLY_OPENS, "reduce only order would open or increase a position")
        opening = Decimal(0) if closing or close_position else max(qty - closable, Decimal(0))
        check_tradable(spec, opening=opening > 0)
        if opening > 0 and order_type not in TRIGGER_TYPES:
            leverage = self.portfolio.leverage_for(symbol=symbol, side=side, position_side=position_side)
            if opening * reference / leverage > self.portfolio.available(self.open_orders()):
                raise SimError(INSUFFICIENT_MARGIN, "Insufficient margin")
        crosses = bool(opposite) and price is not None and self._crosses(side, price, opposite[0][0])
        if order_type is OrderType.LIMIT and time_in_force is TimeInForce.POST_ONLY and crosses:
            raise SimError(POST_ONLY_CROSSES, "post only order would immediately match")
        order = Order(
            order_id=self._order_ids(),
            client_order_id=client_order_id or "",
            symbol=symbol,
            side=side,
            position_side=position_side,
            type=order_type,
            quantity=qty,
            price=price,
            stop_price=stop_price,
            time_in_force=time_in_force,
            reduce_only=reduce_only,
            close_position=close_position,
            working_type=working_type,
            time_ms=now,
            update_time_ms=now,
        )
        if test:
            return order
        self.orders[order.order_id] = order
        if client_order_id:
            self._client_ids[client_order_id] = order.order_id
        self.publish(order.event(now_ms=now, execution="NEW"))
        if order_type is OrderType.MARKET:
            self._take(order, opposite, limit=None, now_ms=now)
        elif order_type is OrderType.LIMIT:
            self._enter_limit(order, opposite, now_ms=now)
        return order

    @staticmethod
    def _crosses(side: OrderSide, price: Decimal, level_price: Decimal) -> bool:
        return price >= level_price if side is OrderSide.BUY else price <= level_price

    def _enter_limit(self, order: Order, opposite: tuple[Level, ...], *, now_ms: int) -> None:
        assert order.price is not None
        if order.time_in_force is TimeInForce.FOK:
            depth = sum((q for p, q in opposite if self._crosses(order.side, order.price, p)), Decimal(0))
            if depth < order.quantity:
                self._cancel(order, now_ms=now_ms)
                return
        if order.time_in_force is not TimeInForce.POST_ONLY:
            self._take(order, opposite, limit=order.price, now_ms=now_ms)
        if order.is_open and order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            self._cancel(order, now_ms=now_ms)

    def _take(self, order: Order, opposite: tuple[Level, ...], *, limit: Decimal | None, now_ms: int) -> None:
        """Walks the opposite side as taker; a market order's unfilled rest is cancelled."""
        for level_price, level_qty in opposite:
            if not order.is_open or (limit is not None and not self._crosses(order.side, limit, level_price)):
                break
            self._fill(order, min(level_qty, order.remaining), level_price, Liquidity.TAKER, now_ms=now_ms)
        if order.is_open and order.type is not OrderType.LIMIT:
            self._cancel(order, now_ms=now_ms)

    def _fill(
        self, order: Order, quantity: Decimal, price: Decimal, role: Liquidity, *, now_ms: int
    ) -> Decimal:
        """One trade; a reducing order never fills past the position it reduces (its rest is cancelled)."""
        if order.reduce_only or (self.account.dual_side and order.side is _closing_side(order.position_side)):
            held = self.portfolio.closable(
                symbol=order.symbol, side=order.side, position_side=order.position_side
            )
            quantity = min(quantity, held)
            if quantity <= 0:
                self._cancel(order, now_ms=now_ms)
                return Decimal(0)
        rate = self.account.maker_rate if role is Liquidity.MAKER else self.account.taker_rate
        trade_id = self._trade_ids()
        commission, realised = self.portfolio.settle_fill(
            symbol=order.symbol,
            side=order.side,
            position_side=order.position_side,
            quantity=quantity,
            price=price,
            fee_rate=rate,
            trade_id=trade_id,
            now_ms=now_ms,
        )
        fill = Fill(
            trade_id, order.order_id, order.symbol, order.side, order.position_side,
            quantity, price, commission, realised, role, now_ms,
        )  # fmt: skip
        order.record(fill)
        self._publish_trade(order, fill, change=realised - commission, reason="ORDER", now_ms=now_ms)
        return quantity

    def _publish_trade(self, order: Order, fill: Fill, *, change: Decimal, reason: str, now_ms: int) -> None:
        self.publish(order.event(now_ms=now_ms, execution="TRADE", fill=fill))
        positions = [p for p in [self.portfolio.get(order.symbol, order.position_side)] if p is not None]
        if not positions:
            positions = [self._flat(order.symbol, order.position_side)]
        self.publish(
            self.portfolio.account_update(reason=reason, now_ms=now_ms, change=change, positions=positions)
        )

    def _flat(self, symbol: str, position_side: PositionSide) -> Position:
        return Position(0, symbol, position_side, isolated=False, leverage=1)

    # ---- cancellation

    def _cancel(self, order: Order, *, now_ms: int) -> None:
        order.status = OrderStatus.CANCELED
        order.update_time_ms = now_ms
        self.publish(order.event(now_ms=now_ms, execution="CANCELED"))

    def cancel_order(
        self, *, symbol: str, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        now = self.clock.now_ms()
        order = self.find(symbol=symbol, order_id=order_id, client_order_id=client_order_id)
        if order.status is OrderStatus.FILLED:
            raise SimError(ALREADY_FINISHED, "order already filled")
        if order.status is OrderStatus.CANCELED:
            if order.first_cancel_ms is not None and now - order.first_cancel_ms < CANCEL_REPEAT_WINDOW_MS:
                raise SimError(CANCEL_TOO_SOON, "the same order id was cancelled within 1 second")
            raise SimError(ALREADY_FINISHED, "order already canceled")
        order.first_cancel_ms = now
        self._cancel(order, now_ms=now)
        return order

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        now = self.clock.now_ms()
        cancelled = self.open_orders(symbol)
        for order in cancelled:
            order.first_cancel_ms = now
            self._cancel(order, now_ms=now)
        return cancelled

    # ---- the clock step

    def on_tick(self, now_ms: int) -> None:
        self._settle_funding(now_ms)
        self._fire_triggers(now_ms)
        self._match_resting(now_ms)
        self._liquidate_crossed(now_ms)
        if self.cancel_deadline_ms is not None and now_ms >= self.cancel_deadline_ms:
            self.cancel_deadline_ms = None
            self.cancel_all()

    def _settle_funding(self, now_ms: int) -> None:
        if now_ms <= self._funding_after:
            return
        for symbol in self.catalog:
            for settlement in self.market.funding_between(symbol, self._funding_after, now_ms):
                before = self.account.wallet
                charged = self.portfolio.settle_funding(settlement)
                if charged:
                    isolated = [p for p in charged if p.isolated]
                    self.publish(
                        self.portfolio.account_update(
                            reason="FUNDING_FEE",
                            now_ms=settlement.time_ms,
                            change=self.account.wallet - before,
                            positions=isolated,
                        )
                    )
        self._funding_after = now_ms

    def _match_resting(self, now_ms: int) -> None:
        by_symbol: dict[str, list[Order]] = {}
        for order in self.open_orders():
            if order.type is OrderType.LIMIT:
                by_symbol.setdefault(order.symbol, []).append(order)
        for symbol, orders in by_symbol.items():
            book = self.market.book(symbol, BOOK_DEPTH)
            taken: dict[tuple[OrderSide, Decimal], Decimal] = {}
            for order in sorted(orders, key=lambda o: o.order_id):
                assert order.price is not None
                for level_price, level_qty in book.asks if order.side is OrderSide.BUY else book.bids:
                    if not order.is_open or not self._crosses(order.side, order.price, level_price):
                        break
                    key = (order.side, level_price)
                    free = level_qty - taken.get(key, Decimal(0))
                    if free > 0:
                        done = self._fill(
                            order, min(free, order.remaining), order.price, Liquidity.MAKER, now_ms=now_ms
                        )
                        taken[key] = taken.get(key, Decimal(0)) + done

    def _fire_triggers(self, now_ms: int) -> None:
        for order in self.open_orders():
            if order.type not in TRIGGER_TYPES or order.stop_price is None:
                continue
            mark = self.market.mark_price(order.symbol)
            rising = (order.type is OrderType.STOP_MARKET) == (order.side is OrderSide.BUY)
            if not (mark >= order.stop_price if rising else mark <= order.stop_price):
                continue
            if order.close_position:
                order.quantity = self.portfolio.closable(
                    symbol=order.symbol, side=order.side, position_side=order.position_side
                )
                order.reduce_only = not self.account.dual_side
            book = self.market.book(order.symbol, BOOK_DEPTH)
            self._take(
                order, book.asks if order.side is OrderSide.BUY else book.bids, limit=None, now_ms=now_ms
            )

    def _liquidate_crossed(self, now_ms: int) -> None:
        for position in list(self.portfolio.held()):
            if position.amount == 0:
                continue
            mark = self.market.mark_price(position.symbol)
            threshold = self.portfolio.liquidation_price(position)
            if (mark <= threshold) if position.sign > 0 else (mark >= threshold):
                self._liquidate(position, mark, now_ms=now_ms)

    def _liquidate(self, position: Position, mark: Decimal, *, now_ms: int) -> None:
        for order in self.open_orders(position.symbol):
            self._cancel(order, now_ms=now_ms)
        maintenance = self.portfolio.maintenance(position)
        margin = (
            position.isolated_margin
            if position.isolated
            else self.account.wallet - self.portfolio.isolated_total()
        )
        side = OrderSide.SELL if position.sign > 0 else OrderSide.BUY
        order = Order(
            order_id=self._order_ids(), client_order_id="", symbol=position.symbol, side=side,
            position_side=position.position_side, type=OrderType.LIQUIDATION, quantity=position.size,
            price=mark, stop_price=None, time_in_force=TimeInForce.IOC, reduce_only=True,
            close_position=False, working_type="MARK_PRICE", time_ms=now_ms, update_time_ms=now_ms,
        )  # fmt: skip
        self.orders[order.order_id] = order
        size = position.size
        trade_id = self._trade_ids()
        realised = max(position.apply(delta=size * side_sign(side), price=mark), -margin)
        position.update_time_ms = now_ms
        left = margin + realised
        clearance = max(left if position.isolated else min(maintenance, left), Decimal(0))
        before = self.account.wallet
        account = self.account
        account.book(
            symbol=position.symbol, income_type=IncomeType.REALIZED_PNL, amount=realised,
            time_ms=now_ms, trade_id=trade_id,
        )  # fmt: skip
        account.book(
            symbol=position.symbol, income_type=IncomeType.INSURANCE_CLEAR, amount=-clearance,
            time_ms=now_ms, trade_id=trade_id,
        )  # fmt: skip
        fill = Fill(
            trade_id, order.order_id, order.symbol, side, position.position_side,
            size, mark, Decimal(0), realised, Liquidity.TAKER, now_ms,
        )  # fmt: skip
        order.record(fill)
        self._publish_trade(
            order, fill, change=self.account.wallet - before, reason="INSURANCE_CLEAR", now_ms=now_ms
        )
