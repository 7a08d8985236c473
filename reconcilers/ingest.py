"""Instrument ingestion: the ingestor workload an Instrument needs, and what its data says.

The operator realises the workload (a Deployment in a cluster, a supervised process in the
embedded default) and reads back from PostgreSQL the last closed bar per interval, the gap
events and the lease; this module turns that into ``status.ingest``, ``status.gaps`` and the
``Ingesting`` / ``DataFresh`` conditions. The ingestor's whole configuration travels in one
argument (:class:`IngestorConfig` as canonical JSON), so a changed spec changes the workload and
restarts it, and the ingestor needs no access to the Kubernetes API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tradeplane.crds.annotations import INSTRUMENT_LABEL
from tradeplane.crds.common import API_VERSION, format_duration, format_time, parse_duration
from tradeplane.crds.instrument import InstrumentSpec
from tradeplane.crds.venue import VenueSpec
from tradeplane.reconcilers.conditions import ConditionStatus
from tradeplane.runtime.intervals import longest as bar_duration  # a month counts 31 days: lag needs a bound
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.workloads.spec import Owner, SecretEnv, WorkloadKind, WorkloadSpec, WorkloadStatus

COMPONENT = "ingestor"
INGESTING = "Ingesting"
DATA_FRESH = "DataFresh"
CONFIRMATION_GRACE = timedelta(seconds=90)
"""A bar is final after its close plus the REST confirmation; later than this it is late."""
CHECK_EVERY = timedelta(seconds=30)
CHECK_SOON = timedelta(seconds=5)
"""While the ingestor starts or catches up, status follows it closely."""


def workload_name(instrument: str) -> str:
    return f"ingest-{instrument}"[:63].rstrip("-")


def ingestor_config(
    *, namespace: str, spec: InstrumentSpec, venue_name: str, venue: VenueSpec
) -> IngestorConfig:
    """The Instrument's streams, gap healing, journal and retention on its Venue's endpoints; the
    data is stored under ``<namespace>/<venue_name>``. Every other field keeps the model's default."""
    streams = spec.streams
    return IngestorConfig(
        market=f"{namespace}/{venue_name}",
        symbol=spec.symbol,
        rest_url=venue.endpoints.rest,
        ws_url=venue.endpoints.websocket,
        intervals=tuple(streams.klines.intervals),
        trades=streams.trades,
        depth=streams.depth.enabled and streams.depth.incremental,
        mark_price=streams.mark_price,
        funding=streams.funding,
        backfill_from=spec.backfill_from,
        lookback=parse_duration(spec.gap_healing.lookback),
        gap_healing=spec.gap_healing.enabled,
        journal=spec.journal.enabled,
        journal_retention=parse_duration(spec.journal.retention),
        depth_retention=parse_duration(spec.retention.depth),
        trades_retention=None if spec.retention.trades is None else parse_duration(spec.retention.trades),
    )


def ingestor_workload(
    *,
    namespace: str,
    name: str,
    uid: str,
    spec: InstrumentSpec,
    venue_name: str,
    venue: VenueSpec,
    database_secret: str | None = None,
) -> WorkloadSpec:
    """``database_secret``: in a cluster, the Secret (key ``url``) the ingestor's DATABASE_URL comes from;
    the embedded default passes the operator's own environment instead."""
    config = ingestor_config(namespace=namespace, spec=spec, venue_name=venue_name, venue=venue)
    secrets = (SecretEnv(env="DATABASE_URL", secret=database_secret, key="url"),) if database_secret else ()
    return WorkloadSpec(
        name=workload_name(name),
        namespace=namespace,
        kind=WorkloadKind.SERVICE,
        component=COMPONENT,
        command=("tradeplane",),
        args=("ingest", "--config", config.to_json()),
        secret_env=secrets,
        labels={INSTRUMENT_LABEL: name},
        owner=Owner(api_version=API_VERSION, kind="Instrument", name=name, uid=uid),
    )


@dataclass(frozen=True)
class GapCounts:
    open: int = 0
    healed: int = 0
    unhealable: int = 0
    oldest_open: tuple[str, str, datetime, datetime] | None = None
    """(stream, interval, start, end) of the oldest open gap."""
    last_healed: datetime | None = None


@dataclass(frozen=True)
class IngestObservation:
    """What the operator read: the workload, the lease, last closed bars and gap counts."""

    workload: WorkloadStatus
    workload_name: str
    lease_holder: str | None = None
    last_closed: Mapping[str, datetime | None] = field(default_factory=dict)
    """Open time of the last closed (confirmed) bar per kline interval."""
    gaps: GapCounts = GapCounts()


@dataclass(frozen=True)
class IngestVerdict:
    ingest: dict[str, object]
    gaps: dict[str, object]
    ingesting: tuple[ConditionStatus, str, str]
    fresh: tuple[ConditionStatus, str, str]
    next_check: datetime


def _lags(observed: IngestObservation, now: datetime) -> dict[str, timedelta | None]:
    """Per interval: how far the last closed bar's close is behind now (None: no bar yet)."""
    return {
        interval: None if opened is None else max(now - (opened + bar_duration(interval)), timedelta(0))
        for interval, opened in observed.last_closed.items()
    }


def _ingest_status(observed: IngestObservation, lags: Mapping[str, timedelta | None]) -> dict[str, object]:
    streams = []
    for interval, lag in sorted(lags.items()):
        opened = observed.last_closed[interval]
        row: dict[str, object] = {
            "stream": f"kline_{interval}",
            "lag": format_duration(_whole(lag or timedelta(0))),
        }
        if opened is not None:
            row["lastEventTime"] = format_time(opened + bar_duration(interval))
        streams.append(row)
    ingest: dict[str, object] = {"workload": observed.workload_name, "streams": streams}
    # the headline lag is the finest interval's: a 1h bar is naturally up to an hour old
    known = sorted((bar_duration(i), lag) for i, lag in lags.items() if lag is not None)
    if known:
        ingest["lag"] = format_duration(_whole(known[0][1]))
    closes = [o + bar_duration(i) for i, o in observed.last_closed.items() if o is not None]
    if closes:
        ingest["lastBarTime"] = format_time(max(closes))
    if observed.lease_holder:
        ingest["leaseHolder"] = observed.lease_holder[:253]
    return ingest


def _gap_status(counts: GapCounts) -> dict[str, object]:
    gaps: dict[str, object] = {"open": counts.open, "healed": counts.healed}
    if counts.oldest_open is not None:
        stream, interval, start, end = counts.oldest_open
        gaps["oldestOpen"] = {
            "interval": interval or "-",
            "source": stream,
            "start": format_time(start),
            "end": format_time(end),
        }
    if counts.last_healed is not None:
        gaps["lastHealedTime"] = format_time(counts.last_healed)
    return gaps


def _ingesting(observed: IngestObservation) -> tuple[ConditionStatus, str, str]:
    workload = observed.workload
    if not workload.exists or not workload.running:
        return ("False", "IngestorNotRunning", workload.message or "the ingestor is starting")
    if observed.lease_holder is None:
        return ("False", "WaitingForLease", "the ingestor runs but holds no lease yet")
    return ("True", "Ingesting", f"lease held by {observed.lease_holder}")


def _fresh(
    observed: IngestObservation, lags: Mapping[str, timedelta | None], lag: object
) -> tuple[ConditionStatus, str, str]:
    stale = sorted(i for i, lag in lags.items() if lag is None or lag > CONFIRMATION_GRACE + bar_duration(i))
    if not lags:
        return ("Unknown", "NoKlineStreams", "no kline interval is ingested")
    if stale:
        return ("False", "DataStale", f"no recent closed bar for {', '.join(stale)}")
    if observed.gaps.open:
        return ("False", "OpenGaps", f"{observed.gaps.open} open gap(s) not healed yet")
    return ("True", "DataFresh", f"every interval has its last closed bar; lag {lag}")


def judge_ingest(observed: IngestObservation, *, now: datetime) -> IngestVerdict:
    lags = _lags(observed, now)
    ingest = _ingest_status(observed, lags)
    ingesting = _ingesting(observed)
    fresh = _fresh(observed, lags, ingest.get("lag"))
    settled = ingesting[0] == "True" and fresh[0] == "True"
    return IngestVerdict(
        ingest=ingest,
        gaps=_gap_status(observed.gaps),
        ingesting=ingesting,
        fresh=fresh,
        next_check=now + (CHECK_EVERY if settled else CHECK_SOON),
    )


def _whole(value: timedelta) -> timedelta:
    return timedelta(seconds=int(value.total_seconds()))


def lookback(spec: InstrumentSpec) -> timedelta:
    return parse_duration(spec.gap_healing.lookback)
