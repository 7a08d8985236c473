"""The simulated market: per symbol a seeded price process (or a replayed file), its 1m bars, trades,
mark and index prices, the funding schedule and the synthetic book.

Each symbol draws from its own generator seeded by (seed, symbol, stream), so adding a symbol or
querying one never changes another's data, and one seed always serves identical history. The past
(``history_minutes`` of 1m bars before the start) is generated minute by minute and anchored so
its last close is the calibrated start price; from the start on the process steps once per
simulated second. Funding rates are a pure function of (seed, symbol, settlement time), so the
history endpoint can answer for any past range without storing it.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from tradeplane.runtime.millis import HOUR_MS, MINUTE_MS
from tradeplane.runtime.venue.sim import book as synthetic
from tradeplane.runtime.venue.sim import replay as recorded
from tradeplane.runtime.venue.sim.bars import TickBar
from tradeplane.runtime.venue.sim.catalog import ContractSpec
from tradeplane.runtime.venue.sim.views import Book, FundingSettlement

BLOCK = 3600
TRADES_KEPT = 1000
FUNDING_NOISE = 0.00005
FUNDING_QUANTUM = Decimal("0.00000001")
MARK_SMOOTHING = 0.2
INDEX_SMOOTHING = 0.05
TRADES_PER_SECOND = 0.7
HISTORY, LIVE, FUNDING, INTEREST = 1, 2, 3, 4


def generator(seed: int, symbol: str, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(symbol.encode()), *stream]))


@dataclass(frozen=True)
class Trade:
    id: int
    time_ms: int
    price: int
    quantity: int
    buyer_maker: bool


class SymbolMarket:
    def __init__(
        self,
        spec: ContractSpec,
        *,
        seed: int,
        start_time_ms: int,
        history_minutes: int,
        replay: dict[int, recorded.RecordedBar] | None,
    ) -> None:
        self.spec = spec
        self.seed = seed
        self.tick = Decimal(1).scaleb(-spec.price_precision)
        self.quantity_step = Decimal(1).scaleb(-spec.quantity_precision)
        calibration = spec.calibration
        self.level_steps = max(1, int(calibration.level_quantity / self.quantity_step))
        self.second_vol = calibration.minute_volatility / math.sqrt(60)
        self.alpha, self.beta = calibration.garch_alpha, calibration.garch_beta
        self.jump_probability = calibration.jump_probability / 60
        self.replay = replay
        self.rng = generator(seed, spec.symbol, LIVE)
        self._block: np.ndarray = np.empty((0, 5))
        self._cursor = 0
        self.trades: deque[Trade] = deque(maxlen=TRADES_KEPT)
        self.next_trade_id = 1_000_000 + zlib.crc32(spec.symbol.encode()) % 1000 * 1000
        start_minute = start_time_ms - start_time_ms % MINUTE_MS
        if replay is not None:
            self.bars: list[TickBar] = []
            first = replay.get(start_minute)
            price = first.open if first is not None else self.ticks(float(calibration.start_price))
        else:
            self.bars = self._history(start_minute, history_minutes)
            price = self.ticks(float(calibration.start_price))
        self.price = price
        self.log_price = math.log(price * float(self.tick))
        self.variance = self.second_vol**2
        self.mark = self.index = float(price)
        self.bars.append(TickBar.opening(start_minute, price, price))
        if replay is not None and first is not None:
            self.bars[-1].volume = first.volume_until((start_time_ms % MINUTE_MS) // 1000)
        self.now_ms = start_time_ms
        self.book_cache: tuple[int, int, Book] | None = None

    def ticks(self, price: float) -> int:
        return max(1, round(price / float(self.tick)))

    def _history(self, start_minute: int, minutes: int) -> list[TickBar]:
        """``minutes`` complete bars before ``start_minute``, anchored to close at the start price."""
        if minutes <= 0:
            return []
        cal = self.spec.calibration
        rng = generator(self.seed, self.spec.symbol, HISTORY)
        shocks = rng.standard_normal(minutes)
        jumps = np.where(
            rng.random(minutes) < cal.jump_probability, rng.normal(0, cal.jump_scale, minutes), 0.0
        )
        omega = cal.minute_volatility**2 * (1 - self.alpha - self.beta)
        variance = cal.minute_volatility**2
        returns = np.empty(minutes)
        for index in range(minutes):
            returns[index] = math.sqrt(variance) * shocks[index] + jumps[index]
            variance = omega + self.alpha * returns[index] ** 2 + self.beta * variance
        closes = float(cal.start_price) * np.exp(returns[::-1].cumsum()[::-1] * -1 + returns)
        opens = np.concatenate(([closes[0] / math.exp(returns[0])], closes[:-1]))
        wick = np.abs(rng.standard_normal((2, minutes))) * cal.minute_volatility * 0.5
        highs = np.maximum(opens, closes) * np.exp(wick[0])
        lows = np.minimum(opens, closes) * np.exp(-wick[1])
        volumes = np.maximum(1, rng.gamma(2.0, 30.0 * self.level_steps, minutes).astype(np.int64))
        tick = float(self.tick)
        o, h, low, c = (
            np.maximum(1, np.rint(series / tick)).astype(np.int64) for series in (opens, highs, lows, closes)
        )
        h = np.maximum(h, np.maximum(o, c))
        low = np.minimum(low, np.minimum(o, c))
        # Mark: an exponential smoothing of closes, as the live mark smooths last prices.
        marks = np.empty(minutes)
        level = float(c[0])
        for index in range(minutes):
            level += (float(c[index]) - level) * 0.5
            marks[index] = level
        m = np.rint(marks).astype(np.int64)
        m_open = np.concatenate(([m[0]], m[:-1]))
        first = start_minute - minutes * MINUTE_MS
        return [
            TickBar(
                first + index * MINUTE_MS,
                int(o[index]),
                int(h[index]),
                int(low[index]),
                int(c[index]),
                int(volumes[index]),
                int(m_open[index]),
                int(max(m_open[index], m[index])),
                int(min(m_open[index], m[index])),
                int(m[index]),
            )
            for index in range(minutes)
        ]

    def _draws(self) -> np.ndarray:
        if self._cursor >= len(self._block):
            rng = self.rng
            self._block = np.column_stack(
                (
                    rng.standard_normal(BLOCK),
                    rng.random(BLOCK),
                    rng.standard_normal(BLOCK),
                    rng.poisson(TRADES_PER_SECOND, BLOCK),
                    rng.random(BLOCK),
                )
            )
            self._cursor = 0
        row: np.ndarray = self._block[self._cursor]
        self._cursor += 1
        return row

    def step(self, now_ms: int) -> None:
        """Advance one simulated second to ``now_ms``."""
        shock, jump_draw, jump_size, trade_count, side_draw = self._draws()
        minute = now_ms - now_ms % MINUTE_MS
        second = (now_ms % MINUTE_MS) // 1000
        volume = 0
        if self.replay is not None:
            bar = self.replay.get(minute)
            if bar is not None:
                self.price = bar.price_at(second)
                volume = bar.volume_until(second) - (bar.volume_until(second - 1) if second else 0)
        else:
            cal = self.spec.calibration
            diffusion = math.sqrt(self.variance) * float(shock)
            jump = float(jump_size) * cal.jump_scale if jump_draw < self.jump_probability else 0.0
            omega = self.second_vol**2 * (1 - self.alpha - self.beta)
            self.variance = omega + self.alpha * diffusion**2 + self.beta * self.variance
            self.log_price += diffusion + jump
            self.price = self.ticks(math.exp(self.log_price))
            self.log_price = math.log(self.price * float(self.tick))
        self.mark += (self.price - self.mark) * MARK_SMOOTHING
        self.index += (self.price - self.index) * INDEX_SMOOTHING
        count = int(trade_count)
        if self.replay is None:
            volume = 0
            for index in range(count):
                quantity = max(1, int(self.level_steps * (0.2 + 0.3 * index + float(side_draw))))
                self._trade(now_ms, quantity, buyer_maker=(side_draw + index * 0.37) % 1 < 0.5)
                volume += quantity
        elif volume > 0:
            self._trade(now_ms, volume, buyer_maker=side_draw < 0.5)
        mark = round(self.mark)
        current = self.bars[-1]
        if current.open_time == minute:
            current.update(self.price, mark, volume)
        else:
            while self.bars[-1].open_time + MINUTE_MS < minute:  # minutes skipped: flat, no volume
                last = self.bars[-1]
                self.bars.append(TickBar.opening(last.open_time + MINUTE_MS, last.close, last.mark_close))
            opened = TickBar.opening(minute, self.price, mark)
            opened.volume = volume
            self.bars.append(opened)
        self.now_ms = now_ms

    def _trade(self, now_ms: int, quantity: int, *, buyer_maker: bool) -> None:
        self.trades.append(Trade(self.next_trade_id, now_ms, self.price, quantity, bool(buyer_maker)))
        self.next_trade_id += 1

    def price_decimal(self, ticks: int) -> Decimal:
        return Decimal(ticks).scaleb(-self.spec.price_precision)

    def quantity_decimal(self, steps: int) -> Decimal:
        return Decimal(steps).scaleb(-self.spec.quantity_precision)

    def book(self, depth: int) -> Book:
        key = (self.now_ms, self.price)
        if self.book_cache is None or self.book_cache[:2] != key or len(self.book_cache[2].bids) < depth:
            levels = max(depth, 20)
            built = synthetic.build(self, levels=levels)
            self.book_cache = (self.now_ms, self.price, built)
        cached = self.book_cache[2]
        return Book(cached.bids[:depth], cached.asks[:depth], cached.time_ms)

    # Funding ------------------------------------------------------------------------------------

    @property
    def funding_interval_ms(self) -> int:
        return self.spec.funding_interval_hours * HOUR_MS

    def funding_rate(self, time_ms: int) -> Decimal:
        noise = generator(self.seed, self.spec.symbol, FUNDING, time_ms // 1000).normal(0, FUNDING_NOISE)
        return (self.spec.funding_rate + Decimal(repr(round(float(noise), 8)))).quantize(FUNDING_QUANTUM)

    def next_funding_time(self, now_ms: int) -> int:
        return now_ms - now_ms % self.funding_interval_ms + self.funding_interval_ms

    def mark_at(self, time_ms: int) -> Decimal:
        first = self.bars[0].open_time
        index = (time_ms - first) // MINUTE_MS
        if index < 0:
            return self.price_decimal(self.bars[0].mark_open)
        if index >= len(self.bars):
            return self.price_decimal(round(self.mark))
        bar = self.bars[index]
        return self.price_decimal(bar.mark_open if time_ms == bar.open_time else bar.mark_close)

    def settlement(self, time_ms: int) -> FundingSettlement:
        return FundingSettlement(self.spec.symbol, time_ms, self.funding_rate(time_ms), self.mark_at(time_ms))

    def settlement_times(self, after_ms: int, until_ms: int) -> list[int]:
        interval = self.funding_interval_ms
        first = after_ms - after_ms % interval + interval
        return list(range(first, until_ms + 1, interval))

    def open_interest(self, now_ms: int) -> Decimal:
        hour = now_ms // HOUR_MS
        drift = generator(self.seed, self.spec.symbol, INTEREST, hour).random()
        return self.quantity_decimal(self.level_steps * (5000 + int(drift * 1000)))


class Market:
    """``views.MarketView`` over every listed symbol; ``step_to`` is driven by the clock's ticks."""

    def __init__(
        self,
        catalog: dict[str, ContractSpec],
        *,
        seed: int,
        start_time_ms: int,
        history_minutes: int,
        replay: dict[str, Path] | None = None,
        replay_speed: float = 1.0,
    ) -> None:
        replay = replay or {}
        unknown = set(replay) - set(catalog)
        if unknown:
            raise ValueError(f"replay files for symbols not simulated: {sorted(unknown)}")
        start_minute = start_time_ms - start_time_ms % MINUTE_MS
        self.symbols: dict[str, SymbolMarket] = {}
        for symbol, spec in catalog.items():
            tick = Decimal(1).scaleb(-spec.price_precision)
            step = Decimal(1).scaleb(-spec.quantity_precision)
            bars = (
                recorded.load(
                    replay[symbol], tick=tick, step=step, start_minute_ms=start_minute, speed=replay_speed
                )
                if symbol in replay
                else None
            )
            self.symbols[symbol] = SymbolMarket(
                spec, seed=seed, start_time_ms=start_time_ms, history_minutes=history_minutes, replay=bars
            )
        self.now_ms = start_time_ms

    def __getitem__(self, symbol: str) -> SymbolMarket:
        return self.symbols[symbol]

    def step_to(self, now_ms: int) -> None:
        for market in self.symbols.values():
            for second in range(market.now_ms - market.now_ms % 1000 + 1000, now_ms + 1, 1000):
                market.step(second)
        self.now_ms = now_ms

    def last_price(self, symbol: str) -> Decimal:
        market = self.symbols[symbol]
        return market.price_decimal(market.price)

    def mark_price(self, symbol: str) -> Decimal:
        market = self.symbols[symbol]
        return market.price_decimal(round(market.mark))

    def index_price(self, symbol: str) -> Decimal:
        market = self.symbols[symbol]
        return market.price_decimal(round(market.index))

    def book(self, symbol: str, depth: int = 20) -> Book:
        return self.symbols[symbol].book(depth)

    def funding_between(self, symbol: str, after_ms: int, until_ms: int) -> list[FundingSettlement]:
        market = self.symbols[symbol]
        return [market.settlement(time) for time in market.settlement_times(after_ms, until_ms)]
