"""What one ingestor process ingests, and how: the ingestor workload's configuration.

:class:`IngestorConfig` is the one place the ingestor's defaults live. The operator derives it from an
Instrument and its Venue (``reconcilers.ingest.ingestor_config``) and passes it as ``tradeplane
ingest --config '<JSON>'``; tests and benchmarks construct it directly and run the very pipeline the
Deployment runs, without a cluster. The module is light (pydantic and ``crds`` only) so reconcilers
can import it; the storage key and the rest of the pipeline are imported where they are used.

The holder id names this process in the lease table (``hostname:pid:random``); the random part
keeps two restarts of one pod, which may share a pid, distinguishable. It is not part of the
configuration's JSON: every process that reads the same configuration is a new holder.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import Field, ValidationInfo, field_validator, model_validator

from tradeplane.crds.common import KlineInterval, Symbol
from tradeplane.runtime.workloads.config import GoDuration, WorkloadConfig

if TYPE_CHECKING:
    from tradeplane.runtime.marketdata.tables import MarketKey


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class IngestorConfig(WorkloadConfig):
    """Everything the pipeline needs; times are timezone-aware, durations timedeltas (Go durations in
    JSON). Retentions default to the Instrument's defaults, so a configuration built without a spec
    prunes what a bare spec would; ``None`` keeps the rows forever."""

    market: str = Field(min_length=1)
    """``<namespace>/<venue>``: the Venue the data is stored under."""
    symbol: Symbol
    rest_url: str = Field(min_length=1)
    ws_url: str = Field(min_length=1)
    intervals: tuple[KlineInterval, ...] = ("1m",)
    trades: bool = True
    depth: bool = False
    mark_price: bool = True
    funding: bool = True
    backfill_from: datetime | None = None
    max_backfill: GoDuration = timedelta(days=31)
    lookback: GoDuration = timedelta(hours=24)
    gap_healing: bool = True
    lease_ttl: GoDuration = timedelta(seconds=15)
    journal: bool = False
    """Journal every frame (``Journal.enabled``); refused frames are journaled regardless."""
    journal_retention: GoDuration = timedelta(hours=24)
    depth_retention: GoDuration | None = timedelta(days=7)
    trades_retention: GoDuration | None = None
    prune_interval: GoDuration = timedelta(minutes=10)
    """How often retention runs while leading. The journal is pruned even while disabled."""
    flush_frames: int = 2000
    flush_interval: GoDuration = timedelta(milliseconds=200)
    confirm_delay: GoDuration = timedelta(seconds=2)
    silence_check: GoDuration = timedelta(seconds=2)
    """How often the venue's server time is read to find topics gone quiet (``watchdog.SilenceCheck``)."""
    funding_delay: GoDuration = timedelta(seconds=5)
    holder: str = Field(default_factory=holder_id, exclude=True)

    @field_validator("backfill_from")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("backfill_from must be timezone-aware")
        return value

    @field_validator("lease_ttl")
    @classmethod
    def _lease(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("lease_ttl must be at least one second")
        return value

    @field_validator("flush_frames")
    @classmethod
    def _flush(cls, value: int) -> int:
        if value < 1:
            raise ValueError("flush_frames must be positive")
        return value

    @field_validator("journal_retention", "depth_retention", "trades_retention", "prune_interval")
    @classmethod
    def _positive(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError(f"{info.field_name} must be positive")
        return value

    @field_validator(
        "max_backfill", "lookback", "flush_interval", "confirm_delay", "silence_check", "funding_delay"
    )
    @classmethod
    def _not_negative(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        if value < timedelta(0):
            raise ValueError(f"{info.field_name} must not be negative")
        return value

    @model_validator(mode="after")
    def _something_to_ingest(self) -> IngestorConfig:
        if not self.intervals and not (self.trades or self.depth or self.mark_price):
            raise ValueError("nothing to ingest: give at least one interval or stream")
        return self

    @property
    def key(self) -> MarketKey:
        """The storage key every table is written under."""
        from tradeplane.runtime.marketdata.tables import MarketKey  # noqa: PLC0415 - SQLAlchemy

        return MarketKey(self.market, self.symbol)

    def topics(self) -> list[str]:
        """The WebSocket topics, klines first (their order decides nothing but the logs)."""
        topics = [f"{self.symbol}@kline_{interval}" for interval in self.intervals]
        if self.trades:
            topics.append(f"{self.symbol}@trade")
        if self.depth:
            topics.append(f"{self.symbol}@incrDepth")
        if self.mark_price:
            topics.append(f"{self.symbol}@markPrice")
        return topics
