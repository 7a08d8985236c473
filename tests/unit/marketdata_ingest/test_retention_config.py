"""Journal and retention settings: the Instrument's defaults and validation, their mapping into the
ingest configuration, the CLI flags that override them only when given, and the bounds a pass uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from tradeplane.cli import app
from tradeplane.crds.instrument import Instrument, InstrumentSpec
from tradeplane.crds.venue import Venue
from tradeplane.reconcilers.ingest import ingestor_config, ingestor_workload
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.retention import FIRST_PASS_DELAY, RetentionJob, RetentionPolicy
from tradeplane.runtime.marketdata.tables import MarketKey

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples"
FLAGS = ["--market", "desk/bingx", "--symbol", "XAUT-USDT", "--rest-url", "http://h", "--ws-url", "ws://h"]
KEY = MarketKey("desk/bingx", "XAUT-USDT")
HOUR = timedelta(hours=1)
RETENTION_FIELDS = ("journal", "journal_retention", "depth_retention", "trades_retention")


def instrument(**spec: Any) -> Instrument:
    raw = {
        "metadata": {"name": "xaut-usdt", "namespace": "desk"},
        "spec": {"venueRef": {"name": "bingx-paper"}},
    }
    raw["spec"] |= {"symbol": "XAUT-USDT", **spec}
    return Instrument.model_validate(raw)


def venue() -> Venue:
    raw: dict[str, Any] = yaml.safe_load((SAMPLES / "venue.yaml").read_text())
    raw["metadata"]["namespace"] = "desk"
    return Venue.model_validate(raw)


def from_resources(resource: Instrument) -> IngestorConfig:
    """What the operator derives from an Instrument on the sample Venue."""
    spec = resource.spec
    return ingestor_config(namespace="desk", spec=spec, venue_name=spec.venue_ref.name, venue=venue().spec)


def bare() -> IngestorConfig:
    """A configuration from the identity alone: every other field the model's default."""
    return IngestorConfig(market=KEY.market, symbol=KEY.symbol, rest_url="http://h", ws_url="ws://h")


def retention_of(config: IngestorConfig) -> tuple[object, ...]:
    return tuple(getattr(config, name) for name in RETENTION_FIELDS)


def test_spec_defaults_bound_the_journal_and_depth_and_keep_trades() -> None:
    spec = InstrumentSpec.model_validate({"venueRef": {"name": "v"}, "symbol": "XAUT-USDT"})
    dumped = spec.to_k8s()
    assert dumped["journal"] == {"enabled": False, "retention": "24h"}
    assert dumped["retention"] == {"depth": "168h"}, "trades unset: kept forever"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"journal": {"retention": "7d"}}, "journal.retention"),
        ({"journal": {"retention": "0s"}}, "journal.retention"),
        ({"retention": {"depth": "forever"}}, "retention.depth"),
        ({"retention": {"trades": "500ms"}}, "retention.trades"),
        ({"retention": {"candles": "24h"}}, "retention.candles"),
    ],
)
def test_spec_refuses_bad_retentions(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        instrument(**spec)
    assert field in str(raised.value)


def test_flag_mode_defaults_are_the_specs_defaults() -> None:
    """An ingestor started with flags only prunes exactly what an Instrument with no settings would."""
    from_spec = from_resources(instrument())
    assert retention_of(from_spec) == retention_of(bare()) == (False, 24 * HOUR, 168 * HOUR, None)
    assert bare().prune_interval == timedelta(minutes=10)


def test_the_spec_maps_into_the_configuration() -> None:
    spec = {
        "journal": {"enabled": False, "retention": "36h"},
        "retention": {"depth": "72h", "trades": "2160h"},
    }
    config = from_resources(instrument(**spec))
    assert retention_of(config) == (False, 36 * HOUR, 72 * HOUR, 2160 * HOUR)


@pytest.mark.parametrize(
    "overrides",
    [
        {"journal_retention": timedelta(0)},
        {"depth_retention": -HOUR},
        {"trades_retention": timedelta(0)},
        {"prune_interval": timedelta(0)},
    ],
)
def test_configuration_refuses_non_positive_retentions(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        IngestorConfig(
            market=KEY.market, symbol=KEY.symbol, rest_url="http://h", ws_url="ws://h", **overrides
        )


def invoke(*argv: str) -> Any:
    return CliRunner().invoke(app, ["ingest", *FLAGS, *argv])


def test_cli_without_retention_flags_keeps_the_defaults(served: list[IngestorConfig]) -> None:
    assert invoke().exit_code == 0
    assert retention_of(served[0]) == retention_of(bare())


def test_cli_flags_given_override(served: list[IngestorConfig]) -> None:
    argv = ["--no-journal", "--journal-retention", "2h", "--depth-retention", "forever"]
    result = invoke(*argv, "--trades-retention", "720h", "--prune-interval", "1m")
    assert result.exit_code == 0, result.output
    assert retention_of(served[0]) == (False, 2 * HOUR, None, 720 * HOUR)
    assert served[0].prune_interval == timedelta(minutes=1)
    assert invoke("--journal").exit_code == 0 and served[1].journal is True


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, (False, 24 * HOUR, 168 * HOUR, None)),
        (
            {
                "journal": {"enabled": False, "retention": "1h30m"},
                "retention": {"depth": "48h", "trades": "2160h"},
            },
            (False, 90 * timedelta(minutes=1), 48 * HOUR, 2160 * HOUR),
        ),
        ({"journal": {"enabled": True}}, (True, 24 * HOUR, 168 * HOUR, None)),
    ],
)
def test_the_operators_configuration_carries_the_specs_retention_to_the_ingestor(
    served: list[IngestorConfig], spec: dict[str, Any], expected: tuple[object, ...]
) -> None:
    """What the operator passes (``ingestor_workload``'s configuration argument) is what the
    Instrument itself would configure."""
    resource = instrument(**spec)
    workload = ingestor_workload(
        namespace="desk", name="xaut-usdt", uid="u", spec=resource.spec, venue_name="v", venue=venue().spec
    )
    result = CliRunner().invoke(app, list(workload.args))
    assert result.exit_code == 0, result.output
    assert retention_of(served[0]) == retention_of(from_resources(resource)) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trades-retention", "7d"], "--trades-retention"),
        (["--depth-retention", "soon"], "not a duration"),
        (["--journal-retention", "forever"], "--journal-retention"),
        (["--journal-retention", "0s"], "journal_retention must be positive"),
        (["--prune-interval", "0s"], "prune_interval must be positive"),
    ],
)
def test_cli_refuses_bad_retention_flags(served: list[IngestorConfig], argv: list[str], message: str) -> None:
    result = invoke(*argv)
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())
    assert served == []


def test_each_table_is_judged_by_the_clock_that_stamped_it() -> None:
    ours, venue_now = datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    policy = RetentionPolicy(journal=24 * HOUR, depth=168 * HOUR, trades=None)
    assert policy.bounds(now=ours, venue_now=venue_now) == {
        "market_raw_journal": ours - 24 * HOUR,
        "market_depth_updates": venue_now - 168 * HOUR,
    }
    assert policy.bounds(now=ours, venue_now=None) == {"market_raw_journal": ours - 24 * HOUR}
    assert RetentionPolicy(None, None, None).bounds(now=ours, venue_now=venue_now) == {}


def test_the_first_pass_comes_soon_but_not_before_the_first_sweep() -> None:
    policy = RetentionPolicy.of(bare())
    assert (
        RetentionJob(KEY, policy, IngestMetrics(), interval=timedelta(minutes=10)).first_delay
        == FIRST_PASS_DELAY
    )
    short = RetentionJob(KEY, policy, IngestMetrics(), interval=timedelta(seconds=1))
    assert short.first_delay == timedelta(seconds=1)
    with pytest.raises(ValueError, match="must be positive"):
        RetentionJob(KEY, policy, IngestMetrics(), interval=timedelta(0))
