"""What one ingestor process ingests, as a pure value: built from an Instrument and its Venue read from
the Kubernetes API, or from command-line flags, so tests and benchmarks run the very pipeline the
Deployment runs without a cluster.

The holder id names this process in the lease table (``hostname:pid:random``); the random part
keeps two restarts of one pod, which may share a pid, distinguishable.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tradeplane.crds.common import GROUP, VERSION, parse_duration
from tradeplane.crds.instrument import Instrument
from tradeplane.crds.venue import Venue
from tradeplane.runtime.intervals import check as require_interval
from tradeplane.runtime.marketdata.tables import MarketKey
from tradeplane.runtime.venue.client_market import require_symbol


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class IngestConfig:
    """Everything the pipeline needs; times are timezone-aware, durations timedeltas."""

    key: MarketKey
    rest_url: str
    ws_url: str
    intervals: tuple[str, ...] = ("1m",)
    trades: bool = True
    depth: bool = False
    mark_price: bool = True
    funding: bool = True
    backfill_from: datetime | None = None
    max_backfill: timedelta = timedelta(days=31)
    lookback: timedelta = timedelta(hours=24)
    gap_healing: bool = True
    lease_ttl: timedelta = timedelta(seconds=15)
    journal: bool = False
    """Journal every frame (``Journal.enabled``); refused frames are journaled regardless."""
    journal_retention: timedelta = timedelta(hours=24)
    depth_retention: timedelta | None = timedelta(days=7)
    trades_retention: timedelta | None = None
    """Retentions default to the Instrument's defaults, so flags alone prune what a bare spec would;
    ``None`` keeps the rows forever. The journal is pruned even while disabled (frames kept earlier)."""
    prune_interval: timedelta = timedelta(minutes=10)
    flush_frames: int = 2000
    flush_interval: timedelta = timedelta(milliseconds=200)
    confirm_delay: timedelta = timedelta(seconds=2)
    silence_check: timedelta = timedelta(seconds=2)
    """How often the venue's server time is read to find topics gone quiet (``watchdog.SilenceCheck``)."""
    funding_delay: timedelta = timedelta(seconds=5)
    holder: str = field(default_factory=holder_id)

    def __post_init__(self) -> None:
        require_symbol(self.key.symbol)
        for interval in self.intervals:
            require_interval(interval)
        if not self.intervals and not (self.trades or self.depth or self.mark_price):
            raise ValueError("nothing to ingest: give at least one interval or stream")
        if self.backfill_from is not None and self.backfill_from.tzinfo is None:
            raise ValueError("backfill_from must be timezone-aware")
        if self.lease_ttl < timedelta(seconds=1):
            raise ValueError("lease_ttl must be at least one second")
        if self.flush_frames < 1:
            raise ValueError("flush_frames must be positive")
        retentions = {
            "journal_retention": self.journal_retention,
            "depth_retention": self.depth_retention,
            "trades_retention": self.trades_retention,
            "prune_interval": self.prune_interval,
        }
        for name, value in retentions.items():
            if value is not None and value <= timedelta(0):
                raise ValueError(f"{name} must be positive")

    @property
    def symbol(self) -> str:
        return self.key.symbol

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


def config_from_resources(instrument: Instrument, venue: Venue, **overrides: Any) -> IngestConfig:
    """The Instrument's streams on its Venue's endpoints; ``market`` is ``<namespace>/<venue>``."""
    namespace = str(instrument.metadata.get("namespace") or "default")
    spec = instrument.spec
    streams = spec.streams
    values: dict[str, Any] = {
        "key": MarketKey.of(namespace, spec.venue_ref.name, spec.symbol),
        "rest_url": venue.spec.endpoints.rest,
        "ws_url": venue.spec.endpoints.websocket,
        "intervals": tuple(streams.klines.intervals),
        "trades": streams.trades,
        "depth": streams.depth.enabled and streams.depth.incremental,
        "mark_price": streams.mark_price,
        "funding": streams.funding,
        "backfill_from": spec.backfill_from,
        "lookback": parse_duration(spec.gap_healing.lookback),
        "gap_healing": spec.gap_healing.enabled,
        "journal": spec.journal.enabled,
        "journal_retention": parse_duration(spec.journal.retention),
        "depth_retention": parse_duration(spec.retention.depth),
        "trades_retention": None if spec.retention.trades is None else parse_duration(spec.retention.trades),
    }
    values.update(overrides)
    return IngestConfig(**values)


def load_from_cluster(
    namespace: str, name: str, *, kubeconfig: str | Path | None = None, **overrides: Any
) -> IngestConfig:
    """Read the Instrument and its Venue with the official client (what the Deployment runs)."""
    from kubernetes import client  # noqa: PLC0415 - only the cluster path needs it

    from tradeplane.runtime.kubeapi import api_client  # noqa: PLC0415

    with api_client(kubeconfig) as api:
        custom = client.CustomObjectsApi(api)
        raw = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "instruments", name)
        instrument = Instrument.model_validate(raw)
        venue_raw = custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "venues", instrument.spec.venue_ref.name
        )
    return config_from_resources(instrument, Venue.model_validate(venue_raw), **overrides)
