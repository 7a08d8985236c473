"""Every documented (HTTP status, code) lands in the exception a caller can act on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeplane.runtime.venue.errors import (
    AuthenticationError,
    BusinessReject,
    InvalidParameter,
    IpBanned,
    RateLimited,
    RejectKind,
    TimestampRejected,
    UnknownOutcome,
    VenueUnavailable,
    classify,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (429, None, RateLimited),
        (200, 100410, RateLimited),
        (418, None, IpBanned),
        (504, None, UnknownOutcome),
        (200, 101500, UnknownOutcome),
        (401, None, AuthenticationError),
        (403, None, AuthenticationError),
        (200, 100001, AuthenticationError),
        (200, 100412, AuthenticationError),
        (200, 100413, AuthenticationError),
        (200, 100004, AuthenticationError),
        (200, 100419, AuthenticationError),
        (200, 100421, TimestampRejected),
        (200, 100400, InvalidParameter),
        (200, 80014, InvalidParameter),
        (500, None, VenueUnavailable),
        (502, None, VenueUnavailable),
        (503, None, VenueUnavailable),
        (200, 80012, VenueUnavailable),
        (200, 100500, VenueUnavailable),
        (200, 101204, BusinessReject),
        (404, None, BusinessReject),
    ],
)
def test_classification(status: int, code: int | None, expected: type[Exception]) -> None:
    error = classify(status, code, "m", endpoint="/x")
    assert type(error) is expected


@pytest.mark.parametrize("status", [200, 201, 204])
def test_success_is_not_an_error(status: int) -> None:
    assert classify(status, 0, "") is None
    assert classify(status, None, "") is None


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (101400, RejectKind.NOTIONAL_TOO_SMALL),
        (101481, RejectKind.DUPLICATE_CLIENT_ORDER_ID),
        (101204, RejectKind.INSUFFICIENT_MARGIN),
        (80016, RejectKind.ORDER_NOT_FOUND),
        (80018, RejectKind.ALREADY_FILLED),
        (101290, RejectKind.REDUCE_ONLY_WOULD_OPEN),
        (109400, RejectKind.WRONG_POSITION_SIDE),
        (123456, RejectKind.OTHER),
    ],
)
def test_order_level_rejects_have_a_kind(code: int, kind: RejectKind) -> None:
    error = classify(200, code, "rejected", endpoint="/openApi/swap/v2/trade/order")
    assert isinstance(error, BusinessReject)
    assert error.kind is kind
    assert error.code == code


def test_rate_limited_carries_retry_after_and_unknown_outcome_the_client_order_id() -> None:
    limited = classify(429, None, "", retry_after_s=Decimal("3"))
    assert isinstance(limited, RateLimited)
    assert limited.retry_after_s == Decimal("3")
    unknown = classify(504, None, "", endpoint="/openApi/swap/v2/trade/order", client_order_id="abc-1")
    assert isinstance(unknown, UnknownOutcome)
    assert unknown.client_order_id == "abc-1"
    assert "abc-1" in str(unknown)
    assert "/openApi/swap/v2/trade/order" in str(unknown)
