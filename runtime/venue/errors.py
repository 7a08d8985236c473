"""What can go wrong talking to BingX, as types a caller can act on.

The distinction that matters most is between "the venue refused" (BusinessReject, nothing happened),
"try again later" (RateLimited, VenueUnavailable) and "we do not know" (UnknownOutcome: the request may
have executed, so the caller must query before acting again). Exceptions carry the endpoint path and
the venue's code and message, never the query string: it holds the signature and the API key travels
in a header.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum


class VenueError(Exception):
    """Any failure of a venue request."""

    def __init__(
        self,
        msg: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        endpoint: str = "",
    ) -> None:
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.endpoint = endpoint
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" {self.endpoint}" if self.endpoint else ""
        parts = [f"{type(self).__name__}{where}:"]
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        parts.append(self.msg or "(no message)")
        return " ".join(parts)


class RejectKind(StrEnum):
    """Order-level rejects an execution engine branches on."""

    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    ALREADY_FILLED = "ALREADY_FILLED"
    DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
    NOTIONAL_TOO_SMALL = "NOTIONAL_TOO_SMALL"
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"
    REDUCE_ONLY_WOULD_OPEN = "REDUCE_ONLY_WOULD_OPEN"
    WRONG_POSITION_SIDE = "WRONG_POSITION_SIDE"
    POSITION_NOT_FOUND = "POSITION_NOT_FOUND"
    ORDER_PROCESSING = "ORDER_PROCESSING"
    DUPLICATE_REQUEST = "DUPLICATE_REQUEST"
    POST_ONLY_WOULD_CROSS = "POST_ONLY_WOULD_CROSS"
    TOO_MANY_OPEN_ORDERS = "TOO_MANY_OPEN_ORDERS"
    RISK_FORBIDDEN = "RISK_FORBIDDEN"
    LEVERAGE_TOO_HIGH = "LEVERAGE_TOO_HIGH"
    SUSPENDED = "SUSPENDED"
    OTHER = "OTHER"


REJECT_KINDS: dict[int, RejectKind] = {
    80016: RejectKind.ORDER_NOT_FOUND,
    109414: RejectKind.ORDER_NOT_FOUND,
    80017: RejectKind.POSITION_NOT_FOUND,
    80018: RejectKind.ALREADY_FILLED,
    80019: RejectKind.ORDER_PROCESSING,
    80013: RejectKind.TOO_MANY_OPEN_ORDERS,
    80020: RejectKind.RISK_FORBIDDEN,
    101481: RejectKind.DUPLICATE_CLIENT_ORDER_ID,
    101209: RejectKind.DUPLICATE_REQUEST,
    109201: RejectKind.DUPLICATE_REQUEST,
    101400: RejectKind.NOTIONAL_TOO_SMALL,
    101204: RejectKind.INSUFFICIENT_MARGIN,
    101290: RejectKind.REDUCE_ONLY_WOULD_OPEN,
    109400: RejectKind.WRONG_POSITION_SIDE,
    101215: RejectKind.POST_ONLY_WOULD_CROSS,
    101414: RejectKind.LEVERAGE_TOO_HIGH,
    101415: RejectKind.SUSPENDED,
    101514: RejectKind.SUSPENDED,
}


class BusinessReject(VenueError):
    """The venue answered and refused (``code != 0``): the request did not take effect."""

    def __init__(
        self,
        msg: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        endpoint: str = "",
    ) -> None:
        self.kind = REJECT_KINDS.get(code, RejectKind.OTHER) if code is not None else RejectKind.OTHER
        super().__init__(msg, code=code, http_status=http_status, endpoint=endpoint)


class InvalidParameter(BusinessReject):
    """The request was malformed (``100400``/``80014``): retrying the same request cannot help."""


class RateLimited(VenueError):
    """Too many requests (HTTP 429 or ``100410``); ``retry_after_s`` is the venue's hint when it gave one."""

    def __init__(
        self,
        msg: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        endpoint: str = "",
        retry_after_s: Decimal | None = None,
    ) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(msg, code=code, http_status=http_status, endpoint=endpoint)


class IpBanned(VenueError):
    """HTTP 418: requests continued past 429s; everything from this IP is refused for a while."""


class AuthenticationError(VenueError):
    """Bad signature, missing or wrong key, missing permission or IP not whitelisted."""


class TimestampRejected(AuthenticationError):
    """``100421``: our timestamp is outside recvWindow of the server's clock (skew)."""


class VenueUnavailable(VenueError):
    """The venue failed before acting (500/502/503, ``80012`` busy, ``100500`` internal)."""


class UnknownOutcome(VenueError):
    """The request may have executed (HTTP 504, ``101500`` RPC timeout, client-side timeout or a lost
    connection after sending). Query by ``client_order_id`` before acting again."""

    def __init__(
        self,
        msg: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        endpoint: str = "",
        client_order_id: str | None = None,
    ) -> None:
        self.client_order_id = client_order_id
        super().__init__(msg, code=code, http_status=http_status, endpoint=endpoint)
        if client_order_id is not None:
            self.args = (f"{self.args[0]} (clientOrderId={client_order_id})",)


class PayloadError(VenueError):
    """A response did not have the documented shape; ``field`` names what was wrong."""

    def __init__(self, msg: str, *, field: str, endpoint: str = "") -> None:
        self.field = field
        super().__init__(f"{field}: {msg}", endpoint=endpoint)


class SubscriptionRejected(VenueError):
    """A WebSocket subscription was acknowledged with ``code != 0`` (e.g. ``80403`` too many topics)."""


AUTH_CODES = frozenset({100001, 100412, 100413, 100004, 100419})
INVALID_PARAMETER_CODES = frozenset({100400, 80014})
UNAVAILABLE_CODES = frozenset({80012, 100500})
TIMESTAMP_CODE = 100421
RATE_LIMIT_CODE = 100410
RPC_TIMEOUT_CODE = 101500


def classify(
    http_status: int,
    code: int | None,
    msg: str,
    *,
    endpoint: str = "",
    retry_after_s: Decimal | None = None,
    client_order_id: str | None = None,
) -> VenueError | None:
    """The exception for one response, or None when it is a success (2xx and code 0 or absent).

    HTTP status decides first where it is unambiguous (429, 418, 504, 5xx, 401/403); otherwise the
    business code decides, so a 200 with ``code=100421`` is a TimestampRejected.
    """
    error: VenueError | None
    if http_status == 429 or code == RATE_LIMIT_CODE:
        error = RateLimited(
            msg or "rate limited",
            code=code,
            http_status=http_status,
            endpoint=endpoint,
            retry_after_s=retry_after_s,
        )
    elif http_status == 418:
        error = IpBanned(msg or "IP banned", code=code, http_status=http_status, endpoint=endpoint)
    elif http_status == 504 or code == RPC_TIMEOUT_CODE:
        error = UnknownOutcome(
            msg or "gateway timeout: the request may have executed",
            code=code,
            http_status=http_status,
            endpoint=endpoint,
            client_order_id=client_order_id,
        )
    elif code == TIMESTAMP_CODE:
        error = TimestampRejected(
            msg or "timestamp outside recvWindow", code=code, http_status=http_status, endpoint=endpoint
        )
    elif http_status in {401, 403} or code in AUTH_CODES:
        error = AuthenticationError(
            msg or "authentication failed", code=code, http_status=http_status, endpoint=endpoint
        )
    elif http_status >= 500 or code in UNAVAILABLE_CODES:
        error = VenueUnavailable(
            msg or "venue unavailable", code=code, http_status=http_status, endpoint=endpoint
        )
    elif code in INVALID_PARAMETER_CODES:
        error = InvalidParameter(
            msg or "invalid parameter", code=code, http_status=http_status, endpoint=endpoint
        )
    elif code not in (None, 0) or http_status >= 400:
        error = BusinessReject(
            msg or f"HTTP {http_status}", code=code, http_status=http_status, endpoint=endpoint
        )
    else:
        error = None
    return error
