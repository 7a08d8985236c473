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
    metadata_max_age: Annotated[
        Duration, Field(description="Metadata older than this is stale and blocks trading (fail closed).")
    ] = "24h"


class ContractMetadata(CamelModel):
    """One versioned snapshot of ``/openApi/swap/v2/quote/contracts`` for the symbol, plus derived fields."""

    version: Annotated[int, Field(ge=1)]
    fingerprint: Fingerprint
    state: Literal["Fresh", "Stale", "Missing"] = "Fresh"
    fetched_time: datetime
    valid_until: datetime
    contract_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    price_precision: Annotated[int, Field(ge=0, le=18)]
    quantity_precision: Annotated[int, Field(ge=0, le=18)]
    tick_size: Quantity
    step_size: Quantity
    min_quantity: Quantity
    min_notional: Quantity
    maker_fee_rate: SignedQuantity
    taker_fee_rate: SignedQuantity
    max_long_leverage: Annotated[int, Field(ge=1, le=500)] | None = None
    max_short_leverage: Annotated[int, Field(ge=1, le=500)] | None = None
    funding_interval: AnyDuration | None = None
    next_funding_time: datetime | None = None
    contract_status: Literal["Online", "CloseOnly", "PreOnline", "Offline"] = "Online"
    api_state_open: bool = True
    api_state_close: bool = True


class StreamLag(CamelModel):
    stream: Annotated[str, StringConstraints(max_length=64)]
    lag: AnyDuration
    last_event_time: datetime | None = None


class IngestStatus(CamelModel):
    """The ingestor workload and how far behind the exchange it is."""

    workload: Annotated[str, StringConstraints(max_length=253)] | None = None
    lag: Annotated[AnyDuration | None, Field(description="Worst lag over all streams.")] = None
    streams: Annotated[
        list[StreamLag],
        Field(
            max_length=32,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["stream"]},
        ),
    ] = Field(default_factory=list)
    last_bar_time: datetime | None = None


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
        PrinterColumn("Metadata", ".status.metadata.state", description="Fresh, Stale or Missing"),
        PrinterColumn("Lag", ".status.ingest.lag"),
        PrinterColumn("Gaps", ".status.gaps.open", "integer", description="Open (unhealed) gaps"),
        READY_COLUMN,
        AGE_COLUMN,
    ),
)
