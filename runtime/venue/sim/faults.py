"""Fault injection, switched at run time from Python (``sim.faults``) or over HTTP (``/sim/...``).

REST faults match a method and a path pattern and fire for the next N requests (or until cleared,
with a seeded probability): added latency (awaited on the simulated clock, so a manual clock holds
the response until advanced), an HTTP status (429 carries BingX's rate-limit headers), a forced
business reject code, or "504 after execution" (the request runs, then 504 is returned: the
"unknown status" case). WebSocket faults apply to pushed data frames (never to acks or Pings):
drop, duplicate or reorder (hold one frame back past the next), by seeded probability or for the
next N frames; pushes can be paused, and every socket can be disconnected. One seed, one sequence
of decisions.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from aiohttp import web
from pydantic import BaseModel, ConfigDict

from tradeplane.runtime.venue.sim.protocol import SimError, bare, error_response, sim_of

if TYPE_CHECKING:
    from tradeplane.runtime.venue.sim.server import VenueSimulator

FAULT_STREAM = 9
RATE_LIMITED = 100410
Kind = Literal["latency", "status", "reject", "after_execution"]
FrameAction = Literal["send", "drop", "duplicate", "hold"]


class RestFault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    path: str = "*"
    method: str | None = None
    count: int | None = None
    probability: float = 1.0
    status: int = 503
    code: int = 0
    msg: str = "injected fault"
    latency_ms: int = 0

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(path, self.path) and (self.method is None or self.method == method)


@dataclass
class FrameFaults:
    drop_probability: float = 0.0
    duplicate_probability: float = 0.0
    reorder_probability: float = 0.0
    drop_next: int = 0
    duplicate_next: int = 0
    reorder_next: int = 0
    paused: bool = False


class FaultsUpdate(BaseModel):
    """The body of ``POST /sim/faults``; every field is optional and applied in this order."""

    model_config = ConfigDict(extra="forbid")

    clear: bool = False
    rest: list[RestFault] = []
    ws: dict[str, float | int | bool] = {}
    disconnect: bool = False
    expire_listen_key: str | None = None


@dataclass
class Faults:
    seed: int
    rest: list[RestFault] = field(default_factory=list)
    frames: FrameFaults = field(default_factory=FrameFaults)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng([self.seed, FAULT_STREAM])

    def add(self, fault: RestFault) -> None:
        self.rest.append(fault)

    def clear(self) -> None:
        self.rest.clear()
        self.frames = FrameFaults()

    def rest_faults(self, method: str, path: str) -> list[RestFault]:
        """The faults that fire for this request, counting down the ones limited to N requests."""
        fired = []
        for fault in list(self.rest):
            if not fault.matches(method, path):
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            fired.append(fault)
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.rest.remove(fault)
        return fired

    def frame_action(self) -> FrameAction:
        frames = self.frames
        for name, action in (("drop", "drop"), ("duplicate", "duplicate"), ("reorder", "hold")):
            remaining = getattr(frames, f"{name}_next")
            if remaining > 0:
                setattr(frames, f"{name}_next", remaining - 1)
                return action  # type: ignore[return-value]
        for name, action in (("drop", "drop"), ("duplicate", "duplicate"), ("reorder", "hold")):
            probability = getattr(frames, f"{name}_probability")
            if probability > 0 and self._rng.random() < probability:
                return action  # type: ignore[return-value]
        return "send"

    def update_frames(self, changes: dict[str, Any]) -> None:
        unknown = set(changes) - set(asdict(self.frames))
        if unknown:
            raise SimError(100400, f"Invalid parameter: unknown WebSocket fault {sorted(unknown)}", 400)
        for name, value in changes.items():
            setattr(self.frames, name, value)


def _rate_limited(now_ms: int) -> web.Response:
    response = error_response(SimError(RATE_LIMITED, "Too many requests", http_status=429))
    response.headers["X-RateLimit-Requests-Remain"] = "0"
    response.headers["X-RateLimit-Requests-Expire"] = str(1000 - now_ms % 1000)
    response.headers["Retry-After"] = "1"
    return response


@web.middleware
async def fault_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith(("/sim/", "/swap-market")):
        response: web.StreamResponse = await handler(request)
        return response
    sim = sim_of(request)
    fired = sim.faults.rest_faults(request.method, request.path)
    for fault in fired:
        if fault.kind == "latency":
            await sim.clock.sleep(fault.latency_ms / 1000)
    for fault in fired:
        if fault.kind == "status":
            if fault.status == 429:
                return _rate_limited(sim.clock.now_ms())
            return web.Response(status=fault.status, text=fault.msg)
        if fault.kind == "reject":
            return error_response(SimError(fault.code, fault.msg))
    response = await handler(request)
    if any(fault.kind == "after_execution" for fault in fired):
        return web.Response(status=504, text="Gateway Timeout")
    return response


def control_routes(app: web.Application, sim: VenueSimulator) -> None:
    """``/sim/*``: the run-time control API (not part of BingX's protocol)."""

    async def update_faults(request: web.Request) -> web.Response:
        try:
            update = FaultsUpdate.model_validate_json(await request.text())
        except ValueError as error:
            raise SimError(100400, f"Invalid parameter: {error}", 400) from None
        if update.clear:
            sim.faults.clear()
        for fault in update.rest:
            sim.faults.add(fault)
        sim.faults.update_frames(update.ws)
        if update.disconnect:
            await sim.sockets.disconnect_all()
        if update.expire_listen_key is not None:
            sim.listen_keys.expire_now(None if update.expire_listen_key == "*" else update.expire_listen_key)
        return web.json_response(state(sim))

    async def override_contract(request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"]
        if symbol not in sim.catalog:
            raise SimError(109425, f"{symbol} does not exist", 404)
        changes = await request.json()
        record = sim.contracts.setdefault(symbol, dict(sim.catalog[symbol].contract))
        for name, value in changes.items():
            if value is None:
                record.pop(name, None)
            else:
                record[name] = value
        return bare(record)

    async def unlist_contract(request: web.Request) -> web.Response:
        sim.contracts.pop(request.match_info["symbol"], None)
        return bare({})

    async def move_clock(request: web.Request) -> web.Response:
        body = await request.json()
        if not sim.clock.manual:
            raise SimError(100400, "Invalid parameter: the clock is not manual", 400)
        if "to_ms" in body:
            await sim.clock.advance_to(int(body["to_ms"]))
        else:
            await sim.clock.advance(int(body.get("advance_ms", 0)))
        return bare({"serverTime": sim.clock.now_ms()})

    async def show_state(request: web.Request) -> web.Response:
        del request
        return web.json_response(state(sim))

    app.router.add_post("/sim/faults", update_faults)
    app.router.add_post("/sim/contracts/{symbol}", override_contract)
    app.router.add_delete("/sim/contracts/{symbol}", unlist_contract)
    app.router.add_post("/sim/clock", move_clock)
    app.router.add_get("/sim/state", show_state)


def state(sim: VenueSimulator) -> dict[str, Any]:
    return {
        "serverTime": sim.clock.now_ms(),
        "seed": sim.config.seed,
        "symbols": sorted(sim.contracts),
        "faults": {
            "rest": [fault.model_dump() for fault in sim.faults.rest],
            "ws": asdict(sim.faults.frames),
        },
        "sockets": sim.sockets.counts(),
        "listenKeys": len(sim.listen_keys.expires),
        "lastPrices": {symbol: str(sim.market.last_price(symbol)) for symbol in sim.catalog},
    }


__all__ = ["Faults", "FaultsUpdate", "FrameFaults", "RestFault", "control_routes", "fault_middleware"]
