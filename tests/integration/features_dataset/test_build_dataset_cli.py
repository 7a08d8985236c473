"""``tradeplane build-dataset`` end to end: arguments only (as the operator's Job passes them), a real
PostgreSQL from ``DATABASE_URL``, files under ``$TRADEPLANE_HOME/datasets``, and the exit codes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from integration.features_dataset import datasetkit as kit
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from tradeplane.cli import app
from tradeplane.crds.featureset import BuildStatus
from tradeplane.reconcilers.dataset_build import BuildTarget, build_workload
from tradeplane.runtime.features.snapshot_store import list_snapshots
from tradeplane.runtime.store.engine import run_sync
from tradeplane.runtime.venue import snapshots

pytestmark = pytest.mark.integration

CONTRACT_SNAPSHOT_FP = "sha256:" + "c" * 64


async def _seed(url: str, *, hole: bool) -> int:
    """Market data, optionally without one requested bar, and a contract snapshot; its id."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        await kit.seed(engine)
        if hole:
            await kit.delete_bar(engine, kit.START + timedelta(minutes=42))
        key = snapshots.SnapshotKey(kit.NAMESPACE, kit.VENUE, "contract", kit.SYMBOL)
        observation = snapshots.Observation(
            raw={"symbol": kit.SYMBOL},
            normalised={"contract": {"symbol": kit.SYMBOL}, "fundingIntervalSeconds": 8 * 3600},
            fingerprint=CONTRACT_SNAPSHOT_FP,
        )
        recorded = await snapshots.record(engine, key, observation, now=kit.END, max_age=timedelta(hours=1))
        return recorded.current.id
    finally:
        await engine.dispose()


async def _registered(url: str) -> list[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        return [r.hash for r in await list_snapshots(engine, kit.NAMESPACE, kit.FEATURESET)]
    finally:
        await engine.dispose()


def arguments(**overrides: str) -> list[str]:
    document, fingerprint = kit.contract()
    values = {
        "--featureset": f"{kit.NAMESPACE}/{kit.FEATURESET}",
        "--spec-json": json.dumps(kit.SPEC),
        "--instrument-json": json.dumps(kit.INSTRUMENT),
        "--venue-json": json.dumps({"metadata": {"name": kit.VENUE}, "spec": kit.VENUE_SPEC}),
        "--start": "2026-01-05T08:00:00Z",
        "--end": "2026-01-05T14:00:00Z",
        "--contract-json": json.dumps(document),
        "--fingerprint": fingerprint,
    } | overrides
    return ["build-dataset", *(item for pair in values.items() for item in pair)]


@pytest.fixture
def cli(migrated: str, tmp_path: Path) -> Any:
    env = {"DATABASE_URL": migrated, "TRADEPLANE_HOME": str(tmp_path / "home")}

    def invoke(*extra: str, **overrides: str) -> Result:
        return CliRunner().invoke(app, [*arguments(**overrides), *extra], env=env)

    return invoke


def test_builds_registers_and_is_idempotent(cli: Any, migrated: str, tmp_path: Path) -> None:
    snapshot_id = run_sync(_seed(migrated, hole=False))
    result = cli()
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip())
    assert line["rows"] == 360 and line["gapFree"] and line["simulated"] and line["created"]
    assert line["mode"] == "production" and line["pruned"] == []
    path = tmp_path / "home" / "datasets" / f"{line['hash'].removeprefix('sha256:')}.parquet"
    assert line["uri"] == path.as_uri() and path.is_file()
    table = pq.read_table(path)
    assert table.schema.metadata[b"tradeplane.contract_fingerprint"] == kit.contract()[1].encode()
    manifest = json.loads(path.with_name(path.name.replace(".parquet", ".manifest.json")).read_text())
    assert manifest["metadataSnapshots"] == {
        "contract": snapshot_id,
        "contractFingerprint": CONTRACT_SNAPSHOT_FP,
        "contractVersion": 1,
    }
    assert manifest["contract"]["fingerprint"] == kit.contract()[1]
    assert manifest["source"] == {
        "venue": "research/bingx-sim",
        "restEndpoint": kit.SIM_REST,
        "simulated": True,
    }
    assert manifest["code"]["version"].startswith("0.")
    again = cli()
    assert again.exit_code == 0
    assert json.loads(again.stdout)["hash"] == line["hash"] and not json.loads(again.stdout)["created"]
    assert run_sync(_registered(migrated)) == [line["hash"]]


def test_production_gap_exits_2_with_the_gap_and_writes_nothing(
    cli: Any, migrated: str, tmp_path: Path
) -> None:
    run_sync(_seed(migrated, hole=True))
    result = cli()
    assert result.exit_code == 2
    assert "klines/1m 2026-01-05T08:42:00.000Z..2026-01-05T08:42:00.000Z: 1 missing" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "home" / "datasets").exists()
    assert run_sync(_registered(migrated)) == []
    research = cli("--mode", "research")
    assert research.exit_code == 0, research.output
    line = json.loads(research.stdout)
    assert (line["rows"], line["gapFree"], line["mode"]) == (359, False, "research")


def test_other_failures_exit_1_without_secrets(cli: Any, migrated: str, tmp_path: Path) -> None:
    run_sync(_seed(migrated, hole=False))
    mismatch = cli(**{"--fingerprint": "sha256:" + "0" * 64})
    assert mismatch.exit_code == 1 and "--contract-json hashes to" in mismatch.stderr
    for bad in ({"--start": "2026-01-05T08:00:00"}, {"--featureset": "no-slash"}, {"--spec-json": "{"}):
        result = cli(**bad)
        assert result.exit_code == 1, (bad, result.output)
    missing = CliRunner().invoke(
        app, ["build-dataset", "--featureset", "a/b"], env={"DATABASE_URL": migrated}
    )
    assert missing.exit_code == 1 and "missing --spec-json" in missing.stderr
    secret = "postgresql://builder:s3cr3t-pw@127.0.0.1:9/nowhere"
    unreachable = CliRunner().invoke(
        app, arguments(), env={"DATABASE_URL": secret, "TRADEPLANE_HOME": str(tmp_path)}
    )
    assert unreachable.exit_code == 1
    assert "s3cr3t-pw" not in unreachable.output and "build-dataset failed" in unreachable.stderr


def operator_job_args(tmp_path: Path) -> tuple[str, ...]:
    """The arguments the operator's Job runs with for the same build as :func:`arguments`."""
    document, fingerprint = kit.contract()
    build = BuildStatus(
        job="dataset-gold-1m-0123abcd",
        trigger="Initial",
        range_start=kit.START,
        range_end=kit.END,
        mode="production",
        fingerprint=fingerprint,
        started_time=kit.END,
    )
    target = BuildTarget(
        instrument_json=json.dumps(kit.INSTRUMENT),
        venue_json=json.dumps({"metadata": {"name": kit.VENUE}, "spec": kit.VENUE_SPEC}),
        contract_json=json.dumps(document),
        fingerprint=fingerprint,
    )
    job = build_workload(
        namespace=kit.NAMESPACE,
        name=kit.FEATURESET,
        uid="uid-1",
        spec=kit.spec(),
        build=build,
        target=target,
        database_secret=None,
    )
    return job.args


def test_the_operators_configuration_builds_what_the_flags_build(
    cli: Any, migrated: str, tmp_path: Path
) -> None:
    run_sync(_seed(migrated, hole=False))
    env = {"DATABASE_URL": migrated, "TRADEPLANE_HOME": str(tmp_path / "home")}
    args = operator_job_args(tmp_path)
    assert args[:2] == ("build-dataset", "--config")
    from_config = CliRunner().invoke(app, list(args), env=env)
    assert from_config.exit_code == 0, from_config.output
    line = json.loads(from_config.stdout)
    assert (line["rows"], line["gapFree"], line["mode"], line["created"]) == (360, True, "production", True)
    from_flags = cli()
    assert from_flags.exit_code == 0 and json.loads(from_flags.stdout)["hash"] == line["hash"]
    saved = tmp_path / "build.json"
    saved.write_text(args[2])
    elsewhere = tmp_path / "elsewhere"
    from_file = CliRunner().invoke(
        app, ["build-dataset", "--config", f"@{saved}", "--output", str(elsewhere)], env=env
    )
    assert from_file.exit_code == 0, from_file.output
    assert json.loads(from_file.stdout)["hash"] == line["hash"]
    digest = line["hash"].removeprefix("sha256:")
    assert (elsewhere / f"{digest}.parquet").is_file(), "the --output override moved the files"


def test_a_refused_configuration_exits_1_naming_the_field(migrated: str, tmp_path: Path) -> None:
    document = json.loads(operator_job_args(tmp_path)[2])
    env = {"DATABASE_URL": migrated, "TRADEPLANE_HOME": str(tmp_path / "home")}
    for field, value, named in (
        ("start", "2026-01-05T08:00:00", "start needs a time zone"),
        ("mode", "lenient", "mode:"),
        ("featureset", "no-slash", "featureset:"),
        ("resolution", "1m", "resolution: Extra inputs are not permitted"),
    ):
        bad = json.dumps(document | {field: value})
        result = CliRunner().invoke(app, ["build-dataset", "--config", bad], env=env)
        assert result.exit_code == 1, (field, result.output)
        assert named in result.stderr and "build-dataset failed" in result.stderr
    assert not (tmp_path / "home" / "datasets").exists()
    assert run_sync(_registered(migrated)) == []
