"""User-data-stream keys: ``/openApi/user/auth/userDataStream`` POST (create), PUT (extend) and
DELETE (close), each valid 60 minutes of simulated time from its creation or last extension.

Keys come from a seeded generator so a run is reproducible; expiry is checked on every clock tick
and announced to the key's sockets as ``listenKeyExpired``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from aiohttp import web

from tradeplane.runtime.venue.sim.clock import SimClock
from tradeplane.runtime.venue.sim.protocol import SimError, bare, check_api_key

if TYPE_CHECKING:
    from tradeplane.runtime.venue.sim.server import VenueSimulator

PATH = "/openApi/user/auth/userDataStream"
VALIDITY_MS = 60 * 60 * 1000
KEY_STREAM = 6


class ListenKeys:
    def __init__(self, clock: SimClock, *, seed: int) -> None:
        self.clock = clock
        self.expires: dict[str, int] = {}
        self._rng = np.random.default_rng([seed, KEY_STREAM])

    def create(self) -> str:
        key = self._rng.bytes(32).hex()
        self.expires[key] = self.clock.now_ms() + VALIDITY_MS
        return key

    def live(self, key: str) -> bool:
        return key in self.expires

    def extend(self, key: str) -> bool:
        if key not in self.expires:
            return False
        self.expires[key] = self.clock.now_ms() + VALIDITY_MS
        return True

    def close(self, key: str) -> bool:
        return self.expires.pop(key, None) is not None

    def expire_now(self, key: str | None = None) -> list[str]:
        """Force expiry of one key (or all); the next tick announces it."""
        now = self.clock.now_ms()
        chosen = (
            [key] if key is not None and key in self.expires else list(self.expires) if key is None else []
        )
        for each in chosen:
            self.expires[each] = now
        return chosen

    def expire_due(self, now_ms: int) -> list[str]:
        due = [key for key, expires in self.expires.items() if expires <= now_ms]
        for key in due:
            del self.expires[key]
        return due

    def register(self, app: web.Application, sim: VenueSimulator) -> None:
        async def create(request: web.Request) -> web.Response:
            check_api_key(request, sim.config.api_key)
            return bare({"listenKey": self.create()})

        async def extend(request: web.Request) -> web.Response:
            check_api_key(request, sim.config.api_key)
            if not self.extend(request.query.get("listenKey", "")):
                raise SimError(404, "listenKey does not exist", http_status=404)
            return bare({})

        async def close(request: web.Request) -> web.Response:
            check_api_key(request, sim.config.api_key)
            key = request.query.get("listenKey", "")
            if not self.close(key):
                raise SimError(404, "listenKey does not exist", http_status=404)
            sim.sockets.close_listen_key(key)
            return bare({})

        app.router.add_post(PATH, create)
        app.router.add_put(PATH, extend)
        app.router.add_delete(PATH, close)
