"""Venue: one exchange account (BingX USDT-M perpetuals), paper or live.

The spec only ever names the Secret that holds the API key pair: there is no field that could carry
a key or a secret value, so a Venue manifest is safe to keep in Git.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from tradeplane.crds.common import (
    AGE_COLUMN,
    MAX_LIST,
    READY_COLUMN,
    CamelModel,
    Duration,
    Fingerprint,
    KindInfo,
    PrinterColumn,
    Quantity,
    Resource,
    SecretKeyName,
    SecretReference,
    SignedQuantity,
    StatusBase,
    Symbol,
    cel,
    duration_check,
    duration_schema,
    object_default,
    validations,
)

RestUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\s]+$")]
WsUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^wss?://[^\s]+$")]


class VenueEndpoints(CamelModel):
    """Where the venue is reached; defaults are BingX production, a paper Venue points at the simulator."""

    rest: RestUrl = "https://open-api.bingx.com"
    websocket: WsUrl = "wss://open-api-swap.bingx.com/swap-market"


class VenueCredentials(CamelModel):
    """The API key pair, by reference: the Secret's name and the keys inside it (never the values)."""

    secret_ref: SecretReference
    api_key_key: SecretKeyName = "apiKey"
    secret_key_key: SecretKeyName = "secretKey"  # noqa: S105 - a key name, not a secret


class RefreshIntervals(CamelModel):
    """How often the operator re-reads venue state; stale metadata blocks trading (fail closed)."""

    metadata: Duration = "1h"
    fees: Duration = "24h"
    account: Duration = "1m"


LIVE_NEEDS_CREDENTIALS = cel(
    "self.mode != 'live' || has(self.credentials)",
    "spec.credentials is required when spec.mode is live",
    field_path=".credentials",
)
LIVE_NEEDS_TLS = cel(
    "self.mode != 'live' || (self.endpoints.rest.startsWith('https://')"
    " && self.endpoints.websocket.startsWith('wss://'))",
    "spec.endpoints must use https:// and wss:// when spec.mode is live",
    field_path=".endpoints",
)


class VenueSpec(CamelModel):
    """What the user declares about an exchange account."""

    model_config = ConfigDict(json_schema_extra=validations(LIVE_NEEDS_CREDENTIALS, LIVE_NEEDS_TLS))

    exchange: Literal["bingx"] = "bingx"
    mode: Annotated[
        Literal["paper", "live"],
        Field(description="paper fills simulated orders and never sends them; live trades real money."),
    ] = "paper"
    endpoints: Annotated[VenueEndpoints, Field(json_schema_extra=object_default())] = VenueEndpoints()
    credentials: VenueCredentials | None = None
    refresh: Annotated[RefreshIntervals, Field(json_schema_extra=object_default())] = RefreshIntervals()
    dead_man_timeout: Annotated[
        str,
        duration_check("10s", "120s"),
        duration_schema("10s", "120s"),
        Field(description="BingX cancelAllAfter timeOut: open orders are cancelled if heartbeats stop."),
    ] = "30s"
    recv_window: Annotated[
        str,
        duration_check("1s", "60s"),
        duration_schema("1s", "60s"),
        Field(description="recvWindow sent with signed requests (tolerated clock skew)."),
    ] = "5s"

    @model_validator(mode="after")
    def _live_rules(self) -> VenueSpec:
        if self.mode == "live" and self.credentials is None:
            raise ValueError("spec.credentials is required when spec.mode is live")
        if self.mode == "live" and not (
            self.endpoints.rest.startswith("https://") and self.endpoints.websocket.startswith("wss://")
        ):
            raise ValueError("spec.endpoints must use https:// and wss:// when spec.mode is live")
        return self


class FeeRates(CamelModel):
    """The account's real fee rates (``commissionRate``), not the contract defaults.

    ``version``/``fingerprint`` name the snapshot in ``tradeplane.venue_snapshots`` that the cost
    model of every later decision is built from.
    """

    maker: SignedQuantity
    taker: SignedQuantity
    source: Literal["commissionRate", "contracts"] = "commissionRate"
    updated_time: datetime | None = None
    version: Annotated[int, Field(ge=1)] | None = None
    fingerprint: Fingerprint | None = None


class MarginTierSnapshot(CamelModel):
    """The current maintenance-margin tier snapshot of one symbol traded on this Venue."""

    symbol: Symbol
    version: Annotated[int, Field(ge=1)]
    fingerprint: Fingerprint
    tiers: Annotated[int, Field(ge=1, le=64)]
    first_tier_ratio: Quantity


class PositionSnapshot(CamelModel):
    symbol: Symbol
    side: Literal["long", "short", "both"]
    quantity: SignedQuantity
    entry_price: Quantity
    mark_price: Quantity | None = None
    unrealized_pnl: SignedQuantity | None = None
    leverage: Annotated[int, Field(ge=1, le=200)] | None = None


class AccountSnapshot(CamelModel):
    """Balance and positions at ``lastSyncTime``, all amounts in the margin asset."""

    asset: Literal["USDT"] = "USDT"
    equity: SignedQuantity
    available_margin: SignedQuantity | None = None
    unrealized_pnl: SignedQuantity | None = None
    positions: Annotated[list[PositionSnapshot], Field(max_length=MAX_LIST)] = Field(default_factory=list)


ConnectionState = Literal["Connected", "Degraded", "Disconnected", "Unknown"]


class Connectivity(CamelModel):
    rest: ConnectionState = "Unknown"
    websocket: ConnectionState = "Unknown"
    clock_skew_ms: int | None = None
    last_error: Annotated[str, StringConstraints(max_length=1024)] | None = None


class VenueStatus(StatusBase):
    fees: FeeRates | None = None
    margin_tiers: Annotated[
        list[MarginTierSnapshot],
        Field(
            max_length=MAX_LIST,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["symbol"]},
        ),
    ] = Field(default_factory=list)
    next_sync_time: datetime | None = None
    fee_tier: Annotated[str, StringConstraints(max_length=64)] | None = None
    account: AccountSnapshot | None = None
    connectivity: Connectivity | None = None
    last_sync_time: datetime | None = None


class Venue(Resource):
    """A complete Venue object."""

    kind: Literal["Venue"] = "Venue"
    spec: VenueSpec
    status: VenueStatus | None = None


INFO = KindInfo(
    kind="Venue",
    plural="venues",
    short_names=("ven",),
    resource=Venue,
    spec=VenueSpec,
    status=VenueStatus,
    description="An exchange account (BingX USDT-M perpetuals) in paper or live mode.",
    columns=(
        PrinterColumn("Exchange", ".spec.exchange"),
        PrinterColumn("Mode", ".spec.mode"),
        PrinterColumn("Equity", ".status.account.equity"),
        PrinterColumn("Maker", ".status.fees.maker", priority=1),
        PrinterColumn("Taker", ".status.fees.taker", priority=1),
        PrinterColumn("Last-Sync", ".status.lastSyncTime", "date"),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)
