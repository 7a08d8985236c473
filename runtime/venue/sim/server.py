"""The venue simulator assembled: one clock, one market, the matching engine, fault injection and
the aiohttp application serving BingX's REST paths and its WebSocket, bound to loopback.

Route modules register themselves (``register(app, sim)``); the simulator only decides which exist.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from tradeplane.runtime.venue.sim import marketdata_routes, trading_routes
from tradeplane.runtime.venue.sim.catalog import CATALOG, ContractSpec
from tradeplane.runtime.venue.sim.clock import ClockMode, SimClock
from tradeplane.runtime.venue.sim.exchange import Exchange
from tradeplane.runtime.venue.sim.faults import Faults, control_routes, fault_middleware
from tradeplane.runtime.venue.sim.listenkeys import ListenKeys
from tradeplane.runtime.venue.sim.market import Market
from tradeplane.runtime.venue.sim.protocol import SIM_KEY, business_errors
from tradeplane.runtime.venue.sim.ws import WebSockets

log = structlog.get_logger(__name__)

DEFAULT_START_TIME_MS = 1_767_571_200_000
"""2026-01-05T00:00:00Z, a Monday: a fixed origin so two runs with one seed serve identical data."""


@dataclass
class SimConfig:
    seed: int = 7
    api_key: str = "sim-api-key"
    api_secret: str = field(default="sim-secret-key", repr=False)
    symbols: tuple[str, ...] = tuple(CATALOG)
    clock: ClockMode = "manual"
    start_time_ms: int = DEFAULT_START_TIME_MS
    replay: dict[str, Path] = field(default_factory=dict)
    replay_speed: float = 1.0
    initial_balance: Decimal = Decimal("10000")
    ping_interval_s: float = 5.0
    history_minutes: int = 3 * 24 * 60


class VenueSimulator:
    """``async with VenueSimulator(SimConfig()) as sim:`` serves ``sim.rest_url`` and ``sim.ws_url``."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config = config or SimConfig()
        unknown = [symbol for symbol in config.symbols if symbol not in CATALOG]
        if unknown:
            raise ValueError(f"symbols not in the simulator's catalog: {unknown}")
        self.catalog: dict[str, ContractSpec] = {
            symbol: dataclasses.replace(CATALOG[symbol], contract=dict(CATALOG[symbol].contract))
            for symbol in config.symbols
        }
        self.contracts: dict[str, dict[str, Any]] = {
            symbol: dict(spec.contract) for symbol, spec in self.catalog.items()
        }
        """The raw records ``/quote/contracts`` serves; ``/sim/contracts`` overrides or removes them.

        Copies: an override changes what the venue says (malformed metadata is the point of it),
        while the matching engine keeps trading on the catalog's record."""
        self.clock = SimClock(mode=config.clock, start_time_ms=config.start_time_ms)
        self.market = Market(
            self.catalog,
            seed=config.seed,
            start_time_ms=self.clock.start_time_ms,
            history_minutes=config.history_minutes,
            replay=config.replay,
            replay_speed=config.replay_speed,
        )
        self.faults = Faults(seed=config.seed)
        self.listen_keys = ListenKeys(self.clock, seed=config.seed)
        self.sockets = WebSockets(self)
        self.exchange = Exchange(
            catalog=self.catalog,
            market=self.market,
            clock=self.clock,
            initial_balance=config.initial_balance,
            publish=self.publish_user_event,
        )
        self.clock.on_tick(self._tick)
        self._runner: web.AppRunner | None = None
        self.rest_url = ""
        self.ws_url = ""

    def listed(self, symbol: str) -> bool:
        return symbol in self.contracts and symbol in self.catalog

    def _tick(self, now_ms: int) -> None:
        self.market.step_to(now_ms)
        self.exchange.on_tick(now_ms)
        for key in self.listen_keys.expire_due(now_ms):
            self.sockets.listen_key_expired(key, now_ms)
        self.sockets.on_tick(now_ms)

    def publish_user_event(self, event: dict[str, Any]) -> None:
        """Fan one BingX-shaped user-data event out to every socket on a live listenKey."""
        self.sockets.publish_user_event(event)

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[business_errors, fault_middleware])
        app[SIM_KEY] = self
        marketdata_routes.register(app, self)
        trading_routes.register(app, self)
        self.listen_keys.register(app, self)
        self.sockets.register(app, self)
        control_routes(app, self)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.build_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self.rest_url = f"http://{host}:{bound[1]}"
        self.ws_url = f"ws://{host}:{bound[1]}/swap-market"
        self.clock.start()
        log.info("venue_sim.started", rest_url=self.rest_url, ws_url=self.ws_url, seed=self.config.seed)

    async def stop(self) -> None:
        await self.clock.stop()
        await self.sockets.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> VenueSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
