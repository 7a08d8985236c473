"""The ingestor's configuration as data: derived from the Instrument and Venue by one pure function,
passed as one canonical JSON argument, read back by ``tradeplane ingest --config`` and refused there,
naming the field, before anything connects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tradeplane.cli import app
from tradeplane.crds.instrument import InstrumentSpec
from tradeplane.crds.venue import VenueSpec
from tradeplane.reconcilers.ingest import ingestor_config, ingestor_workload
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.workloads.spec import WorkloadSpec

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples"
HOUR = timedelta(hours=1)


def sample_spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((SAMPLES / name).read_text())["spec"]
    return spec


def instrument(**changes: Any) -> InstrumentSpec:
    return InstrumentSpec.model_validate(sample_spec("instrument.yaml") | changes)


def venue() -> VenueSpec:
    return VenueSpec.model_validate(sample_spec("venue.yaml"))


def config_of(spec: InstrumentSpec) -> IngestorConfig:
    return ingestor_config(namespace="desk", spec=spec, venue_name="bingx-paper", venue=venue())


def workload_of(spec: InstrumentSpec) -> WorkloadSpec:
    return ingestor_workload(
        namespace="desk", name="xaut-usdt", uid="u-1", spec=spec, venue_name="bingx-paper", venue=venue()
    )


def test_the_sample_instrument_becomes_its_configuration() -> None:
    config = config_of(instrument())
    assert (config.market, config.symbol) == ("desk/bingx-paper", "XAUT-USDT")
    assert (config.rest_url, config.ws_url) == ("http://127.0.0.1:18080", "ws://127.0.0.1:18080/swap-market")
    assert config.intervals == ("1m", "15m", "1h")
    assert (config.trades, config.depth, config.mark_price, config.funding) == (True, True, True, True)
    assert config.backfill_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert (config.lookback, config.gap_healing) == (24 * HOUR, True)


def test_what_the_spec_does_not_say_keeps_the_models_defaults() -> None:
    """The spec decides what is ingested; how the process runs is the model's, written nowhere else."""
    derived = config_of(instrument())
    defaults = IngestorConfig(market="m/v", symbol="XAUT-USDT", rest_url="h", ws_url="w")
    process_fields = (
        "max_backfill", "lease_ttl", "prune_interval", "flush_frames", "flush_interval", "confirm_delay",
        "silence_check", "funding_delay",
    )  # fmt: skip
    for field in process_fields:
        assert getattr(derived, field) == getattr(defaults, field), field
    assert (defaults.lease_ttl, defaults.flush_frames) == (timedelta(seconds=15), 2000)


@pytest.mark.parametrize(
    ("depth", "ingested"),
    [({"enabled": True, "incremental": True}, True), ({"enabled": True, "incremental": False}, False)],
)
def test_depth_is_ingested_only_as_incremental_depth(depth: dict[str, Any], ingested: bool) -> None:
    streams = sample_spec("instrument.yaml")["streams"] | {"depth": depth}
    assert config_of(instrument(streams=streams)).depth is ingested


def test_unset_trades_retention_is_forever_in_the_json() -> None:
    document = json.loads(config_of(instrument()).to_json())
    assert document["trades_retention"] is None and document["depth_retention"] == "168h"
    assert "holder" not in document, "the lease holder is the process's, never the configuration's"


def test_the_workload_passes_the_configuration_as_one_canonical_argument() -> None:
    workload = workload_of(instrument())
    assert workload.args[:2] == ("ingest", "--config") and len(workload.args) == 3
    text = workload.args[2]
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert IngestorConfig.from_argument(text).to_json() == text == config_of(instrument()).to_json()


def test_the_same_spec_gives_the_same_workload_whatever_its_key_order() -> None:
    raw = sample_spec("instrument.yaml")
    reordered = InstrumentSpec.model_validate(dict(reversed(list(raw.items()))))
    assert workload_of(reordered) == workload_of(instrument())


@pytest.mark.parametrize(
    "changes",
    [
        {"journal": {"enabled": False}},
        {"journal": {"enabled": True, "retention": "6h"}},
        {"retention": {"depth": "48h"}},
        {"gapHealing": {"lookback": "6h"}},
        {"backfillFrom": "2026-02-01T00:00:00Z"},
        {"symbol": "PAXG-USDT"},
    ],
)
def test_a_changed_spec_changes_the_configuration_and_so_the_workload(changes: dict[str, Any]) -> None:
    """The driver replaces a workload whose spec changed: that is how a new spec restarts the ingestor."""
    before, after = workload_of(instrument()), workload_of(instrument(**changes))
    assert before.name == after.name
    assert before.args != after.args and before != after


def plain(output: str) -> str:
    return " ".join(output.replace("│", " ").split())  # the error panel wraps long messages


def test_the_cli_runs_exactly_the_operators_configuration(served: list[IngestorConfig]) -> None:
    workload = workload_of(instrument())
    result = CliRunner().invoke(app, list(workload.args))
    assert result.exit_code == 0, result.output
    assert served[0].to_json() == workload.args[2]


def test_the_configuration_may_come_from_a_file(served: list[IngestorConfig], tmp_path: Path) -> None:
    saved = tmp_path / "ingest.json"
    saved.write_text(config_of(instrument()).to_json())
    assert CliRunner().invoke(app, ["ingest", "--config", f"@{saved}"]).exit_code == 0
    assert served[0].to_json() == saved.read_text()


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"lease_ttl": "500ms"}, "lease_ttl: lease_ttl must be at least one second"),
        ({"intervals": ["1m", "7m"]}, "intervals.1: Input should be"),
        ({"depth_retention": "soon"}, "depth_retention:"),
        ({"symbol": "xaut"}, "symbol: String should match pattern"),
        ({"api_key": "x"}, "api_key: Extra inputs are not permitted"),
        ({"rest_url": None}, "rest_url: Input should be a valid string"),
    ],
)
def test_a_refused_configuration_exits_2_naming_the_field_and_starts_nothing(
    served: list[IngestorConfig], changes: dict[str, Any], named: str
) -> None:
    document = json.loads(config_of(instrument()).to_json()) | changes
    result = CliRunner().invoke(app, ["ingest", "--config", json.dumps(document)])
    assert result.exit_code == 2
    assert named in plain(result.output)
    assert served == []


def test_process_flags_override_the_configuration(served: list[IngestorConfig]) -> None:
    text = config_of(instrument()).to_json()
    argv = ["--journal", "--journal-retention", "2h", "--trades-retention", "720h", "--lease-ttl", "4s"]
    result = CliRunner().invoke(app, ["ingest", "--config", text, *argv, "--depth-retention", "forever"])
    assert result.exit_code == 0, result.output
    config = served[0]
    assert (config.journal, config.journal_retention, config.depth_retention, config.trades_retention) == (
        True,
        2 * HOUR,
        None,
        720 * HOUR,
    )
    assert config.lease_ttl == timedelta(seconds=4)
    untouched = json.loads(text)
    for field in ("market", "symbol", "intervals", "lookback", "prune_interval"):
        assert json.loads(config.to_json())[field] == untouched[field], field


def test_what_to_ingest_comes_from_the_configuration_alone(served: list[IngestorConfig]) -> None:
    text = config_of(instrument()).to_json()
    argv = ["--no-trades", "--interval", "5m", "--symbol", "PAXG-USDT", "--no-heal"]
    assert CliRunner().invoke(app, ["ingest", "--config", text, *argv]).exit_code == 0
    assert served[0].to_json() == text


def test_without_flags_the_cli_adds_no_value_of_its_own(served: list[IngestorConfig]) -> None:
    """Flags mode with identity flags only is exactly the model's defaults: no Typer default."""
    argv = ["--market", "desk/bingx", "--symbol", "XAUT-USDT", "--rest-url", "http://h", "--ws-url", "ws://h"]
    assert CliRunner().invoke(app, ["ingest", *argv]).exit_code == 0
    defaults = IngestorConfig(market="desk/bingx", symbol="XAUT-USDT", rest_url="http://h", ws_url="ws://h")
    assert served[0].to_json() == defaults.to_json()
