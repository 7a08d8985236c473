"""BingX's wire conventions as the simulator speaks them: the ``{"code","msg","data"}`` envelope with
decimals as strings, business errors, typed request parameters and signed-request authentication.

Every route module registers itself with ``register(app, sim)``; ``server.py`` calls each one, so a
routes module never needs to know how the application is assembled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tradeplane.runtime.venue import signing
from tradeplane.runtime.venue.sim.views import ClockView

if TYPE_CHECKING:
    from tradeplane.runtime.venue.sim.server import VenueSimulator

__all__ = [
    "DEFAULT_RECV_WINDOW_MS",
    "MAX_RECV_WINDOW_MS",
    "Params",
    "SimError",
    "authenticate",
    "business_errors",
    "error_response",
    "jsonable",
    "ok",
    "sim_of",
]

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60_000

INVALID_PARAMETER = 100400
INVALID_VALUE = 80014
SIGNATURE_FAILED = 100001
NULL_SIGNATURE = 100412
BAD_API_KEY = 100413
TIMESTAMP_MISMATCH = 100421

SIM_KEY: web.AppKey[VenueSimulator] = web.AppKey("venue_simulator")


class SimError(Exception):
    """A BingX business error: ``code`` and ``msg`` go to the client, with ``http_status`` (BingX
    answers most business errors with HTTP 200)."""

    def __init__(self, code: int, msg: str, http_status: int = 200) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


def jsonable(value: Any) -> Any:
    """BingX sends decimals as strings; Decimals are rendered in positional form, never ``1E-7``."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, float):
        raise TypeError("the simulator never serves floats; use Decimal")
    return value


def dumps(value: Any) -> str:
    return json.dumps(jsonable(value), separators=(",", ":"))


def ok(data: Any) -> web.Response:
    return web.Response(text=dumps({"code": 0, "msg": "", "data": data}), content_type="application/json")


def bare(data: Any, status: int = 200) -> web.Response:
    """A response without the envelope (the listenKey endpoints answer this way)."""
    return web.Response(text=dumps(data), status=status, content_type="application/json")


def error_response(error: SimError) -> web.Response:
    return web.Response(
        text=dumps({"code": error.code, "msg": error.msg}),
        status=error.http_status,
        content_type="application/json",
    )


@web.middleware
async def business_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """A ``SimError`` raised anywhere in a handler becomes BingX's error envelope."""
    try:
        response: web.StreamResponse = await handler(request)
    except SimError as error:
        return error_response(error)
    return response


def missing(name: str) -> SimError:
    return SimError(INVALID_PARAMETER, f"Invalid parameters, {name} is required: {name}")


def invalid(name: str, value: object = None) -> SimError:
    return SimError(INVALID_VALUE, f"Invalid parameter {value!r}: {name}")


def _wire(value: Any) -> str:
    """A JSON body value as it is signed: scalars in their query form, structures as compact JSON."""
    if isinstance(value, bool | int | Decimal | str):
        return signing.render(value)
    if value is None:
        return "null"
    return json.dumps(jsonable(value), separators=(",", ":"))


Text = str
Integer = int
Flag = bool


class Params(Mapping[Text, Text]):
    """A request's parameters (query, then form or JSON body) decoded, in arrival order, with typed
    getters that fail the way BingX does: 100400 when missing, 80014 when malformed."""

    def __init__(self, pairs: list[tuple[Text, Text]]) -> None:
        self.pairs = pairs
        self._values: dict[Text, Text] = {}
        for key, value in pairs:
            self._values.setdefault(key, value)

    @classmethod
    async def read(cls, request: web.Request) -> Params:
        pairs = list(request.query.items())
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                body = json.loads(await request.text() or "{}", parse_float=Decimal)
                if not isinstance(body, dict):
                    raise SimError(INVALID_PARAMETER, "Invalid parameters, the JSON body must be an object")
                pairs += [(Text(key), _wire(value)) for key, value in body.items()]
            else:
                form = await request.post()
                pairs += [(key, value) for key, value in form.items() if isinstance(value, Text)]
        return cls(pairs)

    def __getitem__(self, name: Text) -> Text:
        return self._values[name]

    def __iter__(self) -> Iterator[Text]:
        return iter(self._values)

    def __len__(self) -> Integer:
        return len(self._values)

    def optional_str(self, name: Text) -> Text | None:
        value = self._values.get(name)
        return value if value not in (None, "") else None

    def str(self, name: Text) -> Text:
        value = self.optional_str(name)
        if value is None:
            raise missing(name)
        return value

    def optional_decimal(self, name: Text) -> Decimal | None:
        text = self.optional_str(name)
        if text is None:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise invalid(name, text) from None
        if not value.is_finite():
            raise invalid(name, text)
        return value

    def decimal(self, name: Text) -> Decimal:
        value = self.optional_decimal(name)
        if value is None:
            raise missing(name)
        return value

    def optional_int(self, name: Text) -> Integer | None:
        text = self.optional_str(name)
        if text is None:
            return None
        try:
            return Integer(text)
        except ValueError:
            raise invalid(name, text) from None

    def int(self, name: Text) -> Integer:
        value = self.optional_int(name)
        if value is None:
            raise missing(name)
        return value

    def optional_bool(self, name: Text) -> Flag | None:
        text = self.optional_str(name)
        if text is None:
            return None
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise invalid(name, text)
        return lowered == "true"

    def bool(self, name: Text) -> Flag:
        value = self.optional_bool(name)
        if value is None:
            raise missing(name)
        return value

    def limit(self, name: Text = "limit", *, default: Integer, maximum: Integer) -> Integer:
        value = self.optional_int(name)
        if value is None:
            return default
        if not 1 <= value <= maximum:
            raise invalid(name, value)
        return value


def check_api_key(request: web.Request, api_key: str) -> None:
    if request.headers.get("X-BX-APIKEY", "") != api_key:
        raise SimError(BAD_API_KEY, "Incorrect apiKey")


async def authenticate(request: web.Request, *, api_key: str, api_secret: str, clock: ClockView) -> Params:
    """Authenticate a signed request as BingX does and return its parameters: the key header, then
    the signature over the decoded parameters in arrival order, then ``timestamp`` within
    ``recvWindow`` of server time (simulated time, so a manual clock is honoured)."""
    check_api_key(request, api_key)
    params = await Params.read(request)
    claimed = params.optional_str("signature")
    if claimed is None:
        raise SimError(NULL_SIGNATURE, "Null signature")
    if not signing.verify(api_secret, params.pairs, claimed):
        raise SimError(SIGNATURE_FAILED, "Signature verification failed")
    timestamp = params.optional_int("timestamp")
    if timestamp is None:
        raise SimError(TIMESTAMP_MISMATCH, "Null timestamp or timestamp mismatch")
    window = params.optional_int("recvWindow")
    if window is None or window == 0:
        window = DEFAULT_RECV_WINDOW_MS
    if not 0 < window <= MAX_RECV_WINDOW_MS:
        raise invalid("recvWindow", window)
    if abs(clock.now_ms() - timestamp) > window:
        raise SimError(TIMESTAMP_MISMATCH, "Null timestamp or timestamp mismatch")
    return params


async def signed(request: web.Request) -> Params:
    """``authenticate`` with the simulator's own key pair and clock: what a trading route calls first."""
    sim = sim_of(request)
    return await authenticate(
        request, api_key=sim.config.api_key, api_secret=sim.config.api_secret, clock=sim.clock
    )


def sim_of(request: web.Request) -> VenueSimulator:
    """The simulator a request is served by (routes read the market, clock and exchange through it)."""
    return request.app[SIM_KEY]
