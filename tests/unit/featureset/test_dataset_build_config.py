"""The dataset builder's configuration as data: derived from the FeatureSet and its planned build by
one pure function, passed as one canonical JSON argument, read back by ``build-dataset --config``
(or assembled from flags for a manual run) and refused, naming the field, before any database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner
from unit.featureset.builders import CONTRACT, SPEC, T0, TARGET

from tradeplane.cli import app
from tradeplane.crds.featureset import BuildStatus, FeatureSetSpec
from tradeplane.reconcilers.dataset_build import (
    DATASET_DIR,
    build_workload,
    dataset_build_config,
    plan_build,
)
from tradeplane.runtime.features.build_config import DatasetBuildConfig
from tradeplane.runtime.features.dataset_cli import read_config
from tradeplane.runtime.workloads.config import ConfigError

pytestmark = pytest.mark.unit

TARGET_SPEC = json.loads(TARGET.instrument_json)["spec"]
BUILD = plan_build("gold-1m", SPEC, CONTRACT.fingerprint, "Initial", requested=None, now=T0)


def config_of(
    spec: FeatureSetSpec = SPEC, build: BuildStatus = BUILD, *, in_pods: bool = False
) -> DatasetBuildConfig:
    return dataset_build_config(
        namespace="default", name="gold-1m", spec=spec, build=build, target=TARGET, in_pods=in_pods
    )


def job_args(spec: FeatureSetSpec = SPEC, build: BuildStatus = BUILD) -> tuple[str, ...]:
    workload = build_workload(
        namespace="default",
        name="gold-1m",
        uid="u",
        spec=spec,
        build=build,
        target=TARGET,
        database_secret=None,
    )
    return workload.args


def test_the_planned_build_becomes_its_configuration() -> None:
    config = config_of()
    assert (config.namespace, config.featureset_name) == ("default", "gold-1m")
    assert (
        config.spec == SPEC and config.instrument.name == "xaut-usdt" and config.venue.name == "bingx-paper"
    )
    assert config.instrument.spec.symbol == "XAUT-USDT"
    assert (config.start, config.end) == (BUILD.range_start, BUILD.range_end)
    assert config.end - config.start == timedelta(hours=24)
    assert config.contract == json.loads(CONTRACT.to_json()) and config.fingerprint == CONTRACT.fingerprint
    assert (config.mode, config.build_mode, config.output) == ("production", "production", None)
    assert config_of(in_pods=True).output == DATASET_DIR


def test_the_job_passes_the_configuration_as_one_canonical_argument() -> None:
    args = job_args()
    assert args[:2] == ("build-dataset", "--config") and len(args) == 3
    assert args[2] == json.dumps(json.loads(args[2]), sort_keys=True, separators=(",", ":"))
    assert DatasetBuildConfig.from_argument(args[2]).to_json() == args[2] == config_of().to_json()
    assert json.loads(args[2])["spec"] == SPEC.to_k8s(), "the spec as the API server stores it"


def test_the_same_spec_gives_the_same_job_whatever_its_key_order() -> None:
    raw = SPEC.to_k8s()
    reordered = FeatureSetSpec.model_validate(dict(reversed(list(raw.items()))))
    assert job_args(reordered) == job_args()


@pytest.mark.parametrize(
    "changes",
    [
        {"window": 32},
        {"snapshotRetention": 2},
        {"snapshot": {"mode": "research"}},
    ],
)
def test_a_changed_spec_changes_the_configuration(changes: dict[str, Any]) -> None:
    changed = FeatureSetSpec.model_validate(SPEC.to_k8s() | changes)
    assert config_of(changed).to_json() != config_of().to_json()
    later = plan_build(
        "gold-1m", SPEC, CONTRACT.fingerprint, "Initial", requested=None, now=T0 + timedelta(hours=1)
    )
    assert job_args(build=later) != job_args()


def document(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(config_of().to_json())
    return raw | changes


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"featureset": "no-slash"}, "featureset: featureset must be NAMESPACE/NAME"),
        ({"start": "2026-11-23T11:59:00"}, "start: start needs a time zone"),
        ({"end": "2026-11-23T11:59:00Z", "start": "2026-11-24T11:59:00Z"}, "start must be before end"),
        ({"fingerprint": None}, "give both contract and fingerprint, or neither"),
        ({"mode": "lenient"}, "mode: Input should be 'production' or 'research'"),
        ({"instrument": {"name": "paxg-usdt", "spec": TARGET_SPEC}}, "'paxg-usdt' is not one of"),
        ({"venue": {"name": "bingx-paper", "spec": {"mode": "sideways"}}}, "venue.spec.mode:"),
        ({"dataset_dir": "/data"}, "dataset_dir: Extra inputs are not permitted"),
    ],
)
def test_refusals_name_the_field(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        DatasetBuildConfig.build(document(**changes))
    assert named in str(refused.value)


def test_a_venue_that_is_not_the_instruments_is_refused() -> None:
    venue = json.loads(TARGET.venue_json)
    with pytest.raises(ConfigError, match="Venue 'other' is not the Instrument's venueRef 'bingx-paper'"):
        DatasetBuildConfig.build(document(venue={"name": "other", "spec": venue["spec"]}))


def test_without_a_mode_the_spec_decides() -> None:
    assert DatasetBuildConfig.build(document(mode=None)).build_mode == SPEC.snapshot.mode
    research = FeatureSetSpec.model_validate(SPEC.to_k8s() | {"snapshot": {"mode": "research"}})
    assert DatasetBuildConfig.build(document(mode=None, spec=research.to_k8s())).build_mode == "research"


def manual_flags(**changes: str | None) -> dict[str, str | None]:
    """The flags a person would type for the same build as :func:`config_of`."""
    flags: dict[str, str | None] = {
        "--featureset": "default/gold-1m",
        "--spec-json": json.dumps({"metadata": {"name": "gold-1m"}, "spec": SPEC.to_k8s()}),
        "--instrument-json": TARGET.instrument_json,
        "--venue-json": TARGET.venue_json,
        "--start": BUILD.range_start.isoformat(),
        "--end": BUILD.range_end.isoformat(),
        "--contract-json": TARGET.contract_json,
        "--fingerprint": TARGET.fingerprint,
        "--mode": None,
        "--output": None,
    }
    return flags | changes


def test_flags_alone_make_the_same_configuration_as_the_operator() -> None:
    from_flags = read_config(None, manual_flags(**{"--mode": "production"}))
    assert from_flags.to_json() == config_of().to_json()


def test_flags_given_with_the_configuration_override_its_fields() -> None:
    nothing = dict.fromkeys(manual_flags())
    assert read_config(config_of().to_json(), nothing).to_json() == config_of().to_json()
    overridden = read_config(config_of().to_json(), nothing | {"--mode": "research", "--output": "/data"})
    assert (overridden.build_mode, overridden.output) == ("research", "/data")
    assert overridden.start == config_of().start


def test_without_a_configuration_the_required_flags_are_named() -> None:
    with pytest.raises(ValueError, match="missing --spec-json, --start"):
        read_config(None, manual_flags(**{"--spec-json": None, "--start": None}))


def test_the_cli_refuses_a_bad_configuration_with_exit_1_naming_the_field() -> None:
    """Exit 1, not 2: 2 is the Job's verdict that the data is incomplete, retried later."""
    bad = json.dumps(document(start="2026-11-23T11:59:00"))
    result = CliRunner().invoke(
        app, ["build-dataset", "--config", bad], env={"DATABASE_URL": "postgresql://x@h/d"}
    )
    assert result.exit_code == 1
    assert "build-dataset failed" in result.stderr and "start: start needs a time zone" in result.stderr


def test_the_configuration_names_times_in_utc() -> None:
    config = DatasetBuildConfig.build(document())
    assert config.start == datetime(2026, 11, 23, 11, 59, tzinfo=UTC)
    assert json.loads(config.to_json())["start"] == "2026-11-23T11:59:00Z"
