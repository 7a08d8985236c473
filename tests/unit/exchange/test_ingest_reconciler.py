"""The ingestor workload an Instrument gets, and how ingest state becomes status and conditions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from integration.crd_examples import example

from tradeplane.crds.instrument import InstrumentSpec
from tradeplane.crds.venue import VenueSpec
from tradeplane.reconcilers.ingest import (
    GapCounts,
    IngestObservation,
    bar_duration,
    ingestor_workload,
    judge_ingest,
)
from tradeplane.runtime.workloads.spec import WorkloadKind, WorkloadSpec, WorkloadStatus

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)
RUNNING = WorkloadStatus(exists=True, ready=True, running=True)


def _workload(database_secret: str | None = None) -> WorkloadSpec:
    spec = InstrumentSpec.model_validate(example("Instrument")["spec"])
    venue = VenueSpec.model_validate(example("Venue")["spec"])
    return ingestor_workload(
        namespace="trading", name="xaut-usdt", uid="u-1", spec=spec, venue_name="bingx-paper", venue=venue,
        database_secret=database_secret,
    )  # fmt: skip


def test_the_workload_carries_its_whole_configuration_in_arguments() -> None:
    workload = _workload()
    args = list(workload.args)
    assert workload.kind is WorkloadKind.SERVICE and workload.name == "ingest-xaut-usdt"
    assert args[:2] == ["ingest", "--config"] and len(args) == 3
    document = json.loads(args[2])
    assert document["market"] == "trading/bingx-paper"
    assert document["symbol"] == "XAUT-USDT" and document["rest_url"] == "http://127.0.0.1:18080"
    assert document["intervals"] == ["1m", "15m", "1h"]
    assert all(document[stream] for stream in ("trades", "depth", "mark_price", "funding"))
    assert document["backfill_from"] == "2026-01-01T00:00:00Z"
    assert workload.owner.kind == "Instrument" and workload.owner.uid == "u-1"
    assert workload.secret_env == ()


def test_in_a_cluster_the_database_url_comes_from_a_secret() -> None:
    [ref] = _workload("tradeplane-database").secret_env
    assert (ref.env, ref.secret, ref.key) == ("DATABASE_URL", "tradeplane-database", "url")


def test_fresh_data_and_a_held_lease() -> None:
    last = NOW - timedelta(minutes=1, seconds=30)  # the 11:59 bar, closed at 12:00:00
    observed = IngestObservation(
        RUNNING, "ingest-xaut-usdt", "host:1:abc", {"1m": last.replace(second=0)}, GapCounts(healed=2)
    )
    verdict = judge_ingest(observed, now=NOW)
    assert verdict.ingesting[:2] == ("True", "Ingesting")
    assert verdict.fresh[:2] == ("True", "DataFresh")
    assert verdict.ingest["lag"] == "30s" and verdict.ingest["lastBarTime"] == "2026-03-02T12:00:00Z"
    assert verdict.gaps == {"open": 0, "healed": 2}


def test_stale_bars_missing_lease_and_open_gaps_are_said() -> None:
    old = NOW - timedelta(minutes=10)
    gap = ("klines", "1m", NOW - timedelta(hours=1), NOW - timedelta(minutes=50))
    observed = IngestObservation(
        RUNNING, "w", None, {"1m": old, "1h": None}, GapCounts(open=1, oldest_open=gap)
    )
    verdict = judge_ingest(observed, now=NOW)
    assert verdict.ingesting[1] == "WaitingForLease"
    assert verdict.fresh[1] == "DataStale" and "1h" in verdict.fresh[2] and "1m" in verdict.fresh[2]
    assert verdict.gaps["oldestOpen"] == {
        "interval": "1m", "source": "klines", "start": "2026-03-02T11:00:30Z", "end": "2026-03-02T11:10:30Z"
    }  # fmt: skip
    fresh_but_gapped = IngestObservation(
        RUNNING, "w", "h", {"1m": NOW - timedelta(minutes=2)}, GapCounts(open=3)
    )
    assert judge_ingest(fresh_but_gapped, now=NOW).fresh[1] == "OpenGaps"


def test_a_stopped_ingestor_is_not_ingesting() -> None:
    observed = IngestObservation(WorkloadStatus(exists=False, message="not running here"), "w")
    verdict = judge_ingest(observed, now=NOW)
    assert verdict.ingesting == ("False", "IngestorNotRunning", "not running here")
    assert verdict.fresh[:2] == ("Unknown", "NoKlineStreams")


@pytest.mark.parametrize(("interval", "seconds"), [("1m", 60), ("4h", 14400), ("1d", 86400), ("1w", 604800)])
def test_bar_durations(interval: str, seconds: int) -> None:
    assert bar_duration(interval) == timedelta(seconds=seconds)
