"""Instrument: one perpetual contract on a Venue, its market-data streams and its exchange metadata.

Metadata (precision, steps, minimums, fees, funding interval) is only ever read from the exchange and
stored versioned and fingerprinted in status: trading fails closed when it is missing or stale, so no
spec field lets a user type a precision or a fee in by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from tradeplane.crds.common import (
    AGE_COLUMN,
    READY_COLUMN,
    AnyDuration,
    CamelModel,
    Duration,
    Fingerprint,
    KindInfo,
    KlineInterval,
    LabelName,
    LocalObjectReference,
    PrinterColumn,
    Quantity,
    Resource,
    SignedQuantity,
    StatusBase,
    Symbol,
    object_default,
)


def _one_minute() -> list[KlineInterval]:
    return ["1m"]


class KlineStream(CamelModel):
    """Kline (candle) intervals to ingest; each closed bar is confirmed over REST before it is final."""

    intervals: Annotated[
        list[KlineInterval],
        Field(
            min_length=1,
            max_length=15,
            json_schema_extra={"x-kubernetes-list-type": "set", "default": ["1m"]},
        ),
    ] = Field(default_factory=_one_minute)


class DepthStream(CamelModel):
    """Order-book depth. ``incremental`` uses ``@incrDepth`` (the only stream with sequence ids)."""

    enabled: bool = False
    levels: Literal[5, 10, 20, 50, 100] = 20
    incremental: bool = True


class Streams(CamelModel):
    """Which market-data streams the ingestor subscribes to."""

    klines: Annotated[KlineStream, Field(json_schema_extra=object_default())] = KlineStream()
    trades: bool = True
    depth: Annotated[DepthStream, Field(json_schema_extra=object_default())] = DepthStream()
    mark_price: bool = True
    funding: bool = True


class GapHealing(CamelModel):
    """Gap detection and REST replay; ``lookback`` bounds how far back a restart re-checks continuity."""

    enabled: bool = True
    lookback: Duration = "24h"
    max_concurrent_backfills: Annotated[int, Field(ge=1, le=16)] = 2


class Journal(CamelModel):
    """The raw WebSocket frames, byte for byte as received (``market_raw_journal``): the evidence for a
    forensic replay of what the venue sent. Opt-in: every stored row already names the frame it came
    from (payload hash, connection, received time) and depth rows hold their frame verbatim, so the
    journal is a second copy of every frame, the largest table by far and a third of the ingestor's
    write cost. Frames the ingestor refuses (bad gzip, JSON or fields) are journaled whatever this
    says: they are the quarantine, kept for the same retention."""

    enabled: Annotated[
        bool,
        Field(
            description=(
                "Journal every raw frame (default false). Refused frames are journaled even when false."
            )
        ),
    ] = False
    retention: Annotated[
        Duration,
        Field(description="Frames received longer ago than this are deleted (Go duration; default 24h)."),
    ] = "24h"


class Retention(CamelModel):
    """How long the high-volume streams are kept, by exchange time. Candles, mark prices, mark candles,
    funding rates and candle revisions are never pruned: datasets are built, and rebuilt for
    reproduction, from them."""

    depth: Annotated[
        Duration,
        Field(
            description=(
                "incrDepth snapshots and updates older than this are deleted (Go duration; default 168h, "
                "7 days: a deep book pushes several rows a second). Set a longer duration to keep more."
            )
        ),
    ] = "168h"
    trades: Annotated[
        Duration | None,
        Field(description="Trades older than this are deleted (Go duration); unset (default): kept forever."),
    ] = None


class InstrumentSpec(CamelModel):
    """What the user declares: which contract, on which venue, and what data to keep for it."""

    venue_ref: LocalObjectReference
    symbol: Annotated[Symbol, Field(description="BingX symbol BASE-QUOTE, e.g. XAUT-USDT.")]
    exposure_group: Annotated[
        LabelName | None,
        Field(description="Risk aggregation group, e.g. gold for XAUT-USDT and PAXG-USDT."),
    ] = None
    streams: Annotated[Streams, Field(json_schema_extra=object_default())] = Streams()
    backfill_from: Annotated[
        datetime | None, Field(description="Earliest bar to backfill (RFC 3339); unset: no history.")
    ] = None
    gap_healing: Annotated[GapHealing, Field(json_schema_extra=object_default())] = GapHealing()
    journal: Annotated[Journal, Field(json_schema_extra=object_default())] = Journal()
    retention: Annotated[Retention, Field(json_schema_extra=object_default())] = Retention()
    metadata_max_age: Annotated[
        Duration, Field(description="Metadata older than this is stale and blocks trading (fail closed).")
    ] = "24h"


MetadataState = Literal["Fresh", "Stale", "Invalid", "Missing"]
TradingPermission = Literal["Open", "CloseOnly", "Blocked"]


class ContractMetadata(CamelModel):
    """The current versioned snapshot of ``/openApi/swap/v2/quote/contracts`` for the symbol.

    The full raw and normalised records live in PostgreSQL (``tradeplane.venue_snapshots``, row
    ``snapshotId``); status carries the key values people and executors look at. When the newest
    version is invalid, the values are absent and ``problem`` names the field: the last good
    version is history, never a fallback.
    """

    version: Annotated[int, Field(ge=1)]
    snapshot_id: Annotated[int, Field(ge=1, json_schema_extra={"format": "int64"})]
    fingerprint: Fingerprint | None = None
    state: MetadataState = "Fresh"
    trading: Annotated[
        TradingPermission,
        Field(description="Open, CloseOnly (no new positions) or Blocked (stale, invalid, offline)"),
    ] = "Blocked"
    problem: Annotated[str, StringConstraints(max_length=1024)] | None = None
    fetched_time: datetime
    confirmed_time: datetime | None = None
    valid_until: datetime
    next_sync_time: datetime | None = None
    contract_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    price_precision: Annotated[int, Field(ge=0, le=18)] | None = None
    quantity_precision: Annotated[int, Field(ge=0, le=18)] | None = None
    tick_size: Quantity | None = None
    step_size: Quantity | None = None
    min_quantity: Quantity | None = None
    min_notional: Quantity | None = None
    maker_fee_rate: SignedQuantity | None = None
    taker_fee_rate: SignedQuantity | None = None
    max_long_leverage: Annotated[int, Field(ge=1, le=500)] | None = None
    max_short_leverage: Annotated[int, Field(ge=1, le=500)] | None = None
    funding_interval: AnyDuration | None = None
    next_funding_time: datetime | None = None
    contract_status: Literal["Online", "CloseOnly", "PreOnline", "Offline"] | None = None
    api_state_open: bool | None = None
    api_state_close: bool | None = None


class StreamLag(CamelModel):
    stream: Annotated[str, StringConstraints(max_length=64)]
    lag: AnyDuration
    last_event_time: datetime | None = None


class IngestStatus(CamelModel):
    """The ingestor workload and how far behind the exchange it is."""

    workload: Annotated[str, StringConstraints(max_length=253)] | None = None
    lag: Annotated[
        AnyDuration | None, Field(description="Lag of the finest kline interval behind its last closed bar.")
    ] = None
    streams: Annotated[
        list[StreamLag],
        Field(
            max_length=32,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["stream"]},
        ),
    ] = Field(default_factory=list)
    last_bar_time: datetime | None = None
    lease_holder: (
        Annotated[
            str, StringConstraints(max_length=253), Field(description="The ingestor holding the write lease.")
        ]
        | None
    ) = None
    next_check_time: datetime | None = None


class Gap(CamelModel):
    interval: Annotated[str, StringConstraints(max_length=16)]
    source: Literal["klines", "trades", "depth", "markPrice", "funding"]
    start: datetime
    end: datetime
    detected_time: datetime | None = None


class GapStatus(CamelModel):
    """Open gaps block production datasets; healed gaps are counted for provenance."""

    open: Annotated[int, Field(ge=0)] = 0
    healed: Annotated[int, Field(ge=0, json_schema_extra={"format": "int64"})] = 0
    oldest_open: Gap | None = None
    last_healed_time: datetime | None = None


class InstrumentStatus(StatusBase):
    metadata: ContractMetadata | None = None
    ingest: IngestStatus | None = None
    gaps: GapStatus | None = None


class Instrument(Resource):
    """A complete Instrument object."""

    kind: Literal["Instrument"] = "Instrument"
    spec: InstrumentSpec
    status: InstrumentStatus | None = None


INFO = KindInfo(
    kind="Instrument",
    plural="instruments",
    short_names=("inst",),
    resource=Instrument,
    spec=InstrumentSpec,
    status=InstrumentStatus,
    description="A perpetual contract on a Venue: exchange metadata, market-data ingestion and gap healing.",
    selectable_fields=(".spec.venueRef.name", ".spec.symbol"),
    columns=(
        PrinterColumn("Symbol", ".spec.symbol"),
        PrinterColumn("Venue", ".spec.venueRef.name", priority=1),
        PrinterColumn("Metadata", ".status.metadata.state", description="Fresh, Stale, Invalid or Missing"),
        PrinterColumn("Trading", ".status.metadata.trading", description="Open, CloseOnly or Blocked"),
        PrinterColumn("Snapshot", ".status.metadata.version", "integer", "Metadata snapshot version", 1),
        PrinterColumn("Fingerprint", ".status.metadata.fingerprint", priority=1),
        PrinterColumn("Tick", ".status.metadata.tickSize", priority=1),
        PrinterColumn("Step", ".status.metadata.stepSize", priority=1),
        PrinterColumn("Min-Qty", ".status.metadata.minQuantity", priority=1),
        PrinterColumn("Min-Notional", ".status.metadata.minNotional", priority=1),
        PrinterColumn("Funding", ".status.metadata.fundingInterval", priority=1),
        PrinterColumn("Lag", ".status.ingest.lag"),
        PrinterColumn("Gaps", ".status.gaps.open", "integer", description="Open (unhealed) gaps"),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)
