"""Simulated time: the wall clock, an accelerated clock, or a manual clock that only tests move.

Everything time-dependent in the simulator (market steps, funding, listenKey expiry, WebSocket
pushes, Ping cadence, injected latency) runs off one ``SimClock``, so a test that advances the manual
clock drives the whole venue deterministically and never sleeps. Ticks fire once per whole simulated
second, in order, never skipped: a slow host makes an accelerated clock catch up, not jump.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Literal

import structlog

log = structlog.get_logger(__name__)

ClockMode = Literal["real", "manual"] | float
TickHandler = Callable[[int], None]
SECOND_MS = 1000


class SimClock:
    """``mode`` is ``"manual"`` (only ``advance`` moves it), ``"real"`` (epoch wall time, so clients
    that sign with their own clock are accepted) or a speed multiplier of time since ``start_time_ms``."""

    def __init__(self, *, mode: ClockMode, start_time_ms: int) -> None:
        if not isinstance(mode, str) and mode <= 0:
            raise ValueError("the clock speed must be positive")
        self.mode = mode
        self.start_time_ms = int(time.time() * 1000) if mode == "real" else start_time_ms
        self._manual_now = self.start_time_ms
        self._origin = time.monotonic()
        self._tick_handlers: list[TickHandler] = []
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._sequence = itertools.count()
        self._tick_waiters: list[asyncio.Future[int]] = []
        self.last_tick_ms = self.start_time_ms - self.start_time_ms % SECOND_MS
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def manual(self) -> bool:
        return self.mode == "manual"

    @property
    def speed(self) -> float:
        return 1.0 if isinstance(self.mode, str) else float(self.mode)

    def now_ms(self) -> int:
        if self.mode == "manual":
            return self._manual_now
        if self.mode == "real":
            return int(time.time() * 1000)
        return self.start_time_ms + int((time.monotonic() - self._origin) * 1000 * self.speed)

    def on_tick(self, handler: TickHandler) -> None:
        """Call ``handler(tick_ms)`` at every whole simulated second, in registration order."""
        self._tick_handlers.append(handler)

    def _run_ticks_until(self, now: int) -> None:
        while self.last_tick_ms + SECOND_MS <= now:
            self.last_tick_ms += SECOND_MS
            if self.mode == "manual":
                self._manual_now = self.last_tick_ms
            for handler in self._tick_handlers:
                handler(self.last_tick_ms)
            waiters, self._tick_waiters = self._tick_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(self.last_tick_ms)
            self._wake(self.last_tick_ms)

    def _wake(self, now: int) -> None:
        while self._waiters and self._waiters[0][0] <= now:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)

    async def advance(self, ms: int) -> None:
        await self.advance_to(self.now_ms() + ms)

    async def advance_to(self, target_ms: int) -> None:
        """Move a manual clock forward, running every tick on the way; then let the tasks that
        were woken (WebSocket writers, delayed responses) run before returning."""
        if not self.manual:
            raise RuntimeError("only a manual clock is advanced by hand")
        if target_ms < self._manual_now:
            raise ValueError("simulated time never goes backwards")
        self._run_ticks_until(target_ms)
        self._manual_now = target_ms
        self._wake(target_ms)
        for _ in range(3):
            await asyncio.sleep(0)

    async def wait_until(self, when_ms: int) -> None:
        """Resolve once simulated time reaches ``when_ms``."""
        if self.manual:
            if when_ms <= self._manual_now:
                return
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiters, (when_ms, next(self._sequence), future))
            await future
            return
        # Time itself is the condition here: there is no event to await but the clock.
        while (remaining := when_ms - self.now_ms()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining / 1000 / self.speed)

    async def sleep(self, seconds: float) -> None:
        await self.wait_until(self.now_ms() + int(seconds * 1000))

    async def next_tick(self) -> int:
        """The simulated time of the next tick, once every tick handler has run for it."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._tick_waiters.append(future)
        return await future

    def start(self) -> None:
        if not self.manual and self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._tick_loop())

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None

    async def _tick_loop(self) -> None:
        while True:
            await self.wait_until(self.last_tick_ms + SECOND_MS)
            try:
                self._run_ticks_until(self.now_ms())
            except Exception:
                log.exception("venue_sim.tick_failed", tick_ms=self.last_tick_ms)
